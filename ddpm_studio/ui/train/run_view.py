"""What a training run shows as it goes, under the folder's report: the loss plot (raw and smoothed) and the last
pictures — a DDPM's sample grid from its EMA weights, or a LoRA's validation pair, without and with it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ddpm_studio.ui.canvas.step_canvas import ImageView
from ddpm_studio.ui.train.loss_plot import LossPlot
from ddpm_studio.ui.widgets.images import to_qimage

WAITING = {False: "Samples (EMA weights) appear here during training",
           True: "Validation pictures (without and with the LoRA) appear here during training"}


class TrainRunView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = LossPlot()
        self.sample_view = ImageView()
        self.sample_label = QLabel(WAITING[False])
        self.sample_label.setWordWrap(True)
        self.last_sample = None  # the last sample event shown
        pictures = QVBoxLayout()
        pictures.addWidget(self.sample_label)
        pictures.addWidget(self.sample_view, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot, 3)
        layout.addLayout(pictures, 2)

    def clear(self, lora: bool) -> None:
        self.loss_plot.clear()
        self.sample_view.set_image(None)
        self.last_sample = None
        self.sample_label.setText(WAITING[lora])

    def show_sample(self, event, lora: bool) -> None:
        self.last_sample = event
        self.sample_view.set_image(to_qimage(event.image))
        if lora:
            self.sample_label.setText(f"Validation at step {event.step}: {event.message}")
        else:
            how = f", {event.message}" if event.message else ""
            self.sample_label.setText(f"Samples at step {event.step} (EMA weights{how})")


def duration(seconds: float) -> str:
    """An ETA in words: seconds, minutes or hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
