"""A small live plot of the training loss: the raw losses (a faint line, with dots while they are few) and an
exponentially smoothed line (of the log loss, debiased as TensorBoard's is), log-scaled, with grid lines at round
values (1, 2, 5 × 10^k) between the lowest and the highest loss."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ddpm_studio.ui.widgets.plot_frame import framed

INSET = 6  # the data sit this far inside the frame on every side, so no point is drawn on the frame line
DOTS_UP_TO = 60  # raw losses are also drawn as dots while there are at most this many
LABEL_GAP = 16  # px between the y labels


MANTISSAS = ((1,), (1, 2, 5), tuple(range(1, 10)), tuple(m / 2 for m in range(2, 20)),
             tuple(m / 10 for m in range(10, 100)))  # coarse to fine, each × 10^k


def log_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round losses strictly between 10^low and 10^high: the finest of MANTISSAS' sets that gives no more than
    ``most``."""
    for mantissas in reversed(MANTISSAS):
        ticks = [round(m * 10.0 ** k, 12) for k in range(math.floor(low) - 1, math.ceil(high) + 1) for m in mantissas
                 if low + 1e-9 < math.log10(m * 10.0 ** k) < high - 1e-9]
        if len(ticks) <= most:
            return ticks
    return ticks[:: math.ceil(len(ticks) / most)]


class LossPlot(QWidget):
    def __init__(self, smoothing: float = 0.9, parent=None) -> None:
        super().__init__(parent)
        self.smoothing = smoothing
        self.steps: list[int] = []
        self.raw: list[float] = []
        self.smooth: list[float] = []
        self._ema = 0.0
        self.setMinimumSize(240, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(420, 200)

    def clear(self) -> None:
        self.steps.clear()
        self.raw.clear()
        self.smooth.clear()
        self._ema = 0.0
        self.update()

    def add(self, step: int, loss: float) -> None:
        if not math.isfinite(loss) or loss <= 0:
            return
        self.steps.append(step)
        self.raw.append(loss)
        # an exponential moving average of log loss from zero, debiased as TensorBoard's smoothing is: the early
        # points are not dragged towards the first one
        self._ema = self.smoothing * self._ema + (1 - self.smoothing) * math.log(loss)
        self.smooth.append(math.exp(self._ema / (1 - self.smoothing ** len(self.raw))))
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
        self._draw_grid(painter, text)
        raw_colour = QColor(text)
        raw_colour.setAlpha(110)
        raw = QPainterPath(point(self.steps[0], self.raw[0]))
        for step, loss in zip(self.steps[1:], self.raw[1:]):
            raw.lineTo(point(step, loss))
        painter.setPen(QPen(raw_colour, 1.2))
        painter.drawPath(raw)
        if len(self.raw) <= DOTS_UP_TO:
            painter.setPen(QPen(raw_colour, 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            for step, loss in zip(self.steps, self.raw):
                painter.drawPoint(point(step, loss))
        path = QPainterPath(point(self.steps[0], self.smooth[0]))
        for step, loss in zip(self.steps[1:], self.smooth[1:]):
            path.lineTo(point(step, loss))
        painter.setPen(QPen(QColor(230, 120, 30), 2))
        painter.drawPath(path)
        self._draw_labels(painter, text)

    def grid_losses(self) -> list[float]:
        """The round losses that get a grid line and a label (none too close to the lowest or highest label)."""
        area = self.data_rect()
        low, high = self.log_range()
        per_decade = area.height() / (high - low)
        kept: list[float] = []
        for loss in log_ticks(low, high):
            height = (math.log10(loss) - low) * per_decade  # above the lowest label
            below = (math.log10(kept[-1]) - low) * per_decade if kept else 0.0
            if height - below >= LABEL_GAP and (high - math.log10(loss)) * per_decade >= LABEL_GAP:
                kept.append(loss)
        return kept

    def _draw_grid(self, painter: QPainter, text: QColor) -> None:
        area, point = self.data_rect(), self.mapper()
        faint = QColor(text)
        faint.setAlpha(45)
        for loss in self.grid_losses():
            y = point(self.steps[0], loss).y()
            painter.setPen(QPen(faint, 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            painter.setPen(text)
            painter.drawText(QRectF(0, y - 7, 44, 14), Qt.AlignmentFlag.AlignRight, f"{loss:.3g}")

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
