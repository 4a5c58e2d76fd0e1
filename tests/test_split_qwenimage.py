"""Qwen-Image from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: the
transformer file (diffusers' names, bare or behind ``model.diffusion_model.``), Qwen2.5-VL in Qwen's own layout
(qwen_2.5_vl_7b.safetensors, with or without its LM head) and the Wan-style qwen_image_vae.safetensors, named by
flag or paired from a models home; what is missing named; its files told from every other family's. The tiny files
are written from the tiny pipeline (tests/comfy_qwenimage.py) and load through its configs under the name of the
shipped folder they stand in for (qwen-image)."""

from __future__ import annotations

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
from tests.comfy_files import header_only_file, save_configs
from tests.comfy_qwenimage import save_qwenimage_files, tiny_qwenimage_split_pipeline
from tests.tiny_qwenimage import TEXT_WIDTH


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    root = tmp_path_factory.mktemp("split-qwenimage")
    pipe = tiny_qwenimage_split_pipeline()
    folder = root / "tiny-qwen-image"
    pipe.save_pretrained(folder, safe_serialization=True)
    save_configs(folder, root / "configs" / "qwen-image")
    files = save_qwenimage_files(pipe, root / "ComfyUI")
    comfy = save_qwenimage_files(pipe, root / "ComfyUI-prefixed", prefix=True, lm_head=False)
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", comfy=comfy, **files)


@pytest.fixture()
def configs(qwen, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(qwen["configs"]))
    return qwen["configs"]


JOB = dict(prompt="a red fox in snow", negative_prompt="blurry", steps=2, seed=3, width=64, height=64,
           guidance_scale=4.0, scheduler="euler")


@pytest.mark.parametrize("files", ["plain", "comfy"])
def test_split_files_generate_what_the_folder_does(qwen, configs, empty_cache, files):
    found = qwen if files == "plain" else qwen["comfy"]  # comfy: model.diffusion_model. keys, no LM head
    engine = Engine(device="cpu")
    info = inspect_model(str(found["model"]))
    assert info.split and info.arch == "qwenimage" and "qwen-image" in info.class_name
    events = []
    job = Text2ImageJob(model=str(found["model"]), text_encoders=(str(found["qwenvl"]),), vae=str(found["vae"]),
                        preview_every=1, **JOB)
    split = engine.run(job, on_step=events.append, save=False)
    folder = engine.run(Text2ImageJob(model=str(qwen["folder"]), **JOB), save=False)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
    assert split.images.std() > 0
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_comfyuis_scaled_fp8_model_and_encoder_generate_kept_as_float8(qwen, configs, empty_cache, tmp_path):
    """ComfyUI ships Qwen-Image's text encoder as qwen_2.5_vl_7b_fp8_scaled.safetensors: it and an fp8 model file
    (behind ComfyUI's prefix) run kept as float8, close to the bf16 files' picture."""
    from tests.comfy_quantized import save_float8

    found = qwen["comfy"]
    model = save_float8(found["model"], tmp_path / "qwen_image_fp8_e4m3fn.safetensors", scaled=True)
    encoder = save_float8(found["qwenvl"], tmp_path / "qwen_2.5_vl_7b_fp8_scaled.safetensors", scaled=True)
    engine = Engine(device="cpu")
    fields = dict(vae=str(found["vae"]), preview_every=0, **JOB)
    plain = engine.run(Text2ImageJob(model=str(found["model"]), text_encoders=(str(found["qwenvl"]),), **fields),
                       save=False)
    fp8 = engine.run(Text2ImageJob(model=str(model), text_encoders=(str(encoder),), **fields), save=False)
    assert fp8.note.count("weights kept as scaled float8 e4m3fn in memory") == 2  # the model and Qwen2.5-VL
    assert np.abs(fp8.images.astype(float) - plain.images.astype(float)).mean() < 4 and fp8.images.std() > 0


def test_the_encoder_and_vae_files_are_known_by_their_keys(qwen):
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.split_files import vae_channels
    from ddpm_studio.engine.models.text_files import encoders_in

    (found,) = encoders_in(qwen["qwenvl"], read_shapes(qwen["qwenvl"]))
    assert (found.kind, found.width, found.prefix) == ("qwen2.5-vl", TEXT_WIDTH, "")
    shapes = read_shapes(qwen["vae"])
    assert (vae_channels(qwen["vae"], shapes, wan=True), vae_channels(qwen["vae"], shapes)) == (16, 0)


def test_a_qwen3_file_is_not_taken_for_qwen25_vl_nor_the_other_way(tmp_path):
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.text_files import encoders_in

    qwen3 = header_only_file(tmp_path / "qwen_3_4b.safetensors", {  # Qwen3-4B's layout (Z-Image's, Klein's encoder)
        "model.embed_tokens.weight": (151936, 2560), "model.layers.0.self_attn.q_norm.weight": (128,)})
    assert all(e.kind != "qwen2.5-vl" for e in encoders_in(qwen3, read_shapes(qwen3)))
    vl = header_only_file(tmp_path / "qwen_2.5_vl_7b.safetensors", {
        "model.embed_tokens.weight": (152064, 3584), "visual.patch_embed.proj.weight": (1280, 3, 2, 14, 14),
        "model.layers.0.self_attn.q_proj.weight": (3584, 3584)})
    assert [(e.kind, e.width) for e in encoders_in(vl, read_shapes(vl))] == [("qwen2.5-vl", 3584)]


