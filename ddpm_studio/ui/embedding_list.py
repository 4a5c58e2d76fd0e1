"""The embedding list of the prompt panels (A1111's Textual Inversion tab): the embeddings of the embedding folders
(read from their headers, at start-up, when the folders change and on Refresh), searchable; a click writes the
embedding's name into the prompt or the negative prompt, where the engine finds it. Embeddings made for another
family than the chosen model's are listed greyed: the run refuses them."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.resources import EmbeddingFile, list_embeddings
from ddpm_studio.ui.prompt_words import append_words
from ddpm_studio.ui.widgets import narrow_combo

EMPTY_HINT = ("No embeddings found: add a folder of them with Add…, or use File → Use an existing A1111 / "
              "ComfyUI folder…")


def embedding_tag(embedding: EmbeddingFile) -> str:
    """The short tag after an embedding's name: its family and how many vectors (tokens) it takes."""
    vectors = f"{embedding.vectors} vector{'s' if embedding.vectors != 1 else ''}" if embedding.vectors else ""
    return " · ".join(p for p in (embedding.family, vectors, "pickle" if embedding.pickled else "") if p)


class EmbeddingList(QWidget):
    folders_changed = Signal()  # the user added an embedding folder here: the engine and the other panels re-read them

    def __init__(self, settings, prompt: QPlainTextEdit, negative: QPlainTextEdit, parent=None) -> None:
        super().__init__(parent)
        self.settings, self.boxes = settings, (prompt, negative)
        self.embeddings: dict[str, EmbeddingFile] = {}  # name → file, as listed
        self.skipped: list[str] = []
        self.model_family: tuple[int, bool | None] = (0, None)
        self.toggle = QToolButton(checkable=True, autoRaise=True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show_list)
        refresh = QToolButton(text="Refresh")
        refresh.setToolTip("Read the embedding folders again (new or removed files)")
        refresh.clicked.connect(self.refresh)
        add = QToolButton(text="Add…")
        add.setToolTip("Add a folder of textual-inversion embeddings (.safetensors), listed where it is")
        add.clicked.connect(self.choose_folder)
        tools = QHBoxLayout()
        tools.addWidget(self.toggle)
        tools.addStretch(1)
        tools.addWidget(add)
        tools.addWidget(refresh)
        self.search = QLineEdit(placeholderText="Search embeddings", clearButtonEnabled=True)
        self.search.textChanged.connect(self._filter)
        self.target = narrow_combo(10)
        self.target.addItems(["Prompt", "Negative prompt"])
        self.target.setToolTip("Where a click on an embedding writes its name (negative embeddings such as "
                               "easynegative go in the negative prompt)")
        self.target_row = QWidget()
        target_layout = QHBoxLayout(self.target_row)
        target_layout.setContentsMargins(0, 0, 0, 0)
        target_layout.addWidget(QLabel("A click adds to"))
        target_layout.addWidget(self.target, 1)
        self.list = QListWidget()
        self.list.setMaximumHeight(6 * self.list.fontMetrics().height() + 8)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.itemClicked.connect(self._clicked)
        self.empty = QLabel(EMPTY_HINT, wordWrap=True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        for widget in (self.search, self.target_row, self.list, self.empty):
            layout.addWidget(widget)
        self.refresh()

    def refresh(self) -> list[str]:
        """Read the embedding folders again. Returns the skipped files (unreadable, or a name found twice)."""
        found, self.skipped = list_embeddings(self.settings.addon_folder_list("embeddings"))
        self.embeddings = {e.name: e for e in sorted(found, key=lambda e: e.name.lower())}
        self.list.clear()
        for name, embedding in self.embeddings.items():
            tag = embedding_tag(embedding)
            item = QListWidgetItem(f"{name}   [{tag}]" if tag else name)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.list.addItem(item)
        count = len(self.embeddings)
        self.toggle.setText(f"{count} embedding{'s' if count != 1 else ''}")
        skipped = f"\n{len(self.skipped)} file(s) skipped:\n" + "\n".join(self.skipped[:10]) if self.skipped else ""
        self.toggle.setToolTip("Show or hide the list of your embeddings" + skipped)
        self.toggle.setVisible(bool(count))
        self.empty.setVisible(not count)
        self._show_list(self.toggle.isChecked())
        self._mark()
        self._filter()
        return self.skipped

    def _show_list(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        for widget in (self.search, self.target_row, self.list):
            widget.setVisible(shown and bool(self.embeddings))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of embeddings")
        if folder:
            self.settings.add_own_folder("embeddings", folder)
            self.refresh()
            self.folders_changed.emit()

    def _filter(self) -> None:
        words = self.search.text().lower().split()
        for item in self._items():
            embedding = self.embeddings[item.data(Qt.ItemDataRole.UserRole)]
            text = f"{embedding.name} {embedding.path.parent.name}".lower()
            item.setHidden(not all(word in text for word in words))

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def set_model(self, context_dim: int, xl: bool | None) -> None:
        self.model_family = (context_dim, xl)
        self._mark()

    def _mark(self) -> None:
        """Grey what the chosen model cannot take; say in each tooltip what it is."""
        grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        normal = self.palette().color(QPalette.ColorRole.Text)
        for item in self._items():
            embedding = self.embeddings[item.data(Qt.ItemDataRole.UserRole)]
            wrong = embedding.fits(*self.model_family) is False
            item.setForeground(grey if wrong else normal)
            made_for = f"for {embedding.family}" if embedding.family else f"{' + '.join(map(str, embedding.dims))} wide"
            note = "\nMade for another family than the chosen model's: the run will refuse it." if wrong else ""
            pickled = " (a pickle file)" if embedding.pickled else ""
            item.setToolTip(f"{embedding.name}: an embedding {made_for}{pickled}\nA click writes '{embedding.name}' "
                            f"in the box chosen above the list\n{embedding.path}{note}")

    def _clicked(self, item: QListWidgetItem) -> None:
        name = item.data(Qt.ItemDataRole.UserRole)
        append_words(self.boxes[self.target.currentIndex()], [name])
