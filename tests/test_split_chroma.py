"""Chroma from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: a diffusion-model
file in lodestones' layout (with or without ``model.diffusion_model.``), t5xxl_fp16 and ae.safetensors, paired from a
models home by kind, width and name, generating what the tiny diffusers folder does; a Chroma file never taken for
Flux.1 nor a Flux.1 file for Chroma; a missing T5 named (Chroma reads the prompt with T5 alone).

diffusers' Chroma converter, like its Flux one, assumes Flux.1's widths for the single blocks' fused weights; for the
tiny model tests/comfy_files.flux_converter_for_tiny_widths pads them to those widths around it."""

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
from tests.comfy_chroma import save_chroma_files
from tests.comfy_files import flux_converter_for_tiny_widths, header_only_file, save_configs, save_vae
from tests.tiny_chroma import save_tiny_chroma


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    from diffusers import ChromaPipeline

    root = tmp_path_factory.mktemp("split-chroma")
    folder = save_tiny_chroma(root / "tiny-chroma")
    pipe = ChromaPipeline.from_pretrained(folder, local_files_only=True)
    save_configs(folder, root / "configs" / "chroma")
    files = save_chroma_files(pipe, root / "ComfyUI")
    save_vae(pipe.vae, root / "ComfyUI" / "models" / "vae" / "00-other-16ch.safetensors")  # first by name, not Flux's
    comfy = save_chroma_files(pipe, root / "ComfyUI-saved", prefix="model.diffusion_model.")  # as ComfyUI saves it
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", prefixed=comfy["model"], **files)


@pytest.fixture()
def configs(chroma, monkeypatch):
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    entry = SINGLE_FILE_LOADABLE_CLASSES["ChromaTransformer2DModel"]
    monkeypatch.setitem(entry, "checkpoint_mapping_fn", flux_converter_for_tiny_widths(entry["checkpoint_mapping_fn"]))
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(chroma["configs"]))
    return chroma["configs"]


@pytest.fixture(scope="module")
def folder_images(chroma):
    return Engine(device="cpu").run(Text2ImageJob(model=str(chroma["folder"]), **JOB), save=False).images


JOB = dict(prompt="a red fox in snow", negative_prompt="a boat at night", steps=2, seed=3, width=64, height=64,
           guidance_scale=3.0, scheduler="euler", preview_every=1)


