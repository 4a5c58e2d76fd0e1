"""The input image of an edit, and a mask painted on it with the mouse (white = repaint), with undo."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

UNDO_LIMIT = 30


class MaskPainter(QWidget):
    mask_changed = Signal()
    image_dropped = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.mask: QImage | None = None
        self.brush = 24
        self.erasing = False
        self.painting_enabled = True
        self.ink = QColor(255, 40, 40)  # how the mask is shown over the image: red, a little see-through …
        self.ink_opacity = 0.55  # … or (a drawing page) black ink, opaque
        self._undo: list[QImage] = []
        self._last: QPointF | None = None
        self.setAcceptDrops(True)
        self.setMinimumSize(160, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(320, 240)

    # ---- state ----
    def set_image(self, image: QImage) -> None:
        self.image = image.convertToFormat(QImage.Format.Format_RGB32)
        self.mask = QImage(self.image.size(), QImage.Format.Format_Grayscale8)
        self.mask.fill(0)
        self._undo.clear()
        self.update()
        self.mask_changed.emit()

    def clear_image(self) -> None:
        """No input image (a restored job's is gone): the placeholder text again, nothing to paint on."""
        self.image = self.mask = None
        self._undo.clear()
        self.update()
        self.mask_changed.emit()

    def set_mask(self, mask: QImage) -> None:
        if self.image is None:
            return
        self._push_undo()
        self.mask = mask.convertToFormat(QImage.Format.Format_Grayscale8).scaled(self.image.size())
        self.update()
        self.mask_changed.emit()

    def mask_array(self) -> np.ndarray | None:
        if self.mask is None:
            return None
        width, height, stride = self.mask.width(), self.mask.height(), self.mask.bytesPerLine()
        data = np.frombuffer(bytes(self.mask.constBits()), np.uint8).reshape(height, stride)
        return data[:, :width].copy()

    def has_mask(self) -> bool:
        array = self.mask_array()
        return array is not None and bool(array.any())

    def invert(self) -> None:
        if self.mask is not None:
            self._push_undo()
            self.mask.invertPixels()
            self._changed()

    def clear(self) -> None:
        if self.mask is not None:
            self._push_undo()
            self.mask.fill(0)
            self._changed()

    def undo(self) -> None:
        if self._undo:
            self.mask = self._undo.pop()
            self._changed()

    def _push_undo(self) -> None:
        if self.mask is not None:
            self._undo.append(self.mask.copy())
            del self._undo[:-UNDO_LIMIT]

    def _changed(self) -> None:
        self.update()
        self.mask_changed.emit()

    # ---- geometry ----
    def image_rect(self) -> QRect:
        if self.image is None:
            return QRect()
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRect(0, 0, size.width(), size.height())
        rect.moveCenter(self.rect().center())
        return rect

    def to_image(self, pos: QPointF) -> QPointF:
        rect = self.image_rect()
        scale = self.image.width() / max(rect.width(), 1)
        return QPointF((pos.x() - rect.x()) * scale, (pos.y() - rect.y()) * scale)

    def paint_stroke(self, start: QPointF, end: QPointF) -> None:
        """Paint (or erase) a round-capped line on the mask, in image pixels."""
        painter = QPainter(self.mask)
        colour = QColor(0, 0, 0) if self.erasing else QColor(255, 255, 255)
        painter.setPen(QPen(colour, self.brush, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
        painter.drawLine(start, end)
        painter.end()
        self._changed()

    # ---- mouse ----
    def mousePressEvent(self, event) -> None:
        if self.image is None or not self.painting_enabled or event.button() != Qt.MouseButton.LeftButton:
            return
        self._push_undo()
        self._last = self.to_image(event.position())
        self.paint_stroke(self._last, self._last)

    def mouseMoveEvent(self, event) -> None:
        if self._last is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return
        point = self.to_image(event.position())
        self.paint_stroke(self._last, point)
        self._last = point

    def mouseReleaseEvent(self, _event) -> None:
        self._last = None

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.image_dropped.emit(urls[0].toLocalFile())
            event.acceptProposedAction()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self.image is None:
            painter.setPen(self.palette().placeholderText().color())
            wrapped = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap  # a narrow column is not a cut-off text
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), wrapped, "Open, drop or paste (Ctrl+V) an image")
            return
        rect = self.image_rect()
        painter.drawImage(rect, self.image)
        if self.painting_enabled and self.mask is not None:
            overlay = QImage(self.mask.size(), QImage.Format.Format_ARGB32)
            overlay.fill(self.ink)
            overlay.setAlphaChannel(self.mask)
            painter.setOpacity(self.ink_opacity)
            painter.drawImage(rect, overlay)