def test_its_files_are_told_from_every_other_familys(tmp_path, monkeypatch):
    monkeypatch.delenv("DDPM_STUDIO_CONFIGS", raising=False)
    qwen = ["txt_norm.weight", "txt_in.weight", "img_in.weight", "transformer_blocks.0.img_mod.1.weight",
            "transformer_blocks.0.attn.add_q_proj.weight"]
    others = {  # each family's ComfyUI/BFL/Stability key names, as their split rows and converters know them
        "flux": ["double_blocks.0.img_attn.norm.key_norm.scale", "vector_in.in_layer.weight", "txt_in.weight",
                 "img_in.weight", "double_blocks.0.img_mod.lin.weight"],
        "chroma": ["double_blocks.0.img_attn.norm.key_norm.scale", "distilled_guidance_layer.in_proj.bias",
                   "txt_in.weight", "img_in.weight"],
        "klein": ["double_blocks.0.img_attn.norm.key_norm.scale", "double_stream_modulation_img.lin.weight",
                  "txt_in.weight", "img_in.weight"],
        "zimage": ["cap_embedder.1.weight", "x_embedder.weight", "layers.0.attention.qkv.weight",
                   "noise_refiner.0.attention.qkv.weight"],
        "sd3": ["joint_blocks.0.context_block.adaLN_modulation.1.bias", "x_embedder.proj.weight"],
    }
    for prefix in ("", "model.diffusion_model."):
        path = header_only_file(tmp_path / f"qwen_image{prefix}.safetensors", {prefix + k: (1,) for k in qwen})
        facts = split_facts(path)
        assert (facts.family, facts.config, facts.vae_inside) == ("qwenimage", "qwen-image", False)
        for family, keys in others.items():
            other = header_only_file(tmp_path / f"{family}{prefix}.safetensors", {prefix + k: (1,) for k in keys})
            try:
                assert split_facts(other).family != "qwenimage", family
            except ModelError:
                pass  # a family no split row knows yet: not Qwen-Image either


def test_the_models_home_pairs_qwen_vl_and_the_wan_vae_only(qwen, configs, tmp_path):
    home = models_home(qwen["home"])
    # a 16-channel AutoencoderKL (Flux's ae.safetensors) beside it is no VAE for Qwen-Image
    header_only_file(qwen["home"] / "models" / "vae" / "ae.safetensors", {"decoder.conv_in.weight": (512, 16, 3, 3)})
    pairing = pair_in_home(qwen["model"], home)
    assert pairing.complete and pairing.family == "qwenimage"
    assert [Path(p).name for p in pairing.text_encoders] == ["qwen_2.5_vl_7b.safetensors"]
    assert Path(pairing.vae).name == "qwen_image_vae.safetensors"
    assert dict((part, [Path(p).name for p in paths]) for part, _, paths in pairing.options)["vae"] == \
        ["qwen_image_vae.safetensors"]
    # the home's listing (its diffusion-model folders, as the panels list them) holds the model; its parts are no
    # models even where a user lists their folders
    listed = [info for folder in home.diffusion_models for info in folder_models(folder)]
    assert [(info.name, info.arch, info.split, info.panel) for info in listed] == \
        [("tiny-qwen_image", "qwenimage", True, "Text to Image")]
    assert not [info for folder in home.text_encoders + home.vaes for info in folder_models(folder)]


def test_a_missing_encoder_or_vae_is_named(qwen, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    for kind in ("diffusion_models", "text_encoders", "vae"):
        (home / kind).mkdir(parents=True)
    model = Path(shutil.copy(qwen["model"], home / "diffusion_models"))
    shutil.copy(qwen["vae"], home / "vae")
    assert pair_in_home(model, models_home(home)).missing == \
        (f"its Qwen2.5-VL text encoder (a qwen_2.5_vl file, {TEXT_WIDTH} wide)",)
    engine = Engine(device="cpu")
    with pytest.raises(ModelError, match=r"tiny-qwen_image.safetensors \(Qwen-Image diffusion model\) needs its "
                                         r"Qwen2.5-VL text encoder"):
        engine.run(Text2ImageJob(model=str(model), vae=str(qwen["vae"]), **JOB), save=False)
    with pytest.raises(ModelError, match=r"needs a VAE \(16 latent channels\)"):
        engine.run(Text2ImageJob(model=str(model), text_encoders=(str(qwen["qwenvl"]),), **JOB), save=False)
    flux_vae = header_only_file(tmp_path / "ae.safetensors", {"decoder.conv_in.weight": (512, 16, 3, 3)})
    with pytest.raises(ModelError, match=r"ae.safetensors holds no Wan-style VAE; Qwen-Image models need a "
                                         r"16-channel Wan-style one"):
        engine.run(Text2ImageJob(model=str(model), text_encoders=(str(qwen["qwenvl"]),), vae=str(flux_vae), **JOB),
                   save=False)


def test_the_cli_takes_the_files_by_flag(qwen, configs, empty_cache, tmp_path):
    from ddpm_studio.cli import main

    model = shutil.copy(qwen["model"], tmp_path / "elsewhere.safetensors")  # in no models home
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(qwen["qwenvl"]), "--vae", str(qwen["vae"]),
                 "--prompt", "a fox", "--steps", "2", "--size", "64x64", "--seed", "4", "--out",
                 str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 1


def test_the_cli_pairs_from_the_models_home(qwen, configs, empty_cache, tmp_path):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", "tiny-qwen_image", "--models-home", str(qwen["home"]), "--prompt", "a fox",
                 "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0
    job = read_job(next(tmp_path.glob("*.png")))
    assert [Path(p).name for p in job.text_encoders] == ["qwen_2.5_vl_7b.safetensors"]
    assert Path(job.vae).name == "qwen_image_vae.safetensors"
