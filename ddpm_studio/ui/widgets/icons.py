"""Icons drawn with QPainter, so they show on every desktop: an emoji font or an icon theme may be missing (a 🎲 on a
button is an empty box where no emoji font is installed)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

DIE_PIPS = ((0.3, 0.3), (0.7, 0.3), (0.5, 0.5), (0.3, 0.7), (0.7, 0.7))  # the five of a die, as fractions of its side


def die_icon(side: int = 32) -> QIcon:
    """A die showing five: a rounded square outline with five pips, in the palette's text colour."""
    colour = QApplication.palette().color(QPalette.ColorRole.ButtonText)
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = painter.pen()
    pen.setColor(colour)
    pen.setWidthF(side / 14)
    painter.setPen(pen)
    inset = side * 0.1
    painter.drawRoundedRect(QRectF(inset, inset, side - 2 * inset, side - 2 * inset), side * 0.18, side * 0.18)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    radius = side * 0.075
    for x, y in DIE_PIPS:
        painter.drawEllipse(QPointF(x * side, y * side), radius, radius)
    painter.end()
    return QIcon(pixmap)
