"""Single-file checkpoints (original layout, as A1111 shares them) load offline through config folders we ship."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from ddpm_studio.engine.jobs import EditJob, Text2ImageJob
from ddpm_studio.engine.models import ModelError, inspect_model, list_models
from ddpm_studio.engine.runner import Engine
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny pipelines, the same weights as single files, and a config root holding the tiny sd1 configs."""
    root = tmp_path_factory.mktemp("single")
    out = {}
    (root / "checkpoints").mkdir()
    for kind in ("txt2img", "inpaint"):
        out[kind] = save_tiny_sd(root / kind, kind)
        out[f"{kind}-file"] = save_single_file(out[kind], root / "checkpoints" / f"tiny-{kind}.safetensors")
    out["sdxl"] = save_tiny_sdxl(root / "sdxl")
    out["sdxl-file"] = save_single_file(out["sdxl"], root / "checkpoints" / "tiny-xl.safetensors")
    out["configs"] = root / "configs"
    save_config_folder(out["txt2img"], out["configs"] / "sd1")
    save_config_folder(out["sdxl"], out["configs"] / "sdxl")
    return out


@pytest.fixture()
def configs(tiny, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(tiny["configs"]))
    return tiny["configs"]


def test_single_file_gives_the_same_images_as_its_folder_offline(tiny, configs, tmp_path):
    """The network is off (conftest); the single file must produce what the diffusers folder produces."""
    engine = Engine(device="cpu")
    job = dict(prompt="a lighthouse", steps=3, seed=5, width=32, height=32, output_dir="")
    events = []
    from_file = engine.run(Text2ImageJob(model=str(tiny["txt2img-file"]), **job), on_step=events.append, save=False)
    from_folder = engine.run(Text2ImageJob(model=str(tiny["txt2img"]), **job), save=False)
    assert from_file.images.shape == (1, 32, 32, 3)
    assert len(events) == 3 and events[-1].x0 is not None
    assert np.abs(from_file.images.astype(int) - from_folder.images.astype(int)).max() <= 1
    assert from_file.model_name == "tiny-txt2img"


def test_sdxl_single_file_gives_the_same_images_as_its_folder(tiny, configs):
    info = inspect_model(str(tiny["sdxl-file"]))
    assert info.family == "stable-diffusion-xl" and info.class_name == "single-file SDXL"
    engine = Engine(device="cpu")
    job = dict(prompt="a castle", negative_prompt="fog", steps=3, seed=2, width=32, height=32, output_dir="")
    from_file = engine.run(Text2ImageJob(model=str(tiny["sdxl-file"]), **job), save=False)
    pipe = engine._model.pipe
    assert type(pipe.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    from_folder = engine.run(Text2ImageJob(model=str(tiny["sdxl"]), **job), save=False)
    assert np.abs(from_file.images.astype(int) - from_folder.images.astype(int)).max() <= 1


def test_inpainting_single_file_is_recognised_and_runs_only_as_inpaint(tiny, configs, tmp_path):
    info = inspect_model(str(tiny["inpaint-file"]))
    assert info.in_channels == 9 and info.modes == ("inpaint",) and info.panel == "Edit (inpaint)"
    engine = Engine(device="cpu")
    with pytest.raises(ModelError, match="tiny-inpaint.safetensors.*cannot do text-to-image.*Edit \\(inpaint\\)"):
        engine.run(Text2ImageJob(model=str(tiny["inpaint-file"]), prompt="x", steps=2, output_dir=""))
    from PIL import Image

    Image.new("RGB", (32, 32), "gray").save(tmp_path / "in.png")
    Image.new("L", (32, 32), 255).save(tmp_path / "mask.png")
    result = engine.run(EditJob(model=str(tiny["inpaint-file"]), mode="inpaint", prompt="x", steps=2,
                                image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"), output_dir=""), save=False)
    assert result.images.shape == (1, 32, 32, 3)


def test_single_files_are_listed_from_user_folders(tiny, configs):
    found = list_models([str(tiny["txt2img-file"].parent)], accept=lambda info: info.family.startswith("stable-diffusion"))
    names = {info.name: info for info in found}
    assert {"tiny-txt2img", "tiny-inpaint"} <= set(names)
    assert names["tiny-txt2img"].modes == ("txt2img", "img2img")


def test_missing_tokenizer_says_how_to_get_it(tiny, tmp_path, monkeypatch):
    import huggingface_hub.constants

    bare = tmp_path / "configs"
    save_config_folder(tiny["txt2img"], bare / "sd1")
    import shutil

    shutil.rmtree(bare / "sd1" / "tokenizer")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(bare))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="tokenizer.*openai/clip-vit-large-patch14.*vocab.json"):
        Engine(device="cpu").load(str(tiny["txt2img-file"]), "txt2img")


def test_missing_config_folder_is_refused_not_downloaded(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(tmp_path / "nothing-here"))
    with pytest.raises(ModelError, match="config folder for sd1 checkpoints is missing"):
        Engine(device="cpu").load(str(tiny["txt2img-file"]), "txt2img")


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(_Payload.marker),))


