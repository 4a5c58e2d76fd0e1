"""Download from the Hub: the one place DDPM Studio goes online, and only when the user presses Download.

The download runs on a Python thread (network waits, not torch work); progress comes back through Qt signals,
which cross threads safely. Cancel stops within one chunk; complete files stay in the cache, so a second try resumes.
Whether a download is under way is the dialog's own state, set on the GUI thread together with what the dialog says:
once it says "Cancelled" or "Downloaded", Download works again, even while the old thread is still winding down (each
download has its own stop flag, so the next one is not stopped by the last one's cancel).
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from ddpm_studio.engine.models.hub import DownloadCancelled, HubError, download, plan_download

SUGGESTIONS = [
    "google/ddpm-cifar10-32",
    "google/ddpm-celebahq-256",
    "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "stable-diffusion-v1-5/stable-diffusion-inpainting",
    "timbrooks/instruct-pix2pix",
    "openai/clip-vit-large-patch14",
]


class _Bridge(QObject):
    planned = Signal(int, int)  # files, bytes
    progress = Signal(int, int, str)  # bytes done, bytes in all, file
    finished = Signal(str, str)  # repo id, kind
    failed = Signal(str)


class DownloadDialog(QDialog):
    downloaded = Signal(str, str)  # repo id, kind ("pipeline" or "tokenizer")

    def __init__(self, parent=None, endpoint: str | None = None, cache_dir: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download from the Hugging Face Hub")
        self.endpoint, self.cache_dir = endpoint, cache_dir
        self._stop = threading.Event()
        self._running = False
        self.bridge = _Bridge()
        self.bridge.planned.connect(self._on_planned)
        self.bridge.progress.connect(self._on_progress)
        self.bridge.finished.connect(self._on_finished)
        self.bridge.failed.connect(self._on_failed)

        self.repo_box = QComboBox(editable=True)
        self.repo_box.addItems(SUGGESTIONS)
        self.repo_box.setCurrentText("")
        self.repo_box.lineEdit().setPlaceholderText("organisation/name")
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.status = QLabel("Only the safetensors weights a pipeline needs are fetched, into the Hugging Face cache.")
        self.status.setWordWrap(True)

        row = QHBoxLayout()
        row.addWidget(self.repo_box, 1)
        row.addWidget(self.download_button)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Model id on the Hub (a diffusers pipeline, or a CLIP tokenizer for single files):"))
        layout.addLayout(row)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        self.resize(560, 160)

    @property
    def running(self) -> bool:
        """A download is under way: from Download until the dialog reports how it ended."""
        return self._running

    def start(self) -> None:
        repo_id = self.repo_box.currentText().strip()
        if self.running or not repo_id:
            return
        self._stop = threading.Event()
        self._set_running(True)
        self.bar.setValue(0)
        self.status.setText(f"Looking up {repo_id}…")
        threading.Thread(target=self._work, args=(repo_id, self._stop), daemon=True, name="hub-download").start()

    def cancel(self) -> None:
        if self.running:
            self._stop.set()
            self.status.setText("Cancelling…")

    def _work(self, repo_id: str, stop: threading.Event) -> None:
        try:
            plan = plan_download(repo_id, endpoint=self.endpoint, cache_dir=self.cache_dir)
            self.bridge.planned.emit(len(plan.files), plan.total_bytes)
            download(plan, self.bridge.progress.emit, stop.is_set, endpoint=self.endpoint, cache_dir=self.cache_dir)
        except DownloadCancelled:
            self.bridge.failed.emit(f"Cancelled. Files already complete stay in the cache; downloading {repo_id} again resumes.")
        except HubError as exc:
            self.bridge.failed.emit(str(exc))
        except Exception as exc:  # never let a network oddity take the app down
            self.bridge.failed.emit(f"Download failed ({type(exc).__name__}): {exc}")
        else:
            self.bridge.finished.emit(repo_id, plan.kind)

    def _on_planned(self, files: int, total: int) -> None:
        self.status.setText(f"{files} files, {_size(total)} in all")

    def _on_progress(self, done: int, total: int, name: str) -> None:
        self.bar.setValue(int(1000 * done / total) if total else 1000)
        self.status.setText(f"{_size(done)} of {_size(total)} — {name}")

    def _on_finished(self, repo_id: str, kind: str) -> None:
        self._set_running(False)
        self.bar.setValue(1000)
        self.status.setText(f"Downloaded {repo_id}." + (" It is now in the model lists." if kind == "pipeline" else
                                                        " Single-file checkpoints can use this tokenizer now."))
        self.downloaded.emit(repo_id, kind)

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        self.status.setText(message)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.download_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def done(self, result: int) -> None:
        """Closing the dialog cancels a running download."""
        if self.running:
            self._stop.set()
        super().done(result)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
