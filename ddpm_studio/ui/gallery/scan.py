"""Adding folders to the gallery: the thread that indexes them (``engine/gallery/index.py``), with progress, and what
the Gallery tab says when it is done — how many were added, updated or already there, and each file left out with
why."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal

MAX_REASONS = 40  # files and why, in the count's tooltip after a scan (the box after it lists them all)


def _names(problems: list[tuple[str, str]], shown: int = 5) -> str:
    names = sorted({Path(path).name for path, _ in problems})
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def scan_message(report, folder: str) -> tuple[str, list[str]]:
    """What a finished scan of ``folder`` (a ``ScanReport``) did, in a line, and why each file was left out or
    indexed without a value."""
    found = report.added + report.updated + report.unchanged
    message = (f"Added {report.added} image(s), {report.updated} updated" if found or report.skipped
               else f"No PNG pictures in {folder}")
    if report.unchanged:
        message += f", {report.unchanged} already in the gallery"
    if report.skipped:
        message += f"; {len(report.skipped)} not added: {_names(report.skipped)}"
    if report.partial:
        message += f"; {len(report.partial)} added without a value that could not be read: " \
                   f"{_names(report.partial)}"
    return message, [why for _, why in report.skipped + report.partial]


class ScanThread(QThread):
    """Indexes folders with its own connection (SQLite connections stay on their thread): one the user adds, or
    all of a rebuilt index's."""

    progress = Signal(int, int)
    finished_scan = Signal(object)  # a ScanReport (the folders' together), or the error's message

    def __init__(self, folders: list[str], index_path: Path, parent=None) -> None:
        super().__init__(parent)
        self.folders, self.index_path = folders, index_path
        self.folder = folders[0] if len(folders) == 1 else f"{len(folders)} folders"

    def run(self) -> None:
        from ddpm_studio.engine.gallery.index import GalleryIndex, ScanReport

        total = ScanReport()
        try:
            index = GalleryIndex(self.index_path)
            try:
                for folder in self.folders:
                    total.merge(index.add_folder(folder, lambda d, t: self.progress.emit(d, t)))
                self.finished_scan.emit(total)
            finally:
                index.close()
        except Exception as exc:  # a folder that vanished, a disk error: a message, never a dead thread
            self.finished_scan.emit(f"{self.folder}: {exc}")
