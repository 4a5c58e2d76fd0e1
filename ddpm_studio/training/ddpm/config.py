"""The pixel DDPM training recipe: one dataclass, saved next to the model (train_config.json), validated with plain
messages.

Defaults follow diffusers' examples/unconditional_image_generation/train_unconditional.py (AdamW β 0.95/0.999,
weight decay 1e-6, eps 1e-8, clip 1.0, cosine decay with warm-up, EMA with warm-up to 0.9999, 1000 linear betas),
sized for small folders on a CPU: 32 px, the 'small' UNet, batch 16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ddpm_studio.engine.jobs.checks import MAX_AUTOGUIDANCE, MIN_AUTOGUIDANCE
from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.training.config import MIXED_PRECISION, Recipe
from ddpm_studio.training.ddpm.presets import PRESETS


@dataclass
class TrainConfig(Recipe):
    kind = short_kind = "a pixel DDPM"  # its train_config.json has no "trainer" (Recipe.trainer "")

    data_dir: str
    output_dir: str
    base_model: str = ""  # a DDPM pipeline to fine-tune; empty: train `preset` from scratch
    preset: str = "small"
    resolution: int = 32
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    learning_rate: float = 1e-4
    lr_warmup_steps: int = 100
    adam_beta1: float = 0.95
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-6
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    use_ema: bool = True
    ema_max_decay: float = 0.9999
    ema_inv_gamma: float = 1.0
    ema_power: float = 0.75
    mixed_precision: str = "auto"
    chosen_precision: str = ""  # with "auto": what the run measured and trained in (no, bf16, fp16)
    checkpoint_every: int = 500
    checkpoints_total_limit: int = 3
    sample_every: int = 250
    sample_scheduler: str = "dpm++2m"
    sample_steps: int = 25
    num_samples: int = 16
    log_every: int = 10  # steps between loss read-backs (each one syncs the device)
    center_crop: bool = True
    random_flip: bool = True
    num_train_timesteps: int = 1000
    beta_schedule: str = "linear"
    prediction_type: str = "epsilon"
    seed: int = 0
    guide_step: int = 0  # keep the EMA model at this step as exported models' autoguidance guide; 0: none
    guide_scale: float = 2.0  # the autoguidance scale exported models then recommend

    @classmethod
    def starts_from(cls, recipe: dict[str, Any]) -> str:
        """A fine-tune's model, or "a new <preset> UNet"."""
        return str(recipe.get("base_model") or "") or f"a new {recipe.get('preset', 'small')} UNet"

    @staticmethod
    def default_guide_step(max_steps: int) -> int:
        """1/16 of the run, the guide's training time in Karras et al. 2024 (engine/sampling/guidance.py); 0 (none) for a run
        too short to have an earlier copy."""
        return max(1, max_steps // 16) if max_steps >= 2 else 0

    def __post_init__(self) -> None:
        if self.mixed_precision != "auto":  # a recipe that names its precision keeps no earlier measurement
            self.chosen_precision = ""

    def validate(self) -> None:
        positive = ["resolution", "batch_size", "gradient_accumulation_steps", "max_steps", "checkpoint_every",
                    "sample_every", "sample_steps", "num_samples", "log_every", "checkpoints_total_limit"]
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number ≥ 1; got {value!r}.")
        if not self.base_model and self.preset not in PRESETS:
            raise ValueError(f"Unknown UNet preset '{self.preset}'. Choose one of: {', '.join(PRESETS)}.")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed precision must be one of {', '.join(MIXED_PRECISION)}; got '{self.mixed_precision}'.")
        if self.sample_scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown sampling scheduler '{self.sample_scheduler}'.")
        if not 0 < self.learning_rate < 1:
            raise ValueError(f"The learning rate must be between 0 and 1; got {self.learning_rate}.")
        if self.prediction_type not in ("epsilon", "v_prediction", "sample"):
            raise ValueError(f"Unknown prediction type '{self.prediction_type}'.")
        step, scale = self.guide_step, self.guide_scale
        if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < self.max_steps:
            raise ValueError(f"The guide step must be from 0 (none) to below the {self.max_steps} steps; got {step!r}.")
        low, high = MIN_AUTOGUIDANCE, MAX_AUTOGUIDANCE
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not low <= scale <= high:
            raise ValueError(f"The guide scale must be between {low} and {high}; got {scale!r}.")
        if not self.data_dir or not self.output_dir:
            raise ValueError("Both a training folder and an output folder are needed.")
