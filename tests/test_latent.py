"""The Stable Diffusion family on tiny random pipelines: every mode, previews, cancel, capability checks, metadata."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd, save_tiny_taesd


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd")
    return {kind: save_tiny_sd(root / kind, kind) for kind in ("txt2img", "inpaint", "instruct")}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.fixture()
def photo(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (44, 60, 3), dtype=np.uint8)).save(path)  # not a multiple of 8
    mask = tmp_path / "mask.png"
    m = np.zeros((44, 60), np.uint8)
    m[10:30, 20:40] = 255
    Image.fromarray(m).save(mask)
    return path, mask


def test_txt2img_size_previews_and_metadata(engine, sd, tmp_path):
    events = []
    job = Text2ImageJob(model=str(sd["txt2img"]), prompt="a red fox, snow", negative_prompt="blurry, dark",
                        guidance_scale=6.5, steps=4, seed=11, batch_size=2, width=48, height=32, output_dir=str(tmp_path))
    result = engine.run(job, on_step=events.append)
    assert result.images.shape == (2, 32, 48, 3)
    *events, last = events
    assert last.final and np.array_equal(last.x0, result.images)  # the step history ends on the decoded result
    assert len(events) == 4 and all(e.x_t is not None and e.x0 is not None for e in events)
    assert events[0].x_t.shape == (2, 4, 6, 3)  # latent resolution: 1/8 of the image
    assert [e.index for e in events] == [0, 1, 2, 3] and events[0].total == 4

    first = sorted(result.saved_paths)[0]
    assert read_job(first) == job
    with Image.open(first) as image:
        text = image.text["parameters"]
    lines = text.split("\n")
    assert lines[0] == "a red fox, snow" and lines[1] == "Negative prompt: blurry, dark"
    params = parse_a1111(text)
    assert params["Steps"] == "4" and params["Sampler"] == "DPM++ 2M" and params["CFG scale"] == "6.5"
    assert params["Seed"] == "11" and params["Size"] == "48x32"
    assert lines[2].startswith("Steps: 4, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: 11, Size: 48x32, Model: txt2img")


@pytest.mark.parametrize("scheduler", ["dpm++2m-karras", "euler-a", "euler", "ddim", "unipc", "lcm"])
def test_txt2img_schedulers(engine, sd, scheduler):
    events = []
    result = engine.run(Text2ImageJob(model=str(sd["txt2img"]), prompt="x", scheduler=scheduler, steps=3, width=32, height=32),
                        on_step=events.append, save=False)
    assert result.images.shape == (1, 32, 32, 3) and len(events) == 4 and events[-1].final
    assert all(e.x0 is not None for e in events)


def test_same_seed_same_image(engine, sd):
    job = Text2ImageJob(model=str(sd["txt2img"]), prompt="x", scheduler="euler-a", steps=3, width=32, height=32, seed=5)
    assert np.array_equal(engine.run(job, save=False).images, engine.run(job, save=False).images)


def test_img2img_runs_strength_times_steps(engine, sd, photo):
    events = []
    job = EditJob(model=str(sd["txt2img"]), mode="img2img", image=str(photo[0]), prompt="x", strength=0.5, steps=6)
    result = engine.run(job, on_step=events.append, save=False)
    assert result.images.shape == (1, 40, 56, 3)  # floored to the VAE's 8-pixel grid
    assert len(events) == 4 and events[0].total == 3 and events[-1].final


def test_inpaint_and_instruct(engine, sd, photo):
    image, mask = photo
    inpaint = engine.run(EditJob(model=str(sd["inpaint"]), mode="inpaint", image=str(image), mask=str(mask), prompt="x", steps=3), save=False)
    assert inpaint.images.shape == (1, 44, 60, 3)  # the input's size: what is outside the mask is kept (test_inpaint.py)
    events = []
    instruct = engine.run(EditJob(model=str(sd["instruct"]), mode="instruct", image=str(image), prompt="make it blue",
                                  image_guidance_scale=1.5, steps=3, batch_size=2), on_step=events.append, save=False)
    assert instruct.images.shape == (2, 40, 56, 3) and len(events) == 4 and events[-2].x0 is not None
    assert events[-1].final and np.array_equal(events[-1].x0, instruct.images)


@pytest.mark.parametrize("kind, mode", [("txt2img", "txt2img"), ("txt2img", "img2img"), ("inpaint", "inpaint"), ("instruct", "instruct")])
def test_cancel_in_every_mode(engine, sd, photo, tmp_path, kind, mode):
    events = []
    image, mask = photo
    if mode == "txt2img":
        job = Text2ImageJob(model=str(sd[kind]), prompt="x", steps=20, width=32, height=32, output_dir=str(tmp_path / "o"))
    else:
        job = EditJob(model=str(sd[kind]), mode=mode, image=str(image), mask=str(mask), prompt="x", steps=20, strength=1.0,
                      output_dir=str(tmp_path / "o"))
    result = engine.run(job, on_step=events.append, should_stop=lambda: len(events) >= 2)
    assert result.cancelled and result.images is None and len(events) == 2
    assert not (tmp_path / "o").exists()


def test_inpainting_model_is_refused_for_text_to_image(engine, sd):
    with pytest.raises(ModelError, match=r"inpaint.*made for inpainting or outpainting; it cannot do "
                                         r"text-to-image.*Edit \(inpaint\)") as err:
        engine.run(Text2ImageJob(model=str(sd["inpaint"]), prompt="x", steps=2, width=32, height=32), save=False)
    assert str(sd["inpaint"]) in str(err.value)
    with pytest.raises(ModelError, match="cannot do inpainting"):  # a normal model can (masked img2img), this not
        engine.run(EditJob(model=str(sd["instruct"]), mode="inpaint", image="a.png", mask="m.png", prompt="x"), save=False)


def test_pickle_component_is_refused_and_never_unpickled(sd, tmp_path, monkeypatch):
    import shutil

    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(sd["txt2img"], folder)
    weights = next((folder / "text_encoder").glob("*.safetensors"))
    torch.save(load_file(weights), folder / "text_encoder" / "pytorch_model.bin")
    weights.unlink()
    unpickled = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a))
    with pytest.raises(ModelError, match=r"pytorch_model.bin is a pickle file"):
        Engine(device="cpu").run(Text2ImageJob(model=str(folder), prompt="x", steps=2, width=32, height=32), save=False)
    assert unpickled == []


def test_missing_input_image_is_a_clear_error(engine, sd, tmp_path):
    with pytest.raises(ModelError, match=f"The input image {tmp_path / 'nope.png'} does not exist"):
        engine.run(EditJob(model=str(sd["txt2img"]), image=str(tmp_path / "nope.png"), prompt="x", steps=2), save=False)


def test_job_validation():
    with pytest.raises(JobError, match="width must be a multiple of 8"):
        Text2ImageJob(model="m", prompt="x", width=100)
    with pytest.raises(JobError, match="Inpainting needs a mask"):
        EditJob(model="m", mode="inpaint", image="a.png", prompt="x")
    with pytest.raises(JobError, match="strength must be between 0.0 and 1.0"):
        EditJob(model="m", image="a.png", prompt="x", strength=1.5)


def test_fitted_latent_preview_inverts_a_known_encoder():
    """The least-squares fit recovers colours from latents when the encoder is a known linear map (8× down)."""
    from types import SimpleNamespace

    import torch

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    mix = torch.tensor([[0.8, -0.3, 0.1, 0.5], [0.2, 0.9, -0.4, 0.1], [-0.5, 0.2, 0.7, 0.3]])

    class LinearVAE:
        config = SimpleNamespace(latent_channels=4, scaling_factor=0.5, block_out_channels=(8, 8))
        device, dtype = torch.device("cpu"), torch.float32

        def encode(self, images):
            pooled = torch.nn.functional.avg_pool2d(images, 8)
            return SimpleNamespace(latent_dist=SimpleNamespace(mean=torch.einsum("bchw,cl->blhw", pooled, mix) + 0.1))

    vae = LinearVAE()
    to_rgb = LatentToRGB.for_vae(vae)
    assert to_rgb.source == "fitted to this VAE"
    red = torch.tensor([1.0, -1.0, -0.2])[None, :, None, None].expand(1, 3, 32, 32)
    latents = vae.encode(red).latent_dist.mean * vae.config.scaling_factor
    mean = to_rgb(latents).reshape(-1, 3).mean(0)
    assert np.abs(mean - np.array([255, 0, 102])).max() <= 2


def test_published_factors_for_sd_and_sdxl_vae_configs():
    from types import SimpleNamespace

    import torch

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB

    vae = SimpleNamespace(config=SimpleNamespace(latent_channels=4, scaling_factor=0.18215, block_out_channels=(128, 256, 512, 512)))
    to_rgb = LatentToRGB.for_vae(vae)
    assert to_rgb.source.startswith("SD 1.x factors")
    assert to_rgb(torch.zeros(1, 4, 2, 2)).tolist() == [[[[128, 128, 128]] * 2] * 2]
    vae.config.scaling_factor = 0.13025  # SDXL's VAE: its own factors, and a bias
    to_rgb = LatentToRGB.for_vae(vae)
    assert to_rgb.source.startswith("SDXL factors")
    assert to_rgb(torch.zeros(1, 4, 1, 1)).tolist() == [[[[141, 125, 127]]]]  # 127.5 × (1 + bias)


def test_cli_txt2img_and_edit(sd, photo, tmp_path, capsys):
    from ddpm_studio.cli import main

    assert main(["txt2img", "--model", str(sd["txt2img"]), "--prompt", "a cat", "--negative", "dog", "--steps", "3",
                 "--size", "40x32", "--seed", "2", "--out", str(tmp_path / "t"), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()
    with Image.open(out[0]) as image:
        assert image.size == (40, 32) and image.text["parameters"].startswith("a cat\nNegative prompt: dog\nSteps: 3")
    image, mask = photo
    for mode, extra in (("img2img", []), ("inpaint", ["--mask", str(mask)]), ("instruct", [])):
        model = sd["txt2img" if mode == "img2img" else mode]
        assert main(["edit", "--model", str(model), "--image", str(image), "--mode", mode, "--prompt", "x", "--steps", "2",
                     "--strength", "1.0", "--out", str(tmp_path / mode), "--device", "cpu", *extra]) == 0
        path = capsys.readouterr().out.split()[0]
        assert Image.open(path).size == ((60, 44) if mode == "inpaint" else (56, 40)) and read_job(path).mode == mode
    assert main(["txt2img", "--model", str(sd["txt2img"]), "--prompt", "x", "--size", "big"]) == 1
    assert "--size must look like 512x768" in capsys.readouterr().err


def test_nan_output_is_reported_not_saved(sd, tmp_path):
    import torch

    engine = Engine(device="cpu")
    loaded = engine.load(str(sd["txt2img"]), "txt2img")

    def black(_module, _inputs, output):  # what an overflowing VAE gives
        return torch.full_like(output, float("nan"))

    handle = loaded.pipe.vae.decoder.conv_out.register_forward_hook(black)
    try:
        with pytest.raises(ModelError, match="decoded good latents into NaN values.*float32.*choose another VAE"):
            engine.run(Text2ImageJob(model=str(sd["txt2img"]), prompt="x", steps=2, width=32, height=32,
                                     output_dir=str(tmp_path)))
    finally:
        handle.remove()
    assert list(tmp_path.iterdir()) == []


def test_taesd_previews_at_full_resolution(sd, tmp_path):
    taesd = save_tiny_taesd(tmp_path / "taesd")
    job = Text2ImageJob(model=str(sd["txt2img"]), prompt="x", steps=3, width=48, height=32, output_dir="")
    linear, tiny = [], []
    Engine(device="cpu").run(job, on_step=linear.append, save=False)
    Engine(device="cpu", taesd=str(taesd)).run(job, on_step=tiny.append, save=False)
    linear, tiny = linear[:-1], tiny[:-1]  # the model calls, without the result after them
    assert linear[-1].x0.shape == (1, 4, 6, 3)  # the linear map: latent resolution
    assert tiny[-1].x0.shape == (1, 32, 48, 3) and len(tiny) == 3  # TAESD: the image's own
    assert tiny[-1].x_t.shape == (1, 4, 6, 3)  # x_t stays on the linear map: TAESD of noise shows noise


def test_taesd_auto_without_a_cached_copy_falls_back_and_a_bad_folder_is_named(sd, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    assert Engine(device="cpu", taesd="auto").load(str(sd["txt2img"]), "txt2img").taesd is None
    (tmp_path / "not-taesd").mkdir()
    with pytest.raises(ModelError, match="TAESD preview decoder in .*not-taesd cannot be loaded"):
        Engine(device="cpu", taesd=str(tmp_path / "not-taesd")).load(str(sd["txt2img"]), "txt2img")


def test_tiny_sdxl_text_to_image_and_img2img(tmp_path, photo):
    from ddpm_studio.engine.models.catalogue import inspect_model
    from tests.tiny_sd import save_tiny_sdxl

    model = save_tiny_sdxl(tmp_path / "sdxl")
    info = inspect_model(str(model))
    assert info.family == "stable-diffusion-xl" and info.modes == ("txt2img", "img2img", "inpaint", "outpaint")
    engine = Engine(device="cpu")
    events = []
    result = engine.run(Text2ImageJob(model=str(model), prompt="a castle", negative_prompt="fog", steps=3, width=40,
                                      height=32, output_dir=str(tmp_path / "out")), on_step=events.append)
    assert result.images.shape == (1, 32, 40, 3) and len(events) == 4 and events[-2].x0.shape == (1, 4, 5, 3)
    assert events[-1].final and events[-1].x0.shape == (1, 32, 40, 3)
    assert read_job(result.saved_paths[0]).prompt == "a castle"
    image, _ = photo
    edited = engine.run(EditJob(model=str(model), mode="img2img", image=str(image), prompt="x", steps=4, strength=0.5,
                                output_dir=""), save=False)
    assert edited.images.shape == (1, 40, 56, 3) and edited.steps_run == 2


@pytest.mark.parametrize("mode", ["txt2img", "img2img"])
def test_vae_in_fp32_inside_a_half_precision_pipeline(sd, photo, mode):
    """bf16 on the CPU stands in for fp16 on a GPU: the VAE alone runs in float32, encode and decode both."""
    import torch

    from ddpm_studio.engine.runtime.options import MemoryOptions

    engine = Engine(device="cpu", precision="bf16", memory=MemoryOptions(vae_fp32=True))
    if mode == "txt2img":
        job = Text2ImageJob(model=str(sd["txt2img"]), prompt="x", steps=2, width=32, height=32, output_dir="")
    else:
        job = EditJob(model=str(sd["txt2img"]), mode="img2img", image=str(photo[0]), prompt="x", steps=2, output_dir="")
    result = engine.run(job, save=False)
    pipe = engine._model.pipe
    assert pipe.unet.dtype == torch.bfloat16 and pipe.vae.dtype == torch.float32
    assert result.images.shape[0] == 1 and result.images.dtype == np.uint8
