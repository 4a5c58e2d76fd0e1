"""Preferences → Your files: the model folders (and checkpoint files) added with File → Add…, the models home (an
A1111 / ComfyUI install used in place) and the user's own folders of LoRAs, embeddings and VAEs. Saved when the dialog is accepted; the main window then tells the engine."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

KINDS = {"loras": "LoRA folders", "embeddings": "Embedding folders", "vaes": "VAE folders",
         "wildcards": "Wildcard folders"}  # wildcards: name.txt files for __name__ in a prompt


class FolderList(QWidget):
    """A short list of folders with Add… and Remove."""

    def __init__(self, folders: list[str], title: str) -> None:
        super().__init__()
        self.title = title
        self.list = QListWidget()
        self.list.addItems(folders)
        self.list.setMaximumHeight(4 * self.list.fontMetrics().height() + 8)
        add, remove = QToolButton(text="Add…"), QToolButton(text="Remove")
        add.clicked.connect(self.choose)
        remove.clicked.connect(lambda: [self.list.takeItem(self.list.row(i)) for i in self.list.selectedItems()])
        buttons = QVBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)

    def folders(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add(self, folder: str) -> None:
        if folder and folder not in self.folders():
            self.list.addItem(folder)

    def choose(self) -> None:
        self.add(QFileDialog.getExistingDirectory(self, f"Add to the {self.title.lower()}"))


class AddonFoldersPage(QWidget):
    def __init__(self, settings) -> None:
        super().__init__()
        self.home = QLineEdit(settings.models_home, readOnly=True, placeholderText="none")
        self.home.setToolTip("An A1111 or ComfyUI folder: its checkpoints, LoRAs, embeddings and VAEs are listed "
                             "where they are (File → Use an existing A1111 / ComfyUI folder…)")
        clear = QToolButton(text="Clear")
        clear.setToolTip("Stop listing that folder's files (nothing is deleted)")
        clear.clicked.connect(self.home.clear)
        home_row = QHBoxLayout()
        home_row.addWidget(self.home, 1)
        home_row.addWidget(clear)
        self.lists = {kind: FolderList(settings.own_folders(kind), title) for kind, title in KINDS.items()}
        self.model_folders = FolderList(settings.user_model_folders, "Model folders")
        self.model_folders.setToolTip("Folders of models and checkpoint files added with File → Add model folder… or "
                                      "Add checkpoint file…; Remove stops listing them (nothing is deleted)")
        form = QFormLayout(self)
        form.addRow("Model folders", self.model_folders)
        form.addRow("Models home", home_row)
        for kind, title in KINDS.items():
            form.addRow(title, self.lists[kind])
        note = QLabel("The models home's own folders are used besides these. Prompt tags such as <lora:NAME:0.8> "
                      "and embedding names are looked up in all of them.", wordWrap=True,
                      textFormat=Qt.TextFormat.PlainText)
        form.addRow(note)

    def save(self, settings) -> bool:
        """Write the folders to ``settings``; whether anything changed."""
        changed = self.home.text() != settings.models_home
        settings.models_home = self.home.text()
        changed |= self.model_folders.folders() != settings.user_model_folders
        settings.set_user_model_folders(self.model_folders.folders())
        for kind, folder_list in self.lists.items():
            changed |= folder_list.folders() != settings.own_folders(kind)
            settings.set_own_folders(kind, folder_list.folders())
        return changed
