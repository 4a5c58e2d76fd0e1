"""SD 3.5 from the files artists keep (ComfyUI's layout), offline with an empty Hugging Face cache: a diffusion-model
file with clip_l, clip_g and VAE files beside it, or Stability's checkpoint holding the model and its VAE, paired
from a models home by kind and width; what is missing named; the user's choice remembered; the CLI's --text-encoder,
--vae and --models-home. The tiny files are written from the tiny pipeline (tests/comfy_files.py) and load through
its configs under the name of the shipped folder they stand in for (sd3.5-medium)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.home import models_home
from ddpm_studio.engine.models.pairing import pair, pair_in_home
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests.comfy_files import save_configs, save_sd3_files
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def sd3(tmp_path_factory):
    from diffusers import StableDiffusion3Pipeline

    root = tmp_path_factory.mktemp("split-sd3")
    folder = save_tiny_sd3(root / "tiny-sd3")
    pipe = StableDiffusion3Pipeline.from_pretrained(folder, local_files_only=True, text_encoder_3=None,
                                                    tokenizer_3=None)
    save_configs(folder, root / "configs" / "sd3.5-medium")
    files = save_sd3_files(pipe, root / "ComfyUI")
    stability = save_sd3_files(pipe, root / "ComfyUI-ckpt", checkpoint=True)
    return dict(folder=folder, configs=root / "configs", home=root / "ComfyUI", stability=stability, **files)


@pytest.fixture()
def configs(sd3, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd3["configs"]))
    return sd3["configs"]


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


JOB = dict(prompt="a lighthouse at dusk", steps=2, seed=3, width=64, height=64, preview_every=1)


def test_split_files_generate_what_the_folder_does(sd3, configs, engine, empty_cache):
    job = Text2ImageJob(model=str(sd3["model"]), text_encoders=(str(sd3["clip_l"]), str(sd3["clip_g"])),
                        vae=str(sd3["vae"]), **JOB)
    events = []
    split = engine.run(job, on_step=events.append, save=False)
    assert not (empty_cache.is_dir() and any(empty_cache.iterdir()))  # nothing fetched or written there
    folder = engine.run(Text2ImageJob(model=str(sd3["folder"]), **JOB), save=False)
    assert np.abs(split.images.astype(int) - folder.images.astype(int)).max() <= 1
    assert "T5-XXL left out" in split.note  # the run says so, as the folder's does
    steps = [e for e in events if not e.final]
    assert len(steps) == 2 and all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)


def test_the_file_is_known_by_its_keys_and_its_config_folder(sd3, configs):
    info = inspect_model(str(sd3["model"]))
    assert info.split and info.arch == "sd3" and info.family == "stable-diffusion-3"
    assert info.modes == ("txt2img", "img2img", "inpaint", "outpaint")
    assert "sd3.5-medium" in info.class_name
    assert inspect_model(str(sd3["stability"]["model"])).split  # model.diffusion_model.* with first_stage_model.*


def test_the_order_of_the_text_encoder_files_does_not_matter(sd3, configs, engine):
    job = dict(model=str(sd3["model"]), vae=str(sd3["vae"]), save=False)
    one = engine.run(Text2ImageJob(model=job["model"], vae=job["vae"], **JOB,
                                   text_encoders=(str(sd3["clip_g"]), str(sd3["clip_l"]))), save=False)
    two = engine.run(Text2ImageJob(model=job["model"], vae=job["vae"], **JOB,
                                   text_encoders=(str(sd3["clip_l"]), str(sd3["clip_g"]))), save=False)
    assert np.array_equal(one.images, two.images)


def test_a_missing_file_is_named(sd3, configs, engine):
    job = Text2ImageJob(model=str(sd3["model"]), text_encoders=(str(sd3["clip_l"]),), **JOB)
    with pytest.raises(ModelError, match=r"tiny-sd35.safetensors \(SD 3.5 diffusion model\) needs its CLIP-G "
                                         r"text encoder \(a clip_g file, 48 wide\) and a VAE \(16 latent channels\)"):
        engine.run(job, save=False)


def test_a_file_of_the_wrong_kind_is_refused_by_name(sd3, configs, engine):
    job = Text2ImageJob(model=str(sd3["model"]), text_encoders=(str(sd3["clip_l"]), str(sd3["clip_l"])),
                        vae=str(sd3["vae"]), **JOB)
    with pytest.raises(ModelError, match=r"clip_l.safetensors holds a CLIP text encoder 32 wide, which .* CLIP-G"):
        engine.run(job, save=False)
    with pytest.raises(ModelError, match=r"clip_g.safetensors holds no VAE; SD 3.5 models need a 16-channel one"):
        engine.run(Text2ImageJob(model=str(sd3["model"]), text_encoders=(str(sd3["clip_l"]),), vae=str(sd3["clip_g"]),
                                 **JOB), save=False)


def test_the_models_home_pairs_by_kind_and_width(sd3, configs):
    home = models_home(sd3["home"])
    assert home.diffusion_models and home.text_encoders  # models/diffusion_models, models/text_encoders, models/clip
    pairing = pair_in_home(sd3["model"], home)
    assert pairing.complete and sorted(Path(p).name for p in pairing.text_encoders) == ["clip_g.safetensors",
                                                                                        "clip_l.safetensors"]
    assert Path(pairing.vae).name == "sd35_vae.safetensors"


def test_a_checkpoint_with_its_vae_needs_only_its_text_encoders(sd3, configs, engine):
    files = sd3["stability"]
    pairing = pair_in_home(files["model"], models_home(files["model"].parents[2]))
    assert pairing.complete and pairing.vae == ""  # its VAE is inside
    result = engine.run(Text2ImageJob(model=str(files["model"]), text_encoders=pairing.text_encoders, **JOB),
                        save=False)
    folder = engine.run(Text2ImageJob(model=str(sd3["folder"]), **JOB), save=False)
    assert np.abs(result.images.astype(int) - folder.images.astype(int)).max() <= 1


def test_an_all_in_one_file_is_used_as_it_is(sd3, configs, engine, tmp_path):
    from tests.comfy_files import save_all_in_one

    files = sd3["stability"]
    path = save_all_in_one(files["model"], files["clip_l"], files["clip_g"], tmp_path / "sd35_all_in_one.safetensors")
    pairing = pair(path, [], [])
    assert pairing.complete and pairing.text_encoders == () and pairing.vae == ""
    result = engine.run(Text2ImageJob(model=str(path), **JOB), save=False)
    folder = engine.run(Text2ImageJob(model=str(sd3["folder"]), **JOB), save=False)
    assert np.abs(result.images.astype(int) - folder.images.astype(int)).max() <= 1


def test_pairing_names_what_the_folders_lack(sd3, configs, tmp_path):
    home = tmp_path / "ComfyUI" / "models"
    (home / "diffusion_models").mkdir(parents=True)
    (home / "text_encoders").mkdir()
    model = shutil.copy(sd3["model"], home / "diffusion_models")
    shutil.copy(sd3["clip_l"], home / "text_encoders")
    pairing = pair_in_home(Path(model), models_home(home))
    assert not pairing.complete
    assert pairing.missing == ("its CLIP-G text encoder (a clip_g file, 48 wide)", "a VAE (16 latent channels)")


def test_the_users_choice_is_remembered_over_the_names(sd3, configs, tmp_path):
    other = tmp_path / "my-own-clip-g.safetensors"
    shutil.copy(sd3["clip_g"], other)
    folders = [sd3["home"] / "models" / "text_encoders", sd3["home"] / "models" / "clip", tmp_path]
    assert Path(pair(sd3["model"], folders).chosen[1][1]).name == "clip_g.safetensors"  # its ComfyUI name first
    pairing = pair(sd3["model"], folders, remembered={"text_encoder_2": str(other.resolve())})
    assert dict(pairing.chosen)["text_encoder_2"] == str(other.resolve())


def test_an_optional_t5_the_user_left_out_stays_out(sd3, tmp_path, monkeypatch):
    from transformers import T5Config, T5EncoderModel

    from tests.comfy_files import save_text_encoder

    configs = Path(shutil.copytree(sd3["configs"], tmp_path / "configs"))  # with a T5 32 wide in its folder
    t5 = T5EncoderModel(T5Config(d_model=32, d_ff=37, d_kv=8, num_heads=4, num_layers=1, vocab_size=1000))
    t5.config.save_pretrained(configs / "sd3.5-medium" / "text_encoder_3")
    (tmp_path / "te").mkdir()
    save_text_encoder(t5, tmp_path / "te" / "t5xxl_fp16.safetensors")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(configs))
    folders = [sd3["home"] / "models" / "text_encoders", sd3["home"] / "models" / "clip", tmp_path / "te"]
    vaes = [sd3["home"] / "models" / "vae"]
    assert Path(dict(pair(sd3["model"], folders, vaes).chosen)["text_encoder_3"]).name == "t5xxl_fp16.safetensors"
    left_out = pair(sd3["model"], folders, vaes, remembered={"text_encoder_3": ""})  # "(none)" in the panel's list
    assert "text_encoder_3" not in dict(left_out.chosen) and left_out.complete and len(left_out.text_encoders) == 2
    again = pair(sd3["model"], folders, vaes, remembered={"text_encoder_2": ""})  # a part it cannot do without: paired
    assert Path(dict(again.chosen)["text_encoder_2"]).name == "clip_g.safetensors"


def test_the_real_path_uses_the_shipped_config_folder(sd3):
    from ddpm_studio.engine.models.pairing import split_facts
    from ddpm_studio.engine.models.single_file import config_folder

    assert "DDPM_STUDIO_CONFIGS" not in os.environ
    facts = split_facts(sd3["model"])
    assert facts.config == "sd3.5-medium" and config_folder(facts.config).parent.name == "configs"
    assert (config_folder(facts.config) / "transformer" / "config.json").is_file()


def test_a_large_file_is_known_by_its_38th_block(tmp_path):
    from ddpm_studio.engine.models.pairing import split_facts

    header = {f"model.diffusion_model.{key}": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 0]}
              for key in ("joint_blocks.0.context_block.adaLN_modulation.1.bias",
                          "joint_blocks.37.x_block.mlp.fc1.weight")}
    text = json.dumps(header).encode()
    path = tmp_path / "sd3.5_large.safetensors"
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    assert split_facts(path).config == "sd3.5-large"


def test_the_cli_pairs_from_the_models_home_and_restores(sd3, configs, tmp_path):
    from ddpm_studio.cli import main

    out = tmp_path / "out"
    code = main(["txt2img", "--model", "tiny-sd35", "--models-home", str(sd3["home"]), "--prompt", "a boat",
                 "--steps", "2", "--size", "64x64", "--seed", "4", "--out", str(out), "--device", "cpu"])
    assert code == 0
    saved = sorted(out.glob("*.png"))
    job = read_job(saved[0])
    assert sorted(Path(p).name for p in job.text_encoders) == ["clip_g.safetensors", "clip_l.safetensors"]
    assert Path(job.vae).name == "sd35_vae.safetensors" and Path(job.model).name == "tiny-sd35.safetensors"
    again = Engine(device="cpu").run(job, save=False)  # restore: the same files, the same picture
    from PIL import Image

    assert np.abs(np.asarray(Image.open(saved[0]).convert("RGB")).astype(int) - again.images[0].astype(int)).max() <= 1


def test_the_cli_pairs_a_file_from_the_comfyui_folder_it_is_in(sd3, configs, tmp_path):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", str(sd3["model"]), "--prompt", "a boat", "--steps", "2", "--size", "64x64",
                 "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0 and len(read_job(next(tmp_path.glob("*.png"))).text_encoders) == 2


def test_the_cli_takes_the_files_by_flag(sd3, configs, tmp_path):
    from ddpm_studio.cli import main

    model = shutil.copy(sd3["model"], tmp_path / "elsewhere.safetensors")
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(sd3["clip_g"]), "--text-encoder",
                 str(sd3["clip_l"]), "--vae", str(sd3["vae"]), "--prompt", "a boat", "--steps", "2", "--size",
                 "64x64", "--out", str(tmp_path / "out"), "--device", "cpu"])
    assert code == 0 and len(list((tmp_path / "out").glob("*.png"))) == 1


def test_the_cli_names_a_missing_file(sd3, configs, tmp_path, capsys):
    from ddpm_studio.cli import main

    model = shutil.copy(sd3["model"], tmp_path)  # in no models home: nothing to pair it from
    code = main(["txt2img", "--model", str(model), "--text-encoder", str(sd3["clip_l"]), "--prompt", "x",
                 "--steps", "2", "--size", "64x64", "--out", str(tmp_path), "--device", "cpu"])
    assert code != 0 and "CLIP-G" in capsys.readouterr().err
