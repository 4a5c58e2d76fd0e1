"""The settings a series of runs shares (the Race and Grid panels' column): a model (pixel DDPMs and Text to Image
models), a prompt, negative prompt and size for Stable Diffusion ones, scheduler, steps, guidance and seed.
A subclass adds the rows that say what varies between the runs (``varying_rows``); ``base_job`` builds the job
every run starts from."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QSpinBox, QWidget

from ddpm_studio.engine.jobs.checks import (
    MAX_AUTOGUIDANCE,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_STEPS,
    MIN_AUTOGUIDANCE,
    JobError,
)
from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, LATENT_SCHEDULERS, PIXEL_SCHEDULERS, SCHEDULERS
from ddpm_studio.engine.jobs.types import GenerateJob, Job, Text2ImageJob
from ddpm_studio.engine.models.catalogue import PIXEL_FAMILY, ModelInfo
from ddpm_studio.engine.models.defaults import recommended_settings
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.widgets.common import fit_family_size, scheduler_combo
from ddpm_studio.ui.widgets.model_picker import ModelPicker
from ddpm_studio.ui.widgets.seed_field import SeedField
from ddpm_studio.ui.widgets.size_fields import SideBox

AUTOGUIDANCE_TIP = "Autoguidance with the model's own guide: 1 is the model alone (see the Generate panel)"
GUIDANCE_TIP = "Classifier-free guidance: higher follows the prompt more closely"


def series_model(info: ModelInfo) -> bool:
    """The models a series runs: pixel DDPMs (Generate) and Text to Image models."""
    return info.family == PIXEL_FAMILY or "txt2img" in info.modes


def _prompt_box(placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setPlaceholderText(placeholder)
    box.setMaximumHeight(60)
    return box


class SeriesForm(QWidget):
    def __init__(self, settings: Settings, panel: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.guide_model = ""  # a pixel model's own autoguidance guide, from its recommended settings

        self.model_box = ModelPicker(settings, series_model)
        self.prompt = _prompt_box("What to make (Stable Diffusion models)")
        self.negative_prompt = _prompt_box("What to avoid (optional)")
        self.width_box, self.height_box = SideBox(512), SideBox(512)  # what is typed snaps to a side models take
        self.size_row = QWidget()
        size = QHBoxLayout(self.size_row)
        size.setContentsMargins(0, 0, 0, 0)
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        self.scheduler_box = scheduler_combo(14, PIXEL_SCHEDULERS)
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=25)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=MAX_GUIDANCE, value=1.0, singleStep=0.5, decimals=2)
        self.seed_field = SeedField(settings.random_seed(panel))
        self.rows = QFormLayout(self)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.addRow("Model", self.model_box)
        self.rows.addRow("Prompt", self.prompt)
        self.rows.addRow("Negative", self.negative_prompt)
        self.rows.addRow("Size", self.size_row)
        self.varying_rows(self.rows)
        self.rows.addRow("Scheduler", self.scheduler_box)
        self.rows.addRow("Steps", self.steps)
        self.rows.addRow("Guidance", self.guidance)
        self.rows.addRow("Seed", self.seed_field)
        self.model_box.currentIndexChanged.connect(self._model_changed)
        self.refresh_models()

    def varying_rows(self, rows: QFormLayout) -> None:
        """A subclass adds its rows here, between the size and the scheduler."""

    def row_shown(self, widget: QWidget) -> bool:
        return self.rows.isRowVisible(widget)

    # ---- models ----
    def refresh_models(self, include_hf_cache: bool = False) -> None:
        if self.model_box.refresh(include_hf_cache) or self.scheduler_box.count() == 0:
            self._model_changed()

    def current_model_info(self) -> ModelInfo | None:
        return self.model_box.current_info()

    @property
    def pixel(self) -> bool:
        info = self.current_model_info()
        return info is None or info.family == PIXEL_FAMILY

    def schedulers_for(self, info: ModelInfo | None) -> tuple[str, ...]:
        """The schedulers a model samples with: a pixel DDPM's, its family's own where its row lists them (SD 3.5's
        and Flux's flow solvers, as Text to Image offers), else the Stable Diffusion panels'."""
        if self.pixel:
            return PIXEL_SCHEDULERS
        family = family_of_info(info) if info is not None else None
        return family.schedulers if family is not None and family.schedulers else LATENT_SCHEDULERS

    def _model_changed(self, *_) -> None:
        """A model brings its schedulers and its recommended scheduler, steps and guidance (its family's defaults,
        overridden by its folder's own, as Text to Image takes them)."""
        info, pixel = self.current_model_info(), self.pixel
        defaults = recommended_settings(info) if info is not None else {}
        self.guide_model = defaults.get("guide_model", "") if pixel else ""
        self.set_schedulers(self.schedulers_for(info))
        self.scheduler_box.setCurrentIndex(max(0, self.scheduler_box.findData(defaults.get("scheduler",
                                                                                           DEFAULT_SCHEDULER))))
        self.steps.setValue(defaults.get("steps", self.steps.value()))
        low, high = (MIN_AUTOGUIDANCE, MAX_AUTOGUIDANCE) if pixel else (0.0, MAX_GUIDANCE)
        self.guidance.setRange(low, high)
        self.guidance.setValue(defaults.get("guidance_scale", 1.0 if pixel else Text2ImageJob.guidance_scale))
        self.guidance.setToolTip(AUTOGUIDANCE_TIP if pixel else GUIDANCE_TIP)
        self.rows.labelForField(self.guidance).setText("Autoguidance" if pixel else "Guidance")
        for row in (self.prompt, self.negative_prompt, self.size_row):
            self.rows.setRowVisible(row, not pixel)
        fit_family_size(info, self.width_box, self.height_box)

    def _split_files(self, info: ModelInfo) -> dict:
        from ddpm_studio.engine.errors import ModelError
        from ddpm_studio.engine.models.pairing import lacking_words, pair_beside

        try:
            pairing = pair_beside(info.path, self.settings.home_folders("text_encoders"),
                                  self.settings.addon_folder_list("vaes"), self.settings.model_parts(info.ref))
        except ModelError as exc:
            raise JobError(str(exc)) from None
        if pairing.missing:
            raise JobError(lacking_words(info.path, info.arch, pairing.missing))
        return dict(text_encoders=pairing.text_encoders, vae=pairing.vae)

    def set_schedulers(self, names) -> None:
        """The schedulers this kind of model offers; the one chosen before stays chosen where it exists."""
        current = self.scheduler_box.currentData()
        self.scheduler_box.clear()
        for name in names:
            self.scheduler_box.addItem(SCHEDULERS[name].label, name)
        self.scheduler_box.setCurrentIndex(max(0, self.scheduler_box.findData(current)))

    # ---- the job ----
    def base_job(self) -> Job:
        """The job every run of the series starts from; a JobError that says what to fix."""
        info = self.current_model_info()
        if info is None:
            raise JobError("No model chosen: add a model folder (File → Add model folder…).")
        seed_text = self.seed_field.edit.text().strip()
        if not seed_text.isdigit():
            raise JobError(f"The seed must be a whole number from 0 to {MAX_SEED}; got '{seed_text}'.")
        fields = dict(model=info.ref, scheduler=self.scheduler_box.currentData(), steps=self.steps.value(),
                      seed=int(seed_text), batch_size=1, preview_every=1,
                      guidance_scale=round(self.guidance.value(), 2))
        if self.pixel:
            return GenerateJob(guide_model=self.guide_model, **fields)
        if info.split:  # a diffusion-model file: the text encoders and VAE Text to Image pairs it with
            fields.update(self._split_files(info))
        return Text2ImageJob(prompt=self.prompt.toPlainText().strip(),
                             negative_prompt=self.negative_prompt.toPlainText().strip(),
                             width=self.width_box.value(), height=self.height_box.value(), **fields)
