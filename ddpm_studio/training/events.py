"""What the trainer emits, and how the caller steers it (pause, resume, stop, export now)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class TrainEvent:
    """kind: data | note | precision | processes | step | sample | checkpoint | guide | exported | paused | resumed |
    finished | stopped.

    ``note``: a line about the data the run learns from that the user should read once (a caption cut at the
    text encoder's limit), not an error.

    ``guide``: the early copy kept as exported models' autoguidance guide (not a model to list on its own)."""

    kind: str
    step: int = 0
    max_steps: int = 0
    loss: float | None = None  # mean loss over the steps since the last 'step' event
    lr: float | None = None
    images_per_s: float | None = None
    eta_s: float | None = None
    image: np.ndarray | None = None  # a sample grid (H, W, 3) uint8
    path: str = ""
    message: str = ""
    precision: str = ""  # 'precision' events: the one the run trains in (fp32, bf16 or fp16)


TrainCallback = Callable[[TrainEvent], None]


class TrainingError(Exception):
    """Training cannot go on; the message is for the user."""


class TrainControl:
    """Thread-safe switches the trainer checks once per step."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._export = threading.Event()

    def request_stop(self) -> None:
        self._stop.set()
        self._pause.clear()

    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    def request_export(self) -> None:
        self._export.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def take_export_request(self) -> bool:
        if self._export.is_set():
            self._export.clear()
            return True
        return False
