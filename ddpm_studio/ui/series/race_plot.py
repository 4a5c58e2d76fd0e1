"""Under a race's lanes: each lane over its run, by fraction of the run (0 … 100 %, so a 25-step and a 50-step
lane line up) — the distance of its predicted x0 to its own final image (solid; where it falls to nothing, the
picture is decided) and its noise level as √(1 − ᾱ_t), the share of x_t that is noise (dashed, 0 … 1). A dashed
marker shows the scrubbed fraction; click or drag to scrub."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ddpm_studio.engine.series.race import Lane, distance
from ddpm_studio.ui.widgets.plot_frame import empty_note, framed

LANE_COLOURS = (QColor(40, 120, 220), QColor(220, 120, 30), QColor(60, 160, 80), QColor(200, 60, 160),
                QColor(130, 90, 200), QColor(20, 160, 170), QColor(170, 140, 20), QColor(130, 130, 130))
LEGEND_HEIGHT = 18  # the legend row above the plot
AXIS_HEIGHT = 16  # the row under the plot: its end labels and the key
SIDE = 8
INSET = 3  # the curves sit this far inside the frame
SWATCH = 14
EMPTY_NOTE = "Each lane is plotted here when it has run"
KEY = "solid: predicted x0's distance to the lane's result · dashed: noise √(1−ᾱ_t)"
SHORT_KEY = "solid: distance to result · dashed: noise"
ABOUT = ("<p>Each lane over its run, by fraction of the run. Solid: the RMS distance (pixel values 0 … 1) of the "
         "predicted clean image x0 to the lane's final image, scaled to the largest (in the key); where it reaches "
         "nothing, the picture is decided. Dashed: how much of x_t is noise, √(1−ᾱ_t), 0 … 1. Click or drag to "
         "scrub all lanes together.</p>")

Point = tuple[float, float | None, float | None]  # fraction of the run, distance to the result, noise share


def lane_colour(number: int) -> QColor:
    return LANE_COLOURS[number % len(LANE_COLOURS)]


def noise_share(level: float | None, kind: str) -> float | None:
    """How much of x_t is noise, 0 … 1: √(1 − ᾱ_t) for ᾱ_t, σ/√(1 + σ²) for a Karras-style σ_t (the same
    number), σ/√((1 − σ)² + σ²) for a flow model's σ_t (x_t = (1 − σ)·x0 + σ·ε: the noise's share of its amplitude,
    counted as for ᾱ_t)."""
    if level is None:
        return None
    if kind == "sigma":
        return level / math.sqrt(1.0 + level * level)
    if kind == "flow":
        return level / math.sqrt((1.0 - level) ** 2 + level * level)
    return math.sqrt(max(0.0, 1.0 - level))


def lane_curve(lane: Lane) -> list[Point]:
    """Per kept step (not the result): (fraction of the run at that step, distance to the result, noise share), as
    ``Lane.rows`` and ``race_export.at_fraction`` count: step i of n is at (i + 1) / n."""
    target = lane.final_preview
    return [((e.index + 1) / e.total, distance(e.x0, target), noise_share(e.noise_level, e.noise_kind))
            for e in lane.steps if not e.final]


class RacePlot(QWidget):
    fraction_chosen = Signal(float)  # 0 … 1, where the plot was clicked or dragged to

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.curves: list[tuple[str, list[Point]]] = []  # (lane label, its points), in lane order
        self.marker: float | None = None
        self.setMinimumSize(200, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip(ABOUT)

    def sizeHint(self) -> QSize:
        return QSize(480, 170)

    def set_lanes(self, lanes: list[Lane]) -> None:
        self.curves = [(lane.label, lane_curve(lane)) for lane in lanes]
        self.update()

    def clear(self) -> None:
        self.curves = []
        self.update()

    def set_marker(self, fraction: float | None) -> None:
        if fraction != self.marker:
            self.marker = fraction
            self.update()

    def largest_distance(self) -> float:
        found = [d for _, points in self.curves for _, d, _ in points if d is not None]
        return max(found) if found and max(found) > 0 else 1.0

    # ---- geometry ----
    def plot_area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(SIDE, LEGEND_HEIGHT + 2, -SIDE, -AXIS_HEIGHT)

    def x_of(self, fraction: float) -> float:
        area = self.plot_area().adjusted(INSET, 0, -INSET, 0)
        return area.left() + fraction * area.width()

    def fraction_at(self, x: float) -> float:
        area = self.plot_area().adjusted(INSET, 0, -INSET, 0)
        return min(max((x - area.left()) / max(area.width(), 1.0), 0.0), 1.0)

    def y_of(self, value: float) -> float:
        area = self.plot_area().adjusted(0, INSET, 0, -INSET)
        return area.bottom() - min(max(value, 0.0), 1.0) * area.height()

    def key_text(self, room: float) -> str:
        scale = f" (max {self.largest_distance():.2g})"
        for text in (KEY.replace("result ·", f"result{scale} ·"), SHORT_KEY, ""):
            if self.fontMetrics().horizontalAdvance(text) <= room:
                return text
        return ""

    # ---- drawing ----
    def paintEvent(self, _event) -> None:
        area = self.plot_area()
        painter, text = framed(self, area)
        if not self.curves:
            empty_note(painter, self, area, EMPTY_NOTE)
            return
        largest = self.largest_distance()
        for number, (_, points) in enumerate(self.curves):
            colour = lane_colour(number)
            self._draw_line(painter, [(f, None if d is None else d / largest) for f, d, _ in points],
                            QPen(colour, 1.5))
            self._draw_line(painter, [(f, n) for f, _, n in points], QPen(colour, 1, Qt.PenStyle.DashLine))
        self._draw_marker(painter, area, text)
        self._draw_legend(painter, text)
        self._draw_axis(painter, area, text)

    def _draw_line(self, painter: QPainter, values: list[tuple[float, float | None]], pen: QPen) -> None:
        painter.setPen(pen)
        run: list[QPointF] = []
        for fraction, value in [*values, (0.0, None)]:  # a step without a value breaks the line
            if value is not None:
                run.append(QPointF(self.x_of(fraction), self.y_of(value)))
            elif run:
                painter.drawPolyline(run) if len(run) > 1 else painter.drawPoint(run[0])
                run = []

    def _draw_marker(self, painter: QPainter, area: QRectF, text: QColor) -> None:
        if self.marker is None:
            return
        x = self.x_of(self.marker)
        painter.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        label = f"{100 * self.marker:.0f} %"
        width = self.fontMetrics().horizontalAdvance(label) + 8
        left = x + 2 if x + 2 + width <= area.right() else x - 2 - width
        painter.setPen(text)
        painter.drawText(QRectF(left, area.top() + 2, width, 16), Qt.AlignmentFlag.AlignCenter, label)

    def _draw_legend(self, painter: QPainter, text: QColor) -> None:
        x = float(SIDE)
        for number, (label, _) in enumerate(self.curves):
            width = SWATCH + 4 + self.fontMetrics().horizontalAdvance(label)
            if x + width > self.width() - SIDE:
                break  # the lanes' own titles say the rest, in the same colours
            middle = 1 + LEGEND_HEIGHT / 2
            painter.setPen(QPen(lane_colour(number), 2))
            painter.drawLine(QPointF(x, middle), QPointF(x + SWATCH, middle))
            painter.setPen(text)
            painter.drawText(QRectF(x + SWATCH + 4, 1, width, LEGEND_HEIGHT), Qt.AlignmentFlag.AlignVCenter, label)
            x += width + 14

    def _draw_axis(self, painter: QPainter, area: QRectF, text: QColor) -> None:
        axis = QRectF(area.left(), area.bottom() + 1, area.width(), AXIS_HEIGHT - 1)
        painter.setPen(text)
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft, "0 %")
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight, "100 %")
        ends = (self.fontMetrics().horizontalAdvance("100 %") + 24) * 2  # the key, centred, stays clear of both
        key = self.key_text(area.width() - ends)
        if key:
            painter.drawText(axis, Qt.AlignmentFlag.AlignHCenter, key)

    # ---- scrubbing ----
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.curves:
            self.fraction_chosen.emit(self.fraction_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self.curves:
            self.fraction_chosen.emit(self.fraction_at(event.position().x()))
