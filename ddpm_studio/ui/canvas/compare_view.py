"""A before/after view: two images of the same size, one over the other, split by a divider the user drags.

Left of the divider is "before" (the classic Lanczos upscale), right of it "after" (the diffusion upscale). With
only one image it shows that one (the input, before a run). Drop an image file on it to open it; ←/→ move the
divider. The two labels sit on dark, semi-transparent backings so they read on light pictures too.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

LABEL_BACKING = QColor(0, 0, 0, 165)
LABEL_PADDING = (6, 2)  # horizontal, vertical space between a label's text and the edge of its backing
LABEL_MARGIN = 6  # between a label's backing and the picture's edge


class CompareView(QWidget):
    image_dropped = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.before: QImage | None = None
        self.after: QImage | None = None
        self.labels = ("Lanczos", "Diffusion")
        self.split = 0.5  # where the divider is, as a fraction of the width
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(160, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def show_single(self, image: QImage) -> None:
        self.before, self.after = image, None
        self.update()

    def show_pair(self, before: QImage, after: QImage, labels: tuple[str, str] = ("Lanczos", "Diffusion")) -> None:
        if before.size() != after.size():
            before = before.scaled(after.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.before, self.after, self.labels = before, after, labels
        self.update()

    def set_split(self, fraction: float) -> None:
        self.split = min(1.0, max(0.0, fraction))
        self.update()

    def image_rect(self) -> QRectF:
        image = self.after or self.before
        if image is None:
            return QRectF()
        scale = min(self.width() / image.width(), self.height() / image.height())
        w, h = image.width() * scale, image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def label_rects(self) -> tuple[QRectF, QRectF]:
        """The backings of the two labels, sized to their text: the before label at the picture's top left, the after
        label at its top right."""
        rect, metrics = self.image_rect(), self.fontMetrics()
        pad_x, pad_y = LABEL_PADDING
        height = metrics.height() + 2 * pad_y
        widths = [metrics.horizontalAdvance(label) + 2 * pad_x for label in self.labels]
        top = rect.top() + LABEL_MARGIN
        return (QRectF(rect.left() + LABEL_MARGIN, top, widths[0], height),
                QRectF(rect.right() - LABEL_MARGIN - widths[1], top, widths[1], height))

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        rect = self.image_rect()
        if self.before is None:
            painter.setPen(QColor(200, 200, 200))
            wrapped = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap  # a narrow column is not a cut-off text
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), wrapped, "Open, drop or paste an image to upscale")
            return
        smooth = Qt.TransformationMode.SmoothTransformation
        if self.after is None:
            painter.drawImage(rect, self.before.scaled(rect.size().toSize(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                                       smooth))
            return
        x = rect.left() + rect.width() * self.split
        src_split = self.after.width() * self.split
        painter.drawImage(QRectF(rect.left(), rect.top(), x - rect.left(), rect.height()), self.before,
                          QRectF(0, 0, src_split, self.before.height()))
        painter.drawImage(QRectF(x, rect.top(), rect.right() - x, rect.height()), self.after,
                          QRectF(src_split, 0, self.after.width() - src_split, self.after.height()))
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        self._draw_labels(painter)

    def _draw_labels(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for label, backing in zip(self.labels, self.label_rects()):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(LABEL_BACKING)
            painter.drawRoundedRect(backing, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(backing, Qt.AlignmentFlag.AlignCenter, label)

    def _drag_to(self, x: float) -> None:
        rect = self.image_rect()
        if rect.width() > 0:
            self.set_split((x - rect.left()) / rect.width())

    def mousePressEvent(self, event) -> None:
        self._drag_to(event.position().x())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._drag_to(event.position().x())

    def keyPressEvent(self, event) -> None:
        step = {Qt.Key.Key_Left: -0.05, Qt.Key.Key_Right: 0.05}.get(event.key())
        if step is None:
            super().keyPressEvent(event)
            return
        self.set_split(self.split + step)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.image_dropped.emit(url.toLocalFile())
                event.acceptProposedAction()
                return
