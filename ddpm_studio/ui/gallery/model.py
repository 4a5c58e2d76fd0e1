"""The Gallery tab's list model: the rows of one search (paths and their parameters, from the index), each shown as
its thumbnail under its seed. Only what the view paints asks for a thumbnail, so a search of 100,000 images costs
the query and a page of thumbnails, not 100,000 files."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QMimeData, QModelIndex, Qt, QUrl
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap

from ddpm_studio.ui.gallery.thumbnails import SIZE, Thumbnails

ROW_ROLE = Qt.ItemDataRole.UserRole  # the index row (a dict) of an item
SHORT_SEED = 12  # digits that fit under a thumbnail after "seed "; a longer seed (ComfyUI's) is shown alone


def label(row: dict) -> str:
    """The text under a thumbnail: its seed on one line, its stars on the next (each fits the cell's width)."""
    seed = row.get("seed")
    lines = [] if seed is None else [f"seed {seed}" if len(str(seed)) <= SHORT_SEED else str(seed)]
    if row.get("rating"):
        lines.append("★" * row["rating"])
    return "\n".join(lines)


class GalleryModel(QAbstractListModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[dict] = []
        self._where: dict[str, int] = {}
        self.thumbnails = Thumbnails(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        placeholder = QPixmap(SIZE, SIZE)
        placeholder.fill(QColor(128, 128, 128, 60))
        self._placeholder = QIcon(placeholder)
        self._icons: dict[str, QIcon] = {}

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._where = {row["path"]: number for number, row in enumerate(rows)}
        self._icons = {}
        self.endResetModel()

    def append_rows(self, rows: list[dict]) -> None:
        """The next page of the same search."""
        rows = [row for row in rows if row["path"] not in self._where]
        if not rows:
            return
        first = len(self.rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for number, row in enumerate(rows, first):
            self._where[row["path"]] = number
        self.rows += rows
        self.endInsertRows()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return label(row)
        if role == Qt.ItemDataRole.DecorationRole:
            icon = self._icons.get(row["path"])
            if icon is None:
                image = self.thumbnails.get(row)
                if image is None:
                    return self._placeholder
                icon = self._icons[row["path"]] = QIcon(QPixmap.fromImage(image))
            return icon
        if role == Qt.ItemDataRole.ToolTipRole:
            seed = [] if row.get("seed") is None else [f"seed {row['seed']}"]  # whole, where the label shortens it
            return "\n".join([*seed, row.get("prompt") or "(no prompt)", row.get("model") or "", row["path"]])
        if role == ROW_ROLE:
            return row
        return None

    def flags(self, index: QModelIndex):
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else flags

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        """Dragged out: the files themselves (to a file manager, another app, a panel's image input)."""
        data = QMimeData()
        data.setUrls([QUrl.fromLocalFile(self.rows[i.row()]["path"]) for i in indexes if i.isValid()])
        return data

    def _thumbnail_ready(self, path: str) -> None:
        number = self._where.get(path)
        if number is not None:
            index = self.index(number)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def update_row(self, row: dict) -> None:
        number = self._where.get(row["path"])
        if number is not None:
            self.rows[number] = row
            index = self.index(number)
            self.dataChanged.emit(index, index)

    def thumbnail(self, row: dict) -> QImage | None:
        return self.thumbnails.get(row)
