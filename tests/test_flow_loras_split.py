"""A Flux LoRA on Flux.1 loaded from the files artists keep (ComfyUI's diffusion-model, clip_l, t5xxl and ae files):
the pipeline built from them takes it as the folder's does, weight 0 gives the model's own image, and the VAE file
stays the model's part (never an add-on VAE)."""

from __future__ import annotations

import numpy as np

from ddpm_studio.engine.addons.resources import AddonFolders
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.test_split_flux import configs, flux  # noqa: F401  (fixtures: the tiny Flux's ComfyUI files)
from tests.tiny_flow_loras import save_flow_lora


def test_a_flux_lora_on_the_split_files(flux, configs, tmp_path):  # noqa: F811
    from diffusers import FluxTransformer2DModel

    transformer = FluxTransformer2DModel.from_pretrained(flux["folder"], subfolder="transformer", local_files_only=True)
    save_flow_lora(tmp_path / "loras" / "ink.safetensors", "flux", transformer, "comfy")
    engine = Engine(device="cpu", folders=AddonFolders(loras=[str(tmp_path / "loras")]))

    def job(**fields):
        return Text2ImageJob(model=str(flux["model"]), text_encoders=(str(flux["t5xxl"]), str(flux["clip_l"])),
                             vae=str(flux["vae"]), guidance_scale=3.5, prompt="a red fox in snow", steps=2, seed=3,
                             width=64, height=64, preview_every=0, **fields)

    base = engine.run(job(), save=False)
    styled = engine.run(job(loras=(("ink", 1.0),)), save=False)
    assert np.abs(styled.images.astype(int) - base.images).max() > 5
    assert [(name, weight) for name, weight, _ in styled.addons.loras] == [("ink", 1.0)]
    assert np.array_equal(engine.run(job(loras=(("ink", 0.0),)), save=False).images, base.images)
    assert engine._model.vae_slot is None  # the VAE file is the model's own part
