"""Two gallery images side by side, with a table of the parameters in which they differ (and, below it, how many
they share)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout

from ddpm_studio.ui.canvas.step_canvas import ImageView

FIELDS = (("prompt", "Prompt"), ("negative", "Negative prompt"), ("seed", "Seed"), ("model", "Model"),
          ("scheduler", "Scheduler"), ("steps", "Steps"), ("guidance", "Guidance"), ("loras", "LoRAs"),
          ("size", "Size"), ("kind", "Made by"), ("device", "Device"), ("created", "Made"))


def shown(row: dict, key: str) -> str:
    if key == "size":
        return f"{row.get('width')}×{row.get('height')}"
    if key == "created":
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(row.get("created") or 0))
    value = row.get(key)
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def differences(a: dict, b: dict) -> list[tuple[str, str, str]]:
    """(label, a's, b's) for every parameter that differs."""
    return [(label, shown(a, key), shown(b, key)) for key, label in FIELDS if shown(a, key) != shown(b, key)]


class CompareDialog(QDialog):
    def __init__(self, a: dict, b: dict, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{Path(a['path']).name} and {Path(b['path']).name}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        pictures = QHBoxLayout()
        for row in (a, b):
            column = QVBoxLayout()
            view = ImageView()
            view.set_image(QImage(row["path"]))
            view.setMinimumSize(320, 320)
            column.addWidget(view, 1)
            column.addWidget(QLabel(Path(row["path"]).name))
            pictures.addLayout(column)
        rows = differences(a, b)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["", "Left", "Right"])
        self.table.verticalHeader().setVisible(False)
        for number, cells in enumerate(rows):
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(number, column, item)
        self.table.resizeColumnToContents(0)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(1, 300)
        same = len(FIELDS) - len(rows)
        layout = QVBoxLayout(self)
        layout.addLayout(pictures, 1)
        layout.addWidget(QLabel(f"{len(rows)} parameter(s) differ; {same} are the same"
                                if rows else "The same parameters"))
        layout.addWidget(self.table)
        self.resize(860, 700)
