"""What a race compares (the Race panel's settings column): a model (pixel DDPMs and Text to Image models), a prompt
and size for Stable Diffusion ones, what the lanes differ in — schedulers (check boxes), step counts or guidance
scales (a list of values) — the settings the lanes share, and the seed. ``current_race`` builds the ``RaceJob``."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from ddpm_studio.engine.jobs import (MAX_AUTOGUIDANCE, MAX_SEED, MAX_SIDE, MAX_STEPS, MIN_AUTOGUIDANCE, MIN_SIDE,
                                     GenerateJob, JobError, RaceJob, Text2ImageJob)
from ddpm_studio.engine.model_defaults import read_defaults
from ddpm_studio.engine.models import PIXEL_FAMILY, ModelInfo, list_models
from ddpm_studio.engine.schedulers import DEFAULT_SCHEDULER, LATENT_SCHEDULERS, PIXEL_SCHEDULERS, SCHEDULERS
from ddpm_studio.ui.seed_field import SeedField
from ddpm_studio.ui.settings import Settings
from ddpm_studio.ui.widgets import narrow_combo, scheduler_combo

FIELDS = {"scheduler": "Schedulers", "steps": "Steps", "guidance_scale": "Guidance"}  # what the lanes differ in
PLACEHOLDERS = {"steps": "e.g. 10, 25, 50", "guidance_scale": "e.g. 3, 7.5, 12"}
DEFAULT_LANES = ("ddim", "dpm++2m", "euler-a")
AUTOGUIDANCE_TIP = "Autoguidance with the model's own guide: 1 is the model alone (see the Generate panel)"
GUIDANCE_TIP = "Classifier-free guidance: higher follows the prompt more closely"


def races(info: ModelInfo) -> bool:
    """The models a race runs: pixel DDPMs (Generate) and Text to Image models."""
    return info.family == PIXEL_FAMILY or "txt2img" in info.modes


class RaceForm(QWidget):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model_infos: dict[str, ModelInfo] = {}
        self.guide_model = ""  # a pixel model's own autoguidance guide, from its recommended settings

        self.model_box = narrow_combo(14)
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to make (Stable Diffusion models)")
        self.prompt.setMaximumHeight(60)
        self.width_box = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, value=512, singleStep=64)
        self.height_box = QSpinBox(minimum=MIN_SIDE, maximum=MAX_SIDE, value=512, singleStep=64)
        self.size_row = QWidget()
        size = QHBoxLayout(self.size_row)
        size.setContentsMargins(0, 0, 0, 0)
        size.addWidget(self.width_box)
        size.addWidget(QLabel("×"))
        size.addWidget(self.height_box)
        self.field_box = narrow_combo(10)
        for key, label in FIELDS.items():
            self.field_box.addItem(label, key)
        self.checks_widget = QWidget()
        self.checks_grid = QGridLayout(self.checks_widget)
        self.checks_grid.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        self.values_edit = QLineEdit()
        self.scheduler_box = scheduler_combo(14, PIXEL_SCHEDULERS)
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=25)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=50.0, value=1.0, singleStep=0.5, decimals=2)
        self.seed_field = SeedField(settings.random_seed("race"))
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Model", self.model_box)
        form.addRow("Prompt", self.prompt)
        form.addRow("Size", self.size_row)
        form.addRow("Lanes differ in", self.field_box)
        form.addRow(self.checks_widget)  # the whole column's width: two columns of scheduler names
        form.addRow("Lanes", self.values_edit)
        form.addRow("Scheduler", self.scheduler_box)
        form.addRow("Steps", self.steps)
        form.addRow("Guidance", self.guidance)
        form.addRow("Seed", self.seed_field)
        self.rows = form

        self.field_box.currentIndexChanged.connect(self._field_changed)
        self.model_box.currentIndexChanged.connect(self._model_changed)
        self.refresh_models()
        self._field_changed()

    def row_shown(self, widget: QWidget) -> bool:
        return self.rows.isRowVisible(widget)

    # ---- models ----
    def refresh_models(self, include_hf_cache: bool = False) -> None:
        current = self.model_box.currentData()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_infos = {}
        for info in list_models(self.settings.model_folders, include_hf_cache=include_hf_cache, accept=races,
                                allow_pickle=self.settings.allow_pickle):
            self.model_infos[info.ref] = info
            self.model_box.addItem(info.label, info.ref)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(current)))
        self.model_box.blockSignals(False)
        if self.model_box.currentData() != current or not self.checks:
            self._model_changed()

    def current_model_info(self) -> ModelInfo | None:
        return self.model_infos.get(self.model_box.currentData() or "")

    def _model_changed(self, *_) -> None:
        """A model brings its schedulers and its recommended scheduler, steps and guidance."""
        info = self.current_model_info()
        pixel = info is None or info.family == PIXEL_FAMILY
        defaults = read_defaults(info.path, info.ref) if info is not None else {}
        self.guide_model = defaults.get("guide_model", "") if pixel else ""
        self.set_schedulers(PIXEL_SCHEDULERS if pixel else LATENT_SCHEDULERS)
        self.scheduler_box.setCurrentIndex(max(0, self.scheduler_box.findData(defaults.get("scheduler",
                                                                                           DEFAULT_SCHEDULER))))
        self.steps.setValue(defaults.get("steps", self.steps.value()))
        low, high = (MIN_AUTOGUIDANCE, MAX_AUTOGUIDANCE) if pixel else (0.0, 50.0)
        self.guidance.setRange(low, high)
        self.guidance.setValue(defaults.get("guidance_scale", 1.0) if pixel else 7.5)
        self.guidance.setToolTip(AUTOGUIDANCE_TIP if pixel else GUIDANCE_TIP)
        self.rows.labelForField(self.guidance).setText("Autoguidance" if pixel else "Guidance")
        self.rows.setRowVisible(self.prompt, not pixel)
        self.rows.setRowVisible(self.size_row, not pixel)

    def set_schedulers(self, names) -> None:
        """The scheduler check boxes for this kind of model; those checked before stay checked where they exist."""
        checked = self.checked_schedulers() or list(DEFAULT_LANES)
        current = self.scheduler_box.currentData()
        for box in self.checks.values():
            self.checks_grid.removeWidget(box)
            box.setParent(None)  # gone now, not at the next turn of the event loop
            box.deleteLater()
        self.checks = {}
        self.scheduler_box.clear()
        for i, name in enumerate(names):
            box = QCheckBox(SCHEDULERS[name].label)
            box.setToolTip(SCHEDULERS[name].note)
            box.setChecked(name in checked)
            self.checks_grid.addWidget(box, i // 2, i % 2)
            self.checks[name] = box
            self.scheduler_box.addItem(SCHEDULERS[name].label, name)
        self.scheduler_box.setCurrentIndex(max(0, self.scheduler_box.findData(current)))

    def checked_schedulers(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def _field_changed(self, *_) -> None:
        """The rows show what the lanes differ in (check boxes, or a list of values) instead of its single value."""
        field = self.field_box.currentData()
        self.rows.setRowVisible(self.checks_widget, field == "scheduler")
        self.rows.setRowVisible(self.values_edit, field != "scheduler")
        self.values_edit.setPlaceholderText(PLACEHOLDERS.get(field, ""))
        for name, widget in (("scheduler", self.scheduler_box), ("steps", self.steps),
                             ("guidance_scale", self.guidance)):
            self.rows.setRowVisible(widget, name != field)

    # ---- the race ----
    def lane_values(self, field: str) -> tuple:
        if field == "scheduler":
            return tuple(self.checked_schedulers())
        kind, what = (int, "whole numbers") if field == "steps" else (float, "numbers")
        text = self.values_edit.text()
        try:
            return tuple(kind(v.strip()) for v in text.replace(";", ",").split(",") if v.strip())
        except ValueError:
            raise JobError(f"The lanes' {FIELDS[field].lower()} must be {what} separated by commas, "
                           f"{PLACEHOLDERS[field]}; got '{text}'.") from None

    def current_race(self) -> RaceJob:
        info = self.current_model_info()
        if info is None:
            raise JobError("No model chosen: add a model folder (File → Add model folder…).")
        seed_text = self.seed_field.edit.text().strip()
        if not seed_text.isdigit():
            raise JobError(f"The seed must be a whole number from 0 to {MAX_SEED}; got '{seed_text}'.")
        fields = dict(model=info.ref, scheduler=self.scheduler_box.currentData(), steps=self.steps.value(),
                      seed=int(seed_text), batch_size=1, preview_every=1,
                      guidance_scale=round(self.guidance.value(), 2))
        if info.family == PIXEL_FAMILY:
            base = GenerateJob(guide_model=self.guide_model, **fields)
        else:
            base = Text2ImageJob(prompt=self.prompt.toPlainText().strip(), width=self.width_box.value(),
                                 height=self.height_box.value(), **fields)
        field = self.field_box.currentData()
        return RaceJob(base=base, field=field, values=self.lane_values(field))
