"""What every small QPainter plot of the app begins with: the widget's base colour, the plot area's border in the text
colour, and, while there is nothing to plot, a note in its middle."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget


def framed(widget: QWidget, area: QRectF) -> tuple[QPainter, QColor]:
    """A painter on ``widget`` with its background filled and ``area`` outlined; and the text colour."""
    painter = QPainter(widget)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(widget.rect(), widget.palette().base())
    text = widget.palette().text().color()
    painter.setPen(QPen(text, 1))
    painter.drawRect(area)
    return painter, text


def empty_note(painter: QPainter, widget: QWidget, area: QRectF, note: str) -> None:
    """``note`` in the middle of an empty plot, in the placeholder colour, cut short to fit."""
    painter.setPen(widget.palette().placeholderText().color())
    elided = widget.fontMetrics().elidedText(note, Qt.TextElideMode.ElideRight, int(area.width()) - 8)
    painter.drawText(area, Qt.AlignmentFlag.AlignCenter, elided)
