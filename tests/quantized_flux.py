"""Shared by the float8 and GGUF tests: the tiny Flux.1 written as ComfyUI's files (tests/comfy_files.py) and
rewritten as fp8 (e4m3fn, e5m2, scaled with ComfyUI's older and newer key names), its dequantised reference, and
GGUF Q8_0 (tests/comfy_quantized.py); a run of the engine on one of them, watching the transformer inside."""

from __future__ import annotations

import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.comfy_files import flux_converter_for_tiny_widths, save_configs, save_flux_files
from tests.comfy_quantized import dequantised, save_float8, save_gguf
from tests.tiny_flux import save_tiny_flux

JOB = dict(prompt="a red fox in snow", steps=2, seed=3, width=64, height=64, guidance_scale=3.5)


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    from diffusers import FluxPipeline

    root = tmp_path_factory.mktemp("quantized-flux")
    folder = save_tiny_flux(root / "tiny-flux")
    pipe = FluxPipeline.from_pretrained(folder, local_files_only=True)
    save_configs(folder, root / "configs" / "flux.1-dev")
    files = save_flux_files(pipe, root / "ComfyUI")
    models = root / "ComfyUI" / "models"
    files["fp8"] = save_float8(files["model"], models / "diffusion_models" / "tiny-flux1-dev-fp8.safetensors")
    files["e5m2"] = save_float8(files["model"], models / "diffusion_models" / "tiny-flux1-dev-fp8_e5m2.safetensors",
                                dtype=torch.float8_e5m2)
    files["scaled"] = save_float8(files["model"], models / "diffusion_models" / "tiny-flux1-dev_fp8_scaled.safetensors",
                                  scaled=True)
    files["scaled_new"] = save_float8(files["model"], root / "tiny-flux1-dev_weight_scale.safetensors", scaled=True,
                                      new_names=True)
    files["reference"] = dequantised(files["scaled"], root / "tiny-flux1-dev-dequantised.safetensors")
    files["gguf"] = save_gguf(files["model"], models / "unet" / "tiny-flux1-dev-Q8_0.gguf")
    return dict(configs=root / "configs", root=root, **files)


@pytest.fixture()
def configs(flux, monkeypatch):
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    entry = SINGLE_FILE_LOADABLE_CLASSES["FluxTransformer2DModel"]
    monkeypatch.setitem(entry, "checkpoint_mapping_fn", flux_converter_for_tiny_widths(entry["checkpoint_mapping_fn"]))
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(flux["configs"]))
    return flux["configs"]


def _run(flux, model, engine=None, watch=None):
    """(the picture, the result's note, what ``watch`` saw of the transformer's parameters inside its forwards)."""
    seen = []

    def hook(module, args):
        if type(module).__name__ == "FluxTransformer2DModel":
            seen.append(watch(module))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook) if watch else None
    try:
        result = (engine or Engine(device="cpu")).run(
            Text2ImageJob(model=str(model), text_encoders=(str(flux["t5xxl"]), str(flux["clip_l"])),
                          vae=str(flux["vae"]), **JOB), save=False)
    finally:
        if handle is not None:
            handle.remove()
    return result.images.astype(int), result.note, seen


def _dtypes(module):
    return {p.dtype for p in module.parameters()}
