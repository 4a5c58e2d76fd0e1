"""Job descriptions: one frozen dataclass per task, validated, round-tripping through a plain dict.

The dict form is what goes into a PNG's JSON metadata chunk and what "restore parameters" reads back.
No torch here: the GUI builds jobs before torch is imported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ddpm_studio.engine.jobs.checks import (
    EDIT_MODES,
    MAX_AUTOGUIDANCE,
    MAX_BATCH,
    MAX_CLIP_SKIP,
    MAX_FEATHER,
    MAX_GUIDANCE,
    MAX_HIRES_SCALE,
    MAX_LORA_WEIGHT,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_AUTOGUIDANCE,
    MIN_HIRES_SCALE,
    MIN_SIDE,
    OUTPAINT_FILLS,
    PREDICTION_TYPES,
    SIDE_STEP,
    JobError,
    check_float,
    check_int,
)
from ddpm_studio.engine.jobs.control_fields import check_control_fields, control_a1111_fields
from ddpm_studio.engine.jobs.schedule_types import schedule_problem
from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, DEFAULT_STEPS, SCHEDULERS
from ddpm_studio.engine.jobs.sizes import hires_problem, hires_size


@dataclass(frozen=True, kw_only=True)
class Job:
    """What every sampling job has: a model, a scheduler, steps, seeds (image i uses seed + i), previews, output."""

    kind: ClassVar[str] = ""
    input_picture: ClassVar[str] = ""  # a job that starts from a picture, in words ("an edit"): no variation seeds

    model: str
    scheduler: str = DEFAULT_SCHEDULER
    schedule: str = ""  # the schedule type (jobs/schedule_types.py): "" automatic, the model's own spacing
    steps: int = DEFAULT_STEPS
    seed: int = 0
    batch_size: int = 4
    preview_every: int = 1  # 0 = no previews, 1 = every step, k = every k-th step (the last step always)
    output_dir: str = ""  # empty: the caller decides where (or nothing is saved)
    variation_seed: int = 0  # image i's x_T is slerped towards this seed + i's (engine/sampling/variation.py) …
    variation_strength: float = 0.0  # … this far: 0 (off) is the seed's picture, 1 the variation seed's

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise JobError("No model chosen: pick a model (a bundled one, a folder, or a cached hub id).")
        if self.scheduler not in SCHEDULERS:
            raise JobError(f"Unknown scheduler '{self.scheduler}'. Choose one of: {', '.join(SCHEDULERS)}.")
        if not isinstance(self.schedule, str) or schedule_problem(self.scheduler, self.schedule):
            raise JobError(schedule_problem(self.scheduler, self.schedule) if isinstance(self.schedule, str)
                           else "The schedule type must be a name (text).")
        check_int("steps", self.steps, 1, MAX_STEPS)
        check_int("seed", self.seed, 0, MAX_SEED)
        check_int("batch size", self.batch_size, 1, MAX_BATCH)
        check_int("preview interval", self.preview_every, 0, MAX_STEPS)
        check_int("variation seed", self.variation_seed, 0, MAX_SEED)
        check_float("variation strength", self.variation_strength, 0.0, 1.0)
        if self.variation_strength and self.input_picture:
            raise JobError("Variation seeds vary a picture made from noise (Generate, Text to Image); "
                           f"{self.input_picture} starts from its input picture.")
        if not isinstance(self.output_dir, str):
            raise JobError("The output folder must be a path string.")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise JobError("Job data must be a mapping.")
        kind = data.get("kind", cls.kind)
        if kind != cls.kind:
            raise JobError(f"This is a '{kind}' job, not a '{cls.kind}' job.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"kind"})
        if unknown:
            raise JobError(f"Unknown job field(s): {', '.join(unknown)}.")
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any):
        return dataclasses.replace(self, **changes)

    def a1111_fields(self) -> list[tuple[str, Any]]:
        """Extra ``key: value`` pairs for the A1111 parameters line (after Size and Model)."""
        return []


@dataclass(frozen=True, kw_only=True)
class GenerateJob(Job):
    """Unconditional sampling from a pixel-space DDPM (UNet2DModel + scheduler).

    ``guide_model`` and ``guidance_scale`` are autoguidance (engine/sampling/guidance.py): a weaker version of the model to steer
    away from, and how far; a scale of 1 is the model alone and leaves the guide unused.
    """

    kind: ClassVar[str] = "generate"

    guide_model: str = ""
    guidance_scale: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.guide_model, str):
            raise JobError("The guide model must be a model reference (text).")
        check_float("autoguidance scale", self.guidance_scale, MIN_AUTOGUIDANCE, MAX_AUTOGUIDANCE)
        if self.guidance_scale != 1.0 and not self.guide_model.strip():
            raise JobError("Autoguidance needs a guide model (a weaker version of this one); or set its scale to 1.")

    @property
    def guided(self) -> bool:
        return self.guidance_scale != 1.0 and bool(self.guide_model.strip())

    def a1111_fields(self) -> list[tuple[str, Any]]:
        return [("Autoguidance", self.guidance_scale), ("Guide model", self.guide_model)] if self.guided else []


@dataclass(frozen=True, kw_only=True)
class PromptJob(Job):
    """A job guided by a text prompt (classifier-free guidance)."""

    prompt: str = ""
    negative_prompt: str = ""
    guidance_scale: float = 7.5
    true_cfg_scale: float = 1.0  # Flux's true CFG with the negative prompt, besides its distilled guidance: 1 is off
    batch_size: int = 1
    full_decode_every: int = 0  # 0: linear latent previews only; k: the VAE decodes x0 every k-th step (slow)
    prediction_type: str = "auto"  # what the UNet predicts; only SD 2.x single files need it set by hand
    clip_skip: int = 1  # A1111's: which text-encoder layer the prompt is read from, counted from the last (1)
    loras: tuple[tuple[str, float], ...] = ()  # (a LoRA file's path or name, its weight), besides the prompt's tags
    vae: str = ""  # a VAE to decode with instead of the model's own: a .safetensors file or a diffusers VAE folder
    text_encoders: tuple[str, ...] = ()  # a flow family's diffusion-model file's text-encoder files (its VAE: vae)
    attention_maps: bool = False  # record per-word cross-attention maps at every step (engine/inspect/attention_maps.py)
    controlnets: tuple[tuple[str, float, float, float], ...] = ()  # (file/folder or name, weight, start, end)
    control_images: tuple[str, ...] = ()  # one control image per ControlNet, in order
    control_preprocess: tuple[str, ...] = ()  # per control image (engine/jobs/control_fields.py); missing: none
    canny_thresholds: tuple[int, int] = (100, 200)  # the canny preprocessor's low and high thresholds

    def __post_init__(self) -> None:
        for name in ("loras", "controlnets"):  # from a dict (JSON lists): tuples, so the job hashes
            value = getattr(self, name)
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(tuple(p) if isinstance(p, (list, tuple)) else p for p in value))
        for name in ("control_images", "control_preprocess", "canny_thresholds", "text_encoders"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if not isinstance(self.prompt, str) or not isinstance(self.negative_prompt, str):
            raise JobError("Prompts must be text.")
        from ddpm_studio.engine.prompts.syntax import PromptSyntaxError, check_weights, lora_tags

        try:
            check_weights(lora_tags(self.prompt)[0])
            negative, negative_tags = lora_tags(self.negative_prompt)
            check_weights(negative, "negative prompt")
        except PromptSyntaxError as exc:
            raise JobError(str(exc)) from None
        if negative_tags:
            raise JobError("A <lora:…> tag belongs in the prompt, not the negative prompt (for a LoRA that takes "
                           "something away, give it a negative weight).")
        if not isinstance(self.loras, tuple):
            raise JobError("The LoRAs must be a list of (file or name, weight) pairs.")
        for pair in self.loras:
            if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and pair[0].strip()):
                raise JobError(f"A LoRA must be given as (file or name, weight), not {pair!r}.")
            check_float(f"weight of the LoRA {pair[0]}", pair[1], -MAX_LORA_WEIGHT, MAX_LORA_WEIGHT)
        if not isinstance(self.vae, str):
            raise JobError("The VAE must be a path (text), or empty for the model's own.")
        if not isinstance(self.text_encoders, tuple) or not all(isinstance(p, str) and p for p in self.text_encoders):
            raise JobError("The text encoders must be a list of file paths.")
        check_control_fields(self)
        check_float("guidance scale", self.guidance_scale, 0.0, MAX_GUIDANCE)
        check_float("true CFG scale", self.true_cfg_scale, 1.0, MAX_GUIDANCE)
        check_int("full-decode interval", self.full_decode_every, 0, MAX_STEPS)
        if self.prediction_type not in PREDICTION_TYPES:
            raise JobError(f"Unknown prediction type '{self.prediction_type}'; choose one of: {', '.join(PREDICTION_TYPES)}.")
        check_int("clip skip", self.clip_skip, 1, MAX_CLIP_SKIP)

    def a1111_fields(self) -> list[tuple[str, Any]]:
        # a true CFG scale is Forge's "CFG scale" beside the distilled guidance (output/family_metadata.py)
        return ([("Clip skip", self.clip_skip)] if self.clip_skip != 1 else []) + control_a1111_fields(self)


def upscaler_name(ref: str) -> str:
    """A hires upscaler's name as A1111 writes it: a model upscaler file's stem (4x-UltraSharp), a folder's name."""
    path = Path(ref)
    return path.stem if path.suffix.lower() in (".safetensors", ".pth", ".pt") else path.name


