"""What a training run will learn from, shown before it starts: the folder's thumbnails, how many pictures are
usable, every file that is not (with the reason), and — for a LoRA — the aspect-ratio buckets, the caption files
that are empty or have no picture, and each picture's caption, editable and saved beside it as ``.txt`` (kohya's
convention). The folder is read on a background thread (``FolderScanThread``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.training.lora.captions import CaptionOptions, sidecar, template_caption
from ddpm_studio.ui.train.worker import FolderScanThread
from ddpm_studio.ui.widgets.images import to_qimage

PATH_ROLE = Qt.ItemDataRole.UserRole


class TrainDataView(QWidget):
    status_message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scanner: FolderScanThread | None = None
        self._scanners: list[FolderScanThread] = []
        self.scanned_folder = ""  # the folder whose thumbnails and report are shown
        self.captions: CaptionOptions | None = None  # set for a LoRA: captions are shown and edited
        self.caption_path: Path | None = None  # the picture whose caption is in the editor
        self.report = None  # the last scan's report

        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setFlow(QListView.Flow.LeftToRight)
        self.thumbnails.setWrapping(False)
        self.thumbnails.setIconSize(QSize(48, 48))
        self.thumbnails.setFixedHeight(76)
        self.thumbnails.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumbnails.setSelectionMode(QListWidget.SelectionMode.NoSelection)  # a preview: a selection bar would
        self.thumbnails.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # be cut off by the strip's edge
        self.thumbnails.itemClicked.connect(self.show_caption)
        self.scan_label = QLabel("Choose a folder of images to train on.")
        self.scan_label.setWordWrap(True)
        self.bad_files = QPlainTextEdit()
        self.bad_files.setReadOnly(True)
        self.bad_files.setMaximumHeight(70)
        self.bad_files.setPlaceholderText("Files that cannot be used are listed here, each with the reason.")

        self.caption_label = QLabel("")
        self.caption_label.setWordWrap(True)
        self.caption_edit = QPlainTextEdit()
        self.caption_edit.setMaximumHeight(48)
        self.caption_edit.setPlaceholderText("Click a picture above to read or write its caption")
        self.save_caption_button = QPushButton("Save caption")
        self.save_caption_button.setToolTip("Written beside the picture as a .txt file of the same name")
        self.save_caption_button.clicked.connect(self.save_caption)
        self.caption_row = QWidget()
        row = QHBoxLayout(self.caption_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.caption_edit, 1)
        row.addWidget(self.save_caption_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.scan_label, self.thumbnails, self.caption_label, self.caption_row, self.bad_files):
            layout.addWidget(widget)
        self.set_captions(None)

    def set_captions(self, options: CaptionOptions | None) -> None:
        """A LoRA's caption settings (captions are shown and edited, the picture being edited is marked), or None
        for a pixel DDPM (no captions)."""
        self.captions = options
        self.caption_label.setVisible(options is not None)
        self.caption_row.setVisible(options is not None)
        self.thumbnails.setSelectionMode(QListWidget.SelectionMode.SingleSelection if options is not None
                                         else QListWidget.SelectionMode.NoSelection)
        self.save_caption_button.setEnabled(self.caption_path is not None)
        if options is not None and self.caption_path is not None:
            self._describe_caption()

    def caption_problem(self) -> str:
        """Why the scanned folder cannot be trained with these captions ("" when it can): pictures without a
        caption file whose template needs the trigger word that is not set."""
        if self.captions is None or self.report is None:
            return ""
        try:
            template_caption(self.captions)
            return ""
        except ValueError as exc:
            bare = [p for p in self.report.good if not _caption_text(p)]
            return f"{len(bare)} picture(s) have no caption, for example {bare[0].name}. {exc}" if bare else ""

    # ---- scanning ----
    def scan(self, folder: str, resolution: int = 512) -> None:
        """Show thumbnails and the report (a LoRA's: with buckets and caption notes) before anything trains."""
        if not folder.strip():
            return
        self.scanned_folder = folder
        self.scan_label.setText(f"Scanning {folder}…")
        self.thumbnails.clear()
        self.bad_files.clear()
        self.caption_path = None
        self.report = None
        self.caption_edit.clear()
        self.caption_label.setText("")
        scanner = FolderScanThread(folder, captions=self.captions, resolution=resolution, parent=self)
        scanner.scanned.connect(lambda report, thumbnails, more: self._on_scanned(scanner, report, thumbnails, more))
        scanner.failed.connect(lambda message: self._on_scan_failed(scanner, message))
        scanner.finished.connect(lambda: self._scanners.remove(scanner))
        self._scanners.append(scanner)  # kept until done: a QThread must not be destroyed while it runs
        self.scanner = scanner
        scanner.start()

    def _on_scanned(self, scanner, report, thumbnails, more: str) -> None:
        if scanner is not self.scanner:  # an earlier scan, of another folder, that finished after the newest
            return
        self.report = report
        self.scan_label.setText(report.summary() + (f"; {more}" if more else ""))
        for path, array in zip(report.good, thumbnails):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(array))), "")
            item.setToolTip(str(path))
            item.setData(PATH_ROLE, str(path))
            self.thumbnails.addItem(item)
        self.bad_files.setPlainText(report.details())

    def _on_scan_failed(self, scanner, message: str) -> None:
        if scanner is self.scanner:
            self.scan_label.setText(message)

    def scanners(self) -> list:
        """The folder scans still running (threads)."""
        return [scanner for scanner in self._scanners if scanner.isRunning()]

    def wait(self, timeout_ms: int) -> None:
        for scanner in list(self._scanners):
            scanner.wait(timeout_ms)

    # ---- captions ----
    def show_caption(self, item: QListWidgetItem) -> None:
        """The caption of ``item``'s picture in the editor; an edited caption of the one before is saved first."""
        if self.captions is None:
            return
        if self.caption_path is not None and self.caption_edit.toPlainText().strip() != _caption_text(
                self.caption_path):
            self.save_caption()
        item.setSelected(True)
        self.caption_path = Path(item.data(PATH_ROLE))
        self.caption_edit.setPlainText(_caption_text(self.caption_path))
        self.save_caption_button.setEnabled(True)
        self._describe_caption()

    def _describe_caption(self) -> None:
        text_file = sidecar(self.caption_path)
        try:
            fallback = f"trained as '{template_caption(self.captions)}'"
        except ValueError:
            fallback = "set a trigger word: the caption template needs one"
        trigger = self.captions.trigger.strip()
        text = _caption_text(self.caption_path)
        note = (" (none yet: the template is used)" if not text_file.is_file() else
                " (empty: the template is used)" if not text else
                f" ('{trigger}' is put in front when it trains)" if trigger and trigger.lower() not in
                [t.strip().lower() for t in text.split(",")] else "")
        self.caption_edit.setPlaceholderText(f"No caption: {fallback}")
        self.caption_label.setText(f"Caption of {self.caption_path.name}{note}")

    def save_caption(self) -> Path | None:
        if self.caption_path is None:
            return None
        target = sidecar(self.caption_path)
        try:
            target.write_text(self.caption_edit.toPlainText().strip() + "\n", encoding="utf-8")
        except OSError as exc:
            self.status_message.emit(f"Could not write {target}: {exc}")
            return None
        if hasattr(self.report, "notes"):  # an empty caption file that now has a caption is no longer a note
            self.report.notes = [(path, why) for path, why in self.report.notes if path != target]
            self.bad_files.setPlainText(self.report.details())
        self._describe_caption()
        self.status_message.emit(f"Saved the caption to {target}")
        return target


def _caption_text(picture: Path) -> str:
    """The caption beside ``picture``; "" when there is none or it cannot be read (the scan's notes say why)."""
    text_file = sidecar(picture)
    try:
        return text_file.read_text(encoding="utf-8", errors="replace").strip() if text_file.is_file() else ""
    except OSError:
        return ""
