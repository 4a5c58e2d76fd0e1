"""SD 3.5 from a float8 file: Stability's checkpoint layout (the MMDiT behind ``model.diffusion_model.``, its VAE
inside as ``first_stage_model.``) rewritten in float8 generates close to the bf16 checkpoint, its transformer float8
while it does; and a GGUF of the MMDiT alone (diffusers' SD3 conversion of GGUF blocks) generates too."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.comfy_files import save_configs, save_sd3_files
from tests.comfy_quantized import save_float8, save_gguf
from tests.tiny_sd3 import save_tiny_sd3

JOB = dict(prompt="a lighthouse at dusk", steps=2, seed=5, width=64, height=64)


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    from diffusers import StableDiffusion3Pipeline

    root = tmp_path_factory.mktemp("quantized-sd3")
    folder = save_tiny_sd3(root / "tiny-sd3")
    pipe = StableDiffusion3Pipeline.from_pretrained(folder, local_files_only=True, text_encoder_3=None,
                                                    tokenizer_3=None)
    save_configs(folder, root / "configs" / "sd3.5-medium")
    files = save_sd3_files(pipe, root / "ComfyUI", checkpoint=True)
    checkpoints = root / "ComfyUI" / "models" / "checkpoints"
    files["fp8"] = save_float8(files["model"], checkpoints / "tiny-sd35-fp8.safetensors")
    split = save_sd3_files(pipe, root / "split")
    files["gguf"] = save_gguf(split["model"], root / "split" / "models" / "unet" / "tiny-sd35-Q8_0.gguf", arch="sd3")
    files["vae"] = split["vae"]
    return dict(configs=root / "configs", **files)


def _run(sd3, model, **extra):
    seen = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, args: seen.append({type(p).__name__ if type(p).__name__ == "GGUFParameter" else p.dtype
                                          for p in module.parameters()})
        if type(module).__name__ == "SD3Transformer2DModel" else None)
    try:
        result = Engine(device="cpu").run(Text2ImageJob(model=str(model), text_encoders=(str(sd3["clip_l"]),
                                                        str(sd3["clip_g"])), **extra, **JOB), save=False)
    finally:
        hook.remove()
    return result, seen


def test_a_float8_sd35_checkpoint_with_its_vae_inside_generates(sd3, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd3["configs"]))
    result, seen = _run(sd3, sd3["fp8"])
    assert seen and all(torch.float8_e4m3fn in kinds for kinds in seen)
    assert "weights kept as float8 e4m3fn in memory" in result.note
    plain, _ = _run(sd3, sd3["model"])
    difference = np.abs(result.images.astype(int) - plain.images.astype(int))
    assert 0 < difference.mean() < 8  # the tiny model rounded to float8 (and its VAE to bf16): the same picture


def test_a_gguf_sd35_mmdit_generates(sd3, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd3["configs"]))
    result, seen = _run(sd3, sd3["gguf"], vae=str(sd3["vae"]))
    assert seen and all("GGUFParameter" in kinds for kinds in seen)
    assert "weights kept as GGUF Q8_0 in memory" in result.note
    plain, _ = _run(sd3, sd3["model"])
    assert np.abs(result.images.astype(int) - plain.images.astype(int)).mean() < 2
