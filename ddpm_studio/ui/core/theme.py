"""Light and dark: follow the system's colour scheme (and its changes), or a choice the user made in View → Theme.

Both are drawn with Qt's Fusion style, which takes a palette the same way on every platform; the dark palette is ours,
the light one Fusion's own with greyed-out text dark enough to read. Every colour a widget shows comes from the
palette at the time it is painted (or is set again when the palette changes), so a theme switched while the app runs
reaches every list, link and check box.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
GREYED_TEXT = {"light": QColor(128, 128, 128), "dark": QColor(120, 120, 120)}  # a third of the way to the base
FRAME_SHARE = 0.55  # a check box's frame: this much of the text colour over the base


def system_is_dark(app: QApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: QColor(45, 45, 48), QPalette.ColorRole.WindowText: QColor(225, 225, 225),
        QPalette.ColorRole.Base: QColor(30, 30, 32), QPalette.ColorRole.AlternateBase: QColor(52, 52, 56),
        QPalette.ColorRole.Text: QColor(225, 225, 225), QPalette.ColorRole.Button: QColor(55, 55, 60),
        QPalette.ColorRole.ButtonText: QColor(225, 225, 225), QPalette.ColorRole.Highlight: QColor(60, 120, 200),
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255), QPalette.ColorRole.ToolTipBase: QColor(60, 60, 64),
        QPalette.ColorRole.ToolTipText: QColor(230, 230, 230), QPalette.ColorRole.PlaceholderText: QColor(140, 140, 140),
        QPalette.ColorRole.Link: QColor(110, 170, 255), QPalette.ColorRole.LinkVisited: QColor(190, 140, 255),
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        # the bevel shades, lighter to darker (left at the light palette's, they drew white lines on dark frames)
        QPalette.ColorRole.Light: QColor(80, 80, 86), QPalette.ColorRole.Midlight: QColor(65, 65, 70),
        QPalette.ColorRole.Mid: QColor(40, 40, 43), QPalette.ColorRole.Dark: QColor(25, 25, 27),
        QPalette.ColorRole.Shadow: QColor(10, 10, 10),
    }
    for role, colour in colours.items():
        palette.setColor(role, colour)
    _grey_out(palette, GREYED_TEXT["dark"])
    return palette


def light_palette(style: QStyle) -> QPalette:
    """Fusion's light palette, with greyed-out text that still reads on white (Fusion's is 1.9:1 against it)."""
    palette = style.standardPalette()
    _grey_out(palette, GREYED_TEXT["light"])
    return palette


def _grey_out(palette: QPalette, colour: QColor) -> None:
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, colour)


def warning_colour(palette: QPalette) -> QColor:
    """The red a problem is written in, light on a dark window and dark on a light one (both about 5:1)."""
    return QColor(255, 120, 110) if palette.color(QPalette.ColorRole.Window).lightness() < 128 else QColor(190, 30, 30)


def frame_colour(palette: QPalette, enabled: bool = True) -> QColor:
    """A check box's frame: between the text and the base colour, so it shows in either theme (the window's text:
    a list paints a greyed item's box with that item's colour as its text)."""
    group = QPalette.ColorGroup.Active if enabled else QPalette.ColorGroup.Disabled
    text, base = palette.color(group, QPalette.ColorRole.WindowText), palette.color(group, QPalette.ColorRole.Base)
    return QColor(*(round(FRAME_SHARE * t + (1 - FRAME_SHARE) * b)
                    for t, b in zip(text.getRgb()[:3], base.getRgb()[:3])))


class StudioStyle(QProxyStyle):
    """Fusion, with check boxes (on their own and in lists) framed in a colour read from the palette: Fusion frames
    them in a shade of the window colour, which vanishes against a dark base."""

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element == QStyle.PrimitiveElement.PE_IndicatorCheckBox:
            enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
            painter.save()
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(frame_colour(option.palette, enabled), 1))
            painter.drawRect(option.rect.adjusted(0, 0, -1, -1))
            painter.restore()


def apply_theme(app: QApplication, choice: str) -> bool:
    """Apply ``choice`` (system, light, dark); True when the result is dark."""
    dark = system_is_dark(app) if choice == "system" else choice == "dark"
    app.setStyle(StudioStyle())
    app.setPalette(dark_palette() if dark else light_palette(app.style()))
    return dark