def test_split_files_generate_what_the_folder_does(chroma, configs, empty_cache, folder_images):
    info = inspect_model(str(chroma["model"]))
    assert info.split and info.arch == "chroma" and info.family == "chroma" and "(chroma)" in info.class_name
    events = []
    job = Text2ImageJob(model=str(chroma["model"]), text_encoders=(str(chroma["t5xxl"]),), vae=str(chroma["vae"]),
                        **JOB)
    split = Engine(device="cpu").run(job, on_step=events.append, save=False)
    assert not (empty_cache.is_dir() and any(empty_cache.iterdir()))  # nothing fetched or written there
    assert np.abs(split.images.astype(int) - folder_images.astype(int)).max() <= 1
    assert "plain text" in split.note and "left out" not in split.note
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and [e.index for e in steps] == [0, 1]
    assert all(e.x0.shape == (1, 8, 8, 3) and np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_the_cli_takes_comfyuis_saved_file_by_flag(chroma, configs, empty_cache, folder_images, tmp_path):
    from PIL import Image

    from ddpm_studio.cli import main

    model = shutil.copy(chroma["prefixed"], tmp_path / "chroma1-hd-comfy.safetensors")  # in no models home
    assert split_facts(Path(model)).family == "chroma"
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(chroma["t5xxl"]), "--vae",
                 str(chroma["vae"]), "--prompt", JOB["prompt"], "--negative", JOB["negative_prompt"],
                 "--steps", "2", "--size", "64x64", "--seed", "3", "--guidance", "3.0", "--scheduler", "euler",
                 "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0
    (saved,) = (tmp_path / "out").glob("*.png")
    picture = np.asarray(Image.open(saved).convert("RGB")).astype(int)
    assert np.abs(picture - folder_images[0].astype(int)).max() <= 1
    job = read_job(saved)
    assert [Path(p).name for p in job.text_encoders] == ["t5xxl_fp16.safetensors"]
    assert Path(job.vae).name == "ae.safetensors"


def test_the_models_home_lists_it_as_chroma_paired_with_t5_and_ae(chroma, configs):
    home = models_home(chroma["home"])
    (info,) = [i for d in home.diffusion_models for i in folder_models(d)]
    assert (info.arch, info.name, info.panel) == ("chroma", "tiny-chroma1-hd", "Text to Image")
    pairing = pair_in_home(info.path, home)
    assert pairing.complete and pairing.family == "chroma"
    assert [Path(p).name for p in pairing.text_encoders] == ["t5xxl_fp16.safetensors"]
    assert Path(pairing.vae).name == "ae.safetensors"  # Flux's name first among the 16-channel VAEs
    assert [(part, name) for part, name, _ in pairing.options] == [("text_encoder", "T5-XXL"), ("vae", "VAE")]


def test_the_cli_pairs_from_the_models_home(chroma, configs, tmp_path):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", "tiny-chroma1-hd", "--models-home", str(chroma["home"]), "--prompt",
                 "a fox", "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert [Path(p).name for p in job.text_encoders] == ["t5xxl_fp16.safetensors"]
    assert Path(job.vae).name == "ae.safetensors"


def test_a_missing_t5_is_named(chroma, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    for kind in ("diffusion_models", "text_encoders", "vae"):
        (home / kind).mkdir(parents=True)
    model = Path(shutil.copy(chroma["model"], home / "diffusion_models"))
    shutil.copy(chroma["vae"], home / "vae")
    assert pair_in_home(model, models_home(home)).missing == ("its T5-XXL text encoder (a t5xxl file, 32 wide)",)
    with pytest.raises(ModelError, match=r"tiny-chroma1-hd.safetensors \(Chroma diffusion model\) needs its T5-XXL "
                                         r"text encoder \(a t5xxl file, 32 wide\) and a VAE \(16 latent channels\)"):
        Engine(device="cpu").run(Text2ImageJob(model=str(model), **JOB), save=False)


def test_a_clip_file_is_refused_naming_what_chroma_takes(chroma, configs, tmp_path):
    clip = header_only_file(tmp_path / "clip_l.safetensors", ["text_model.embeddings.token_embedding.weight"])
    job = Text2ImageJob(model=str(chroma["model"]), text_encoders=(str(clip), str(chroma["t5xxl"])),
                        vae=str(chroma["vae"]), **JOB)
    with pytest.raises(ModelError, match=r"clip_l.safetensors holds a CLIP text encoder 1 wide, which Chroma models "
                                         r"do not take \(it takes T5-XXL \(t5, 32 wide\)\)"):
        Engine(device="cpu").run(job, save=False)


def test_chroma_and_flux_files_are_never_taken_for_each_other(chroma, tmp_path):
    blocks = ["double_blocks.0.img_attn.norm.key_norm.scale", "img_in.weight", "txt_in.weight"]
    flux = header_only_file(tmp_path / "flux1-schnell.safetensors", [*blocks, "vector_in.in_layer.weight"])
    flux_dev = header_only_file(tmp_path / "flux1-dev.safetensors",
                            [*blocks, "vector_in.in_layer.weight", "guidance_in.in_layer.bias"])
    lodestones = header_only_file(tmp_path / "Chroma1-HD.safetensors", [*blocks, "distilled_guidance_layer.in_proj.bias"])
    assert [(split_facts(p).family, split_facts(p).config) for p in (flux, flux_dev, lodestones)] == \
        [("flux", "flux.1-schnell"), ("flux", "flux.1-dev"), ("chroma", "chroma")]
    assert (split_facts(chroma["model"]).family, split_facts(chroma["prefixed"]).family) == ("chroma", "chroma")
    # Chroma1-Radiance works on pixels (no img_in): not a Chroma file DDPM Studio can load
    radiance = header_only_file(tmp_path / "radiance.safetensors", [blocks[0], "distilled_guidance_layer.in_proj.bias"])
    with pytest.raises(ModelError, match="not a diffusion-model file of a family"):
        split_facts(radiance)


def test_the_real_path_uses_the_shipped_config_folder(chroma):
    from ddpm_studio.engine.models.single_file import config_folder

    assert "DDPM_STUDIO_CONFIGS" not in os.environ
    folder = config_folder(split_facts(chroma["model"]).config)
    assert folder.name == "chroma" and folder.parent.name == "configs"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["transformer"][1] == "ChromaTransformer2DModel" and index["vae"][1] == "AutoencoderKL"
    assert inspect_model(str(chroma["model"])).arch == "chroma"
