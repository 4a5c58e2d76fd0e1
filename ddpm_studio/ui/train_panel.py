"""The Train panel: fine-tune or train a DDPM on the user's image folder, with a live loss plot and samples."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.jobs import MAX_STEPS
from ddpm_studio.engine.models import list_models
from ddpm_studio.engine.schedulers import DEFAULT_STEPS, PIXEL_SCHEDULERS
from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training.config import MIXED_PRECISION, TrainConfig
from ddpm_studio.training.presets import PRESETS
from ddpm_studio.ui.canvas import ImageView
from ddpm_studio.ui.images import to_qimage
from ddpm_studio.ui.loss_plot import LossPlot
from ddpm_studio.ui.settings import Settings
from ddpm_studio.ui.train_worker import FolderScanThread, TrainerThread
from ddpm_studio.ui.widgets import error_dialog, form_and_view, narrow_combo, path_row, scheduler_combo

SCRATCH = "scratch:"
LAST_CONFIG_KEY = "train/last_config"


class TrainPanel(QWidget):
    model_exported = Signal(str)  # a pipeline folder the Generate panel can load (listed there, not chosen)
    use_model_requested = Signal(str)  # the user asked to sample from that folder in the Generate panel
    status_message = Signal(str)

    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.trainer: TrainerThread | None = None
        self.scanner: FolderScanThread | None = None
        self._scanners: list[FolderScanThread] = []
        self.error_box: QMessageBox | None = None
        self.last_sample = None
        self.scanned_folder = ""  # the folder whose thumbnails and report are shown
        self.exported_model = ""  # the last model this panel exported
        self.final_message = ""  # how the running training ended, shown once its thread is over

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("Your images")
        self.folder.setToolTip("A folder of your images; its subfolders are searched too")
        self.folder.editingFinished.connect(lambda: self.scan_folder(self.folder.text()))
        folder_row = path_row(self.folder, self.choose_folder)

        self.base_box = narrow_combo(16)
        self.resolution = QSpinBox(minimum=8, maximum=1024, value=32, singleStep=8)
        self.batch = QSpinBox(minimum=1, maximum=1024, value=16)
        self.accum = QSpinBox(minimum=1, maximum=256, value=1)
        self.steps = QSpinBox(minimum=1, maximum=10_000_000, value=1000, singleStep=100)
        self.lr = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=0.1, value=1e-4, singleStep=1e-5)
        self.precision = QComboBox()
        self.precision.addItems(list(MIXED_PRECISION))
        self.ema = QCheckBox("EMA weights (recommended)", checked=True)
        self.checkpoint_every = QSpinBox(minimum=1, maximum=10_000_000, value=500, singleStep=100)
        self.sample_every = QSpinBox(minimum=1, maximum=10_000_000, value=250, singleStep=50)
        self.sample_scheduler = scheduler_combo(10, PIXEL_SCHEDULERS)
        self.sample_steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=DEFAULT_STEPS)
        self.sample_steps.setSuffix(" steps")
        sample_row = QHBoxLayout()
        sample_row.addWidget(self.sample_scheduler, 1)
        sample_row.addWidget(self.sample_steps)
        for widget in (self.sample_scheduler, self.sample_steps):
            widget.setToolTip("How the sample grids are drawn; the exported model recommends the same to the Generate panel")
        self.guide = QCheckBox("Keep an autoguidance guide")
        self.guide.setChecked(True)
        self.guide.setToolTip(
            "Keep a copy of the model from 1/16 of the way through the run and export it with the model as its guide: "
            "the Generate panel then steers away from that weaker version (autoguidance, scale 2), which gives "
            "cleaner pictures; the model folder holds two UNets")
        self.output = QLineEdit()
        out_row = path_row(self.output, self.choose_output)
        self.resume_box = QCheckBox("Resume from the latest checkpoint")
        self.resume_box.setToolTip("Continue the run whose checkpoints are in the output folder")

        form = QFormLayout()
        form.addRow("Images", folder_row)
        form.addRow("Start from", self.base_box)
        form.addRow("Resolution", self.resolution)
        form.addRow("Batch size", self.batch)
        form.addRow("Grad. accumulation", self.accum)
        form.addRow("Steps", self.steps)
        form.addRow("Learning rate", self.lr)
        form.addRow("Mixed precision", self.precision)
        form.addRow("", self.ema)
        form.addRow("Checkpoint every", self.checkpoint_every)
        form.addRow("Sample every", self.sample_every)
        form.addRow("Sample with", sample_row)
        form.addRow("", self.guide)
        form.addRow("Output folder", out_row)
        form.addRow("", self.resume_box)

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
        self.use_button.clicked.connect(lambda: self.use_model_requested.emit(self.exported_model))
        self.use_button.setVisible(False)

        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(self.start_button)
        left.addLayout(controls)
        left.addWidget(self.progress)
        left.addWidget(self.progress_label)
        left.addWidget(self.use_button)

        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setFlow(QListView.Flow.LeftToRight)
        self.thumbnails.setWrapping(False)
        self.thumbnails.setIconSize(QSize(48, 48))
        self.thumbnails.setFixedHeight(76)
        self.thumbnails.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumbnails.setSelectionMode(QListWidget.SelectionMode.NoSelection)  # a preview: nothing to pick, and a
        self.thumbnails.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # selection bar would be cut off by the strip's edge
        self.scan_label = QLabel("Choose a folder of images to train on.")
        self.scan_label.setWordWrap(True)
        self.bad_files = QPlainTextEdit()
        self.bad_files.setReadOnly(True)
        self.bad_files.setMaximumHeight(70)
        self.bad_files.setPlaceholderText("Files that cannot be used are listed here, each with the reason.")
        self.loss_plot = LossPlot()
        self.sample_view = ImageView()
        self.sample_label = QLabel("Samples (EMA weights) appear here during training")
        self.sample_label.setWordWrap(True)
        lower = QHBoxLayout()
        lower.addWidget(self.loss_plot, 3)
        sample_box = QVBoxLayout()
        sample_box.addWidget(self.sample_label)
        sample_box.addWidget(self.sample_view, 1)
        lower.addLayout(sample_box, 2)
        right = QVBoxLayout()
        right.addWidget(self.scan_label)
        right.addWidget(self.thumbnails)
        right.addWidget(self.bad_files)
        right.addLayout(lower, 1)
        QVBoxLayout(self).addWidget(form_and_view(left, right, 400))

        self.refresh_models()
        self._apply_config_dict(settings.get_json(LAST_CONFIG_KEY, None))
        self._set_running(False)

    # ---- form ----
    def refresh_models(self) -> None:
        current = self.base_box.currentData()
        self.base_box.clear()
        for name in PRESETS:
            self.base_box.addItem(f"New model: {name} UNet", SCRATCH + name)
        for info in list_models(self.settings.model_folders):
            self.base_box.addItem(f"Fine-tune: {info.label}", info.ref)
            self.base_box.setItemData(self.base_box.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole)
        index = self.base_box.findData(current) if current else self.base_box.findData(SCRATCH + "small")
        self.base_box.setCurrentIndex(max(index, 0))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.scan_folder(folder)

    def choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Where to put checkpoints, samples and the model", self.output.text())
        if folder:
            self.output.setText(folder)

    def scan_folder(self, folder: str) -> None:
        """Show thumbnails and the bad-file report before anything trains."""
        if not folder.strip():
            return
        self.scanned_folder = folder
        if not self.output.text().strip():
            from ddpm_studio.paths import trained_models_dir

            self.output.setText(str(trained_models_dir() / Path(folder).name))
        self.scan_label.setText(f"Scanning {folder}…")
        self.thumbnails.clear()
        self.bad_files.clear()
        scanner = FolderScanThread(folder, parent=self)
        scanner.scanned.connect(lambda report, thumbnails: self._on_scanned(scanner, report, thumbnails))
        scanner.failed.connect(lambda message: self._on_scan_failed(scanner, message))
        scanner.finished.connect(lambda: self._scanners.remove(scanner))
        self._scanners.append(scanner)  # kept until done: a QThread must not be destroyed while it runs
        self.scanner = scanner
        scanner.start()

    def _on_scanned(self, scanner, report, thumbnails) -> None:
        if scanner is not self.scanner:  # an earlier scan, of another folder, that finished after the newest
            return
        self.scan_label.setText(report.summary())
        for path, array in zip(report.good, thumbnails):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(array))), "")
            item.setToolTip(str(path))
            self.thumbnails.addItem(item)
        self.bad_files.setPlainText(report.details())

    def _on_scan_failed(self, scanner, message: str) -> None:
        if scanner is self.scanner:
            self.scan_label.setText(message)

    def current_config(self) -> TrainConfig:
        base = self.base_box.currentData() or SCRATCH + "small"
        config = TrainConfig(
            data_dir=self.folder.text().strip(),
            output_dir=self.output.text().strip(),
            base_model="" if base.startswith(SCRATCH) else base,
            preset=base[len(SCRATCH):] if base.startswith(SCRATCH) else "small",
            resolution=self.resolution.value(),
            batch_size=self.batch.value(),
            gradient_accumulation_steps=self.accum.value(),
            max_steps=self.steps.value(),
            learning_rate=self.lr.value(),
            mixed_precision=self.precision.currentText(),
            use_ema=self.ema.isChecked(),
            checkpoint_every=self.checkpoint_every.value(),
            sample_every=self.sample_every.value(),
            sample_scheduler=self.sample_scheduler.currentData(),
            sample_steps=self.sample_steps.value(),
            log_every=max(1, min(10, self.steps.value() // 20)),
            lr_warmup_steps=min(TrainConfig.lr_warmup_steps, self.steps.value() // 10),  # a tenth of a short run
            guide_step=TrainConfig.default_guide_step(self.steps.value()) if self.guide.isChecked() else 0,
        )
        config.validate()
        return config

    def _apply_config_dict(self, data) -> None:
        if not data:
            return
        try:
            config = TrainConfig.from_dict(data)
        except (TypeError, ValueError):
            return
        self.folder.setText(config.data_dir)
        self.output.setText(config.output_dir)
        if Path(config.data_dir).expanduser().is_dir():  # as if it had just been chosen: thumbnails and report
            self.scan_folder(config.data_dir)
        ref = config.base_model or SCRATCH + config.preset
        index = self.base_box.findData(ref)
        if index >= 0:
            self.base_box.setCurrentIndex(index)
        self.resolution.setValue(config.resolution)
        self.batch.setValue(config.batch_size)
        self.accum.setValue(config.gradient_accumulation_steps)
        self.steps.setValue(config.max_steps)
        self.lr.setValue(config.learning_rate)
        self.precision.setCurrentText(config.mixed_precision)
        self.ema.setChecked(config.use_ema)
        self.checkpoint_every.setValue(config.checkpoint_every)
        self.sample_every.setValue(config.sample_every)
        self.sample_scheduler.setCurrentIndex(max(0, self.sample_scheduler.findData(config.sample_scheduler)))
        self.sample_steps.setValue(config.sample_steps)
        self.guide.setChecked(config.guide_step > 0)

    # ---- running ----
    def start(self) -> None:
        if self.trainer is not None:
            return
        try:
            config = self.current_config()
        except ValueError as exc:
            self.show_error("Check the training settings", str(exc))
            return
        self.settings.set_json(LAST_CONFIG_KEY, config.to_dict())
        if config.data_dir != self.scanned_folder:  # typed in without leaving the field: show what will be used
            self.scan_folder(config.data_dir)
        earlier = "" if self.resume_box.isChecked() else ckpt.describe_run(config.output_dir)
        if earlier:  # a new run here would mix with, then overwrite, the one before: ask first
            self.ask_about_earlier_run(config, earlier)
            return
        self.launch(config, resume=self.resume_box.isChecked())

    def ask_about_earlier_run(self, config: TrainConfig, earlier: str) -> QMessageBox:
        box = QMessageBox(QMessageBox.Icon.Question, "This folder holds a training run",
                          f"{config.output_dir} already holds {earlier}. Resume that run, or start a new one? A new "
                          "run moves the earlier one's files into a subfolder; nothing is deleted.",
                          QMessageBox.StandardButton.Cancel, self)
        resume = box.addButton("Resume it", QMessageBox.ButtonRole.AcceptRole)
        new = box.addButton("Start a new run", QMessageBox.ButtonRole.DestructiveRole)
        resume.clicked.connect(lambda: self.launch(config, resume=True))
        new.clicked.connect(lambda: self.launch(config, resume=False, set_aside=True))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box
        return box

    def launch(self, config: TrainConfig, resume: bool, set_aside: bool = False) -> None:
        if self.trainer is not None:
            return
        if set_aside:
            moved = ckpt.set_aside(config.output_dir)
            self.status_message.emit(f"The earlier run is now in {moved}")
        self.resume_box.setChecked(resume)
        self.final_message = ""
        self.loss_plot.clear()
        self.progress.setRange(0, config.max_steps)
        self.progress.setValue(0)
        self.progress_label.setText("Loading the data and the model…")
        self.trainer = TrainerThread(config, resume=resume, parent=self)
        self.trainer.event.connect(self._on_event)
        self.trainer.finished.connect(self._on_thread_finished)
        self._set_running(True)
        self.trainer.start()

    def toggle_pause(self) -> None:
        if self.trainer is None:
            return
        if self.trainer.control.paused:
            self.trainer.control.resume()
            self.pause_button.setText("Pause")
        else:
            self.trainer.control.pause()
            self.pause_button.setText("Resume")

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.control.request_stop()
            self.progress_label.setText("Stopping: saving a checkpoint and the model…")

    def export_now(self) -> None:
        if self.trainer is not None:
            self.trainer.control.request_export()

    def shutdown(self, timeout_ms: int = 120000) -> None:
        """Stop a running training (it checkpoints and exports first) and wait for it."""
        if self.trainer is not None:
            self.trainer.control.request_stop()
            self.trainer.wait(timeout_ms)
        for scanner in list(self._scanners):
            scanner.wait(timeout_ms)

    def _on_event(self, event) -> None:
        if event.kind == "data":
            self.scan_label.setText(event.message.splitlines()[0])
        elif event.kind == "step":
            self.loss_plot.add(event.step, event.loss)
            self.progress.setValue(event.step)
            eta = f" · ETA {_duration(event.eta_s)}" if event.eta_s is not None else ""
            self.progress_label.setText(f"Step {event.step}/{event.max_steps} · loss {event.loss:.4f} · "
                                        f"{event.images_per_s:.1f} img/s{eta}")
        elif event.kind == "sample":
            self.last_sample = event
            self.sample_view.set_image(to_qimage(event.image))
            how = f", {event.message}" if event.message else ""
            self.sample_label.setText(f"Samples at step {event.step} (EMA weights{how})")
        elif event.kind == "exported":
            self.exported_model = event.path
            self.model_exported.emit(event.path)
            self.use_button.setVisible(True)
            self.status_message.emit(f"{event.message}; it is in the Generate panel's list")
        elif event.kind in ("finished", "stopped", "paused", "resumed", "checkpoint", "guide"):
            self.status_message.emit(event.message)
            if event.kind in ("finished", "stopped"):
                self.final_message = event.message  # shown when the thread is over, with Start enabled again

    def _on_thread_finished(self) -> None:
        """The training thread is over: say how it ended and take the next Start, in one step."""
        error = self.trainer.error
        self.trainer = None
        self._set_running(False)
        self.resume_box.setChecked(False)
        self.progress_label.setText("Training stopped with an error" if error else self.final_message)
        if error:
            self.show_error("Training failed", error)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        for button in (self.pause_button, self.stop_button, self.export_button):
            button.setEnabled(running)
        self.pause_button.setText("Pause")

    def show_error(self, title: str, message: str) -> None:
        self.status_message.emit(message.splitlines()[0])
        self.error_box = error_dialog(self, title, message)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
