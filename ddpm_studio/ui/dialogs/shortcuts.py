"""Help → Keyboard shortcuts: the menus' shortcuts (read from the actions themselves, so the list cannot drift) and
the keys that panels and the step canvas take."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

PANEL_KEYS = [
    ("Ctrl+Enter", "Generate (every sampling panel)"),
    ("Ctrl+V", "Paste an image (Edit, Upscale)"),
    ("Ctrl+Z", "Undo the last mask stroke (Edit, inpaint)"),
    ("← / →", "Step canvas: previous / next kept step"),
    ("Home / End", "Step canvas: first / last kept step"),
    ("Space", "Step canvas: play the steps / pause"),
    ("← / →", "Upscale: move the before/after divider"),
]


def menu_shortcuts(window) -> list[tuple[str, str]]:
    """(keys, what) for every action in the window's menus that has a shortcut (a dialog's own are not the app's)."""
    found = []
    for action in _menu_actions(window.menuBar().actions()):
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys and action.text():
            found.append((keys, action.text().replace("&", "").rstrip("…")))
    return sorted(set(found), key=lambda item: item[1])


def _menu_actions(actions) -> list[QAction]:
    """The actions of these menus and of their submenus."""
    found = []
    for action in actions:
        found.append(action)
        if action.menu() is not None:
            found += _menu_actions(action.menu().actions())
    return found


class ShortcutsDialog(QDialog):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = menu_shortcuts(window) + PANEL_KEYS
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "What it does"])
        for row, (keys, what) in enumerate(self.rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(what))
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 420)