HIRES_UPSCALERS = ("latent", "lanczos")


@dataclass(frozen=True, kw_only=True)
class Text2ImageJob(PromptJob):
    kind: ClassVar[str] = "txt2img"

    width: int = 512  # the picture's size; with a hires fix the first pass's, and the result is this × hires_scale
    height: int = 512
    hires_scale: float = 1.0  # A1111's hires fix (engine/upscale/hires_fix.py): 1 is off, 2 renders at twice the size …
    hires_upscaler: str = "latent"  # … from the first pass enlarged as latents, as a picture or by an upscaler …
    hires_strength: float = 0.5  # … then img2img at this denoising strength …
    hires_steps: int = 0  # … over this many steps (0: the job's steps), of which strength × steps run

    def validate(self) -> None:
        super().validate()
        for label, value in (("width", self.width), ("height", self.height)):
            check_int(label, value, MIN_SIDE, MAX_SIDE)
            if value % SIDE_STEP:
                raise JobError(f"The {label} must be a multiple of {SIDE_STEP} (the VAE works in {SIDE_STEP}×"
                               f"{SIDE_STEP} blocks); got {value}.")
        check_float("hires upscale", self.hires_scale, MIN_HIRES_SCALE, MAX_HIRES_SCALE)
        if not (isinstance(self.hires_upscaler, str) and self.hires_upscaler.strip()):  # or a diffusion upscaler
            raise JobError(f"The hires upscaler is {', '.join(HIRES_UPSCALERS)}, a 4× diffusion upscaler or an "
                           "upscaler model file (ESRGAN, …).")
        check_float("hires denoising strength", self.hires_strength, 0.0, 1.0)
        check_int("hires steps", self.hires_steps, 0, MAX_STEPS)
        if self.hires:
            if self.hires_strength == 0.0:
                raise JobError("A hires fix at denoising strength 0 would only enlarge the picture; use a value "
                               "above 0 (0.3–0.6 is usual).")
            problem = hires_problem(self.width, self.height, self.hires_scale)
            if problem:
                raise JobError(problem)
            if self.attention_maps:
                raise JobError("Attention maps are not recorded through a hires fix; turn one of them off.")

    @property
    def hires(self) -> bool:
        return self.hires_scale > 1.0

    def a1111_fields(self) -> list[tuple[str, Any]]:
        if not self.hires:
            return super().a1111_fields()
        return [("Denoising strength", self.hires_strength), *super().a1111_fields(),
                ("Hires upscale", f"{self.hires_scale:g}"), ("Hires steps", self.hires_steps or self.steps),
                ("Hires upscaler", self.hires_upscaler.capitalize() if self.hires_upscaler in HIRES_UPSCALERS
                 else upscaler_name(self.hires_upscaler))]

    @property
    def output_size(self) -> tuple[int, int]:
        """(width, height) of the result: with a hires fix the base size × the scale, down to multiples of 8."""
        if not self.hires:
            return self.width, self.height
        return hires_size(self.width, self.height, self.hires_scale)


