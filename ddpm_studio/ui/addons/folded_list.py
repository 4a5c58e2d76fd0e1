"""The frame the LoRA and embedding lists share: a header ("3 LoRAs", which folds the list open and shut; Add… for a
folder of them; Refresh), a search box and the list, with a hint in their place when the folders hold none. The
files are read from their headers at start-up, when the folders change and on Refresh; the search only filters what
is listed. Subclasses read the files (``read_files``), make their rows (``make_item``), say what the search looks in
(``search_text``) and mark what the chosen model cannot use (``mark``)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


class FoldedFileList(QWidget):
    folders_changed = Signal()  # the user added a folder here: the engine and the other panels re-read them

    def __init__(self, settings, kind: str, nouns: tuple[str, str], add_tip: str, rows: int, parent=None) -> None:
        super().__init__(parent)
        self.settings, self.kind, self.nouns = settings, kind, nouns  # kind: the add-on folder kind ("loras")
        self.files: dict = {}  # key → file, as listed
        self.skipped: list = []  # resources.UnreadableFile: the files that could not be read, each with why
        self.model_family: tuple[int, bool | None] = (0, None)
        self.toggle = QToolButton(checkable=True, autoRaise=True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self._show_list)
        refresh = QToolButton(text="Refresh")
        refresh.setToolTip(f"Read the {nouns[0]} folders again (new or removed files)")
        refresh.clicked.connect(self.refresh)
        add = QToolButton(text="Add…")
        add.setToolTip(add_tip)
        add.clicked.connect(self.choose_folder)
        tools = QHBoxLayout()
        tools.addWidget(self.toggle)
        tools.addStretch(1)
        tools.addWidget(add)
        tools.addWidget(refresh)
        self.search = QLineEdit(placeholderText=f"Search {nouns[1]}", clearButtonEnabled=True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget()
        self.list.setMaximumHeight(rows * self.list.fontMetrics().height() + 8)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a long name keeps its tag in sight
        self.empty = QLabel(f"No {nouns[1]} found: add a folder of them with Add…, or use File → Use an existing "
                            "A1111 / ComfyUI folder…", wordWrap=True)
        self.folded = [self.search, self.list]  # what unfolds; a subclass may add its own
        self.column = QVBoxLayout(self)
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.addLayout(tools)

    # ---- for subclasses ----
    def read_files(self) -> tuple[dict, list]:
        """({key: file} in the order to list them, the skipped files: ``resources.UnreadableFile``, each with why).
        A subclass may list skipped files too (greyed, with why): ``listed_unusable`` says which rows those are."""
        raise NotImplementedError

    def listed_unusable(self, file) -> bool:
        """Whether a listed row is a file that cannot be used at all (an unreadable one), not counted as one of them."""
        return False

    def make_item(self, key, file) -> QListWidgetItem:
        raise NotImplementedError

    def search_text(self, file) -> str:
        raise NotImplementedError

    def mark(self) -> None:
        """Grey what the chosen model (``model_family``) cannot use (``shade``); say in each tooltip what it is."""

    def shade(self, item: QListWidgetItem, unusable: bool) -> None:
        """An item in the palette's greyed-out text colour when the chosen model cannot use it; else in no colour of
        its own, so that it is painted in the palette's text colour, whichever theme is on."""
        if unusable:
            item.setForeground(self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        else:
            item.setData(Qt.ItemDataRole.ForegroundRole, None)

    def changeEvent(self, event) -> None:
        """The theme changed: grey what is greyed in the new palette's colour (an item keeps the colour it was given)."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.mark()

    # ---- listing ----
    def refresh(self) -> list:
        """Read the folders again. Returns the skipped files."""
        self.files, self.skipped = self.read_files()
        self.list.blockSignals(True)
        self.list.clear()
        for key, file in self.files.items():
            item = self.make_item(key, file)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.list.addItem(item)
        self.list.blockSignals(False)
        (one, many), unusable = self.nouns, sum(map(self.listed_unusable, self.files.values()))
        count = len(self.files) - unusable
        self.toggle.setText(f"{count} {one if count == 1 else many}")  # the skipped: greyed rows, and the tooltip
        skipped = (f"\n{len(self.skipped)} file(s) skipped:\n" + "\n".join(map(str, self.skipped[:10]))
                   if self.skipped else "")
        self.toggle.setToolTip(f"Show or hide the list of your {many}" + skipped)
        self.toggle.setVisible(bool(self.files))
        self.empty.setVisible(not self.files)
        self._show_list(self.toggle.isChecked())
        self.mark()
        self._filter()
        return self.skipped

    def _show_list(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        for widget in self.folded:
            widget.setVisible(shown and bool(self.files))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Add a folder of {self.nouns[1]}")
        if folder:
            self.settings.add_own_folder(self.kind, folder)
            self.refresh()
            self.folders_changed.emit()

    def _filter(self) -> None:
        """Show the files whose search text holds every word of the search."""
        words = self.search.text().lower().split()
        for item in self.items():
            text = self.search_text(self.files[item.data(Qt.ItemDataRole.UserRole)]).lower()
            item.setHidden(not all(word in text for word in words))

    def items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def set_model(self, context_dim: int, xl: bool | None) -> None:
        """The chosen model's family (its text-embedding width, whether it is SDXL), for greying what it cannot use."""
        self.model_family = (context_dim, xl)
        self.mark()
