"""Flux.1 from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: a diffusion-model
file in BFL's layout, clip_l and t5xxl_fp16 text-encoder files and ae.safetensors, paired from a models home by kind,
width and name; schnell told from dev by its keys; a missing T5 named (Flux cannot do without it).

diffusers' Flux converter assumes Flux.1's own widths for the single blocks' fused weights; for the tiny model
tests/comfy_files.flux_converter_for_tiny_widths pads them to those widths around it (every key name is still
diffusers' own conversion)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.home import models_home
from ddpm_studio.engine.models.pairing import pair_in_home, split_facts
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.comfy_files import flux_converter_for_tiny_widths, save_configs, save_flux_files, save_vae
from tests.tiny_flux import save_tiny_flux


@pytest.fixture(scope="module")
def flux(tmp_path_factory):
    from diffusers import FluxPipeline

    root = tmp_path_factory.mktemp("split-flux")
    folder = save_tiny_flux(root / "tiny-flux")
    pipe = FluxPipeline.from_pretrained(folder, local_files_only=True)
    save_configs(folder, root / "configs" / "flux.1-dev")
    files = save_flux_files(pipe, root / "ComfyUI")
    save_vae(pipe.vae, root / "ComfyUI" / "models" / "vae" / "sd35_vae.safetensors")  # another 16-channel VAE
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", **files)


@pytest.fixture()
def configs(flux, monkeypatch):
    from diffusers.loaders.single_file_model import SINGLE_FILE_LOADABLE_CLASSES

    entry = SINGLE_FILE_LOADABLE_CLASSES["FluxTransformer2DModel"]
    monkeypatch.setitem(entry, "checkpoint_mapping_fn", flux_converter_for_tiny_widths(entry["checkpoint_mapping_fn"]))
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(flux["configs"]))
    return flux["configs"]


JOB = dict(prompt="a red fox in snow", steps=2, seed=3, width=64, height=64, preview_every=1)


def test_split_files_generate_what_the_folder_does(flux, configs):
    engine = Engine(device="cpu")
    info = inspect_model(str(flux["model"]))
    assert info.split and info.arch == "flux" and "flux.1-dev" in info.class_name
    events = []
    job = Text2ImageJob(model=str(flux["model"]), text_encoders=(str(flux["t5xxl"]), str(flux["clip_l"])),
                        vae=str(flux["vae"]), guidance_scale=3.5, **JOB)
    split = engine.run(job, on_step=events.append, save=False)
    folder = engine.run(Text2ImageJob(model=str(flux["folder"]), guidance_scale=3.5, **JOB), save=False)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_the_models_home_pairs_clip_t5_and_ae(flux, configs):
    pairing = pair_in_home(flux["model"], models_home(flux["home"]))
    assert pairing.complete
    assert [Path(p).name for p in pairing.text_encoders] == ["clip_l.safetensors", "t5xxl_fp16.safetensors"]
    assert Path(pairing.vae).name == "ae.safetensors"  # Flux's name first among the 16-channel VAEs


def test_a_missing_t5_is_named(flux, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    for kind in ("diffusion_models", "text_encoders", "vae"):
        (home / kind).mkdir(parents=True)
    model = Path(shutil.copy(flux["model"], home / "diffusion_models"))
    shutil.copy(flux["clip_l"], home / "text_encoders")
    shutil.copy(flux["vae"], home / "vae")
    assert pair_in_home(model, models_home(home)).missing == ("its T5-XXL text encoder (a t5xxl file, 32 wide)",)
    with pytest.raises(ModelError, match=r"tiny-flux1-dev.safetensors \(Flux.1 diffusion model\) needs its T5-XXL"):
        Engine(device="cpu").run(Text2ImageJob(model=str(model), text_encoders=(str(flux["clip_l"]),),
                                               vae=str(flux["vae"]), **JOB), save=False)


def test_schnell_is_told_from_dev_by_its_guidance_embedding(tmp_path):
    def header_file(name, keys):
        text = json.dumps({key: {"dtype": "BF16", "shape": [1], "data_offsets": [0, 0]} for key in keys}).encode()
        path = tmp_path / name
        path.write_bytes(len(text).to_bytes(8, "little") + text)
        return path

    flux = ["double_blocks.0.img_attn.norm.key_norm.scale", "vector_in.in_layer.weight"]
    assert split_facts(header_file("flux1-schnell.safetensors", flux)).config == "flux.1-schnell"
    dev = header_file("flux1-dev.safetensors", [*(f"model.diffusion_model.{key}" for key in flux),
                                                 "model.diffusion_model.guidance_in.in_layer.bias"])
    assert split_facts(dev).config == "flux.1-dev" and split_facts(dev).family == "flux"
    # each through its shipped config: schnell's brings schnell's defaults, as a schnell folder does
    assert (inspect_model(str(tmp_path / "flux1-schnell.safetensors")).flavour, inspect_model(str(dev)).flavour) == \
        ("schnell", "")
    # Chroma's files have Flux's blocks but no pooled CLIP text in (vector_in): not taken for Flux.1 schnell
    chroma = header_file("chroma1-hd.safetensors", [flux[0], "distilled_guidance_layer.in_proj.bias"])
    with pytest.raises(ModelError, match="not a diffusion-model file of a family"):
        split_facts(chroma)


def test_the_cli_pairs_from_the_models_home(flux, configs, tmp_path):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", "tiny-flux1-dev", "--models-home", str(flux["home"]), "--prompt", "a fox",
                 "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert sorted(Path(p).name for p in job.text_encoders) == ["clip_l.safetensors", "t5xxl_fp16.safetensors"]
    assert Path(job.vae).name == "ae.safetensors"


def test_a_t5_file_loaded_in_fp16_keeps_its_feed_forward_output_in_fp32(flux, configs):
    import torch

    from ddpm_studio.engine.models.text_files import encoders_in, load_text_encoder
    from ddpm_studio.engine.models.single_file import read_shapes

    (found,) = encoders_in(flux["t5xxl"], read_shapes(flux["t5xxl"]))
    assert (found.kind, found.width, found.prefix) == ("t5", 32, "")
    t5 = load_text_encoder("T5EncoderModel", configs / "flux.1-dev" / "text_encoder_2", found, torch.float16)
    dtypes = {name: param.dtype for name, param in t5.named_parameters()}
    assert dtypes["encoder.block.0.layer.1.DenseReluDense.wo.weight"] == torch.float32
    assert dtypes["shared.weight"] == torch.float16 and t5.encoder.embed_tokens.weight is t5.shared.weight
    out = t5(torch.tensor([[3, 4, 1]])).last_hidden_state
    assert torch.isfinite(out).all()


def test_split_files_inpaint_as_the_folder_does(flux, configs, tmp_path):
    """The Edit modes load the family's inpaint pipeline from the same files (FluxInpaintPipeline)."""
    from PIL import Image

    from ddpm_studio.engine.jobs.types import EditJob

    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(tmp_path / "picture.png")
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[16:32, 16:48] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    edit = dict(mode="inpaint", image=str(tmp_path / "picture.png"), mask=str(tmp_path / "mask.png"), strength=1.0,
                prompt="a red fox", steps=2, seed=3, guidance_scale=3.5, preview_every=0)
    engine = Engine(device="cpu")
    split = engine.run(EditJob(model=str(flux["model"]), text_encoders=(str(flux["t5xxl"]), str(flux["clip_l"])),
                               vae=str(flux["vae"]), **edit), save=False)
    folder = engine.run(EditJob(model=str(flux["folder"]), **edit), save=False)
    assert split.images.shape == (1, 48, 64, 3)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
