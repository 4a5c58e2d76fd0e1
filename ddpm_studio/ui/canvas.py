"""The live canvas: x_t and the predicted clean image x̂0 side by side, step counter, progress, it/s, ETA,
and a slider to scrub back through the run's steps."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QSlider, QVBoxLayout, QWidget

from ddpm_studio.ui.images import grid, to_qimage


class ImageView(QWidget):
    """Draws one image scaled to fit, pixel-sharp (nearest neighbour): diffusion previews are small."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def sizeHint(self) -> QSize:
        return QSize(320, 320)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self._image is None or self._image.isNull():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "—")
            return
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, self._image)


class StepCanvas(QWidget):
    frame_shown = Signal(int)  # history position shown by the scrubber

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.x_t_view = ImageView()
        self.x0_view = ImageView()
        self.x_t_caption = QLabel("x_t — the noisy sample")
        self.x0_caption = QLabel("predicted x0 — the model's guess at the clean image")
        views = QGridLayout()
        views.addWidget(self.x_t_caption, 0, 0)
        views.addWidget(self.x0_caption, 0, 1)
        views.addWidget(self.x_t_view, 1, 0)
        views.addWidget(self.x0_view, 1, 1)

        self.step_label = QLabel("No run yet")
        self.rate_label = QLabel("")
        self.rate_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        info = QHBoxLayout()
        info.addWidget(self.step_label, 1)
        info.addWidget(self.rate_label)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub through the steps of the last run (←/→, Home/End)")
        self.slider.valueChanged.connect(self._show_history_frame)
        self.slider_label = QLabel("Steps")

        layout = QVBoxLayout(self)
        layout.addLayout(views, 1)
        layout.addLayout(info)
        layout.addWidget(self.progress)
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider_label)
        scrub.addWidget(self.slider, 1)
        layout.addLayout(scrub)
        self._history = None

    # ---- live ----
    def start_run(self, history) -> None:
        self._history = history
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.step_label.setText("Loading model…")
        self.rate_label.setText("")
        self.slider.setEnabled(False)

    def show_step(self, event) -> None:
        """A live step from the sampler: draw it, update the counters, keep the slider at the newest frame."""
        self._draw(event)
        self.progress.setRange(0, event.total)
        self.progress.setValue(event.index + 1)
        done = event.index + 1
        rate = done / event.elapsed if event.elapsed > 0 else 0.0
        eta = (event.total - done) / rate if rate > 0 else 0.0
        self.rate_label.setText(f"{rate:.1f} it/s · ETA {eta:.0f} s")
        if self._history is not None and len(self._history):
            self._set_slider(len(self._history) - 1)

    def finish_run(self, message: str) -> None:
        self.step_label.setText(message)
        self.rate_label.setText("")
        if self._history is not None and len(self._history):
            self._set_slider(len(self._history) - 1)
            self.slider.setEnabled(True)

    # ---- scrubbing ----
    def _set_slider(self, position: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._history) - 1))
        self.slider.setValue(position)
        self.slider.blockSignals(False)

    def _show_history_frame(self, position: int) -> None:
        if self._history is None or not 0 <= position < len(self._history):
            return
        self._draw(self._history[position])
        self.frame_shown.emit(position)

    def _draw(self, event) -> None:
        if event.x_t is not None:
            self.x_t_view.set_image(to_qimage(grid(event.x_t)))
        if event.x0 is not None:
            self.x0_view.set_image(to_qimage(grid(event.x0)))
        level = f" · ᾱ_t={event.noise_level:.3g}" if event.noise_level is not None else ""
        self.step_label.setText(f"Step {event.index + 1}/{event.total} · t={event.timestep:.0f}{level}")
