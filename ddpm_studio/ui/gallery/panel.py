"""The Gallery tab: every image in the index (``engine/gallery/index.py``) — all the app and the CLI ever made, and
the folders added — as a grid of thumbnails that pages in from the index as it scrolls, a search box (words,
``seed:123``, ``model:…``, ``sampler:…``, ``since:…``/``until:…``, ``stars:…``, ``tag:…``), a sort, and the chosen
image's details and actions beside it (``gallery_details.py``). Folders are indexed on a thread of their own, with
progress. The index opens when the tab is first shown; a broken one is rebuilt and the panel says so."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.gallery.query import QueryError, parse_query
from ddpm_studio.ui.core.theme import warning_colour
from ddpm_studio.ui.gallery.details import ACTIONS, GalleryDetails
from ddpm_studio.ui.gallery.model import ROW_ROLE, GalleryModel
from ddpm_studio.ui.gallery.scan import MAX_REASONS, ScanThread, scan_message
from ddpm_studio.ui.gallery.thumbnails import SIZE
from ddpm_studio.ui.widgets.common import error_dialog

PAGE = 400  # rows fetched from the index at a time, as the grid scrolls
SEARCH_TIP = ("Words of the prompt or the negative prompt (all of them; \"red fox\" as a phrase, fox* as a prefix, "
              "-fox for none with it), and seed:123, model:dream, sampler:euler-a, steps:30, kind:txt2img, "
              "since:2026-11-01, until:2026-11-30, stars:3, tag:portrait")
SORTS = (("newest", "Newest first"), ("oldest", "Oldest first"), ("stars", "Most stars"))


class GalleryPanel(QWidget):
    status_message = Signal(str)
    restore_requested = Signal(str)  # a path: restore its parameters into its panel
    send_requested = Signal(str, str)  # (path, "edit" | "upscale" | "explorer")
    rerun_requested = Signal(str)  # a path: make it again with a new seed

    def __init__(self, settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.index = None
        self.query = parse_query("")
        self.total = 0
        self.scan: ScanThread | None = None
        self.compare_dialog = None
        self.search = QLineEdit(placeholderText="Search: red fox seed:123 model:dream since:2026-11-01")
        self.search.setToolTip(SEARCH_TIP)
        self.search.setClearButtonEnabled(True)
        self._typing = QTimer(self, singleShot=True, interval=250)
        self._typing.timeout.connect(lambda: self.refresh())
        self.search.textChanged.connect(lambda _text: self._typing.start())
        self.search.returnPressed.connect(lambda: self.refresh())
        self.sort = QComboBox()
        for key, label in SORTS:
            self.sort.addItem(label, key)
        self.sort.currentIndexChanged.connect(lambda _index: self.refresh())
        self.count = QLabel("")
        self.count.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long message
        self.count.setMinimumWidth(120)  # must not widen the window
        add = QPushButton("Add folder…")
        add.setToolTip("Index a folder of PNGs (ours, or A1111's and other tools' with their parameters) where it is")
        add.clicked.connect(self.choose_folder)
        top = QHBoxLayout()
        top.addWidget(self.search, 3)
        top.addWidget(self.sort)
        top.addWidget(self.count, 1)
        top.addWidget(add)

        self.model = GalleryModel(self)
        self.grid = QListView()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)  # 100,000 items lay out without asking each for its size
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setIconSize(QSize(SIZE, SIZE))
        self.grid.setWordWrap(True)  # the label's two lines: seed, stars (gallery_model.label)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a seed too long to fit keeps both its ends
        self.grid.setGridSize(QSize(SIZE + 16, SIZE + 14 + 2 * self.grid.fontMetrics().height()))
        self.grid.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.grid.setModel(self.model)
        self.grid.selectionModel().selectionChanged.connect(self._chosen)
        self.grid.doubleClicked.connect(self.view_large)
        self.grid.setDragEnabled(True)
        self.grid.setDragDropMode(QListView.DragDropMode.DragOnly)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self.context_menu)
        self.grid.verticalScrollBar().valueChanged.connect(self._maybe_more)
        self.empty_hint = QLabel(self.grid.viewport())  # over the grid when nothing is in it: why, and what to do
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.empty_hint.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.empty_hint.hide()
        QVBoxLayout(self.grid.viewport()).addWidget(self.empty_hint)
        self.details = GalleryDetails()
        self.details.action_requested.connect(self.act)
        self.details.rating_changed.connect(self._rate)
        self.details.tags_changed.connect(self._tag)
        self.details.compare_requested.connect(self.compare)
        split = QSplitter()
        split.addWidget(self.grid)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    # ---- the index ----
    def open_index(self):
        if self.index is None:
            from ddpm_studio.engine.gallery.index import GalleryIndex

            self.index = GalleryIndex(rescan=False)  # a rebuild scans on a thread (_tell_notes)
        self._tell_notes()
        return self.index

    def _tell_notes(self) -> None:
        """What the index had to do (set a broken database aside to rebuild it): said in a box, not only in the
        status bar, since stars and tags start afresh; the rebuild's folders scanned on a thread."""
        if self.index is None:
            return
        if self.index.notes:
            notes, self.index.notes = "\n\n".join(self.index.notes), []
            self.status_message.emit(notes)
            self.note_box = error_dialog(self, "The gallery index was rebuilt", notes)
        if self.index.pending_folders and (self.scan is None or not self.scan.isRunning()):
            folders, self.index.pending_folders = self.index.pending_folders, []
            self._start_scan(folders, "Rebuilding")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh(keep_place=True)  # what was made since the tab was last looked at

    def refresh(self, keep_place: bool = False) -> None:
        """The search again; with ``keep_place``, the chosen images and the scroll position stay where they were."""
        try:
            self.query = parse_query(self.search.text())
        except QueryError as exc:
            self.model.set_rows([])  # no results that belong to another search
            self.count.setText(f"<span style='color:{warning_colour(self.palette()).name()}'>{exc}</span>")
            self.count.setToolTip(str(exc))
            self._show_hint(f"The search could not be read: {exc}")
            return
        chosen = {row["path"] for row in self.chosen_rows()} if keep_place else set()
        scrolled = self.grid.verticalScrollBar().value() if keep_place else 0
        index = self.open_index()
        rows = index.search(self.query, limit=PAGE, order=self.sort.currentData())
        self.total = index.count(self.query)  # after the search dropped the files that are gone
        self._tell_notes()
        self.model.set_rows(rows)
        while keep_place and scrolled and self.grid.verticalScrollBar().maximum() < scrolled and \
                self.model.rowCount() < self.total:
            self._more()
        if chosen:
            selection = self.grid.selectionModel()
            for number, row in enumerate(self.model.rows):
                if row["path"] in chosen:
                    selection.select(self.model.index(number), selection.SelectionFlag.Select)
        self.grid.verticalScrollBar().setValue(scrolled)
        self._update_count()
        self._chosen()

    def _update_count(self) -> None:
        self.count.setText(f"{self.total:,} image(s)" if self.model.rowCount() >= self.total
                           else f"{self.model.rowCount():,} of {self.total:,} shown")
        if self.model.rowCount():
            self._show_hint("")
        elif self.search.text().strip():
            everything = self.index.count("") if self.index is not None else 0
            self._show_hint(f"Nothing matches “{self.search.text().strip()}”.\n" + (
                f"Try fewer words, or clear the search to see all {everything:,} picture(s)." if everything else
                "The gallery is empty: what you make shows up here, and Add folder… brings in pictures."))
        else:
            self._show_hint("No pictures yet.\nWhat you make in the other tabs shows up here; Add folder… brings in "
                            "pictures you already have.")

    def _show_hint(self, text: str) -> None:
        self.empty_hint.setText(text)
        self.empty_hint.setVisible(bool(text))

    def _maybe_more(self, value: int) -> None:
        """Near the end of the grid: the next page from the index."""
        bar = self.grid.verticalScrollBar()
        if value >= bar.maximum() - bar.pageStep() and self.model.rowCount() < self.total:
            self._more()

    def _more(self) -> None:
        before = self.model.rowCount()
        more = self.index.search(self.query, limit=PAGE, offset=before, order=self.sort.currentData())
        self.model.append_rows(more)
        if len(more) < PAGE:  # files gone behind the app's back were dropped: the count follows
            self.total = self.index.count(self.query)
        self._update_count()
        if self.model.rowCount() == before:
            self.total = before

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of pictures to add to the gallery")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> ScanThread | None:
        self.open_index()
        if self.scan is not None and self.scan.isRunning():
            self.status_message.emit("The gallery is adding pictures already; wait for it to finish")
            return None
        return self._start_scan([folder], f"Adding {Path(folder).name}")

    def _start_scan(self, folders: list[str], doing: str) -> ScanThread:
        self.scan = ScanThread(folders, self.index.path, self)
        self.scan.progress.connect(lambda done, total: self.count.setText(f"{doing}: {done:,}/{total:,}"))
        self.scan.finished_scan.connect(self._scanned)
        self.scan.start()
        return self.scan

    def _scanned(self, report) -> None:
        if isinstance(report, str):
            self.note_box = error_dialog(self, "Could not add the folder", report)
        else:
            message, reasons = scan_message(report, self.scan.folder)
            self.status_message.emit(message)
            self.count.setToolTip("\n".join([message, *reasons[:MAX_REASONS]]))
            if report.skipped:  # named where it stays, each with why: the status bar's message goes by
                self.note_box = error_dialog(self, "Some files were not added to the gallery",
                                             f"{message}.\n\nThe other pictures are in the gallery.")
                self.note_box.setDetailedText("\n\n".join(reasons))
        self.refresh()

    # ---- the chosen images ----
    def chosen_rows(self) -> list[dict]:
        return [index.data(ROW_ROLE) for index in self.grid.selectionModel().selectedIndexes()]

    def _chosen(self, *_) -> None:
        rows = self.chosen_rows()
        if len(rows) == 1 and not Path(rows[0]["path"]).exists():  # deleted behind the app's back
            self.index.remove([rows[0]["path"]])
            self.status_message.emit(f"{Path(rows[0]['path']).name} is gone from its folder; it is out of the "
                                     "gallery now")
            self.refresh()
            return
        self.details.show_row(rows[0] if len(rows) == 1 else None, len(rows))

    def context_menu(self, pos) -> QMenu | None:
        """Right-click: the chosen image's actions, as beside the grid (the image under the pointer is chosen)."""
        index = self.grid.indexAt(pos)
        if not index.isValid():
            return None
        if not self.grid.selectionModel().isSelected(index):
            self.grid.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self)
        menu.addAction("View large", lambda: self.view_large(index))
        for key, text in ACTIONS:
            button = self.details.buttons[key]
            if button.isEnabled():
                menu.addAction(button.text() if key == "trash" else text, lambda k=key: self.act(k))
        if self.details.compare.isEnabled():
            menu.addAction(self.details.compare.text(), self.compare)
        self.menu = menu
        menu.popup(self.grid.viewport().mapToGlobal(pos))
        return menu

    def view_large(self, index) -> None:
        from ddpm_studio.ui.canvas.results_strip import ImageViewer

        row = index.data(ROW_ROLE)
        if row is not None and Path(row["path"]).exists():
            self.viewer = ImageViewer(row["path"], self.window())
            self.viewer.show()

    def _rate(self, stars: int) -> None:
        row = self.details.row
        self.index.set_rating(row["path"], stars)
        self.model.update_row({**row, "rating": stars})

    def _tag(self, tags: list[str]) -> None:
        row = self.details.row
        self.index.set_tags(row["path"], tags)
        self.model.update_row({**row, "tags": ", ".join(tags)})

    def compare(self):
        from ddpm_studio.ui.gallery.compare import CompareDialog

        rows = self.chosen_rows()
        if len(rows) != 2:
            return None
        self.compare_dialog = CompareDialog(rows[0], rows[1], self)
        self.compare_dialog.show()
        return self.compare_dialog

    def act(self, action: str) -> None:
        row = self.details.row
        if action == "trash" and row is None:  # several chosen: all of them
            self.trash([r["path"] for r in self.chosen_rows()])
            return
        if row is None:
            return
        path = row["path"]
        if action == "restore":
            self.restore_requested.emit(path)
        elif action == "rerun":
            self.rerun_requested.emit(path)
        elif action in ("edit", "upscale", "explorer"):
            self.send_requested.emit(path, action)
        elif action == "folder":
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent))):
                self.status_message.emit(f"No program here opens folders; the image is in {Path(path).parent}")
        elif action == "copy":
            QGuiApplication.clipboard().setImage(QImage(path))
            self.status_message.emit(f"Copied {Path(path).name}")
        elif action == "trash":
            self.trash([path])

    def trash(self, paths: list[str]) -> bool:
        """To the desktop's trash (send2trash: recoverable), and out of the index; True if all went."""
        from send2trash import send2trash

        moved, failed = [], []
        for path in paths:
            try:
                send2trash(path)
                moved.append(path)
            except OSError as exc:
                failed.append(f"{Path(path).name}: {exc}")
        self.index.remove(moved)
        names = Path(moved[0]).name if len(moved) == 1 else f"{len(moved)} images"
        message = f"Moved {names} to the trash" if moved else ""
        if failed:
            message += ("; " if message else "") + "could not move " + "; ".join(failed[:3])
        self.status_message.emit(message)
        self.refresh()
        return not failed

    def shutdown(self) -> None:
        """Let a folder scan and the thumbnail makers finish, and close the index."""
        if self.scan is not None:
            self.scan.wait(30000)
        self.model.thumbnails.wait()
        self.details.wait()
        if self.index is not None:
            self.index.close()
            self.index = None
