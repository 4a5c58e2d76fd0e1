"""The forward-process explorer: your picture noised to any t, q(x_t | x_0) = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε, for a model's
schedule or a named one; the schedule's curves; and the training step made visible — the noise that was added beside
the noise the model finds in x_t, their difference and its MSE.

t counts diffusers' timesteps, 0 … T − 1, as the sampler's step labels do; the clean picture x_0 has its own view.
The noising is numpy and runs as the slider moves; asking the model runs torch on a worker thread. The model's answer
is kept with what it was asked for (model, schedule, ε seed, t, picture) and shown only while all of those still hold.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.inspect.forward import (
    BETA_SCHEDULES,
    Schedule,
    fixed_noise,
    named_schedule,
    q_sample,
    schedule_from_config,
    to_model_space,
    to_uint8,
)
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.ui.canvas.step_canvas import ImageView
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.explorer.schedule_plot import SchedulePlot
from ddpm_studio.ui.widgets.common import error_dialog, form_and_view
from ddpm_studio.ui.widgets.image_input import IMAGE_FILTER, open_paste_row
from ddpm_studio.ui.widgets.images import store_image, to_qimage
from ddpm_studio.ui.widgets.model_picker import ModelPicker

NO_MODEL_SIDE = 128  # without a model, pictures are shown at most this large (noise grains stay visible)
NOISE_RANGE = 2.5  # ε is drawn from −2.5σ (black) to +2.5σ (white)


class ExplorerPanel(QWidget):
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.source: Image.Image | None = None
        self.picture_name = ""
        self.x0: np.ndarray | None = None  # model space, (H, W, 3)
        self.check = None  # the NoiseCheck on screen, if any
        self.check_request = None  # what it was asked for (see request())
        self._picture_serial = 0  # counts the pictures x0 has held, so an answer knows which one it was for
        self._schedule = named_schedule("linear")  # replaced once the model list is read
        self._unets: dict[str, object] = {}
        # a plain thread of our own: qasync's default executor runs QThreads that outlive the window at exit
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="explorer")
        self.error_box = None

        image_row = open_paste_row(self)
        self.image_label = QLabel("No image yet")
        self.image_label.setWordWrap(True)

        self.model_box = ModelPicker(settings, characters=None, leading=[("(none: a named schedule only)", "")])
        self.model_box.currentIndexChanged.connect(self._model_changed)
        self.schedule_box = QComboBox()
        self.schedule_box.addItem("the model's own", "model")
        for name in BETA_SCHEDULES:
            self.schedule_box.addItem(name, name)
        self.schedule_box.currentIndexChanged.connect(self._schedule_changed)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=0)
        self.seed.setToolTip("The seed of ε: the same seed gives the same noise at every t")
        self.seed.valueChanged.connect(self.update_view)
        self.t_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=999, value=250)
        self.t_spin = QSpinBox(minimum=0, maximum=999, value=250)
        self.t_slider.valueChanged.connect(self.t_spin.setValue)
        self.t_spin.valueChanged.connect(self.t_slider.setValue)
        self.t_slider.valueChanged.connect(self.update_view)
        t_row = QHBoxLayout()
        t_row.addWidget(self.t_slider, 1)
        t_row.addWidget(self.t_spin)
        self.level_label = QLabel("")
        self.level_label.setWordWrap(True)
        self.ask_button = QPushButton("Ask the model for the noise")
        self.ask_button.clicked.connect(self.ask_model)
        self.mse_label = QLabel("")
        self.mse_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Picture", image_row)
        form.addRow("", self.image_label)
        form.addRow("Model", self.model_box)
        form.addRow("Schedule", self.schedule_box)
        form.addRow("ε seed", self.seed)
        form.addRow("t", t_row)
        form.addRow("", self.level_label)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.ask_button)
        left.addWidget(self.mse_label)

        self.views = {name: ImageView() for name in ("x0", "x_t", "eps", "eps_pred", "error")}
        captions = {"x0": "x_0 — your picture", "x_t": "x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε", "eps": "ε — the noise added",
                    "eps_pred": "ε̂ — the noise the model sees", "error": "|ε̂ − ε|"}
        views = QGridLayout()
        for column, name in enumerate(("x0", "x_t", "eps")):
            views.addWidget(QLabel(captions[name]), 0, column)
            views.addWidget(self.views[name], 1, column)
        for column, name in enumerate(("eps_pred", "error")):
            views.addWidget(QLabel(captions[name]), 2, column + 1)
            views.addWidget(self.views[name], 3, column + 1)
        self.plot = SchedulePlot()
        right = QVBoxLayout()
        right.addLayout(views, 1)
        right.addWidget(self.plot)
        QVBoxLayout(self).addWidget(form_and_view(left, right, 360))
        self.setAcceptDrops(True)
        self.refresh_models()

    # ---- models and schedules ----
    def refresh_models(self) -> None:
        self.model_box.refresh()
        self._model_changed()

    def model_path(self) -> Path | None:
        info = self.model_box.current_info()
        return info.path if info else None

    def schedule(self) -> Schedule:
        """The schedule being shown (read when the model or the schedule choice changes, not at every t)."""
        return self._schedule

    def _schedule_changed(self) -> None:
        self._schedule = self._read_schedule()
        steps = self._schedule.steps
        self.t_slider.setMaximum(steps - 1)
        self.t_spin.setMaximum(steps - 1)
        self.plot.set_curves(self._schedule.curves())
        self.update_view()

    def _read_schedule(self) -> Schedule:
        choice = self.schedule_box.currentData()
        path = self.model_path()
        if choice == "model":
            if path is None:
                return named_schedule("linear")
            try:
                return schedule_from_config(json.loads((path / "scheduler" / "scheduler_config.json").read_text()))
            except (OSError, ValueError) as exc:
                self.status_message.emit(f"The model's schedule cannot be read ({exc}); showing linear")
                return named_schedule("linear")
        return named_schedule(choice)

    def model_config(self, name: str) -> dict:
        path = self.model_path()
        try:
            return json.loads((path / name).read_text()) if path else {}
        except (OSError, ValueError):
            return {}

    def _model_changed(self) -> None:
        self.ask_button.setEnabled(self.model_path() is not None)
        if self.source is not None:
            self._prepare_x0()
        self._schedule_changed()

    # ---- the picture ----
    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A picture to noise", "", IMAGE_FILTER)
        if path:
            self.load_image(path)

    def paste_image(self) -> bool:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.status_message.emit("The clipboard holds no image")
            return False
        return self.load_image(str(store_image(image, self.settings.output_dir, "inputs", "paste")))

    def load_image(self, path: str) -> bool:
        try:
            with Image.open(path) as image:
                self.source = image.convert("RGB")
        except (OSError, ValueError) as exc:
            self.error_box = error_dialog(self, "Cannot open the image", f"{path} cannot be read: {exc}")
            return False
        self.picture_name = Path(path).name
        self._prepare_x0()
        self.update_view()
        return True

    def _prepare_x0(self) -> None:
        """The picture at the model's resolution (centre square), or at most NO_MODEL_SIDE without a model."""
        image = self.source
        size = self.model_config("unet/config.json").get("sample_size")
        if size:
            side = min(image.size)
            left, top = (image.width - side) // 2, (image.height - side) // 2
            image = image.crop((left, top, left + side, top + side))
            size = size if isinstance(size, int) else size[0]
            image = image.resize((size, size), Image.Resampling.LANCZOS)
        elif max(image.size) > NO_MODEL_SIDE:
            image = image.copy()
            image.thumbnail((NO_MODEL_SIDE, NO_MODEL_SIDE), Image.Resampling.LANCZOS)
        x0 = to_model_space(np.asarray(image))
        shown = f"{image.width}×{image.height}"
        how = f"the centre square at the model's {shown}" if size else (shown if image is not self.source else "")
        self.image_label.setText(f"{self.picture_name} ({how})" if how else self.picture_name)
        if self.x0 is None or self.x0.shape != x0.shape or not np.array_equal(self.x0, x0):
            self._picture_serial += 1
        self.x0 = x0

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and self.load_image(url.toLocalFile()):
                event.acceptProposedAction()
                return

    # ---- what is shown ----
    def noise(self) -> np.ndarray:
        return fixed_noise(self.seed.value(), self.x0.shape)

    def request(self) -> tuple:
        """What a model answer shown now must have been asked for: model, schedule, ε seed, t and picture."""
        schedule = self.schedule()
        return (self.model_box.currentData() or "", schedule.name, schedule.betas.tobytes(), self.seed.value(),
                self.t_slider.value(), self._picture_serial)

    def update_view(self) -> None:
        schedule = self.schedule()
        t = self.t_slider.value()
        self.plot.set_t(t)
        ab = schedule.alpha_bar(t)
        snr = ab / (1 - ab) if ab < 1 else float("inf")
        self.level_label.setText(f"ᾱ_t = {ab:.4g} · √ᾱ_t = {ab ** 0.5:.3f} · √(1−ᾱ_t) = {(1 - ab) ** 0.5:.3f} · "
                                 f"SNR = {snr:.3g}")
        if self.check_request != self.request():
            self._clear_check()
        if self.x0 is None:
            return
        eps = self.noise()
        self.views["x0"].set_image(to_qimage(to_uint8(self.x0)))
        self.views["x_t"].set_image(to_qimage(to_uint8(q_sample(self.x0, t, schedule, eps))))
        self.views["eps"].set_image(to_qimage(to_uint8(eps, -NOISE_RANGE, NOISE_RANGE)))

    def _clear_check(self) -> None:
        """Take the model's answer (or the note that it is coming) off the screen: the view has changed."""
        self.check = self.check_request = None
        for name in ("eps_pred", "error"):
            self.views[name].set_image(None)
        self.mse_label.setText("")

    def image_of(self, name: str) -> QImage | None:
        return self.views[name].image()

    # ---- asking the model ----
    def ask_model(self) -> asyncio.Future | None:
        """Noise the picture to t, run the model once on a worker thread, show its noise estimate and the error."""
        ref = self.model_box.currentData()
        t = self.t_slider.value()
        if not ref or self.x0 is None:
            wanted = (("open a picture", self.x0 is None), ("pick a model", not ref))
            missing = " and ".join(what for what, absent in wanted if absent)
            self.status_message.emit(f"To ask the model, {missing} first")
            return None
        asked, schedule, x0, eps = self.request(), self.schedule(), self.x0, self.noise()
        prediction = self.model_config("scheduler/scheduler_config.json").get("prediction_type", "epsilon")
        self._clear_check()
        self.ask_button.setEnabled(False)
        self.mse_label.setText("Asking the model…")
        loop = asyncio.get_event_loop()
        future = loop.run_in_executor(self._executor, self._check, ref, prediction, x0, t, schedule, eps)
        task = asyncio.ensure_future(self._show_check(future, asked))
        return task

    def shutdown(self) -> None:
        """Let a running model call finish, then stop the worker thread (the window is closing)."""
        self._executor.shutdown(wait=True)

    def _check(self, ref, prediction, x0, t, schedule, eps):
        from ddpm_studio.engine.inspect.forward import model_noise_check
        from ddpm_studio.engine.models.pixel_ddpm import load_ddpm

        if ref not in self._unets:
            self._unets[ref] = load_ddpm(ref).unet
        return model_noise_check(self._unets[ref], prediction, x0, t, schedule, eps)

    async def _show_check(self, future, asked: tuple) -> None:
        """Show the model's answer if the panel still shows what it was asked for (``asked``, from request())."""
        try:
            check = await future
        except (ModelError, ValueError) as exc:
            self.mse_label.setText("")
            self.error_box = error_dialog(self, "The model cannot be asked", str(exc))
            return
        finally:
            self.ask_button.setEnabled(self.model_path() is not None)
        if self.request() != asked:
            self.mse_label.setText("The model answered for what was shown before (another model, schedule, ε seed, t "
                                   "or picture); ask again.")
            return
        self.check, self.check_request = check, asked
        error = np.abs(check.eps_pred - check.eps)
        self.views["eps_pred"].set_image(to_qimage(to_uint8(check.eps_pred, -NOISE_RANGE, NOISE_RANGE)))
        self.views["error"].set_image(to_qimage(to_uint8(error, 0.0, NOISE_RANGE)))
        self.mse_label.setText(f"At t = {check.t}: MSE(ε̂, ε) = {check.mse:.4f} — the loss DDPM training lowers "
                               f"(answering ε̂ = 0, no noise at all, scores 1.0).")
