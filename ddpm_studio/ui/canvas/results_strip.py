"""The results strip: thumbnails of saved images, each with its seed; click to view large, drag out as files, open the
folder, copy to the clipboard, restore the parameters that made an image, reuse its seed."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
)

from ddpm_studio.engine.output.metadata import MetadataError, read_metadata, read_png_text
from ddpm_studio.ui.canvas.step_canvas import ImageView

PATH_ROLE = Qt.ItemDataRole.UserRole
SEED_ROLE = Qt.ItemDataRole.UserRole + 1


def image_seed_and_model(path: str) -> tuple[int | None, str]:
    """The seed and the model name that made one of our PNGs (from its parameters), or (None, "")."""
    try:
        payload = read_metadata(path)
    except MetadataError:
        return None, ""
    seed = payload.get("seed")
    return (seed if isinstance(seed, int) and not isinstance(seed, bool) else None), str(payload.get("model_name", ""))


class GalleryStrip(QListWidget):
    restore_requested = Signal(str)  # path of the image whose parameters to restore
    reuse_seed_requested = Signal(object)  # the seed of an image (an int up to 2³² − 1: wider than a C++ int)
    seed_walk_requested = Signal(list)  # paths of the results whose seeds to walk through, left to right
    walks = False  # whether "Seed walk…" is offered (panels whose pictures start from noise)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(96, 96))
        self.setMovement(QListView.Movement.Static)
        self.setDragEnabled(True)
        self.setDragDropMode(QListWidget.DragDropMode.DragOnly)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setFixedHeight(140)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.itemActivated.connect(self.view_item)
        self.itemClicked.connect(self.view_item)
        self._viewers: list[QDialog] = []
        self.message_box: QMessageBox | None = None

    def add_images(self, paths: list[str]) -> None:
        """In front of the older results, the batch in its own order (seed, seed + 1, …) from the left."""
        for path in reversed(paths):
            pixmap = QPixmap(path)
            icon = QIcon(pixmap.scaled(self.iconSize(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
            seed, model = image_seed_and_model(path)
            item = QListWidgetItem(icon, f"seed {seed}" if seed is not None else Path(path).stem)
            item.setData(PATH_ROLE, path)
            item.setData(SEED_ROLE, seed)
            item.setToolTip(f"{model}, seed {seed}\n{path}" if seed is not None else path)
            self.insertItem(0, item)  # newest first
        if paths:
            self.scrollToTop()

    def paths(self) -> list[str]:
        return [self.item(i).data(PATH_ROLE) for i in range(self.count())]

    def walk_paths(self, item: QListWidgetItem) -> list[str]:
        """The selected results with a seed, left to right, if ``item`` is one of them; else ``item`` alone."""
        chosen = [self.item(i) for i in range(self.count())
                  if self.item(i).isSelected() and self.item(i).data(SEED_ROLE) is not None]
        return [i.data(PATH_ROLE) for i in chosen] if item in chosen else [item.data(PATH_ROLE)]

    # drag out: the files themselves
    def mimeData(self, items) -> QMimeData:
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(item.data(PATH_ROLE)) for item in items])
        if len(items) == 1:
            data.setImageData(QImage(items[0].data(PATH_ROLE)))
        return data

    def view_item(self, item: QListWidgetItem) -> "ImageViewer":
        viewer = ImageViewer(item.data(PATH_ROLE), self.window())
        viewer.finished.connect(lambda _=0, v=viewer: self._viewers.remove(v) if v in self._viewers else None)
        self._viewers.append(viewer)
        viewer.show()
        return viewer

    def copy_item(self, item: QListWidgetItem) -> None:
        QGuiApplication.clipboard().setImage(QImage(item.data(PATH_ROLE)))

    def open_folder(self, item: QListWidgetItem) -> bool:
        """Open the image's folder in the desktop's file manager; where there is none, say so and offer the path."""
        folder = str(Path(item.data(PATH_ROLE)).parent)
        if QDesktopServices.openUrl(QUrl.fromLocalFile(folder)):
            return True
        box = QMessageBox(QMessageBox.Icon.Information, "Cannot open the folder",
                          f"This desktop has no program to open folders with. The image is in:\n{folder}",
                          QMessageBox.StandardButton.Close, self)
        copy = box.addButton("Copy the path", QMessageBox.ButtonRole.AcceptRole)
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(folder))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.message_box = box
        return False

    def _context_menu(self, pos) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("View", lambda: self.view_item(item))
        menu.addAction("Copy image", lambda: self.copy_item(item))
        menu.addAction("Open containing folder", lambda: self.open_folder(item))
        menu.addAction("Restore parameters", lambda: self.restore_requested.emit(item.data(PATH_ROLE)))
        seed = item.data(SEED_ROLE)
        if seed is not None:
            menu.addAction(f"Reuse this seed ({seed})", lambda: self.reuse_seed_requested.emit(seed))
        if seed is not None and self.walks:
            walk = self.walk_paths(item)
            text = f"Seed walk through the {len(walk)} selected…" if len(walk) > 1 else "Seed walk from this seed…"
            menu.addAction(text, lambda: self.seed_walk_requested.emit(walk))
        menu.exec(self.viewport().mapToGlobal(pos))


class ImageViewer(QDialog):
    """One result, large, with the parameters stored in it."""

    def __init__(self, path: str, parent=None) -> None:
        super().__init__(parent)
        self.path = path
        self.setWindowTitle(Path(path).name)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.view = ImageView()
        self.view.set_image(QImage(path))
        self.view.setMinimumSize(384, 384)
        params = QPlainTextEdit()
        params.setReadOnly(True)
        params.setMaximumHeight(80)
        try:
            params.setPlainText(read_png_text(path).get("parameters", "(no parameters stored)"))
        except MetadataError as exc:
            params.setPlainText(str(exc))
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(QLabel(path))
        layout.addWidget(params)
        self.resize(520, 600)
