"""Form rows shared by the prompt-driven panels: prompt, negative prompt, guidance scale, a true CFG scale (shown only
for models whose family takes one: Flux.1), the prediction type (shown only for models that need it chosen: SD 2.x
single files), clip skip and per-word attention maps."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QPlainTextEdit, QSpinBox

from ddpm_studio.engine.jobs.checks import MAX_CLIP_SKIP, MAX_GUIDANCE, PREDICTION_TYPES
from ddpm_studio.ui.widgets.common import narrow_combo

PREDICTION_LABELS = {"auto": "Auto (detect)", "epsilon": "ε (noise)", "v_prediction": "v"}
PREDICTION_TIP = (
    "What this SD 2.x checkpoint's UNet predicts; the file does not say. Auto reads a .yaml of the same name beside "
    "it (A1111's convention), else tests the UNet: the 768 px models are v, the 512 px base and inpainting models ε. "
    "Images of noise or flat colour mean the other choice."
)


CLIP_SKIP_TIP = (
    "Which layer of the text encoder the prompt is read from, counted from the last, as A1111's Clip skip: 1 is the "
    "last layer; 2 the one before, which many anime-style SD 1.x models were trained with"
)

TRUE_CFG_TIP = (
    "True classifier-free guidance with the negative prompt, besides the model's distilled guidance (Forge's CFG "
    "scale beside its Distilled CFG Scale): 1 is off; above 1 the negative prompt is used and each step runs the model "
    "twice"
)

ATTENTION_TIP = (
    "Record where each word of the prompt is looked at, step by step (DAAM: the UNet's cross-attention per word). "
    "Pick a word above the predicted x0 to see its map over the picture, at the step you scrub to. "
    "Costs a little time per step."
)


class PromptFields:
    """``clip_skip`` False (the upscalers, which read their prompt one way only) hides clip skip and attention maps."""

    def __init__(self, form: QFormLayout, clip_skip: bool = True,
                 placeholder: str = "What to make: a lighthouse on a cliff at dusk, oil painting") -> None:
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText(placeholder)
        self.prompt.setMaximumHeight(70)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (optional)")
        self.negative.setMaximumHeight(44)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=MAX_GUIDANCE, value=7.5, singleStep=0.5, decimals=1)
        self.guidance.setToolTip("Classifier-free guidance: higher follows the prompt more closely")
        self.prediction = narrow_combo(12)
        for key in PREDICTION_TYPES:
            self.prediction.addItem(PREDICTION_LABELS[key], key)
        self.prediction.setToolTip(PREDICTION_TIP)
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative)
        form.addRow("Guidance", self.guidance)
        self.true_cfg = QDoubleSpinBox(minimum=1.0, maximum=MAX_GUIDANCE, value=1.0, singleStep=0.5, decimals=1)
        self.true_cfg.setToolTip(TRUE_CFG_TIP)
        form.addRow("True CFG", self.true_cfg)
        form.addRow("Prediction", self.prediction)
        self.clip_skip = QSpinBox(minimum=1, maximum=MAX_CLIP_SKIP, value=1)
        self.clip_skip.setToolTip(CLIP_SKIP_TIP)
        form.addRow("Clip skip", self.clip_skip)
        form.setRowVisible(self.clip_skip, clip_skip)  # the upscalers read their prompt one way only
        self.attention_maps = QCheckBox("Attention maps")
        self.attention_maps.setToolTip(ATTENTION_TIP)
        form.addRow("", self.attention_maps)
        form.setRowVisible(self.attention_maps, clip_skip)  # nor do they record attention maps
        self.form = form
        self.show_prediction(False)
        self.show_true_cfg(False)

    def show_prediction(self, shown: bool) -> None:
        self.form.setRowVisible(self.prediction, shown)

    def show_attention_maps(self, shown: bool, family: str = "") -> None:
        """For a model whose family's attention the maps can read. For another ``family`` the row stays, disabled,
        saying they are not available there; with no family named it is hidden. Either way the job records none."""
        self.form.setRowVisible(self.attention_maps, shown or bool(family))
        self.attention_maps.setEnabled(shown)
        self.attention_maps.setText("Attention maps" if shown else f"Attention maps: not available for {family} yet")
        self.attention_maps.setToolTip(ATTENTION_TIP if shown else
                                       f"{family}'s transformer joins text and image in one attention, which the "
                                       "maps (recorded from the UNet's cross-attention) cannot read yet.")

    def show_clip_skip(self, shown: bool) -> None:
        """Only for a model whose prompt CLIP encoders read (not Flux's, whose CLIP gives only its pooled text);
        hidden, the job reads the last layer."""
        self.form.setRowVisible(self.clip_skip, shown)

    def show_true_cfg(self, shown: bool) -> None:
        """Only for a model whose family takes a true CFG scale besides its distilled guidance (Flux.1); hidden, the
        job's is 1 (off)."""
        self.form.setRowVisible(self.true_cfg, shown)

    def show_negative(self, shown: bool, cfg_above: float = 1.0) -> None:
        """Only for a model whose family takes a negative prompt (Flux's distilled guidance does not); hidden, the
        job has none. A family whose CFG starts at another guidance than SD's 1 (Z-Image's 0) says where."""
        self.form.setRowVisible(self.negative, shown)
        self.negative.setPlaceholderText("What to avoid (optional)" if cfg_above == 1.0 else
                                         f"What to avoid (optional): read at guidance above {cfg_above:g}")

    def values(self) -> dict:
        negative = self.negative.toPlainText().strip() if self.form.isRowVisible(self.negative) else ""
        prediction = self.prediction.currentData() if self.form.isRowVisible(self.prediction) else "auto"
        clip_skip = self.clip_skip.value() if self.form.isRowVisible(self.clip_skip) else 1
        maps = self.attention_maps.isChecked() and self.attention_maps.isEnabled() and \
            self.form.isRowVisible(self.attention_maps)
        true_cfg = round(self.true_cfg.value(), 2) if self.form.isRowVisible(self.true_cfg) else 1.0
        return dict(prompt=self.prompt.toPlainText().strip(), negative_prompt=negative,
                    guidance_scale=round(self.guidance.value(), 2), true_cfg_scale=true_cfg,
                    prediction_type=prediction, clip_skip=clip_skip, attention_maps=maps)

    def apply(self, job) -> None:
        self.prompt.setPlainText(job.prompt)
        self.negative.setPlainText(job.negative_prompt)
        self.guidance.setValue(job.guidance_scale)
        self.true_cfg.setValue(job.true_cfg_scale)
        self.prediction.setCurrentIndex(max(0, self.prediction.findData(job.prediction_type)))
        self.clip_skip.setValue(job.clip_skip)
        self.attention_maps.setChecked(job.attention_maps)
