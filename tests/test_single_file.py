"""Single-file checkpoints (original layout, as A1111 shares them) load offline through config folders we ship."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest

from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model, list_models
from ddpm_studio.engine.runner import Engine
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import save_tiny_sd, save_tiny_sd2, save_tiny_sdxl


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
    assert len(events) == 4 and events[-2].x0 is not None and events[-1].final  # 3 steps, then the result
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
    assert info.in_channels == 9 and info.modes == ("inpaint", "outpaint") and info.panel == "Edit (inpaint)"
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
    assert names["tiny-txt2img"].modes == ("txt2img", "img2img", "inpaint", "outpaint")


def test_a_checkpoints_header_is_read_once_however_many_panels_list_it(tiny, tmp_path, monkeypatch):
    """Every panel lists the model folders; an unchanged file is not read again (an A1111 folder of SDXL checkpoints
    was read eleven times over as the window opened), a changed one is, and a broken one keeps its message."""
    import ddpm_studio.engine.models.catalogue as models

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    checkpoint = folder / "mine.safetensors"
    shutil.copy(tiny["txt2img-file"], checkpoint)
    (folder / "broken.safetensors").write_bytes(b"")
    read = []
    real_read = models.read_checkpoint
    monkeypatch.setattr(models, "read_checkpoint", lambda path, allow_pickle=False: read.append(path.name) or
                        real_read(path, allow_pickle))
    for _ in range(3):
        assert "mine" in [info.name for info in list_models([str(folder)], accept=lambda info: True)]
    assert sorted(read) == ["broken.safetensors", "mine.safetensors"]
    with pytest.raises(ModelError, match="broken.safetensors"):
        inspect_model(str(folder / "broken.safetensors"))
    with checkpoint.open("ab") as file:
        file.write(b" ")  # changed (its size): read again
    list_models([str(folder)], accept=lambda info: True)
    assert read.count("mine.safetensors") == 2


def test_missing_tokenizer_says_how_to_get_it(tiny, tmp_path, monkeypatch):
    """Only where the tokenizer that ships with the app is gone too (a broken install)."""
    import huggingface_hub.constants

    from ddpm_studio.engine.models import single_file

    bare = tmp_path / "configs"
    save_config_folder(tiny["txt2img"], bare / "sd1")

    shutil.rmtree(bare / "sd1" / "tokenizer")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(bare))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(single_file, "shipped_tokenizer", lambda: tmp_path / "not-installed")
    with pytest.raises(ModelError, match="tokenizer.*not-installed.*reinstall.*openai/clip-vit-large-patch14.*vocab.json"):
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
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "style-lora.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0.alpha": torch.ones(1)}, str(path))
    with pytest.raises(ModelError, match="style-lora.safetensors does not hold a Stable Diffusion UNet.*LoRA"):
        inspect_model(str(path))


@pytest.mark.parametrize("arch, counts", [
    ("sd1", {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480}),
    ("sd2", {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840}),
    ("sdxl", {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}),
])
def test_shipped_configs_describe_the_published_models(arch, counts):
    """Built on the meta device, the shipped configs give the published parameter counts of SD 1.x, 2.x and SDXL."""
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


@pytest.fixture(scope="module")
def sd2(tmp_path_factory):
    """A tiny v-prediction SD 2.x-like pipeline, the same weights as one original-layout file, and its configs."""
    root = tmp_path_factory.mktemp("sd2")
    folder = save_tiny_sd2(root / "sd2")
    (root / "checkpoints").mkdir()
    checkpoint = save_single_file(folder, root / "checkpoints" / "tiny-sd2.safetensors", open_clip=True)
    save_config_folder(folder, root / "configs" / "sd2")
    return dict(folder=folder, file=checkpoint, configs=root / "configs")


SD2_JOB = dict(prompt="a lighthouse", negative_prompt="fog", steps=3, seed=4, width=32, height=32, output_dir="")


def test_sd2_single_file_is_recognised_and_gives_its_folders_images(sd2, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd2["configs"]))
    info = inspect_model(str(sd2["file"]))
    assert info.class_name == "single-file SD 2.x" and info.family == "stable-diffusion" and info.prediction_unknown
    assert not inspect_model(str(sd2["folder"])).prediction_unknown
    engine = Engine(device="cpu")
    from_file = engine.run(Text2ImageJob(model=str(sd2["file"]), prediction_type="v_prediction", **SD2_JOB), save=False)
    pipe = engine._model.pipe
    assert pipe.tokenizer.pad_token == "!" and pipe.unet.config.use_linear_projection
    from_folder = engine.run(Text2ImageJob(model=str(sd2["folder"]), **SD2_JOB), save=False)
    assert np.abs(from_file.images.astype(int) - from_folder.images.astype(int)).max() <= 1
    as_epsilon = engine.run(Text2ImageJob(model=str(sd2["file"]), prediction_type="epsilon", **SD2_JOB), save=False)
    assert np.abs(as_epsilon.images.astype(int) - from_folder.images.astype(int)).max() > 10  # the choice is used


@pytest.mark.parametrize("yaml, expected", [
    ('model:\n  params:\n    parameterization: "v"\n    linear_start: 0.00085\n', "v_prediction"),
    ("model:\n  params:\n    linear_start: 0.00085\n", "epsilon"),
])
def test_sd2_prediction_type_from_an_a1111_yaml_beside_the_file(sd2, tmp_path, monkeypatch, yaml, expected):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd2["configs"]))
    checkpoint = tmp_path / "my-sd2.safetensors"
    shutil.copy(sd2["file"], checkpoint)
    (tmp_path / "my-sd2.yaml").write_text(yaml, encoding="utf-8")
    engine = Engine(device="cpu")
    result = engine.run(Text2ImageJob(model=str(checkpoint), **SD2_JOB), save=False)
    assert engine._model.scheduler_config["prediction_type"] == expected
    assert "SD 2.x" in result.note and "from my-sd2.yaml" in result.note
    if expected == "v_prediction":  # auto, told by the yaml, samples exactly as the v folder does
        from_folder = engine.run(Text2ImageJob(model=str(sd2["folder"]), **SD2_JOB), save=False)
        assert np.abs(result.images.astype(int) - from_folder.images.astype(int)).max() <= 1


@pytest.mark.parametrize("bias, expected", [(-3.0, "v_prediction"), (0.0, "epsilon")])
def test_sd2_probe_reads_the_unets_output_at_the_last_timestep(sd2, bias, expected):
    """A1111's test: a v model's output at t=999 on a flat 0.5 latent lies far below its input. The UNet here is made
    to answer a constant (zero weights into its last layer, then a bias), so the probe must read that answer."""
    import torch
    from diffusers import UNet2DConditionModel

    from ddpm_studio.engine.models.prediction import detect_prediction_type, probe

    unet = UNet2DConditionModel.from_pretrained(sd2["folder"] / "unet")
    with torch.no_grad():
        unet.conv_out.weight.zero_()
        unet.conv_out.bias.fill_(bias)
    assert probe(unet) == expected
    kind, how = detect_prediction_type(sd2["file"], unet)  # no yaml beside it: the probe decides
    assert kind == expected and "detected" in how


def test_cli_prediction_flag_for_an_sd2_file(sd2, monkeypatch, tmp_path, capsys):
    from ddpm_studio.cli import main

    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd2["configs"]))
    common = ["txt2img", "--model", str(sd2["file"]), "--prompt", "a boat", "--steps", "2", "--size", "32x32",
              "--seed", "1", "--device", "cpu"]
    assert main(common + ["--out", str(tmp_path / "v"), "--prediction", "v_prediction"]) == 0
    assert main(common + ["--out", str(tmp_path / "auto")]) == 0
    err = capsys.readouterr().err
    assert "tiny-sd2.safetensors: SD 2.x checkpoint" in err and "detected from the UNet" in err
    with pytest.raises(SystemExit):
        main(common + ["--prediction", "x0"])


def test_sd2_probe_that_cannot_run_says_so(sd2, monkeypatch):
    from diffusers import UNet2DConditionModel

    from ddpm_studio.engine.models import prediction

    def broken(unet):
        raise NotImplementedError('"addmm_impl_cpu_" not implemented for \'Half\'')

    monkeypatch.setattr(prediction, "probe", broken)
    unet = UNet2DConditionModel.from_pretrained(sd2["folder"] / "unet")
    kind, how = prediction.detect_prediction_type(sd2["file"], unet)
    assert kind == "v_prediction" and "could not be tested" in how and "Half" in how


def test_a_single_file_and_its_loras_are_named_with_a1111s_hashes(tiny, configs, tmp_path):
    """Model hash: the first 10 hex of the file's SHA-256, as A1111 writes it; a LoRA on a single file works too."""
    import hashlib

    from diffusers import StableDiffusionPipeline

    from ddpm_studio.engine.addons.resources import AddonFolders
    from ddpm_studio.engine.output.metadata import read_png_text
    from ddpm_studio.engine.png.chunks import parse_a1111
    from tests.tiny_addons import save_lora

    save_lora(tmp_path / "loras" / "ink.safetensors",
              StableDiffusionPipeline.from_pretrained(tiny["txt2img"], local_files_only=True))
    engine = Engine(device="cpu", folders=AddonFolders(loras=[str(tmp_path / "loras")]))
    job = Text2ImageJob(model=str(tiny["txt2img-file"]), prompt="a <lora:ink:1>", steps=2, width=32, height=32,
                        output_dir=str(tmp_path / "out"))
    fields = parse_a1111(read_png_text(engine.run(job).saved_paths[0])["parameters"])
    assert fields["Model hash"] == hashlib.sha256(tiny["txt2img-file"].read_bytes()).hexdigest()[:10]
    assert fields["Model"] == "tiny-txt2img" and fields["Lora hashes"].startswith("ink: ")
