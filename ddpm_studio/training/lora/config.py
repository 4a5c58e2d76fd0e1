"""The LoRA training recipe: one dataclass, saved in the run (train_config.json, marked ``"trainer": "lora"`` so a
resume knows which trainer it is), validated with plain messages.

Defaults follow kohya's sd-scripts and diffusers' examples/text_to_image/train_text_to_image_lora.py where they agree
(rank 8 with alpha equal to it, AdamW 1e-4 with β 0.9/0.999, weight decay 1e-2, clip 1.0, constant learning rate,
no flip, no caption dropout), with aspect-ratio bucketing on, as kohya's users run it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.training.config import MIXED_PRECISION, Recipe
from ddpm_studio.training.lora.captions import DEFAULT_TEMPLATE, CaptionOptions

LORA_TRAINER = "lora"


@dataclass
class LoraTrainConfig(Recipe):
    what = "LoRA training"
    kind, short_kind = "a Stable Diffusion LoRA", "a LoRA"  # its runs, told by the "trainer" field below

    data_dir: str
    output_dir: str
    base_model: str  # a Text to Image model the app lists: a diffusers folder or a .safetensors checkpoint
    trainer: str = LORA_TRAINER
    name: str = ""  # the LoRA's name (its file, and <lora:NAME:w>); empty: the output folder's name
    rank: int = 8
    alpha: float = 8.0
    train_text_encoder: bool = False
    resolution: int = 512
    buckets: bool = True
    batch_size: int = 1
    gradient_accumulation_steps: int = 1
    max_steps: int = 1000
    learning_rate: float = 1e-4
    text_encoder_lr: float = 5e-5
    lr_warmup_steps: int = 0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    trigger: str = ""
    caption_template: str = DEFAULT_TEMPLATE
    caption_dropout: float = 0.0
    shuffle_tags: bool = False
    keep_tags: int = 0
    random_flip: bool = False
    min_snr_gamma: float = 0.0  # Hang et al. 2023's min-SNR-γ loss weighting; 5 is the paper's choice; 0: off
    noise_offset: float = 0.0  # added per channel to the noise (0.05–0.1 lets a LoRA learn very dark or light images)
    gradient_checkpointing: bool = False
    mixed_precision: str = "auto"
    chosen_precision: str = ""  # with "auto": what the run measured and trained in (no, bf16, fp16)
    checkpoint_every: int = 250
    checkpoints_total_limit: int = 3
    sample_every: int = 250
    validation_prompt: str = ""  # empty: the caption template with the trigger, else the first image's caption
    sample_scheduler: str = "dpm++2m"
    sample_steps: int = 20
    sample_guidance: float = 7.5
    log_every: int = 10
    seed: int = 0

    @property
    def captions(self) -> CaptionOptions:
        return CaptionOptions(self.caption_template, self.trigger, self.caption_dropout, self.shuffle_tags,
                              self.keep_tags)

    @property
    def lora_name(self) -> str:
        return self.name.strip() or Path(self.output_dir).expanduser().resolve().name or "lora"

    def __post_init__(self) -> None:
        if self.mixed_precision != "auto":  # a recipe that names its precision keeps no earlier measurement
            self.chosen_precision = ""

    def validate(self) -> None:
        positive = ["rank", "resolution", "batch_size", "gradient_accumulation_steps", "max_steps", "checkpoint_every",
                    "checkpoints_total_limit", "sample_every", "sample_steps", "log_every"]
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be a whole number ≥ 1; got {value!r}.")
        if self.resolution % 8:
            raise ValueError(f"The resolution must be a multiple of 8 (the VAE's factor); got {self.resolution}.")
        if not self.base_model:
            raise ValueError("A LoRA is trained for a Stable Diffusion model: choose a Text to Image model as its base "
                             "(--base) first.")
        if not self.data_dir or not self.output_dir:
            raise ValueError("Both a training folder and an output folder are needed.")
        if self.trainer != LORA_TRAINER:
            raise ValueError(f"This recipe is for the '{self.trainer}' trainer, not the LoRA one.")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed precision must be one of {', '.join(MIXED_PRECISION)}; "
                             f"got '{self.mixed_precision}'.")
        if self.sample_scheduler not in SCHEDULERS:
            raise ValueError(f"Unknown sampling scheduler '{self.sample_scheduler}'.")
        for name in ("learning_rate", "text_encoder_lr"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"The {name.replace('_', ' ')} must be between 0 and 1; got {getattr(self, name)}.")
        if not self.alpha > 0:
            raise ValueError(f"The LoRA alpha must be above 0 (usually the rank); got {self.alpha}.")
        if not 0 <= self.caption_dropout < 1:
            raise ValueError(f"Caption dropout is a chance from 0 to below 1; got {self.caption_dropout}.")
        if self.min_snr_gamma < 0 or self.noise_offset < 0 or self.keep_tags < 0:
            raise ValueError("Min-SNR γ, the noise offset and the kept tags cannot be negative.")
        if any(c in self.lora_name for c in '/\\:<>"|?*'):
            raise ValueError(f"The LoRA's name '{self.lora_name}' cannot hold / \\ : < > \" | ? *.")


def is_lora_run(config_file: str | Path) -> bool:
    """Whether a run's train_config.json is a LoRA recipe."""
    try:
        return json.loads(Path(config_file).read_text(encoding="utf-8")).get("trainer") == LORA_TRAINER
    except (OSError, ValueError, AttributeError):
        return False
