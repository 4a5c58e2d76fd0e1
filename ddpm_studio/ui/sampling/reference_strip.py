"""The Edit panel's reference strip: the pictures an instruction edit reads after the one it edits (Flux.2 Klein takes
up to 3, Qwen-Image-Edit Plus 2), as thumbnails in the order the model reads them — added, removed and moved earlier
or later, or dragged into place; picture files dropped on it are added. The job holds their paths
(``EditJob.references``), in this order."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.ui.widgets.image_input import IMAGE_FILTER

THUMB = 64  # px, a thumbnail's longer side


class _Thumbs(QListWidget):
    """The thumbnails: dragged among themselves to reorder, and picture files dropped on them from outside added."""

    files_add_and_report = Signal(list)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:
        if not event.mimeData().hasUrls():
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        self.files_add_and_report.emit([url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()])


class ReferenceStrip(QWidget):
    changed = Signal()
    message = Signal(str)  # what was left out of an Add, for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.limit = 0  # how many the chosen model takes
        self.title = QLabel()
        self.list = _Thumbs()
        self.list.files_add_and_report.connect(self._add_and_report)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(False)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setFixedHeight(THUMB + 44)
        self.list.setMovement(QListView.Movement.Snap)
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)  # drag one into its place
        self.list.model().rowsMoved.connect(lambda *_: self._changed())
        self.list.itemSelectionChanged.connect(self._show_buttons)
        buttons = QHBoxLayout()
        self.add_button = QToolButton(text="Add…")
        self.add_button.clicked.connect(self.choose)
        self.remove_button = QToolButton(text="Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.earlier_button = QToolButton(text="◀ Earlier")
        self.earlier_button.clicked.connect(lambda: self.move_selected(-1))
        self.later_button = QToolButton(text="Later ▶")
        self.later_button.clicked.connect(lambda: self.move_selected(1))
        for button in (self.add_button, self.remove_button, self.earlier_button, self.later_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.set_limit(0)

    # ---- what the job reads ----
    def paths(self) -> tuple[str, ...]:
        return tuple(self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count()))

    def set_limit(self, limit: int) -> None:
        """The chosen model takes ``limit`` reference pictures (those over it stay listed, and the run says so)."""
        self.limit = limit
        self._show_buttons()

    # ---- editing the strip ----
    def choose(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Reference pictures", "", IMAGE_FILTER)
        self._add_and_report(paths)

    def add_paths(self, paths) -> list[str]:
        """Add ``paths`` at the end, up to the limit; what was left out, in words."""
        problems = []
        for path in paths:
            if self.list.count() >= self.limit:
                problems.append(f"{Path(path).name} left out: this model takes {self.limit} reference pictures")
                continue
            image = QImage(path)
            if image.isNull():
                problems.append(f"{path} is not an image Qt can read")
                continue
            self._add_item(str(Path(path).resolve()), image)
        self._changed()
        return problems

    def _add_and_report(self, paths: list) -> None:
        problems = self.add_paths(paths)
        if problems:
            self.message.emit("; ".join(problems))

    def remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))
        self._changed()

    def move_selected(self, by: int) -> None:
        """The selected picture one place earlier (``by`` −1) or later (+1), still selected."""
        row = self.list.currentRow()
        to = row + by
        if row < 0 or not 0 <= to < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(to, item)
        self.list.setCurrentRow(to)
        self._changed()

    def set_paths(self, paths) -> list[str]:
        """A restored job's references, in order; those no longer there are left out and named."""
        self.list.clear()
        missing = []
        for path in paths:
            image = QImage(path) if Path(path).is_file() else QImage()
            if image.isNull():
                missing.append(f"the reference picture {path} is not there any more")
            else:
                self._add_item(path, image)
        self._changed()
        return missing

    # ---- inside ----
    def _add_item(self, path: str, image: QImage) -> None:
        thumb = QPixmap.fromImage(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
        item = QListWidgetItem(QIcon(thumb), Path(path).name)
        item.setData(Qt.ItemDataRole.UserRole, path)
        item.setToolTip(f"{path} ({image.width()}×{image.height()})")
        self.list.addItem(item)

    def _changed(self) -> None:
        self._show_buttons()
        self.changed.emit()

    def _show_buttons(self) -> None:
        count = self.list.count()
        self.title.setText(f"Reference pictures, read after the picture to edit ({count} of at most {self.limit})")
        self.add_button.setEnabled(count < self.limit)
        chosen = self.list.currentRow() if self.list.selectedItems() else -1
        self.remove_button.setEnabled(chosen >= 0)
        self.earlier_button.setEnabled(chosen > 0)
        self.later_button.setEnabled(0 <= chosen < count - 1)
