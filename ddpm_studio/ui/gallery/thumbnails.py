"""Gallery thumbnails: made off the GUI thread (a QThreadPool), kept on disk under the cache folder by file, size
and time (a changed file gets a new one), and in memory for the pictures on screen. The GUI thread only asks and
is told when one is ready."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

SIZE = 128
MEMORY = 2000  # thumbnails kept in memory (about 64 KB each)


def thumbnail_folder() -> Path:
    from ddpm_studio.paths import cache_dir

    return cache_dir() / "thumbnails"


def cache_file(path: str, size: int, mtime: float) -> Path:
    key = hashlib.sha1(f"{path}|{size}|{mtime}".encode()).hexdigest()
    return thumbnail_folder() / key[:2] / f"{key}.png"


def make_thumbnail(path: str, size: int, mtime: float) -> QImage:
    """The thumbnail of ``path``, from the disk cache or made now (and stored); a null image if unreadable."""
    cached = cache_file(path, size, mtime)
    image = QImage(str(cached))
    if not image.isNull():
        return image
    from PIL import Image

    try:
        with Image.open(path) as picture:
            picture.draft("RGB", (SIZE, SIZE))  # JPEGs decode small; PNGs are read whole, then shrunk
            picture = picture.convert("RGB")
            if max(picture.size) < SIZE:  # a 32 px sample: enlarged, pixel-sharp, as the canvas shows it
                scale = SIZE // max(picture.size)
                picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
            picture.thumbnail((SIZE, SIZE), Image.Resampling.LANCZOS)
            cached.parent.mkdir(parents=True, exist_ok=True)
            picture.save(cached)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # a header claiming 50,000² pixels
        return QImage()
    return QImage(str(cached))


class _Signals(QObject):
    ready = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, path: str, size: int, mtime: float, signals: _Signals) -> None:
        super().__init__()
        self.path, self.size, self.mtime, self.signals = path, size, mtime, signals

    def run(self) -> None:
        self.signals.ready.emit(self.path, make_thumbnail(self.path, self.size, self.mtime))


class Thumbnails(QObject):
    ready = Signal(str)  # the path whose thumbnail is now in ``get``

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._asked: set[str] = set()
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)

    def get(self, row: dict) -> QImage | None:
        """The thumbnail if it is ready; else None, and it is made (``ready`` says when)."""
        path = row["path"]
        image = self._images.get(path)
        if image is not None:
            self._images.move_to_end(path)
            return image
        if path not in self._asked:
            self._asked.add(path)
            self.pool.start(_Job(path, row.get("size") or 0, row.get("mtime") or 0.0, self._signals))
        return None

    def _on_ready(self, path: str, image: QImage) -> None:
        self._asked.discard(path)
        self._images[path] = image
        while len(self._images) > MEMORY:
            self._images.popitem(last=False)
        self.ready.emit(path)

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)
