"""Z-Image from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: a diffusion-model
file in Tongyi's layout behind ``model.diffusion_model.`` (ComfyUI's z_image_turbo_bf16.safetensors), a Qwen3 text
encoder as ComfyUI's qwen_3_4b.safetensors keeps it and Flux.1's ae.safetensors, paired from a models home by kind,
width and name; the picture is the tiny diffusers folder's. The files are written by tests/comfy_qwen3.py and load
through the folder's configs under the name of the shipped one they stand in for (z-image-turbo)."""

from __future__ import annotations

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
from tests.comfy_qwen3 import save_zimage_files
from tests.tiny_zimage import save_tiny_zimage


@pytest.fixture(scope="module")
def zimage(tmp_path_factory):
    from diffusers import ZImagePipeline

    root = tmp_path_factory.mktemp("split-zimage")
    folder = save_tiny_zimage(root / "tiny-zimage")
    pipe = ZImagePipeline.from_pretrained(folder, local_files_only=True)
    save_configs(folder, root / "configs" / "z-image-turbo")
    files = save_zimage_files(pipe, root / "ComfyUI")
    save_vae(pipe.vae, root / "ComfyUI" / "models" / "vae" / "sd35_vae.safetensors")  # another 16-channel VAE
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", **files)


@pytest.fixture()
def configs(zimage, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(zimage["configs"]))
    return zimage["configs"]


JOB = dict(prompt="a red fox in snow", steps=2, seed=3, width=64, height=64, preview_every=1, scheduler="euler")


def test_split_files_generate_what_the_folder_does(zimage, configs, empty_cache):
    engine = Engine(device="cpu")
    info = inspect_model(str(zimage["model"]))
    assert info.split and info.arch == "zimage" and info.family == "z-image" and "z-image-turbo" in info.class_name
    events = []
    job = Text2ImageJob(model=str(zimage["model"]), text_encoders=(str(zimage["qwen3"]),), vae=str(zimage["vae"]),
                        guidance_scale=0.0, **JOB)
    split = engine.run(job, on_step=events.append, save=False)
    assert not (empty_cache.is_dir() and any(empty_cache.iterdir()))  # nothing fetched or written there
    folder = engine.run(Text2ImageJob(model=str(zimage["folder"]), guidance_scale=0.0, **JOB), save=False)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_the_qwen3_file_is_known_by_kind_and_width(zimage):
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.text_files import encoders_in

    (found,) = encoders_in(zimage["qwen3"], read_shapes(zimage["qwen3"]))
    assert (found.kind, found.width, found.prefix) == ("qwen3", 32, "")
    assert found.label == "Qwen3 text encoder 32 wide"


def test_the_models_home_pairs_qwen3_and_ae_and_lists_the_model(zimage, configs):
    home = models_home(zimage["home"])
    pairing = pair_in_home(zimage["model"], home)
    assert pairing.complete
    assert [Path(p).name for p in pairing.text_encoders] == ["qwen_3_4b.safetensors"]
    assert Path(pairing.vae).name == "ae.safetensors"  # Flux's name first among the 16-channel VAEs
    listed = folder_models(str(zimage["home"] / "models" / "diffusion_models"))
    assert [(i.name, i.arch, i.panel) for i in listed] == [("tiny-z-image-turbo", "zimage", "Text to Image")]
    assert folder_models(str(zimage["home"] / "models" / "text_encoders")) == []  # an encoder is no model


def test_a_missing_text_encoder_is_named(zimage, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    for kind in ("diffusion_models", "text_encoders", "vae"):
        (home / kind).mkdir(parents=True)
    model = Path(shutil.copy(zimage["model"], home / "diffusion_models"))
    shutil.copy(zimage["vae"], home / "vae")
    assert pair_in_home(model, models_home(home)).missing == ("its Qwen3 text encoder (a qwen_3 file, 32 wide)",)
    with pytest.raises(ModelError, match=r"tiny-z-image-turbo.safetensors \(Z-Image diffusion model\) needs its Qwen3 "
                                         r"text encoder \(a qwen_3 file, 32 wide\) and a VAE \(16 latent channels\)"):
        Engine(device="cpu").run(Text2ImageJob(model=str(model), **JOB), save=False)


def test_the_cli_pairs_from_the_models_home(zimage, configs, tmp_path, empty_cache):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", "tiny-z-image-turbo", "--models-home", str(zimage["home"]), "--prompt",
                 "a fox", "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert [Path(p).name for p in job.text_encoders] == ["qwen_3_4b.safetensors"]
    assert Path(job.vae).name == "ae.safetensors"


def test_the_cli_takes_the_files_by_flag(zimage, configs, tmp_path, empty_cache):
    from ddpm_studio.cli import main

    model = shutil.copy(zimage["model"], tmp_path / "elsewhere.safetensors")
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(zimage["qwen3"]), "--vae", str(zimage["vae"]),
                 "--prompt", "a fox", "--steps", "2", "--size", "64x64", "--out", str(tmp_path / "out"),
                 "--device", "cpu"])
    assert code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 1


def test_a_z_image_file_is_told_from_its_neighbours(zimage, tmp_path):
    from safetensors import safe_open

    with safe_open(str(zimage["model"]), framework="pt") as f:
        own = list(f.keys())
    assert split_facts(header_only_file(tmp_path / "z.safetensors", own)).family == "zimage"
    neighbours = {  # each family's telling keys, as diffusers' single_file_utils and ComfyUI know them
        "lumina2": ["cap_embedder.0.weight", "layers.0.adaLN_modulation.1.weight",
                    "context_refiner.0.attention.qkv.weight"],
        "flux": ["double_blocks.0.img_attn.norm.key_norm.scale", "vector_in.in_layer.weight"],
        "chroma": ["double_blocks.0.img_attn.norm.key_norm.scale", "distilled_guidance_layer.in_proj.bias"],
        "klein": ["double_blocks.0.img_attn.norm.key_norm.scale", "single_stream_modulation.lin.weight"],
        "sd3": ["joint_blocks.0.context_block.adaLN_modulation.1.bias"],
        "qwenimage": ["transformer_blocks.0.img_mod.1.weight", "txt_norm.weight", "img_in.weight"],
    }
    for name, keys in neighbours.items():
        try:
            family = split_facts(header_only_file(tmp_path / f"{name}.safetensors", keys)).family
        except ModelError:
            family = None
        assert family != "zimage", name
    # and its Qwen3 encoder is no Qwen2.5-VL (whose layers have no q/k norms) and no other kind
    qwen25 = header_only_file(tmp_path / "qwen_2.5_vl_7b.safetensors", ["model.layers.0.self_attn.q_proj.bias",
                                                                   "model.layers.0.post_attention_layernorm.weight",
                                                                   "visual.blocks.0.attn.qkv.weight"])
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.text_files import encoders_in

    assert all(found.kind != "qwen3" for found in encoders_in(qwen25, read_shapes(qwen25)))


def test_the_real_path_uses_the_shipped_config_folder(zimage):
    from ddpm_studio.engine.models.single_file import config_folder

    assert "DDPM_STUDIO_CONFIGS" not in os.environ
    facts = split_facts(zimage["model"])
    assert (facts.family, facts.config) == ("zimage", "z-image-turbo")
    assert (config_folder(facts.config) / "transformer" / "config.json").is_file()