def test_pickle_checkpoint_is_refused_and_never_unpickled(tmp_path):
    _Payload.marker = str(tmp_path / "code-ran")
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(pickle.dumps({"state_dict": _Payload()}, protocol=2))
    with pytest.raises(ModelError, match="model.ckpt is a pickle checkpoint"):
        Engine(device="cpu").load(str(ckpt), "txt2img")
    assert not (tmp_path / "code-ran").exists()
    # allowed, it is still read with weights_only=True, which refuses the payload instead of running it
    with pytest.raises(ModelError, match="cannot be read as a checkpoint"):
        inspect_model(str(ckpt), allow_pickle=True)
    assert not (tmp_path / "code-ran").exists()


@pytest.mark.parametrize("content, problem", [(b"", "not a readable safetensors"), (b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}xxxxxx", "not a readable")])
def test_broken_or_foreign_files_get_a_message(tmp_path, content, problem):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=f"broken.safetensors.*{problem}"):
        inspect_model(str(path))


def test_a_lora_is_not_taken_for_a_checkpoint(tmp_path):
    from safetensors.torch import save_file
    import torch

    path = tmp_path / "style-lora.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0.alpha": torch.ones(1)}, str(path))
    with pytest.raises(ModelError, match="style-lora.safetensors does not hold a Stable Diffusion UNet.*LoRA"):
        inspect_model(str(path))


@pytest.mark.parametrize("arch, counts", [
    ("sd1", {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}),
    ("sdxl", {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}),
])
def test_shipped_configs_describe_the_published_models(arch, counts):
    """Built on the meta device, the shipped configs give the published parameter counts of SD 1.x and SDXL."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from ddpm_studio.paths import resources_dir

    folder = resources_dir() / "configs" / arch
    index = json.loads((folder / "model_index.json").read_text())
    assert set(counts) <= set(index)
    builders = {"unet": lambda f: UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(f)),
                "vae": lambda f: AutoencoderKL.from_config(AutoencoderKL.load_config(f)),
                "text_encoder": lambda f: CLIPTextModel(CLIPTextConfig.from_pretrained(f)),
                "text_encoder_2": lambda f: CLIPTextModelWithProjection(CLIPTextConfig.from_pretrained(f))}
    with torch.device("meta"):
        built = {name: sum(p.numel() for p in builders[name](folder / name).parameters()) for name in counts}
    assert built == counts


def test_cli_txt2img_from_a_single_file_with_memory_savers(tiny, configs, tmp_path, capsys):
    from ddpm_studio.cli import main

    code = main(["txt2img", "--model", str(tiny["txt2img-file"]), "--prompt", "a boat", "--steps", "2", "--size", "40x32",
                 "--seed", "3", "--out", str(tmp_path), "--device", "cpu", "--attention-slicing", "--vae-tiling"])
    assert code == 0
    saved = sorted(tmp_path.glob("*.png"))
    assert len(saved) == 1 and saved[0].name.endswith("-3.png")
    from PIL import Image

    with Image.open(saved[0]) as image:
        assert image.size == (40, 32) and "Model: tiny-txt2img" in image.text["parameters"]
