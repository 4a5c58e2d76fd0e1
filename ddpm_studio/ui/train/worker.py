"""Background threads for the Train panel: scanning a folder, and running the trainer. No widget is touched here."""

from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QObject, QThread, Signal


class FolderScanThread(QThread):
    """Decodes every image of a folder once (PIL only) and reports good and bad files; for a LoRA (``captions``)
    also its aspect-ratio buckets at ``resolution`` and its caption notes (empty caption files, ones without a
    picture)."""

    scanned = Signal(object, object, str)  # DataReport (a LoRA's: with notes), thumbnails (uint8 arrays), buckets
    failed = Signal(str)

    def __init__(self, folder: str, thumbnails: int = 24, captions=None, resolution: int = 512,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder, self.thumbnails = folder, thumbnails
        self.captions, self.resolution = captions, resolution

    def run(self) -> None:
        from ddpm_studio.training.data import DataError, scan

        try:
            report, arrays = scan(self.folder, 64, keep_budget=self.thumbnails * 64 * 64 * 3 * 4)
            buckets = ""
            if self.captions is not None:
                import dataclasses

                from ddpm_studio.training.lora.data import LoraData

                # a missing trigger is said in the caption editor, not a reason to show nothing
                options = self.captions if self.captions.trigger.strip() else \
                    dataclasses.replace(self.captions, trigger="<trigger>")
                data = LoraData(self.folder, self.resolution, options)
                report, buckets = data.report, data.bucket_summary()
        except DataError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # pragma: no cover - an unexpected error must not kill the app
            traceback.print_exc()
            self.failed.emit(f"Could not scan {self.folder}: {exc}")
            return
        self.scanned.emit(report, arrays[: self.thumbnails], buckets)


class TrainerThread(QThread):
    """Runs one training; events go out as signals (queued to the GUI thread). How it ended — ``summary``, or the
    user's message in ``error`` — is read when QThread's ``finished`` arrives, so that the panel says it and takes
    the next Start in one step (a failure reported while the thread still runs would leave Start disabled under
    the message)."""

    event = Signal(object)  # TrainEvent

    def __init__(self, config, resume: bool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        from ddpm_studio.training.events import TrainControl

        self.config, self.resume = config, resume
        self.control = TrainControl()
        self.summary = None
        self.error = ""
        self.failure: Exception | None = None  # the user's error as it was raised, for the panel to word

    def run(self) -> None:
        from ddpm_studio.engine.models.catalogue import ModelError
        from ddpm_studio.training.data import DataError
        from ddpm_studio.training.events import TrainingError
        from ddpm_studio.training.lora.config import LoraTrainConfig

        if isinstance(self.config, LoraTrainConfig):
            from ddpm_studio.training.lora.trainer import train_lora as train
        else:
            from ddpm_studio.training.ddpm.trainer import train
        try:
            self.summary = train(self.config, on_event=self.event.emit, control=self.control, resume=self.resume)
        except (DataError, ModelError, TrainingError, ValueError) as exc:
            self.error, self.failure = str(exc), exc
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.error = f"Training failed ({type(exc).__name__}): {exc}"
