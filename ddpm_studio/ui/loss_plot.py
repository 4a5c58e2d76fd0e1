"""A small live plot of the training loss: raw points and an exponentially smoothed line, log-scaled."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


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

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        area = QRectF(self.rect()).adjusted(48, 10, -10, -24)
        text = self.palette().text().color()
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        if not self.raw:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "The loss appears here while training")
            return
        low, high = math.log10(min(self.raw)), math.log10(max(self.raw))
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        first, last = self.steps[0], max(self.steps[-1], self.steps[0] + 1)

        def point(step: int, loss: float) -> QPointF:
            x = area.left() + (step - first) / (last - first) * area.width()
            y = area.bottom() - (math.log10(loss) - low) / (high - low) * area.height()
            return QPointF(x, y)

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
        painter.setPen(text)
        painter.drawText(QRectF(0, area.top() - 6, 46, 14), Qt.AlignmentFlag.AlignRight, f"{10 ** high:.3g}")
        painter.drawText(QRectF(0, area.bottom() - 8, 46, 14), Qt.AlignmentFlag.AlignRight, f"{10 ** low:.3g}")
        painter.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), 16), Qt.AlignmentFlag.AlignLeft, f"step {first}")
        painter.drawText(QRectF(area.left(), area.bottom() + 4, area.width(), 16), Qt.AlignmentFlag.AlignRight,
                         f"step {self.steps[-1]} · loss {self.raw[-1]:.4f} (smoothed {self.smooth[-1]:.4f})")
