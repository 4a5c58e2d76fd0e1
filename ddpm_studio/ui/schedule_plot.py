"""A noise schedule as curves over t: ᾱ_t (0 … 1), β_t (scaled to its maximum) and log₁₀ SNR (its own range),
with a marker at the t being looked at."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = {"alpha_bar": QColor(40, 120, 220), "beta": QColor(220, 120, 30), "log10_snr": QColor(60, 160, 80)}
LABELS = {"alpha_bar": "ᾱ_t", "beta": "β_t (÷ max)", "log10_snr": "log₁₀ SNR"}


class SchedulePlot(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.curves: dict[str, np.ndarray] = {}
        self.t = 0
        self.setMinimumSize(240, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def sizeHint(self) -> QSize:
        return QSize(480, 180)

    def set_curves(self, curves: dict[str, np.ndarray]) -> None:
        self.curves = curves
        self.update()

    def set_t(self, t: int) -> None:
        self.t = t
        self.update()

    def normalised(self, name: str) -> tuple[np.ndarray, float, float]:
        values = self.curves[name]
        low, high = (0.0, 1.0) if name == "alpha_bar" else (float(values.min()), float(values.max()))
        if name == "beta":
            low = 0.0
        span = high - low if high > low else 1.0
        return (values - low) / span, low, high

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        area = QRectF(self.rect()).adjusted(10, 22, -10, -20)
        text = self.palette().text().color()
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        if not self.curves:
            return
        steps = len(next(iter(self.curves.values())))
        legend_x = area.left()
        for name, values in self.curves.items():
            scaled, low, high = self.normalised(name)
            path = QPainterPath()
            for i, v in enumerate(scaled):
                point = QPointF(area.left() + (i + 1) / steps * area.width(), area.bottom() - v * area.height())
                path.moveTo(point) if i == 0 else path.lineTo(point)
            painter.setPen(QPen(COLOURS[name], 2))
            painter.drawPath(path)
            label = f"{LABELS[name]} {low:.3g} … {high:.3g}" if name == "log10_snr" else LABELS[name]
            painter.drawText(QRectF(legend_x, 2, 200, 18), Qt.AlignmentFlag.AlignLeft, label)
            legend_x += 150
        x = area.left() + self.t / steps * area.width()
        painter.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        painter.setPen(text)
        painter.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), 16), Qt.AlignmentFlag.AlignLeft, "t = 0")
        painter.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), 16), Qt.AlignmentFlag.AlignRight, f"t = {steps}")
        painter.drawText(QRectF(area.left(), area.bottom() + 2, area.width(), 16), Qt.AlignmentFlag.AlignHCenter, f"t = {self.t}")
