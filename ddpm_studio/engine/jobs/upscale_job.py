"""The Upscale panel's job: a picture made larger by a model upscaler (ESRGAN, …) or Lanczos, a diffusion upscaler (SD
x4, LDM 4×), and optionally redrawn tile by tile with img2img; its limits. The other jobs and the fields they share
are in types.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ddpm_studio.engine.jobs.checks import JobError, check_float, check_int
from ddpm_studio.engine.jobs.types import PromptJob, lora_tags_in, upscaler_name

MIN_REDRAW_TILE, MAX_REDRAW_TILE = 64, 2048


def _is_upscaler_file(ref: str) -> bool:
    return Path(ref).suffix.lower() in (".safetensors", ".pth", ".pt")


MAX_NOISE_LEVEL = 350  # the SD x4 upscaler's max_noise_level
MIN_TILE, MAX_TILE = 32, 1024
UPSCALE_FACTOR = 4
MIN_UPSCALE_INPUT = 16  # pixels a side of the picture to upscale


def upscale_input_problem(width: int, height: int) -> str | None:
    """Why a ``width`` × ``height`` picture cannot be upscaled, in a few words; None when it can."""
    if min(width, height) < MIN_UPSCALE_INPUT:
        return f"upscaling needs at least {MIN_UPSCALE_INPUT} px a side"
    return None


@dataclass(frozen=True, kw_only=True)
class UpscaleJob(PromptJob):
    """Super-resolution of one image: a model upscaler file (ESRGAN, …: its own factor) or Lanczos, the SD x4
    upscaler (prompt, noise level, guidance) or LDM 4× (no prompt).

    ``tile`` (input pixels, 0 = automatic) splits a large input into overlapping tiles, blended with feathered edges.
    ``redraw`` (after a model upscaler or Lanczos) redraws the result tile by tile with img2img of that model.
    """

    kind: ClassVar[str] = "upscale"
    input_picture: ClassVar[str] = "an upscale"

    image: str = ""
    noise_level: int = 20
    guidance_scale: float = 9.0
    tile: int = 0
    overlap: int = 16
    redraw: str = ""  # a model upscaler's result redrawn tile by tile with img2img of this model (upscale/redraw.py) …
    strength: float = 0.3  # … at this denoising strength …
    redraw_tile: int = 512  # … in tiles of this many output pixels a side

    def validate(self) -> None:
        super().validate()
        if not self.image:
            raise JobError("An upscale needs an input image.")
        if self.prediction_type != "auto":  # inherited from PromptJob; the upscalers' own configs say what they predict
            raise JobError("The upscalers use the prediction type from their own config; leave it on 'auto'.")
        if self.clip_skip != 1:
            raise JobError("The upscalers read the prompt from their text encoder's last layer; leave clip skip at 1.")
        if self.loras or self.vae or lora_tags_in(self.prompt):
            raise JobError("LoRAs and VAE overrides are for Text to Image and Edit; the upscalers take neither.")
        if self.attention_maps:
            raise JobError("Attention maps are for Text to Image and Edit, not the upscalers.")
        if self.batch_size != 1:
            raise JobError("Upscaling makes one image per run; run it again with another seed for another.")
        check_int("noise level", self.noise_level, 0, MAX_NOISE_LEVEL)
        if self.tile:
            check_int("tile size", self.tile, MIN_TILE, MAX_TILE)
        check_int("tile overlap", self.overlap, 0, MAX_TILE)
        if self.tile and self.overlap * 2 > self.tile:
            raise JobError(f"The tile overlap ({self.overlap}) must be at most half the tile size ({self.tile}).")
        if self.redraw:
            if not _is_upscaler_file(self.model) and self.model != "lanczos":
                raise JobError("A redraw follows a model upscaler (ESRGAN, …) or Lanczos, not a diffusion upscaler.")
            check_float("redraw strength", self.strength, 0.01, 1.0)
            check_int("redraw tile", self.redraw_tile, MIN_REDRAW_TILE, MAX_REDRAW_TILE)

    def a1111_fields(self) -> list[tuple[str, Any]]:
        if _is_upscaler_file(self.model) or self.model == "lanczos":  # no noise level, the
            fields: list[tuple[str, Any]] = []  # factor written by output/family_metadata.py (a model upscaler's)
        else:
            fields = [("Noise level", self.noise_level), ("Upscale", "4x")]
        if self.redraw:  # Ultimate SD Upscale's way: the model's name, its strength and tile
            fields += [("Denoising strength", self.strength), ("Redraw model", upscaler_name(self.redraw)),
                       ("Redraw tile", self.redraw_tile)]
        if self.tile:
            fields += [("Tile", self.tile), ("Tile overlap", self.overlap)]
        return fields
