"""A pixel-space DDPM pipeline folder loaded for sampling, the explorer and the trainer: its UNet2DModel and its
scheduler config, offline, safetensors unless the user allows pickle files (catalogue.check_weights_safe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ddpm_studio.engine.errors import ModelError, first_line
from ddpm_studio.engine.models.catalogue import PIXEL_FAMILY, ModelInfo, check_weights_safe, inspect_model, read_json
from ddpm_studio.engine.models.families import PICKLE_SUFFIXES


def require_pixel_ddpm(info: ModelInfo) -> None:
    if info.family == PIXEL_FAMILY:
        return
    what = info.class_name or "an unknown pipeline"
    if info.panel:
        raise ModelError(f"{info.path} holds a {what} ({info.family}); open it in the {info.panel} panel.")
    raise ModelError(f"{info.path} holds {what}, which DDPM Studio cannot sample from yet.")


@dataclass
class LoadedDDPM:
    info: ModelInfo
    unet: Any  # diffusers.UNet2DModel
    scheduler_config: dict[str, Any]


def load_ddpm(ref: str, device=None, dtype=None, allow_pickle: bool = False) -> LoadedDDPM:
    """Load the UNet2DModel and scheduler config of a pixel-space DDPM pipeline."""
    info = inspect_model(ref)
    require_pixel_ddpm(info)
    unet_dir = info.path / "unet"
    sched_file = info.path / "scheduler" / "scheduler_config.json"
    if not (unet_dir / "config.json").is_file():
        raise ModelError(f"{unet_dir} has no config.json: the pipeline's UNet is missing.")
    if not sched_file.is_file():
        raise ModelError(f"{sched_file} is missing: the pipeline has no scheduler config.")
    scheduler_config = read_json(sched_file)

    check_weights_safe(unet_dir, allow_pickle)
    weights = sorted(unet_dir.glob("*.safetensors"))
    pickles = [p for p in unet_dir.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if not weights and not pickles:
        raise ModelError(f"{unet_dir} has no weights file (diffusion_pytorch_model.safetensors).")

    from diffusers import UNet2DModel

    weight_file = weights[0] if weights else pickles[0]
    try:
        kwargs = {"dtype": dtype} if dtype is not None else {}
        unet = UNet2DModel.from_pretrained(unet_dir, use_safetensors=bool(weights), local_files_only=True, **kwargs)
    except Exception as exc:
        raise ModelError(f"Could not read the UNet weights in {weight_file}: {first_line(exc)}") from None
    unet.eval().requires_grad_(False)
    if device is not None:
        unet.to(device)
    return LoadedDDPM(info=info, unet=unet, scheduler_config=scheduler_config)
