"""The live canvas: x_t and the predicted clean image x̂0 (or what the step changed) side by side, step counter,
progress, it/s, ETA; a scrubber to go back through the run's steps, play them, and export them. The last position of
the scrubber is the run's result, x_0."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.inspect.trajectory import TrajectoryCache
from ddpm_studio.ui.canvas.attention_overlay import AttentionOverlay
from ddpm_studio.ui.canvas.step_exports import EXPORTS, free_name, suggested_path, write_steps
from ddpm_studio.ui.canvas.trajectory_plot import NO_PREVIEWS_NOTE, TrajectoryPlot
from ddpm_studio.ui.widgets.common import error_dialog
from ddpm_studio.ui.widgets.images import grid, to_qimage


class ImageView(QWidget):
    """Draws one image scaled to fit, pixel-sharp (nearest neighbour): diffusion previews are small."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setMinimumSize(96, 96)
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
    """x_t on the left; on the right the predicted x0, or what the step changed. A scrubber over the kept steps, live
    during a run (it follows the newest step until you move it back) and after; ←/→, Home/End, Space plays."""

    frame_shown = Signal(int)  # history position shown by the scrubber
    exported = Signal(str)  # the file or folder an export wrote

    def __init__(self, parent: QWidget | None = None, export_folder: Callable[[], str] = lambda: "") -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.export_folder = export_folder  # where export dialogs open: the panel's output folder
        self.export_name = "steps"  # the name they suggest, set per run
        self.error_box = None
        self.x_t_view = ImageView()
        self.x0_view = ImageView()
        self.x_t_caption = QLabel("x_t — the noisy sample")
        self.x_t_caption.setWordWrap(True)  # the canvas may be a third of the window, beside a panel's input
        self.x_t_caption.setToolTip("The sample the model was given at this step")
        self.right_view = QComboBox()
        self.right_view.addItem("predicted x0", "x0")
        self.right_view.setItemData(0, "The model's guess at the clean image, from this step",
                                    Qt.ItemDataRole.ToolTipRole)
        self.right_view.addItem("step's change", "change")
        self.right_view.setItemData(1, "|x_t − the previous step's x_t|, stretched so the largest change is white",
                                    Qt.ItemDataRole.ToolTipRole)
        self.right_view.currentIndexChanged.connect(self._redraw)
        self.attention = AttentionOverlay()  # a word's attention map over x̂0, for runs that recorded them
        self.attention.changed.connect(self._redraw)
        right_header = QVBoxLayout()  # stacked: side by side they would squeeze x_t in a narrow canvas
        right_header.addWidget(self.right_view)
        right_header.addWidget(self.attention)
        views = QGridLayout()
        views.addWidget(self.x_t_caption, 0, 0)
        views.addLayout(right_header, 0, 1)
        views.addWidget(self.x_t_view, 1, 0)
        views.addWidget(self.x0_view, 1, 1)

        self.step_label = QLabel("No run yet")
        self.rate_label = QLabel("")
        self.rate_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # what it says changes with every step and run ("Done — 16 image(s), seeds …"): it must not set the window's
        # minimum width; it takes the room the rate beside it leaves
        self.step_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        info = QHBoxLayout()
        info.addWidget(self.step_label, 1)
        info.addWidget(self.rate_label)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Scrub through the steps (←/→, Home/End, Space plays)")
        self.slider.valueChanged.connect(self._show_history_frame)
        self.slider_label = QLabel("Steps")
        self.kept_label = QLabel("")
        self.play_button = QToolButton(text="▶")
        self.play_button.setToolTip("Play the steps (Space)")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.toggle_play)
        self.export_button = QToolButton(text="Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setEnabled(False)
        menu = QMenu(self.export_button)
        for kind, (label, _suffix, _filter) in EXPORTS.items():
            menu.addAction(label, lambda kind=kind: self.choose_export(kind))
        self.export_button.setMenu(menu)
        self._timer = QTimer(self, interval=90)
        self._timer.timeout.connect(self._advance)
        self.trajectory = TrajectoryPlot()  # the run's steps plotted under the scrubber; a click scrubs
        self.trajectory.position_chosen.connect(self._choose_position)
        self._trajectory_rows = TrajectoryCache()  # each step's changes computed once, here on the GUI thread

        layout = QVBoxLayout(self)
        layout.addLayout(views, 1)
        layout.addLayout(info)
        layout.addWidget(self.progress)
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider_label)
        scrub.addWidget(self.play_button)
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.kept_label)
        scrub.addWidget(self.export_button)
        layout.addLayout(scrub)
        layout.addWidget(self.trajectory)
        self._history = None
        self._follow = True  # the slider stays on the newest step until the user moves it back
        self._live_event = None
        self._previous_live = None
        self._shown = None  # (event, previous) on screen
        self._cancelling = False  # Cancel asked: the labels say so until the run ends
        self._switches: list[tuple[int, str]] = []  # (step index, text): where prompt editing switched the prompt

    # ---- live ----
    def start_run(self, history, export_name: str = "steps") -> None:
        self._history = history
        self.export_name = export_name
        self._follow = True
        self._live_event = self._previous_live = None
        self._timer.stop()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self._cancelling = False
        self.progress.setFormat("loading the model · %p%")
        self.step_label.setText("Loading model…")
        self.rate_label.setText("")
        self.kept_label.setText("")
        self._trajectory_rows.clear()
        self._switches = []
        self.trajectory.clear("Starting…")
        self.attention.clear()
        for widget in (self.slider, self.play_button, self.export_button):
            widget.setEnabled(False)

    def show_step(self, event) -> None:
        """A live step from the sampler: draw it (unless the user is looking back), update the counters."""
        self._previous_live, self._live_event = self._live_event, event
        if event.prompt_switch:  # marked on the plot even where the step's pictures are not kept
            self._switches.append((event.index, event.prompt_switch))
            self.trajectory.set_switches(self._switches)
        self.progress.setRange(0, event.total)
        done = min(event.index + 1, event.total)  # the result (final) comes after the last model call
        self.progress.setValue(done)
        if not event.final and not self._cancelling:
            rate = done / event.elapsed if event.elapsed > 0 else 0.0
            eta = (event.total - done) / rate if rate > 0 else 0.0
            speed = f"{rate:.1f} it/s" if rate >= 1 or rate == 0 else f"{1 / rate:.1f} s/it"
            self.rate_label.setText(f"{speed} · ETA {eta:.0f} s")
            # the step the model is on now, which the pictures (the last step done) cannot show
            self.progress.setFormat(f"step {done + 1}/{event.total} running · %p%" if done < event.total else "%p%")
        if self._history is not None and len(self._history):
            self.slider.setEnabled(True)
            if self._follow:
                self._set_slider(len(self._history) - 1)
            else:
                self._set_slider(self.slider.value())
        self._update_trajectory(event.total)
        if self._follow:
            self._draw(event, self._previous_live)

    def show_stage(self, stage: str) -> None:
        """The run reached a stage (engine/inside_step.STAGES): say what the model is doing while no step has ended."""
        if self._cancelling:
            return
        if stage == "sampling" and self._live_event is None:
            self.step_label.setText("Model loaded — step 1 running…")
            self.progress.setFormat("step 1 running · %p%")
        elif stage == "decoding" and (self._live_event is None or not self._live_event.final):
            self.progress.setFormat("decoding the picture (VAE) · %p%")

    def show_cancelling(self) -> None:
        """Cancel was asked: say so at once (the run stops within one of the model's blocks)."""
        self._cancelling = True
        self.step_label.setText("Cancelling…")
        self.rate_label.setText("")
        self.progress.setFormat("cancelling · %p%")

    def fail_run(self) -> None:
        """The run failed: nothing saved. If it drew nothing yet, the pictures on screen are the last run's: they go,
        so a failure is never shown over someone else's pictures."""
        steps = f" after {self._live_event.index + 1} steps" if self._live_event is not None else ""
        self.finish_run(f"Failed{steps} — nothing saved")
        if self._live_event is None:
            self.x_t_view.set_image(None)
            self.x0_view.set_image(None)
            self._shown = None
            self.trajectory.clear("The run failed before its first step")

    def finish_run(self, message: str) -> None:
        self._cancelling = False
        self.progress.setFormat("%p%")
        self.step_label.setText(message)
        self.rate_label.setText("")
        if self._history is not None and not len(self._history):  # a run without previews (or none got that far)
            self.trajectory.clear(NO_PREVIEWS_NOTE)
        elif self._history is not None:
            if self._follow:
                self._set_slider(len(self._history) - 1)
            for widget in (self.slider, self.play_button, self.export_button):
                widget.setEnabled(True)
            frames = self._history.frames()
            self._update_trajectory(frames[-1].total, frames)
            steps = sum(not f.final for f in frames)
            result = " + the result" if frames[-1].final else ""
            self.kept_label.setText(f"{steps} of {frames[-1].total} steps kept (memory budget){result}"
                                    if self._history.thinned else f"{steps} steps{result}")

    # ---- scrubbing ----
    def _set_slider(self, position: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self._history) - 1))
        self.slider.setValue(position)
        self.slider.blockSignals(False)
        self.trajectory.set_marker(self.slider.value())

    def _update_trajectory(self, total: int, frames=None) -> None:
        """Plot the kept steps: only steps new since the last update (or re-paired by thinning) are computed."""
        if self._history is None or not len(self._history):
            self.trajectory.clear("No step previews yet")
            return
        self.trajectory.set_rows(self._trajectory_rows.rows(frames or self._history.frames()), total)
        self.trajectory.set_marker(self.slider.value())

    def _choose_position(self, position: int) -> None:
        if self.slider.isEnabled():
            self.slider.setValue(position)

    def _show_history_frame(self, position: int) -> None:
        if self._history is None or not 0 <= position < len(self._history):
            return
        self._follow = position == len(self._history) - 1
        self.trajectory.set_marker(position)
        self._draw(self._history[position], self._history[position - 1] if position else None)
        self.frame_shown.emit(position)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            self.toggle_play()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Home, Qt.Key.Key_End) and self.slider.isEnabled():
            target = {Qt.Key.Key_Left: self.slider.value() - 1, Qt.Key.Key_Right: self.slider.value() + 1,
                      Qt.Key.Key_Home: 0, Qt.Key.Key_End: self.slider.maximum()}[key]
            self.slider.setValue(max(0, min(self.slider.maximum(), target)))
        else:
            super().keyPressEvent(event)

    def toggle_play(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
        elif self.slider.isEnabled() and self.slider.maximum() > 0:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(0)
            self._timer.start()
        self.play_button.setText("⏸" if self._timer.isActive() else "▶")

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _advance(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.toggle_play()
            return
        self.slider.setValue(self.slider.value() + 1)

    # ---- exports ----
    def suggested_export_path(self, kind: str) -> str:
        """The output folder (when it exists) and a name from the run: where the export dialogs start."""
        return suggested_path(self.export_folder(), self.export_name, kind)

    def choose_export(self, kind: str) -> str | None:
        suggested = self.suggested_export_path(kind)
        if kind == "frames":  # a folder of their own inside the one chosen: never loose among the results
            start = str(Path(suggested).parent)
            where = QFileDialog.getExistingDirectory(self, "Where to put the folder of frames", start)
            target = str(free_name(Path(where) / Path(suggested).name)) if where else ""
        else:
            target, _ = QFileDialog.getSaveFileName(self, "Export the steps", suggested, EXPORTS[kind][2])
        if not target:
            return None
        try:
            written = self.export(kind, target)
        except (OSError, ValueError) as exc:
            self.error_box = error_dialog(self, "Export failed", f"Could not export the steps to {target}: {exc}")
            return None
        self.exported.emit(written)
        return written

    def export(self, kind: str, target: str) -> str:
        """Write the kept steps of the last run as ``kind`` (gif, webp, sheet, frames) to ``target``, with the suffix
        the kind implies added if the name lacks it; returns what was written."""
        events = self._history.frames() if self._history is not None else []
        return write_steps(kind, target, events, "both" if self.right_view.currentData() == "x0" else "change")

    # ---- drawing ----
    def _redraw(self) -> None:
        if self._shown is not None:
            self._draw(*self._shown)

    def _draw(self, event, previous=None) -> None:
        from ddpm_studio.engine.output.step_export import change_image

        self._shown = (event, previous)
        if event.x_t is not None:
            self.x_t_view.set_image(to_qimage(grid(event.x_t)))
        if event.attention_words:
            self.attention.set_words(event.attention_words)
        x0_shown = self.right_view.currentData() == "x0"
        self.attention.setEnabled(x0_shown)  # the maps go over the predicted clean image only
        right = event.x0 if x0_shown else change_image(event, previous)
        if right is not None and x0_shown:
            right = self.attention.laid_over(event, right, self._history.frames if self._history is not None else list)
        if right is not None:
            self.x0_view.set_image(to_qimage(grid(right)))
        if self._cancelling:
            return
        if event.final:
            self.step_label.setText(f"x_0 — the result, after all {event.total} steps")
            return
        level = ""
        if event.noise_level is not None:
            level = f" · {'ᾱ_t' if event.noise_kind == 'alpha_bar' else 'σ_t'}={event.noise_level:.3g}"
        second = " · hires pass" if event.second_pass else " · upscaling" if event.upscaling else ""
        words = " ".join(event.prompt_switch.split())
        switched = f" · prompt → {words if len(words) <= 60 else words[:59] + '…'}" if words else ""
        self.step_label.setText(f"Step {event.index + 1}/{event.total}{second} · t={event.timestep:.0f}{level}"
                                f"{switched}")
