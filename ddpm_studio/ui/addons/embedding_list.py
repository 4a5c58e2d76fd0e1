"""The embedding list of the prompt panels (A1111's Textual Inversion tab): the embeddings of the embedding folders,
searchable; a click (or Enter) writes the embedding's name into the prompt or the negative prompt, where the engine
finds it. Embeddings made for another family than the chosen model's are listed greyed, and a click on one says why
instead of writing it: the run would refuse it. Files that cannot be read (cut short, no embedding in them, a name
taken by another file) are listed greyed after them, tagged, with why in their tooltip: a run passes them over."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidgetItem, QPlainTextEdit, QToolTip, QWidget

from ddpm_studio.engine.addons.resources import EmbeddingFile, UnreadableFile, list_embeddings
from ddpm_studio.ui.addons.folded_list import FoldedFileList
from ddpm_studio.ui.prompts.words import append_words
from ddpm_studio.ui.widgets.common import narrow_combo


def embedding_tag(embedding: EmbeddingFile) -> str:
    """The short tag after an embedding's name: its family and how many vectors (tokens) it takes."""
    vectors = f"{embedding.vectors} vector{'s' if embedding.vectors != 1 else ''}" if embedding.vectors else ""
    return " · ".join(p for p in (embedding.family, vectors, "pickle" if embedding.pickled else "") if p)


class EmbeddingList(FoldedFileList):
    def __init__(self, settings, prompt: QPlainTextEdit, negative: QPlainTextEdit, parent=None) -> None:
        super().__init__(settings, "embeddings", ("embedding", "embeddings"),
                         "Add a folder of textual-inversion embeddings (.safetensors), listed where it is", 6, parent)
        self.boxes = (prompt, negative)
        self.target = narrow_combo(10)
        self.target.addItems(["Prompt", "Negative prompt"])
        self.target.setToolTip("Where a click on an embedding writes its name (negative embeddings such as "
                               "easynegative go in the negative prompt)")
        target_row = QWidget()
        target_layout = QHBoxLayout(target_row)
        target_layout.setContentsMargins(0, 0, 0, 0)
        target_layout.addWidget(QLabel("A click adds to"))
        target_layout.addWidget(self.target, 1)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)  # Enter on the chosen row
        self.folded.insert(1, target_row)
        for widget in (self.search, target_row, self.list, self.empty):
            self.column.addWidget(widget)
        self.refresh()

    @property
    def embeddings(self) -> dict[str, EmbeddingFile]:
        """name → file, as listed."""
        return self.files

    def read_files(self):
        """The embeddings by name, then the files that could not be read by path (a name has no separators)."""
        found, skipped = list_embeddings(self.settings.addon_folder_list(self.kind))
        files: dict = {e.name: e for e in sorted(found, key=lambda e: e.name.lower())}
        files.update((str(f.path), f) for f in sorted(skipped, key=lambda f: (f.name.lower(), str(f.path))))
        return files, skipped

    def listed_unusable(self, file) -> bool:
        return isinstance(file, UnreadableFile)

    def make_item(self, name: str, embedding: EmbeddingFile | UnreadableFile) -> QListWidgetItem:
        if isinstance(embedding, UnreadableFile):
            return QListWidgetItem(f"{embedding.name}   [{embedding.tag}]")
        tag = embedding_tag(embedding)
        return QListWidgetItem(f"{name}   [{tag}]" if tag else name)

    def search_text(self, embedding: EmbeddingFile | UnreadableFile) -> str:
        """Found by its name, its folder, or what its tag says (its family, its vectors; unreadable)."""
        if isinstance(embedding, UnreadableFile):
            return f"{embedding.name} {embedding.path.parent.name} {embedding.tag}"
        return f"{embedding.name} {embedding.path.parent.name} {embedding_tag(embedding)}"

    def mark(self) -> None:
        for item in self.items():
            embedding = self.files[item.data(Qt.ItemDataRole.UserRole)]
            if isinstance(embedding, UnreadableFile):
                self.shade(item, True)
                plain = f", so '{embedding.name}' in a prompt is plain words" if embedding.tag == "unreadable" else ""
                item.setToolTip(f"{embedding.path.name} is not used: a run passes it over{plain}\n{embedding.reason}")
                continue
            wrong = embedding.fits(*self.model_family) is False
            self.shade(item, wrong)
            note = "\nMade for another family than the chosen model's: the run will refuse it." if wrong else ""
            pickled = " (a pickle file)" if embedding.pickled else ""
            item.setToolTip(f"{embedding.name}: an embedding for {embedding.made_for}{pickled}\nA click writes "
                            f"'{embedding.name}' in the box chosen above the list\n{embedding.path}{note}")

    def _clicked(self, item: QListWidgetItem) -> None:
        """Write the name into the chosen box; one the chosen model cannot take is not written, and a tip says why."""
        embedding = self.files[item.data(Qt.ItemDataRole.UserRole)]
        if isinstance(embedding, UnreadableFile):
            QToolTip.showText(QCursor.pos(), embedding.reason, self.list)
            return
        if embedding.fits(*self.model_family) is False:
            QToolTip.showText(QCursor.pos(), f"{embedding.name} is made for {embedding.made_for}, not the chosen "
                              "model: a run with it would be refused.", self.list)
            return
        append_words(self.boxes[self.target.currentIndex()], [embedding.name])
