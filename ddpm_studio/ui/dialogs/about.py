"""Help → About: what this is, the versions it runs on (read from the installed packages, nothing imported), the
device the sampler found, and the licences — DDPM Studio's own and those of what ships inside it."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
)

from ddpm_studio import __version__
from ddpm_studio.paths import resources_dir

PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "peft", "safetensors", "huggingface_hub",
            "PySide6-Essentials", "qasync", "pillow", "numpy")


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def licences() -> dict[str, str]:
    """Title → text of every licence file in resources/licenses, with DDPM Studio's own first."""
    texts = {"DDPM Studio": "DDPM Studio is licensed under the Apache License 2.0.\n\n"
             "The bundled model emoji-32 was trained by DDPM Studio's own trainer on glyphs rendered from Noto Color "
             "Emoji, which is licensed under the SIL Open Font License 1.1. The CLIP tokenizer that single-file "
             "Stable Diffusion checkpoints need is OpenAI CLIP's vocabulary, under the MIT License. Both texts are in "
             "the next tabs."}
    folder = resources_dir() / "licenses"
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        texts[path.stem] = path.read_text(encoding="utf-8", errors="replace")
    return texts


class AboutDialog(QDialog):
    def __init__(self, device_label: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DDPM Studio")
        header = QLabel(f"<h2>DDPM Studio {__version__}</h2><p>Local image generation with diffusion models — "
                        "and a look at every denoising step.</p>"
                        f"<p>Sampler device: {device_label or 'starting…'}</p>")
        header.setTextFormat(Qt.TextFormat.RichText)
        header.setWordWrap(True)
        self.tabs = QTabWidget()
        self.versions_table = _table(versions())
        copy = QAction("Copy the versions", self.versions_table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.triggered.connect(self.copy_versions)
        self.versions_table.addAction(copy)
        self.versions_table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.tabs.addTab(self.versions_table, "Versions")
        for title, text in licences().items():
            self.tabs.addTab(_text(text), title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(620, 480)

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]

    def versions_text(self) -> str:
        """The Versions table as text, a "package<TAB>version" line a row."""
        table = self.versions_table
        rows = range(table.rowCount())
        return "\n".join(f"{table.item(row, 0).text()}\t{table.item(row, 1).text()}" for row in rows)

    def copy_versions(self) -> None:
        QGuiApplication.clipboard().setText(self.versions_text())


def _table(found: dict[str, str]) -> QTableWidget:
    """A read-only two-column table, Package and Version, a row a package."""
    table = QTableWidget(len(found), 2)
    table.setHorizontalHeaderLabels(["Package", "Version"])
    for row, (name, version) in enumerate(found.items()):
        table.setItem(row, 0, QTableWidgetItem(name))
        table.setItem(row, 1, QTableWidgetItem(version))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    rows = table.verticalHeader()
    rows.setVisible(False)
    rows.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # compact rows, as in a text list
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.resizeColumnToContents(0)
    table.setColumnWidth(0, table.columnWidth(0) + 24)  # a gap between the two columns
    header = table.horizontalHeader()
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return table


def _text(content: str) -> QPlainTextEdit:
    view = QPlainTextEdit(content)
    view.setReadOnly(True)
    return view
