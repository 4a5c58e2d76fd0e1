"""Labels whose colours follow the theme: links in the palette's link colour, and the short note under a field that
says what is wrong with its value (in the theme's warning red) or what was done to it (in greyed-out text)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from ddpm_studio.ui.core.theme import warning_colour


class LinkLabel(QLabel):
    """Rich text with links. Qt colours a link when the text is set, so the text is set again when the palette
    changes: a link made in the light theme is not left dark blue in the dark one."""

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(text, parent, wordWrap=True, textFormat=Qt.TextFormat.RichText)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.text():
            text = self.text()
            self.setText("")
            self.setText(text)


class FieldNote(QLabel):
    """One short line under a field: a problem (``warn``, in the warning red) or a remark (``remark``, greyed);
    hidden while there is nothing to say."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent, wordWrap=True)
        self.problem = False
        self.hide()

    def warn(self, text: str) -> None:
        self._say(text, True)

    def remark(self, text: str) -> None:
        self._say(text, False)

    def clear_note(self) -> None:
        self._say("", False)

    def _say(self, text: str, problem: bool) -> None:
        self.problem = problem and bool(text)
        self.setText(text)
        self.setVisible(bool(text))
        self._recolour()

    def colour(self):
        """From the theme's palette (the app's: this label's own holds the colour it was given)."""
        theme = QApplication.palette()
        if self.problem:
            return warning_colour(theme)
        return theme.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)

    def _recolour(self) -> None:
        colour = self.colour()
        if self.palette().color(QPalette.ColorRole.WindowText) != colour:
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, colour)
            self.setPalette(palette)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._recolour()
