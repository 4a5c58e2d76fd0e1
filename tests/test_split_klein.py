"""Flux.2 Klein from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: a
diffusion-model file in BFL's layout (flux-2-klein-4b.safetensors, bare or behind ``model.diffusion_model.``), a Qwen3
text encoder as ComfyUI's qwen_3_4b.safetensors keeps it, and BFL's flux2-vae.safetensors (its LDM-style layout and
batch norm, which diffusers cannot read from one file: engine/models/vae_files.py converts it), paired from a models
home by kind, width and latent channels; the picture is the tiny diffusers folder's. The files are written by
tests/comfy_qwen3.py and load through the folder's configs under the name of the shipped one they stand in for."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, folder_models, inspect_model
from ddpm_studio.engine.models.home import models_home
from ddpm_studio.engine.models.pairing import pair_in_home, split_facts
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.comfy_files import header_only_file, save_configs, save_vae
from tests.comfy_qwen3 import klein_to_original, save_klein_files
from tests.tiny_klein import save_tiny_klein


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    from diffusers import Flux2KleinPipeline
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("split-klein")
    folder = save_tiny_klein(root / "tiny-klein")
    pipe = Flux2KleinPipeline.from_pretrained(folder, local_files_only=True)
    save_configs(folder, root / "configs" / "flux.2-klein-4b")
    files = save_klein_files(pipe, root / "ComfyUI")
    save_vae(_flux1_vae(), root / "ComfyUI" / "models" / "vae" / "ae.safetensors")
    comfy = root / "ComfyUI-prefixed" / "flux-2-klein-4b.safetensors"  # ComfyUI's own prefix on the same tensors
    comfy.parent.mkdir()
    state = klein_to_original({k: v.detach().clone() for k, v in pipe.transformer.state_dict().items()})
    save_file({f"model.diffusion_model.{k}": v.contiguous() for k, v in state.items()}, str(comfy))
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", prefixed=comfy, **files)


def _flux1_vae():
    """A 16-channel VAE (Flux.1's kind) beside Klein's 32-channel one: never paired with it."""
    from tests.tiny_zimage import tiny_zimage_pipeline

    return tiny_zimage_pipeline().vae


@pytest.fixture()
def configs(klein, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(klein["configs"]))
    return klein["configs"]


JOB = dict(prompt="a red fox in snow", steps=2, seed=3, width=64, height=64, preview_every=1, scheduler="euler",
           guidance_scale=1.0)


@pytest.mark.parametrize("which", ["model", "prefixed"])
def test_split_files_generate_what_the_folder_does(klein, configs, empty_cache, which):
    engine = Engine(device="cpu")
    info = inspect_model(str(klein[which]))
    assert info.split and info.arch == "klein" and "flux.2-klein-4b" in info.class_name
    assert info.flavour == "distilled"  # its folder's model_index.json says is_distilled
    events = []
    job = Text2ImageJob(model=str(klein[which]), text_encoders=(str(klein["qwen3"]),), vae=str(klein["vae"]), **JOB)
    split = engine.run(job, on_step=events.append, save=False)
    assert not (empty_cache.is_dir() and any(empty_cache.iterdir()))  # nothing fetched or written there
    assert engine._model.pipe.config.is_distilled  # the setting its index gives the pipeline
    folder = engine.run(Text2ImageJob(model=str(klein["folder"]), **JOB), save=False)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_the_flux2_vae_file_loads_whole_with_its_batch_norm(klein):
    import torch
    from diffusers import AutoencoderKLFlux2

    from ddpm_studio.engine.models.vae_files import load_flux2_vae

    vae = load_flux2_vae(klein["vae"], klein["folder"] / "vae", torch.float32)
    own = AutoencoderKLFlux2.from_pretrained(klein["folder"], subfolder="vae", local_files_only=True)
    mine, theirs = vae.state_dict(), own.state_dict()
    assert sorted(mine) == sorted(theirs)
    assert all(torch.equal(mine[k].float(), theirs[k].float()) for k in theirs if k != "bn.num_batches_tracked")
    with pytest.raises(ModelError, match="qwen_3_4b.safetensors holds no VAE"):
        load_flux2_vae(klein["qwen3"], klein["folder"] / "vae", torch.float32)


def test_the_models_home_pairs_qwen3_and_the_32_channel_vae(klein, configs):
    pairing = pair_in_home(klein["model"], models_home(klein["home"]))
    assert pairing.complete
    assert [Path(p).name for p in pairing.text_encoders] == ["qwen_3_4b.safetensors"]
    assert Path(pairing.vae).name == "flux2-vae.safetensors"  # not Flux.1's 16-channel ae.safetensors
    listed = folder_models(str(klein["home"] / "models" / "diffusion_models"))
    assert [(i.name, i.arch, i.flavour) for i in listed] == [("tiny-flux-2-klein-4b", "klein", "distilled")]
    assert folder_models(str(klein["home"] / "models" / "vae")) == []  # a VAE is no model


def test_a_missing_file_is_named(klein, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    for kind in ("diffusion_models", "text_encoders", "vae"):
        (home / kind).mkdir(parents=True)
    model = Path(shutil.copy(klein["model"], home / "diffusion_models"))
    shutil.copy(klein["qwen3"], home / "text_encoders")
    assert pair_in_home(model, models_home(home)).missing == ("a VAE (32 latent channels)",)
    with pytest.raises(ModelError, match=r"tiny-flux-2-klein-4b.safetensors \(Flux.2 Klein diffusion model\) needs "
                                         r"its Qwen3 text encoder \(a qwen_3 file, 16 wide\) and a VAE"):
        Engine(device="cpu").run(Text2ImageJob(model=str(model), **JOB), save=False)
    with pytest.raises(ModelError, match=r"ae.safetensors holds a 16-channel VAE; Flux.2 Klein models need a "
                                         r"32-channel one"):
        Engine(device="cpu").run(Text2ImageJob(model=str(model), text_encoders=(str(klein["qwen3"]),),
                                               vae=str(klein["home"] / "models" / "vae" / "ae.safetensors"), **JOB),
                                 save=False)


def test_the_cli_pairs_from_the_models_home(klein, configs, tmp_path, empty_cache):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", "tiny-flux-2-klein-4b", "--models-home", str(klein["home"]), "--prompt",
                 "a fox", "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert [Path(p).name for p in job.text_encoders] == ["qwen_3_4b.safetensors"]
    assert Path(job.vae).name == "flux2-vae.safetensors"


def test_the_cli_takes_the_files_by_flag(klein, configs, tmp_path, empty_cache):
    from ddpm_studio.cli import main

    model = shutil.copy(klein["model"], tmp_path / "elsewhere.safetensors")
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(klein["qwen3"]), "--vae", str(klein["vae"]),
                 "--prompt", "a fox", "--steps", "2", "--size", "64x64", "--out", str(tmp_path / "out"),
                 "--device", "cpu"])
    assert code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 1


def test_klein_is_told_from_flux1_flux2_dev_and_z_image(klein, tmp_path):
    from safetensors import safe_open

    with safe_open(str(klein["model"]), framework="pt") as f:
        own = list(f.keys())
    assert (split_facts(header_only_file(tmp_path / "k.safetensors", own)).family,
            split_facts(header_only_file(tmp_path / "k.safetensors", own)).config) == ("klein", "flux.2-klein-4b")
    nine = header_only_file(tmp_path / "k9.safetensors", [*own, "double_blocks.5.img_attn.qkv.weight"])
    assert split_facts(nine).config == "flux.2-klein-9b"
    flux1 = ["double_blocks.0.img_attn.norm.key_norm.scale", "vector_in.in_layer.weight"]
    assert split_facts(header_only_file(tmp_path / "flux1.safetensors", flux1)).family == "flux"  # Flux.1 stays Flux.1
    assert "vector_in.in_layer.weight" not in own  # and Klein has no pooled text in: never Flux.1
    dev = header_only_file(tmp_path / "flux2-dev.safetensors", [*own, "guidance_in.in_layer.weight"])
    with pytest.raises(ModelError, match="not a diffusion-model file of a family"):
        split_facts(dev)  # Flux.2 dev (its guidance embedding) is not Klein
    zimage = ["layers.0.adaLN_modulation.0.weight", "context_refiner.0.attention.qkv.weight"]
    assert split_facts(header_only_file(tmp_path / "z.safetensors", zimage)).family == "zimage"


def test_the_real_path_uses_the_shipped_config_folder(klein):
    from ddpm_studio.engine.models.single_file import config_folder

    assert "DDPM_STUDIO_CONFIGS" not in os.environ
    facts = split_facts(klein["model"])
    assert (facts.family, facts.config) == ("klein", "flux.2-klein-4b")
    index = json.loads((config_folder(facts.config) / "model_index.json").read_text())
    assert index["is_distilled"] and index["vae"] == ["diffusers", "AutoencoderKLFlux2"]
