"""The Train panel's rows for a pixel DDPM (``training.ddpm.config.TrainConfig``): where it starts from (a new UNet of a
preset size, or a DDPM the app lists, fine-tuned), EMA weights, how its sample grids are drawn, and the autoguidance
guide kept at 1/16 of the run. The rows the two trainers share stay the panel's."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from ddpm_studio.engine.jobs.checks import MAX_STEPS
from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_STEPS, PIXEL_SCHEDULERS
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.ddpm.presets import PRESETS
from ddpm_studio.ui.widgets.common import scheduler_combo
from ddpm_studio.ui.widgets.model_picker import ModelPicker

SCRATCH = "scratch:"


class DdpmTrainFields(QWidget):
    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.base_box = ModelPicker(settings, characters=16, label=lambda info: f"Fine-tune: {info.label}",
                                    leading=[(f"New model: {name} UNet", SCRATCH + name) for name in PRESETS],
                                    default=SCRATCH + "small")
        self.ema = QCheckBox("EMA weights (recommended)", checked=True)
        self.sample_scheduler = scheduler_combo(10, PIXEL_SCHEDULERS)
        self.sample_steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=DEFAULT_STEPS)
        self.sample_steps.setSuffix(" steps")
        self.sample_row = QWidget()
        row = QHBoxLayout(self.sample_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.sample_scheduler, 1)
        row.addWidget(self.sample_steps)
        for widget in (self.sample_scheduler, self.sample_steps):
            widget.setToolTip("How the sample grids are drawn; the exported model recommends the same to the "
                              "Generate panel")
        self.guide = QCheckBox("Keep an autoguidance guide", checked=True)
        self.guide.setToolTip(
            "Keep a copy of the model from 1/16 of the way through the run and export it with the model as its guide: "
            "the Generate panel then steers away from that weaker version (autoguidance, scale 2), which gives "
            "cleaner pictures; the model folder holds two UNets")
        self.widgets = (self.base_box, self.ema, self.sample_row, self.guide)

    def add_rows(self, form: QFormLayout, start_at: int, samples_after: QWidget) -> None:
        """"Start from" at row ``start_at``; EMA, "Sample with" and the guide under the row of ``samples_after``."""
        form.insertRow(start_at, "Start from", self.base_box)
        below = form.getWidgetPosition(samples_after)[0] + 1
        for offset, (label, widget) in enumerate((("", self.ema), ("Sample with", self.sample_row),
                                                  ("", self.guide))):
            form.insertRow(below + offset, label, widget)

    def set_shown(self, form: QFormLayout, shown: bool) -> None:
        for widget in self.widgets:
            form.setRowVisible(widget, shown)

    def refresh_models(self) -> None:
        self.base_box.refresh()

    def config(self, **shared) -> TrainConfig:
        base = self.base_box.currentData() or SCRATCH + "small"
        steps = shared["max_steps"]
        config = TrainConfig(
            base_model="" if base.startswith(SCRATCH) else base,
            preset=base[len(SCRATCH):] if base.startswith(SCRATCH) else "small",
            use_ema=self.ema.isChecked(),
            sample_scheduler=self.sample_scheduler.currentData(),
            sample_steps=self.sample_steps.value(),
            lr_warmup_steps=min(TrainConfig.lr_warmup_steps, steps // 10),  # a tenth of a short run
            guide_step=TrainConfig.default_guide_step(steps) if self.guide.isChecked() else 0,
            **shared,
        )
        config.validate()
        return config

    def apply(self, config: TrainConfig) -> None:
        index = self.base_box.findData(config.base_model or SCRATCH + config.preset)
        if index >= 0:
            self.base_box.setCurrentIndex(index)
        self.ema.setChecked(config.use_ema)
        self.sample_scheduler.setCurrentIndex(max(0, self.sample_scheduler.findData(config.sample_scheduler)))
        self.sample_steps.setValue(config.sample_steps)
        self.guide.setChecked(config.guide_step > 0)
