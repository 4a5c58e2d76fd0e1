"""What every sampling panel shares: model picker, scheduler, steps, seed, batch, output folder, Generate/Cancel,
the live canvas with its scrubber, and the gallery. A panel adds its own fields and says how to build its job.
The model list is ``ModelList``'s (widgets/model_list.py), running a job ``PanelRuns``' (runs.py)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.jobs.checks import MAX_BATCH, MAX_SEED, MAX_STEPS, JobError
from ddpm_studio.engine.jobs.schedule_types import split_name, without_combined
from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, SCHEDULERS
from ddpm_studio.engine.jobs.types import Job
from ddpm_studio.engine.models.catalogue import ModelInfo
from ddpm_studio.engine.output.metadata import MetadataError, read_job
from ddpm_studio.ui.canvas.results_strip import GalleryStrip
from ddpm_studio.ui.canvas.step_canvas import StepCanvas
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.worker import SamplerClient, SamplerThread
from ddpm_studio.ui.sampling.runs import PanelRuns
from ddpm_studio.ui.sampling.seed_walk import start_seed_walk
from ddpm_studio.ui.widgets.common import error_dialog, form_and_view, path_row, scheduler_combo
from ddpm_studio.ui.widgets.model_list import ModelList
from ddpm_studio.ui.widgets.model_picker import ModelPicker
from ddpm_studio.ui.widgets.notes import FieldNote
from ddpm_studio.ui.widgets.schedule_box import ScheduleBox
from ddpm_studio.ui.widgets.seed_field import SeedField
from ddpm_studio.ui.widgets.variation_field import VariationField


class SamplingPanel(ModelList, PanelRuns, QWidget):
    status_message = Signal(str)

    job_type: type[Job] = Job
    settings_key = ""  # where the last-used parameters are kept
    default_batch = 4
    schedulers: tuple[str, ...] = tuple(SCHEDULERS)
    single_files = False  # whether single-file checkpoints (.safetensors) can be added here
    variations = False  # whether the panel has the Variation row and seed walks (pictures made from noise)
    input_share = 1 / 3  # of the view's width, for a panel's input picture (the canvas shows two pictures)

    def accepts(self, info: ModelInfo) -> bool:
        """Which models this panel lists."""
        raise NotImplementedError

    def add_fields(self, form: QFormLayout) -> None:
        """Add the panel's own rows to the form."""

    def job_fields(self) -> dict:
        """The panel's own job fields, read from its widgets (may raise JobError)."""
        return {}

    def field_problems(self) -> list[str]:
        """What the panel's fields hold now that the job would refuse, a sentence each (each also said beside its
        field); Generate waits until there is none. A panel calls ``check_fields`` when they may have changed."""
        return []

    def apply_fields(self, job) -> list[str]:
        """Put the panel's own fields of ``job`` into its widgets; return what could not be restored (a file that is
        gone, a guide that is not there), in words for the user."""
        return []

    def refuse_reason(self, info: ModelInfo) -> str:
        return f"{info.path} holds {info.class_name or 'an unknown pipeline'}" + (f"; open it in the {info.panel} panel." if info.panel else ".")

    def __init__(self, sampler: SamplerThread, client: SamplerClient, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.sampler, self.client, self.settings = sampler, client, settings
        self.ready = False
        self.writing_files = True  # False while the settings are saved: a job made then writes no file (a mask)
        self.error_box: QMessageBox | None = None
        self.walk = None  # the latest seed walk (ui/sampling/seed_walk.py)

        # combo boxes sized by a few characters, not by their longest entry: the settings column has a fixed width
        self.model_box = ModelPicker(settings, self.accepts)
        add_folder = QToolButton(text="Add folder…")  # under the list: beside it, the column would widen
        add_folder.clicked.connect(self.choose_model_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(add_folder)
        if self.single_files:
            add_file = QToolButton(text="Add file…")
            add_file.setToolTip("A single-file checkpoint (.safetensors), as A1111 and CivitAI share them")
            add_file.clicked.connect(self.choose_model_file)
            buttons.addWidget(add_file)
        buttons.addStretch(1)
        model_row = QVBoxLayout()
        model_row.addWidget(self.model_box)
        model_row.addLayout(buttons)

        self.scheduler_box = scheduler_combo(16, without_combined(self.schedulers))  # a schedule type beside it
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=25)
        self.seed_field = SeedField(settings.random_seed(self.settings_prefix))
        self.seed, self.random_seed, self.dice_button = self.seed_field.edit, self.seed_field.random, self.seed_field.dice
        self.batch = QSpinBox(minimum=1, maximum=MAX_BATCH, value=self.default_batch)
        self.output_dir = QLineEdit(settings.panel_output_dir(self.settings_prefix))
        out_row = path_row(self.output_dir, self.choose_output_dir)

        form = QFormLayout()
        form.addRow("Model", model_row)
        self.add_fields(form)
        form.addRow("Scheduler", self.scheduler_box)
        self.schedule = ScheduleBox(form, self.scheduler_box)
        form.addRow("Steps", self.steps)
        form.addRow("Seed", self.seed_field)
        self.variation = VariationField() if self.variations else None
        if self.variation is not None:
            form.addRow("Variation", self.variation)
        form.addRow("Batch size", self.batch)
        form.addRow("Output folder", out_row)
        self.form = form

        self.generate_button = QPushButton("Loading torch…")
        self.generate_button.setEnabled(False)
        self.generate_button.setDefault(True)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.clicked.connect(self.cancel_all)
        self.queue_label = QLabel("")
        self.queue_label.hide()
        self.problem_note = FieldNote()  # why Generate waits, where Generate is (the field may be scrolled away)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.cancel_all_button)
        run_bar = QVBoxLayout()  # at the column's top, outside what scrolls: in sight however long the form is
        run_bar.addWidget(self.generate_button)
        run_bar.addLayout(buttons)
        run_bar.addWidget(self.queue_label)
        run_bar.addWidget(self.problem_note)

        left = QVBoxLayout()
        left.addLayout(form)

        self.canvas = StepCanvas(export_folder=lambda: self.output_dir.text().strip())
        self.canvas.exported.connect(lambda path: self.status_message.emit(f"Exported the steps to {path}"))
        self.gallery = GalleryStrip()
        self.gallery.restore_requested.connect(self.restore_from_png)
        self.gallery.reuse_seed_requested.connect(self.reuse_seed)
        if self.variations:
            self.gallery.walks = True
            self.gallery.seed_walk_requested.connect(lambda paths: start_seed_walk(self, paths))
        # the panel's input (Edit's picture and mask, Upscale's before/after) beside the canvas, not above it: a
        # landscape window has room across, and both stay big enough to see
        views = QSplitter(Qt.Orientation.Horizontal)
        views.setChildrenCollapsible(False)
        input_view = self.build_input()
        if input_view is not None:
            views.addWidget(input_view)
        views.addWidget(self.canvas)
        if input_view is not None:  # shares of the width, kept as the window is resized, or as the user left them
            views.setSizes([round(10000 * self.input_share), round(10000 * (1 - self.input_share))])
            saved = settings.layout_state(f"{self.settings_prefix}/views")
            if saved is not None:
                views.restoreState(saved)
        self.views = views
        right = QVBoxLayout()
        right.addWidget(views, 1)
        right.addWidget(QLabel("Results — click to view, drag out, right-click for more"))
        right.addWidget(self.gallery)
        self.columns = form_and_view(left, right, 380, pinned=run_bar)
        saved = settings.layout_state(f"{self.settings_prefix}/columns")
        if saved is not None:
            self.columns.restoreState(saved)
        QVBoxLayout(self).addWidget(self.columns)

        for keys in ("Ctrl+Return", "Ctrl+Enter"):  # Esc (cancel) is the main window's, on every tab
            QShortcut(QKeySequence(keys), self, activated=self.generate_button.click)
        sampler.queue_changed.connect(self._on_queue_changed)

        self._refreshing = False
        self.model_box.currentIndexChanged.connect(self._model_selected)
        self.model_box.currentIndexChanged.connect(lambda *_: self.model_changed(self.current_model_info()))
        self.refresh_models()
        self.apply_job_dict(settings.get_json(self.settings_key, None))
        self._update_buttons()

    @property
    def settings_prefix(self) -> str:
        """The panel's section in the settings file: ``generate``, ``txt2img``, ``edit`` or ``upscale``."""
        return self.settings_key.split("/")[0]

    def build_input(self) -> QWidget | None:
        """The panel's input widgets (the Edit panel's image and mask), shown left of the canvas; None: none."""
        return None

    def model_changed(self, info: ModelInfo | None) -> None:
        """The model in the list is now ``info`` (a panel may show rows that only some models need)."""

    def apply_defaults(self, info: ModelInfo, defaults: dict) -> list[str]:
        """Put a newly chosen model's recommended settings for the panel's own fields; say which, for the status bar."""
        return []

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_dir.text())
        if folder:
            self.output_dir.setText(folder)

    # ---- parameters ----
    def randomise_seed(self) -> None:
        self.seed_field.roll()

    def reuse_seed(self, seed: int) -> None:
        """Keep a result's seed for the next runs ("reuse this seed" on a result)."""
        self.seed_field.keep(seed)
        self.status_message.emit(f"Seed {seed} kept for the next runs (Random is off)")

    def current_job(self):
        seed_text = self.seed.text().strip()
        if not seed_text.isdigit():
            raise JobError(f"The seed must be a whole number from 0 to {MAX_SEED}; got '{seed_text}'.")
        return self.job_type(
            model=self.model_box.currentData() or "",
            scheduler=self.scheduler_box.currentData(),
            schedule=self.schedule.value(),
            steps=self.steps.value(),
            seed=int(seed_text),
            batch_size=self.batch.value(),
            preview_every=1,
            output_dir=self.output_dir.text().strip(),
            **(self.variation.job_fields() if self.variation is not None else {}),
            **self.job_fields(),
        )

    def apply_job(self, job) -> list[str]:
        """Put a job's parameters into the form (restore from settings or from a PNG); return what could not be
        restored. A model that is not in the list is not used: the current one stays, and the list says so. The output
        folder is never taken from a job: a PNG tells where the machine that made it saved, not where this one may
        write (A1111 restores generation parameters, not paths)."""
        missing = []
        if job.model and not self.select_model(job.model):
            kept = f"; {self.model_box.currentText()} is still chosen" if self.model_box.count() else ""
            missing.append(f"the model '{job.model}' is not in the model list{kept}")
        name, schedule = split_name(job.scheduler, job.schedule)  # an old job's dpm++2m-karras: DPM++ 2M, Karras
        index = self.scheduler_box.findData(name)
        self.scheduler_box.setCurrentIndex(index if index >= 0 else self.scheduler_box.findData(DEFAULT_SCHEDULER))
        self.schedule.set(schedule)
        self.steps.setValue(job.steps)
        self.seed.setText(str(job.seed))
        self.batch.setValue(job.batch_size)
        if self.variation is not None:
            self.variation.apply(job)
        return missing + self.apply_fields(job)

    def restore_problems(self, path: str, job) -> list[str]:
        """What else the PNG at ``path`` was made with that is not here (panels with add-ons: LoRAs, embeddings)."""
        return []

    def apply_job_dict(self, data) -> None:
        if not data:
            return
        try:
            self.apply_job(self.job_type.from_dict(data))
        except (JobError, TypeError):
            pass  # settings from an older version: keep the defaults

    def restore_from_png(self, path: str) -> bool:
        try:
            job = read_job(path, own_seed=True)  # the seed under the picture, not its batch's first
        except MetadataError as exc:
            self.show_error("Cannot restore parameters", str(exc))
            return False
        if not isinstance(job, self.job_type):
            self.show_error("Cannot restore parameters", f"{path} was made by another panel ({job.kind}).")
            return False
        missing = self.apply_job(job) + self.restore_problems(path, job)
        self.seed_field.keep(job.seed)  # the seed that made this image: kept, not replaced at the next run
        if missing:
            listed = "\n".join(f"• {m}" for m in missing)
            self.show_error("Restored, except what is missing", f"Restored the parameters of {Path(path).name}, "
                                                                 f"except:\n{listed}")
        else:
            self.status_message.emit(f"Restored parameters from {Path(path).name}")
        return True

    def save_settings(self) -> None:
        self.settings.set_panel_output_dir(self.settings_prefix, self.output_dir.text().strip())
        self.settings.set_random_seed(self.settings_prefix, self.random_seed.isChecked())
        if self.views.count() > 1:
            self.settings.set_layout_state(f"{self.settings_prefix}/views", self.views.saveState())
        self.settings.set_layout_state(f"{self.settings_prefix}/columns", self.columns.saveState())
        self.writing_files = False  # the job as the form stands, for next time: no file is written for it
        try:
            self.settings.set_json(self.settings_key, self.current_job().to_dict())
        except JobError:
            pass
        finally:
            self.writing_files = True
        self.settings.sync()

    def show_error(self, title: str, message: str) -> None:
        self.status_message.emit(message)
        self.error_box = error_dialog(self, title, message)
