"""Tiny model upscalers for the tests, built with spandrel's own architecture classes (random weights) at sizes that
run in milliseconds, and saved as spandrel finds them in the wild: ESRGAN (RRDBNet, the old-arch key layout
spandrel's ESRGAN detection reads), SwinIR and DAT, as ``.safetensors`` or a weights-only ``.pth``."""

from __future__ import annotations

from pathlib import Path

import torch

from ddpm_studio.engine.models.upscaler_files import spandrel


def esrgan(scale: int = 4):
    spandrel()  # imported through the guard (no torchvision here)
    from spandrel.architectures.ESRGAN import ESRGAN

    return ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)


def swinir(scale: int = 2):
    spandrel()
    from spandrel.architectures.SwinIR import SwinIR

    return SwinIR(img_size=16, embed_dim=12, depths=[1], num_heads=[2], window_size=4, mlp_ratio=2.0, upscale=scale,
                  upsampler="pixelshuffle", resi_connection="1conv")


def dat(scale: int = 2):
    spandrel()
    from spandrel.architectures.DAT import DAT

    return DAT(img_size=16, embed_dim=16, split_size=[2, 4], depth=[1], num_heads=[2], expansion_factor=2.0,
               upscale=scale)


BUILDERS = {"esrgan": esrgan, "swinir": swinir, "dat": dat}


def save_upscaler(folder: Path, kind: str = "esrgan", scale: int = 4, suffix: str = ".safetensors", seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = BUILDERS[kind](scale)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{scale}x-tiny-{kind}{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({"params_ema": state}, path)  # as BasicSR (Real-ESRGAN, SwinIR) saves its EMA weights
    return path
