"""Under the scrubber: the run's trajectory over its kept steps — the noise level, and how much x_t and the predicted
x̂0 changed since the previous kept step (engine/inspect/trajectory.py) — with the scrubbed step marked by a dashed line,
and the steps where prompt editing switched the prompt (StepEvent.prompt_switch) by a dotted one with the new text.
Click or drag on it to scrub. The noise level ᾱ_t (or a flow model's σ_t) is drawn on its own 0 … 1 scale; a
Karras-style σ_t and the two changes are each divided by their own largest value, which the legend gives."""

from __future__ import annotations

from bisect import bisect_left

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from ddpm_studio.engine.inspect.trajectory import NOISE_SYMBOLS, TrajectoryRow
from ddpm_studio.ui.widgets.plot_frame import empty_note, framed

CURVES = ("noise", "x0", "xt")
COLOURS = {"noise": QColor(40, 120, 220), "x0": QColor(220, 120, 30), "xt": QColor(60, 160, 80)}
NAMES = {"x0": "Δx0", "xt": "Δx_t"}  # the noise level's name comes from the rows (ᾱ_t or σ_t)
LONG_NAMES = {"x0": "Δ predicted x0", "xt": "Δx_t"}  # x̂ is not drawn reliably: its hat is a combining character
LEGEND_HEIGHT = 18  # the legend row above the plot
AXIS_HEIGHT = 16  # the row under the plot for its end labels
SIDE = 8  # room left and right of the plot
INSET = 3  # the curves sit this far inside the frame, so no line is drawn on it
SWATCH = 14  # a legend entry's colour line
THICK_UP_TO = 100  # curves of more steps are drawn 1 px wide: Qt strokes wider lines over many points slowly
EMPTY_NOTE = "Each run's steps are plotted here"
NO_PREVIEWS_NOTE = "No step previews were kept in this run: nothing to plot"
ABOUT = ("<p>The run over its kept steps. Noise level: {noise}. Δx0 and Δx_t: how much the predicted clean image "
         "x0 and the noisy sample x_t changed since the previous kept step (RMS, pixel values in 0 … 1), each "
         "scaled to its own largest value. Click or drag to scrub.</p>")


def round_pen(colour: QColor, width: float) -> QPen:
    """A pen whose points are round dots ``width`` across."""
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