@dataclass(frozen=True, kw_only=True)
class EditJob(PromptJob):
    """Change an image with a prompt: img2img (strength), inpaint (mask; white = repaint), instruct (InstructPix2Pix,
    or a flow model's instruction editing with its reference pictures), outpaint (the canvas grown by ``extend``
    pixels and the new area painted, engine/sampling/outpaint.py)."""

    kind: ClassVar[str] = "edit"
    input_picture: ClassVar[str] = "an edit"

    mode: str = "img2img"
    image: str = ""
    mask: str = ""
    strength: float = 0.75
    image_guidance_scale: float = 1.5
    extend: tuple[int, int, int, int] = (0, 0, 0, 0)  # outpaint: pixels added left, right, top, bottom
    outpaint_fill: str = "edge"  # what the new area starts as: the edge pixels stretched, or noise
    feather: int = 32  # pixels blended: outpaint, the seam's band into the picture; inpaint, the band around the mask
    references: tuple[str, ...] = ()  # instruct: reference pictures read after the one to edit (Klein, Qwen-Image-Edit)

    def __post_init__(self) -> None:
        for name in ("extend", "references"):  # from a dict (JSON)
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        super().__post_init__()

    def validate(self) -> None:
        super().validate()
        if self.mode not in EDIT_MODES:
            raise JobError(f"Unknown edit mode '{self.mode}'. Choose one of: {', '.join(EDIT_MODES)}.")
        if not self.image:
            raise JobError("An edit needs an input image.")
        if self.mode == "inpaint" and not self.mask:
            raise JobError("Inpainting needs a mask (white where the image should be repainted).")
        if not (isinstance(self.extend, tuple) and len(self.extend) == 4):
            raise JobError("Outpainting's extension is four numbers: left, right, top, bottom (pixels).")
        for side, amount in zip(("left", "right", "top", "bottom"), self.extend):
            check_int(f"extension at the {side}", amount, 0, MAX_SIDE)
        if self.mode == "outpaint" and not any(self.extend):
            raise JobError("Outpainting needs the canvas grown on at least one side (left, right, top, bottom).")
        if self.outpaint_fill not in OUTPAINT_FILLS:
            raise JobError(f"Unknown outpaint fill '{self.outpaint_fill}'. Choose one of: {', '.join(OUTPAINT_FILLS)}.")
        check_int("seam feather", self.feather, 0, MAX_FEATHER)
        check_float("strength", self.strength, 0.0, 1.0)
        if self.strength == 0.0 and self.mode != "instruct":
            raise JobError("A strength of 0 would change nothing; use a value above 0.")
        check_float("image guidance scale", self.image_guidance_scale, 0.0, MAX_GUIDANCE)
        if not isinstance(self.references, tuple) or not all(isinstance(p, str) and p for p in self.references):
            raise JobError("The reference pictures must be a list of file paths.")
        if self.references and self.mode != "instruct":
            raise JobError("Reference pictures are read by instruction editing (mode instruct) only.")

    def a1111_fields(self) -> list[tuple[str, Any]]:
        if self.mode == "instruct":  # (a flow model's: no image CFG, family_metadata.py leaves it out)
            names = ", ".join(Path(p).name for p in self.references)
            references = [("Reference images", names)] if names else []
            return [("Image CFG scale", self.image_guidance_scale), *references, *super().a1111_fields()]
        outpaint = [("Outpaint", ",".join(map(str, self.extend))),
                    ("Outpaint fill", self.outpaint_fill)] if self.mode == "outpaint" else []
        blur = [("Mask blur", self.feather)] if self.mode in ("outpaint", "inpaint") else []
        return [("Denoising strength", self.strength), *outpaint, *blur, *super().a1111_fields()]


def lora_tags_in(prompt: str) -> bool:
    from ddpm_studio.engine.prompts.syntax import lora_tags

    return bool(lora_tags(prompt)[1])
