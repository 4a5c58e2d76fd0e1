"""The Train panel's rows for a Stable Diffusion LoRA (``training.lora_config``): the base model (any Text to Image
model the app lists), the trigger word and caption template, rank and alpha, the text encoder, buckets, and the
validation prompt. The rows the two trainers share (folder, resolution, steps, …) stay the panel's."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget

from ddpm_studio.training.lora.captions import DEFAULT_TEMPLATE, CaptionOptions
from ddpm_studio.training.lora.config import LoraTrainConfig
from ddpm_studio.ui.train.lora_options import LoraTrainOptions
from ddpm_studio.ui.widgets.model_picker import ModelPicker


class LoraTrainFields(QWidget):
    captions_changed = Signal()  # the trigger or template changed: the captions shown change with them

    def __init__(self, settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.base_box = ModelPicker(settings, lambda info: "txt2img" in info.modes, characters=16)
        self.base_box.setToolTip("The Stable Diffusion model the LoRA is for; it is used with that model's family")
        self.trigger = QLineEdit()
        self.trigger.setPlaceholderText("e.g. zqx_style")
        self.trigger.setToolTip("A rare word that calls the LoRA up: put in front of every caption, and in the "
                                "template of pictures without a caption file")
        self.template = QLineEdit(DEFAULT_TEMPLATE)
        self.template.setToolTip("The caption of pictures without a .txt file; {trigger} is the trigger word")
        self.rank = QSpinBox(minimum=1, maximum=256, value=8)
        self.rank.setToolTip("The LoRA's rank: how much it can hold (4–32 are usual; the file grows with it)")
        self.alpha = QDoubleSpinBox(minimum=0.5, maximum=256.0, value=8.0, decimals=1)
        self.alpha.setToolTip("Scales the LoRA by alpha/rank; equal to the rank is the usual choice")
        self.text_encoder = QCheckBox("Train the text encoder too")
        self.text_encoder.setToolTip("LoRA layers in the text encoder(s) as well: learns new words faster, "
                                     "overfits sooner")
        self.buckets = QCheckBox("Aspect-ratio buckets", checked=True)
        self.buckets.setToolTip("Train each picture at the size nearest its shape instead of a square crop")
        self.validation = QLineEdit()
        self.validation.setPlaceholderText("default: the caption template")
        self.validation.setToolTip("Validation pictures, from a fixed seed, are drawn from this prompt without "
                                   "and with the LoRA")
        self.rank_row = QWidget()
        row = QHBoxLayout(self.rank_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.rank, 1)
        row.addWidget(QLabel("alpha"))
        row.addWidget(self.alpha, 1)
        self.options = LoraTrainOptions()
        self.rows = [("Base model", self.base_box), ("Trigger word", self.trigger), ("Caption template", self.template),
                     ("Rank", self.rank_row), ("", self.text_encoder), ("", self.buckets),
                     ("Validation prompt", self.validation), ("", self.options.toggle)]
        self.trigger.textChanged.connect(self.captions_changed)
        self.template.textChanged.connect(self.captions_changed)

    def add_rows(self, form: QFormLayout, at: int) -> None:
        for offset, (label, widget) in enumerate(self.rows + self.options.rows):
            form.insertRow(at + offset, label, widget)
        self.form = form
        self.options.toggle.toggled.connect(lambda: self.set_shown(form, form.isRowVisible(self.base_box)))

    def set_shown(self, form: QFormLayout, shown: bool) -> None:
        for _, widget in self.rows:
            form.setRowVisible(widget, shown)
        for _, widget in self.options.rows:
            form.setRowVisible(widget, shown and self.options.toggle.isChecked())

    def refresh_models(self) -> None:
        self.base_box.refresh()

    @property
    def infos(self) -> dict:
        """ref → info of each base model listed."""
        return self.base_box.infos

    def native_side(self) -> int:
        """The resolution the chosen base model was trained at (512 when it does not say)."""
        from ddpm_studio.engine.models.families import family_of_info

        info = self.infos.get(self.base_box.currentData() or "")
        family = family_of_info(info) if info is not None else None
        return family.train_side if family is not None else 512

    @property
    def captions(self) -> CaptionOptions:
        return CaptionOptions(template=self.template.text().strip() or DEFAULT_TEMPLATE, trigger=self.trigger.text())

    def config(self, **shared) -> LoraTrainConfig:
        config = LoraTrainConfig(
            base_model=self.base_box.currentData() or "", rank=self.rank.value(), alpha=self.alpha.value(),
            trigger=self.trigger.text().strip(), caption_template=self.template.text().strip() or DEFAULT_TEMPLATE,
            train_text_encoder=self.text_encoder.isChecked(), buckets=self.buckets.isChecked(),
            validation_prompt=self.validation.text().strip(), **self.options.values(), **shared)
        config.validate()
        return config

    def apply(self, config: LoraTrainConfig) -> None:
        index = self.base_box.findData(config.base_model)
        if index >= 0:
            self.base_box.setCurrentIndex(index)
        self.trigger.setText(config.trigger)
        self.template.setText(config.caption_template)
        self.rank.setValue(config.rank)
        self.alpha.setValue(config.alpha)
        self.text_encoder.setChecked(config.train_text_encoder)
        self.buckets.setChecked(config.buckets)
        self.validation.setText(config.validation_prompt)
        self.options.apply(config)