class TrajectoryPlot(QWidget):
    position_chosen = Signal(int)  # the history position of the kept step clicked or dragged to

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TrajectoryRow] = []
        self.total = 0  # the run's model calls: the x axis runs from step 1 to the result, at index ``total``
        self.marker: int | None = None  # the history position the scrubber shows
        self.switches: list[tuple[int, str]] = []  # (step index, the text it switched to): prompt editing
        self.note = EMPTY_NOTE
        self._dragged_to: int | None = None
        self.setMinimumSize(200, 100)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setToolTip(ABOUT.format(noise="ᾱ_t (1: clean) or σ_t (a flow model's: 0 clean, 1 all noise), as the "
                                           "scheduler gives it"))

    def sizeHint(self) -> QSize:
        return QSize(480, 124)

    # ---- data ----
    def clear(self, note: str = EMPTY_NOTE) -> None:
        self.rows, self.total, self.marker, self.note, self.switches = [], 0, None, note, []
        self.update()

    def set_switches(self, switches: list[tuple[int, str]]) -> None:
        """The steps where the prompt switched (every one the run reported, kept or not), and the texts."""
        self.switches = list(switches)
        self.update()

    def set_rows(self, rows: list[TrajectoryRow], total: int) -> None:
        self.rows, self.total = rows, total
        self.update()

    def set_marker(self, position: int | None) -> None:
        if position != self.marker:
            self.marker = position
            self.update()

    def noise_kind(self) -> str:
        return next((r.noise_kind for r in self.rows if r.noise_level is not None), "alpha_bar")

    def noise_symbol(self) -> str:
        return NOISE_SYMBOLS.get(self.noise_kind(), "noise level")

    def values(self, name: str) -> list[float | None]:
        if name == "noise":
            return [r.noise_level for r in self.rows]
        return [r.x0_change if name == "x0" else r.xt_change for r in self.rows]

    def scale(self, name: str) -> float | None:
        """What a curve is divided by: 1 for ᾱ_t and a flow model's σ_t (already 0 … 1), else its largest value;
        None: nothing to draw."""
        present = [v for v in self.values(name) if v is not None]
        if not present:
            return None
        if name == "noise" and self.noise_kind() in ("alpha_bar", "flow"):
            return 1.0
        return max(present) if max(present) > 0 else 1.0

    # ---- geometry ----
    def plot_area(self) -> QRectF:
        return QRectF(self.rect()).adjusted(SIDE, LEGEND_HEIGHT + 2, -SIDE, -AXIS_HEIGHT)

    def last_index(self) -> int:
        """The step index at the right edge: the result's (``total``), or the newest kept step's if beyond it."""
        return max(self.total, self.rows[-1].index if self.rows else 0, 1)

    def x_of(self, index: float) -> float:
        return self.xs([index])[0]

    def xs(self, indices) -> list[float]:
        """The x of each step index: step 0 at the plot's left (less INSET), the last index at its right."""
        area = self.plot_area().adjusted(INSET, 0, -INSET, 0)
        left, per_step = area.left(), area.width() / self.last_index()
        return [left + index * per_step for index in indices]

    def points(self, name: str) -> list[QPointF | None]:
        """Where each row's value of a curve is drawn (None where the row has none): one per kept step."""
        area = self.plot_area().adjusted(0, INSET, 0, -INSET)
        bottom, height, scale = area.bottom(), area.height(), self.scale(name)
        xs = self.xs(r.index for r in self.rows)
        return [None if v is None or scale is None else QPointF(x, bottom - min(v / scale, 1.0) * height)
                for x, v in zip(xs, self.values(name))]

    def position_at(self, x: float) -> int | None:
        """The history position of the kept step nearest to ``x``; None without steps."""
        if not self.rows:
            return None
        xs = self.xs(r.index for r in self.rows)
        i = bisect_left(xs, x)
        if i == len(xs) or (i > 0 and x - xs[i - 1] <= xs[i] - x):
            i -= 1
        return i

    def legend_items(self) -> list[tuple[str, str, QRectF]]:
        """(curve, text, where) for the legend row: long names and each curve's scale where they fit, short names with
        the scales where not, the short names alone on a narrow plot (the tooltip still says it all)."""
        curves = [name for name in CURVES if self.scale(name) is not None]
        for detail in ("long", "scaled", "names"):
            items, x = [], float(SIDE)
            for name in curves:
                text = self.legend_text(name, detail)
                width = SWATCH + 4 + self.fontMetrics().horizontalAdvance(text)
                items.append((name, text, QRectF(x, 1, width, LEGEND_HEIGHT)))
                x += width + 14
            if x - 14 <= self.width() - SIDE or detail == "names":
                return items
        return []

    def legend_text(self, name: str, detail: str = "long") -> str:
        """A curve's legend entry; ``detail``: "long" (long name and scale), "scaled" (short name, scale), "names"."""
        label = self.noise_symbol() if name == "noise" else (LONG_NAMES if detail == "long" else NAMES)[name]
        if detail == "names":
            return label
        if name == "noise" and self.scale(name) == 1.0 and self.noise_kind() in ("alpha_bar", "flow"):
            return f"{label} (0 … 1)"
        return f"{label} · max {self.scale(name):.2g}"

    def row_text(self, position: int) -> str:
        row = self.rows[position]
        where = "the result x_0" if row.final else f"step {row.index + 1}/{self.total} · t={row.timestep:.0f}"
        parts = [where + (" (hires pass)" if row.second_pass else " (upscaling)" if row.upscaling else "")]
        if row.noise_level is not None:
            parts.append(f"{NOISE_SYMBOLS.get(row.noise_kind, 'noise')}={row.noise_level:.3g}")
        for name in ("x0", "xt"):
            value = row.x0_change if name == "x0" else row.xt_change
            if value is not None:
                parts.append(f"{NAMES[name]} {value:.3g}")
        since = "" if row.since is None or row.since == row.index - 1 else f" (changes since step {row.since + 1})"
        parts += [f"prompt → {words}" for index, words in self.switches if index == row.index]
        return " · ".join(parts) + since

    # ---- drawing ----
    def paintEvent(self, _event) -> None:
        area = self.plot_area()
        painter, text = framed(self, area)
        if not self.rows:
            empty_note(painter, self, area, self.note)
            return
        dots = len(self.rows) < area.width() / 5  # a dot per kept step where they do not run together
        curves = {name: self.points(name) for name in CURVES}
        for name, points in curves.items():
            self._draw_curve(painter, points, COLOURS[name], dots)
        self._draw_second_pass(painter, area, text)
        self._draw_switches(painter, area, text)
        self._draw_marker(painter, area, text, curves)
        self._draw_legend(painter, text)
        axis = QRectF(area.left(), area.bottom() + 1, area.width(), AXIS_HEIGHT - 1)
        painter.setPen(text)
        painter.drawText(axis, Qt.AlignmentFlag.AlignLeft, "step 1")
        right = "x_0" if self.rows[-1].final else f"step {self.total}"
        painter.drawText(axis, Qt.AlignmentFlag.AlignRight, right)

    @staticmethod
    def _draw_curve(painter: QPainter, points: list[QPointF | None], colour: QColor, dots: bool) -> None:
        painter.setPen(QPen(colour, 1.5 if len(points) <= THICK_UP_TO else 1))  # a wide pen is slow on many points
        run: list[QPointF] = []
        for point in [*points, None]:  # a row without a value breaks the line
            if point is not None:
                run.append(point)
            elif run:
                painter.drawPolyline(run) if len(run) > 1 else painter.drawPoint(run[0])
                run = []
        if dots:
            painter.setPen(round_pen(colour, 4))
            painter.drawPoints([p for p in points if p is not None])

    def second_pass_start(self) -> int | None:
        """The step index where a hires fix's second pass begins; None for a one-pass run."""
        return next((r.index for r in self.rows if r.second_pass), None)

    def phase_starts(self) -> list[tuple[int, str]]:
        """(step index, label) where a hires fix's upscaler and its second pass begin."""
        starts = [(next((r.index for r in self.rows if r.upscaling), None), "upscale"),
                  (self.second_pass_start(), "hires pass")]
        return [(index, label) for index, label in starts if index is not None]

    def _draw_second_pass(self, painter: QPainter, area: QRectF, text: QColor) -> None:
        painter.setPen(QPen(text, 1))
        for start, label in self.phase_starts():
            x = self.x_of(start - 0.5)
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            width = self.fontMetrics().horizontalAdvance(label) + 6
            left_of_line = x + width > area.right()  # near the right end the label goes before the line
            where = QRectF(x - width if left_of_line else x + 3, area.top() + 1, width, 14)
            painter.drawText(where, Qt.AlignmentFlag.AlignLeft, label)

    def switch_label(self, text: str) -> str:
        """A switch's label: the new text, elided to fit a quarter of the plot."""
        return self.fontMetrics().elidedText(f"→ {' '.join(text.split()) or '(nothing)'}", Qt.TextElideMode.ElideRight,
                                             max(40, int(self.plot_area().width() / 4)))

    def _draw_switches(self, painter: QPainter, area: QRectF, text: QColor) -> None:
        """A dotted line where each prompt switch's step begins, the new text by it at the foot of the plot."""
        for index, words in self.switches:
            x = self.x_of(index - 0.5)
            painter.setPen(QPen(text, 1, Qt.PenStyle.DotLine))
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            label = self.switch_label(words)
            width = self.fontMetrics().horizontalAdvance(label) + 6
            left_of_line = x + width > area.right()
            where = QRectF(x - width if left_of_line else x + 3, area.bottom() - 15, width, 14)
            painter.fillRect(where, self.palette().base())  # readable over the curves
            painter.setPen(text)
            painter.drawText(where, Qt.AlignmentFlag.AlignLeft, label)

    def _draw_marker(self, painter: QPainter, area: QRectF, text: QColor, curves: dict) -> None:
        if self.marker is None or not 0 <= self.marker < len(self.rows):
            return
        x = self.x_of(self.rows[self.marker].index)
        painter.setPen(QPen(text, 1, Qt.PenStyle.DashLine))
        painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        for name, points in curves.items():
            point = points[self.marker]
            if point is not None:
                painter.setPen(round_pen(COLOURS[name], 7))
                painter.drawPoint(point)

    def _draw_legend(self, painter: QPainter, text: QColor) -> None:
        for name, label, rect in self.legend_items():
            middle = rect.center().y()
            painter.setPen(QPen(COLOURS[name], 2))
            painter.drawLine(QPointF(rect.left(), middle), QPointF(rect.left() + SWATCH, middle))
            painter.setPen(text)
            painter.drawText(rect.adjusted(SWATCH + 4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, label)

    # ---- scrubbing ----
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragged_to = None
            self._choose(event.position().x())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._choose(event.position().x())

    def _choose(self, x: float) -> None:
        position = self.position_at(x)
        if position is not None and position != self._dragged_to:
            self._dragged_to = position
            self.position_chosen.emit(position)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.rows:  # the values of the step under the pointer
            position = self.position_at(event.pos().x())
            clean = {"alpha_bar": " (1: clean)", "flow": " (0: clean, 1: all noise)"}.get(self.noise_kind(), "")
            noise = f"{self.noise_symbol()}{clean}"
            QToolTip.showText(event.globalPos(), f"<p>{self.row_text(position)}</p>{ABOUT.format(noise=noise)}", self)
            return True
        return super().event(event)
