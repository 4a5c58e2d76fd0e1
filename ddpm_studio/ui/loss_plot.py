"""A small live plot of the training loss: raw points and an exponentially smoothed line, log-scaled."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ddpm_studio.ui.plot_frame import framed

INSET = 6  # the data sit this far inside the frame on every side, so no point is drawn on the frame line


class LossPlot(QWidget):
    def __init__(self, smoothing: float = 0.9, parent=None) -> None:
        super().__init__(parent)
        self.smoothing = smoothing
        self.steps: list[int] = []
        self.raw: list[float] = []
        self.smooth: list[float] = []
        self.setMinimumSize(240, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 200)

    def clear(self) -> None:
        self.steps.clear()
        self.raw.clear()
        self.smooth.clear()
        self.update()

    def add(self, step: int, loss: float) -> None:
        if not math.isfinite(loss) or loss <= 0:
            return
        self.steps.append(step)
        self.raw.append(loss)
        previous = self.smooth[-1] if self.smooth else loss
        self.smooth.append(self.smoothing * previous + (1 - self.smoothing) * loss)
        self.update()

    def frame_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(48, 10, -10, -24)

    def data_rect(self) -> QRectF:
        """Where the points go: the frame less INSET on every side."""
        return self.frame_rect().adjusted(INSET, INSET, -INSET, -INSET)

    def log_range(self) -> tuple[float, float]:
        """log10 of the lowest and highest raw loss (half a decade either side of a flat line)."""
        low, high = math.log10(min(self.raw)), math.log10(max(self.raw))
        return (low - 0.5, high + 0.5) if high - low < 1e-6 else (low, high)

    def mapper(self) -> Callable[[int, float], QPointF]:
        """(step, loss) → where it is drawn: the first step at the data area's left, the last at its right, the loss
        on a log scale from the lowest (bottom) to the highest (top). Read once a paint: it holds the ranges."""
        area = self.data_rect()
        low, high = self.log_range()
        first, last = self.steps[0], max(self.steps[-1], self.steps[0] + 1)

        def point(step: int, loss: float) -> QPointF:
            x = area.left() + (step - first) / (last - first) * area.width()
            y = area.bottom() - (math.log10(loss) - low) / (high - low) * area.height()
            return QPointF(x, y)

        return point

    def point(self, step: int, loss: float) -> QPointF:
        return self.mapper()(step, loss)

    def last_label(self, room: float) -> str:
        """The last step's loss under the plot's right end: with its smoothed value where there is room, without it
        where there is not, so that it never runs into the first step's label."""
        full = f"step {self.steps[-1]} · loss {self.raw[-1]:.4f} (smoothed {self.smooth[-1]:.4f})"
        short = f"step {self.steps[-1]} · loss {self.raw[-1]:.4f}"
        metrics = self.fontMetrics()
        text = full if metrics.horizontalAdvance(full) <= room else short
        return metrics.elidedText(text, Qt.TextElideMode.ElideLeft, max(0, int(room)))

    def paintEvent(self, _event) -> None:
        frame = self.frame_rect()
        painter, text = framed(self, frame)
        if not self.raw:
            painter.drawText(frame, Qt.AlignmentFlag.AlignCenter, "The loss appears here while training")
            return
        point = self.mapper()
        raw_colour = QColor(text)
        raw_colour.setAlpha(90)
        painter.setPen(QPen(raw_colour, 3))
        for step, loss in zip(self.steps, self.raw):
            painter.drawPoint(point(step, loss))
        path = QPainterPath(point(self.steps[0], self.smooth[0]))
        for step, loss in zip(self.steps[1:], self.smooth[1:]):
            path.lineTo(point(step, loss))
        painter.setPen(QPen(QColor(230, 120, 30), 2))
        painter.drawPath(path)
        self._draw_labels(painter, text)

    def _draw_labels(self, painter: QPainter, text: QColor) -> None:
        """The loss range beside the data's top and bottom, the first and last step under the frame."""
        area, frame = self.data_rect(), self.frame_rect()
        low, high = self.log_range()
        painter.setPen(text)
        painter.drawText(QRectF(0, area.top() - 7, 44, 14), Qt.AlignmentFlag.AlignRight, f"{10 ** high:.3g}")
        painter.drawText(QRectF(0, area.bottom() - 7, 44, 14), Qt.AlignmentFlag.AlignRight, f"{10 ** low:.3g}")
        under = QRectF(frame.left(), frame.bottom() + 4, frame.width(), 16)
        first = f"step {self.steps[0]}"
        painter.drawText(under, Qt.AlignmentFlag.AlignLeft, first)
        painter.drawText(under, Qt.AlignmentFlag.AlignRight, self.last_label(under.width() - painter.fontMetrics()
                                                                             .horizontalAdvance(first) - 16))
