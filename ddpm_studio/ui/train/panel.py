"""The Train panel: train what the user's image folder teaches — a pixel DDPM (fine-tuned or from scratch,
``training.trainer``) or a LoRA for a Stable Diffusion model (``training.lora_trainer``, its rows in
``LoraTrainFields``) — with the folder's report and captions (``TrainDataView``), a live loss plot, samples or
validation pictures, ETA, Pause, Stop, Export now and Resume (those: ``TrainRuns``, runs.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.training.config import MIXED_PRECISION
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.lora.config import LoraTrainConfig
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.train.data_view import TrainDataView
from ddpm_studio.ui.train.ddpm_fields import DdpmTrainFields
from ddpm_studio.ui.train.earlier_run_box import KINDS
from ddpm_studio.ui.train.lora_fields import LoraTrainFields
from ddpm_studio.ui.train.run_view import TrainRunView
from ddpm_studio.ui.train.runs import LAST_CONFIG_KEY, LAST_LORA_KEY, TrainRuns
from ddpm_studio.ui.train.worker import TrainerThread
from ddpm_studio.ui.widgets.common import error_dialog, form_and_view, path_row


class TrainPanel(TrainRuns, QWidget):
    model_exported = Signal(str)  # a pipeline folder the Generate panel can load (listed there, not chosen)
    use_model_requested = Signal(str)  # the user asked to sample from that folder in the Generate panel
    lora_exported = Signal(str)  # a LoRA file the run wrote: its folder is listed with the user's LoRAs
    use_lora_requested = Signal(str, str)  # (base model, LoRA file): use them in Text to Image
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.trainer: TrainerThread | None = None
        self.error_box: QMessageBox | None = None
        self.exported_model = ""  # the last model (or LoRA file) this panel exported
        self.exported_base = ""  # a LoRA's base model
        self.running_lora = False  # what the running (or last) training trains
        self.final_message = ""  # how the running training ended, shown once its thread is over
        self.training_precision = ""  # what the running training trains in (fp32, bf16, fp16), once it says
        self.running_output = ""  # the running (or last) training's run folder
        self.derived_output = ""  # the output folder the panel derived from the images (not set by hand)

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Your images")
        self.folder.setToolTip("A folder of your images; its subfolders are searched too")
        self.folder.editingFinished.connect(lambda: self.scan_folder(self.folder.text()))
        folder_row = path_row(self.folder, self.choose_folder)
        self.kind_box = QComboBox()
        for key, label in KINDS.items():
            self.kind_box.addItem(label, key)
        self.kind_box.setToolTip("A pixel DDPM of its own, or a LoRA that teaches a Stable Diffusion model your "
                                 "pictures (a style, a character, a product)")
        self.lora_fields = LoraTrainFields(settings)
        self.lora_fields.captions_changed.connect(lambda: self.data_view.set_captions(self._captions()))

        self.ddpm_fields = DdpmTrainFields(settings)
        self.base_box, self.ema, self.guide = self.ddpm_fields.base_box, self.ddpm_fields.ema, self.ddpm_fields.guide
        self.sample_scheduler, self.sample_steps = self.ddpm_fields.sample_scheduler, self.ddpm_fields.sample_steps
        self.resolution = QSpinBox(minimum=8, maximum=1024, value=32, singleStep=8)
        self.batch = QSpinBox(minimum=1, maximum=1024, value=16)
        self.accum = QSpinBox(minimum=1, maximum=256, value=1)
        self.steps = QSpinBox(minimum=1, maximum=10_000_000, value=1000, singleStep=100)
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=0.1, value=1e-4, singleStep=1e-5)
        self.precision = QComboBox()
        self.precision.addItems(list(MIXED_PRECISION))
        self.precision.setToolTip("auto: each precision this device has (fp32; bf16 on a CPU with bf16 instructions; "
                                  "fp16 and bf16 on a GPU) is timed on your model and batch before training, and "
                                  "the fastest is used — measured, because bf16 is slower on many CPUs")
        self.checkpoint_every = QSpinBox(minimum=1, maximum=10_000_000, value=500, singleStep=100)
        self.sample_every = QSpinBox(minimum=1, maximum=10_000_000, value=250, singleStep=50)
        self.resolution.editingFinished.connect(self._resolution_changed)
        tips = {
            self.resolution: "The side in pixels pictures are trained at (a LoRA: about this many pixels squared, "
                             "in the aspect-ratio bucket nearest each picture's shape)",
            self.batch: "Pictures per step; more is steadier and needs more memory",
            self.accum: "Steps whose gradients are added up before the weights change: a larger batch in less memory",
            self.steps: "Weight updates in all (each of batch × accumulation pictures)",
            self.lr: "How far each step moves the weights; lower if the loss jumps or becomes NaN",
            self.checkpoint_every: "Steps between checkpoints a stopped or crashed run resumes from",
            self.sample_every: "Steps between sample pictures (a LoRA: validation pictures without and with it)",
        }
        for widget, tip in tips.items():
            widget.setToolTip(tip)
        self.output = QLineEdit()
        self.output.setToolTip("Where checkpoints, samples and the result go (a LoRA: lora/NAME.safetensors in it, "
                               "named after this folder); it follows the images' folder unless you set it")
        out_row = path_row(self.output, self.choose_output)
        self.resume_box = QCheckBox("Resume from the latest checkpoint")
        self.resume_box.setToolTip("Continue the run whose checkpoints are in the output folder")

        form = QFormLayout()
        form.addRow("Train", self.kind_box)
        form.addRow("Images", folder_row)
        form.addRow("Resolution", self.resolution)
        form.addRow("Batch size", self.batch)
        form.addRow("Grad. accumulation", self.accum)
        form.addRow("Steps", self.steps)
        form.addRow("Learning rate", self.lr)
        form.addRow("Mixed precision", self.precision)
        form.addRow("Checkpoint every", self.checkpoint_every)
        form.addRow("Sample every", self.sample_every)
        form.addRow("Output folder", out_row)
        form.addRow("", self.resume_box)
        self.ddpm_fields.add_rows(form, 2, self.sample_every)
        self.lora_fields.add_rows(form, 2)
        self.form = form

        self.start_button = QPushButton("Start training")
        self.start_button.clicked.connect(self.start)
        self.pause_button = QPushButton("Pause")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.export_button = QPushButton("Export now")
        self.export_button.clicked.connect(self.export_now)
        controls = QHBoxLayout()
        for button in (self.pause_button, self.stop_button, self.export_button):
            controls.addWidget(button)
        self.progress = QProgressBar()
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.use_button = QPushButton("Use the new model")
        self.use_button.setToolTip("Choose the exported model in the Generate panel, with the settings it recommends")
        self.use_button.clicked.connect(self.use_exported)
        self.use_button.setVisible(False)

        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.start_button)
        left.addLayout(controls)
        left.addWidget(self.progress)
        left.addWidget(self.progress_label)
        left.addWidget(self.use_button)

        self.data_view = TrainDataView()
        self.data_view.status_message.connect(self.status_message)
        self.thumbnails, self.scan_label, self.bad_files = (self.data_view.thumbnails, self.data_view.scan_label,
                                                            self.data_view.bad_files)
        self.run_view = TrainRunView()
        self.loss_plot, self.sample_view, self.sample_label = (self.run_view.loss_plot, self.run_view.sample_view,
                                                               self.run_view.sample_label)
        right = QVBoxLayout()
        right.addWidget(self.data_view)
        right.addWidget(self.run_view, 1)
        QVBoxLayout(self).addWidget(form_and_view(left, right, 400))

        self.refresh_models()
        self.kind_box.setCurrentIndex(max(0, self.kind_box.findData(settings.get_json("train/kind", "ddpm"))))
        self._kind_changed()
        self.kind_box.currentIndexChanged.connect(self._kind_changed)
        self._set_running(False)

    @property
    def lora(self) -> bool:
        return self.kind_box.currentData() == "lora"

    def _captions(self):
        return self.lora_fields.captions if self.lora else None

    def _kind_changed(self, *_) -> None:
        """The rows of the chosen trainer, filled in as its last run was (else with its defaults); nothing of the
        other trainer's run stays on screen."""
        lora = self.lora
        self.settings.set_json("train/kind", self.kind_box.currentData())
        self.lora_fields.set_shown(self.form, lora)
        self.ddpm_fields.set_shown(self.form, not lora)
        self.use_button.setText("Use it in Text to Image" if lora else "Use the new model")
        self._clear_run_view()
        self.data_view.set_captions(self._captions())
        saved = self.settings.get_json(LAST_LORA_KEY if lora else LAST_CONFIG_KEY, None)
        if not saved:
            folder = self.folder.text().strip()
            saved = (LoraTrainConfig(data_dir=folder, output_dir="", base_model="",
                                     resolution=self.lora_fields.native_side()) if lora
                     else TrainConfig(data_dir=folder, output_dir="",  # the guide is on unless unticked
                                      guide_step=TrainConfig.default_guide_step(TrainConfig.max_steps))).to_dict()
        self._apply_config_dict(saved)

    def _resolution_changed(self) -> None:
        """A LoRA's buckets depend on the resolution: the folder's summary is made again for the new one."""
        if self.lora and self.folder.text().strip():
            self.scan_folder(self.folder.text())

    def _clear_run_view(self) -> None:
        """No loss, pictures, progress or "use it" of an earlier run: a new run, or the other trainer, starts clean."""
        self.run_view.clear(self.lora)
        self.progress.setValue(0)
        self.progress_label.setText("")
        self.use_button.setVisible(False)

    # ---- form ----
    def refresh_models(self) -> None:
        self.ddpm_fields.refresh_models()
        self.lora_fields.refresh_models()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.scan_folder(folder)

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where to put checkpoints, samples and the model", self.output.text())
        if folder:
            self.output.setText(folder)

    @property
    def scanned_folder(self) -> str:
        return self.data_view.scanned_folder

    def scan_folder(self, folder: str) -> None:
        """Show thumbnails and the report (a LoRA's: buckets and captions) before anything trains; the output
        folder follows the images."""
        if not folder.strip():
            return
        self._follow_folder(folder)
        self.data_view.set_captions(self._captions())
        self.data_view.scan(folder, self.resolution.value())

    @staticmethod
    def output_for(folder: str) -> str:
        """The output folder a run on ``folder``'s images gets unless the user sets one: trained/<its name>."""
        from ddpm_studio.paths import trained_models_dir

        return str(trained_models_dir() / Path(folder.strip()).expanduser().name)

    def _follow_folder(self, folder: str) -> None:
        """Other images, another run: the output folder becomes trained/<their folder's name>, unless the user set
        it (typed or chose one) — then it stays as set."""
        current = self.output.text().strip()
        if current and current != self.derived_output:
            return
        self.derived_output = self.output_for(folder)
        self.output.setText(self.derived_output)

    def current_config(self) -> TrainConfig | LoraTrainConfig:
        shared = dict(data_dir=self.folder.text().strip(), output_dir=self.output.text().strip(),
                      resolution=self.resolution.value(), batch_size=self.batch.value(),
                      gradient_accumulation_steps=self.accum.value(), max_steps=self.steps.value(),
                      learning_rate=self.lr.value(), mixed_precision=self.precision.currentText(),
                      checkpoint_every=self.checkpoint_every.value(), sample_every=self.sample_every.value(),
                      log_every=max(1, min(10, self.steps.value() // 20)))
        return (self.lora_fields if self.lora else self.ddpm_fields).config(**shared)

    def _apply_config_dict(self, data) -> None:
        if not data:
            return
        kind = LoraTrainConfig if self.lora else TrainConfig
        try:
            config = kind.from_dict(data)
        except (TypeError, ValueError):
            return
        self.folder.setText(config.data_dir)
        self.output.setText(config.output_dir)
        self.derived_output = self.output_for(config.data_dir) if config.data_dir.strip() else ""
        (self.lora_fields if isinstance(config, LoraTrainConfig) else self.ddpm_fields).apply(config)
        self.resolution.setValue(config.resolution)
        self.batch.setValue(config.batch_size)
        self.accum.setValue(config.gradient_accumulation_steps)
        self.steps.setValue(config.max_steps)
        self.lr.setValue(config.learning_rate)
        self.precision.setCurrentText(config.mixed_precision)
        self.checkpoint_every.setValue(config.checkpoint_every)
        self.sample_every.setValue(config.sample_every)
        if Path(config.data_dir).expanduser().is_dir():  # as if it had just been chosen: thumbnails and report
            self.scan_folder(config.data_dir)

    def show_error(self, title: str, message: str) -> None:
        self.status_message.emit(message.splitlines()[0])
        self.error_box = error_dialog(self, title, message)
