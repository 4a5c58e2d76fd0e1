"""ControlNet (engine/control/controlnet.py) on tiny random SD 1.x and SDXL pipelines, with ControlNets built from their
UNets' configs: a ControlNet changes the picture and two control images give two pictures; weight 0 is the plain
run bit for bit; the start/end fractions reach the ControlNet's scale step by step; several at once; Edit's img2img;
a single .safetensors file; a ControlNet of another family is one line naming both; preprocessors; the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.control.preprocess import canny, preprocess
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.runner import Engine
from tests.tiny_controlnet import save_tiny_controlnet
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("controlnet")
    sd, xl = save_tiny_sd(root / "sd"), save_tiny_sdxl(root / "xl")
    rng = np.random.default_rng(0)
    pictures = {}
    for name in ("a", "b"):
        pixels = np.full((64, 64, 3), 255, np.uint8)
        for _ in range(6):  # dark strokes on a white page
            y, x = rng.integers(0, 56, 2)
            pixels[y:y + 8, x:x + 30 if name == "a" else x + 4] = 0
        pictures[name] = root / f"{name}.png"
        Image.fromarray(pixels).save(pictures[name])
    return {"sd": sd, "xl": xl, "cn": save_tiny_controlnet(root / "cn", sd),
            "cn2": save_tiny_controlnet(root / "cn2", sd, seed=1), "cn-xl": save_tiny_controlnet(root / "cn-xl", xl),
            "file": save_tiny_controlnet(root / "files" / "cn-file.safetensors", sd, single_file=True),
            **{f"picture-{k}": str(v) for k, v in pictures.items()}}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(tiny, kind="sd", **changes) -> Text2ImageJob:
    return Text2ImageJob(**{**dict(model=str(tiny[kind]), prompt="a red fox", scheduler="ddim", steps=4, width=64,
                                   height=64, seed=2, preview_every=0), **changes})


def _controlled(tiny, kind="sd", net="cn", picture="a", weight=1.0, start=0.0, end=1.0, **changes):
    return _job(tiny, kind, controlnets=((str(tiny[net]), weight, start, end),),
                control_images=(tiny[f"picture-{picture}"],), control_preprocess=("scribble",), **changes)


@pytest.mark.parametrize("kind", ["sd", "xl"])
def test_a_controlnet_steers_and_two_control_images_give_two_pictures(engine, tiny, kind):
    net = "cn" if kind == "sd" else "cn-xl"
    plain = engine.run(_job(tiny, kind), save=False).images
    a, b = (engine.run(_controlled(tiny, kind, net, picture=p), save=False).images for p in ("a", "b"))
    assert not np.array_equal(a, plain) and not np.array_equal(a, b)
    zero = engine.run(_controlled(tiny, kind, net, weight=0.0), save=False).images
    assert np.array_equal(zero, plain)  # weight 0: the model's own picture, bit for bit


def test_start_and_end_fractions_reach_the_controlnet_step_by_step(engine, tiny, monkeypatch):
    from diffusers import ControlNetModel

    scales = []
    forward = ControlNetModel.forward

    def recording(self, *args, conditioning_scale=1.0, **kwargs):
        scales.append(round(float(conditioning_scale), 6))
        return forward(self, *args, conditioning_scale=conditioning_scale, **kwargs)

    monkeypatch.setattr(ControlNetModel, "forward", recording)
    engine.run(_controlled(tiny, weight=0.8, start=0.5, end=1.0), save=False)
    assert scales == [0.0, 0.0, 0.8, 0.8]  # 4 steps: off for the first half
    scales.clear()
    engine.run(_controlled(tiny, weight=0.8, start=0.0, end=0.25), save=False)
    assert scales == [0.8, 0.0, 0.0, 0.0]


def test_several_controlnets_and_edit_img2img(engine, tiny):
    one = engine.run(_controlled(tiny), save=False).images
    two = engine.run(_job(tiny, controlnets=((str(tiny["cn"]), 1.0, 0.0, 1.0), (str(tiny["cn2"]), 0.7, 0.0, 1.0)),
                          control_images=(tiny["picture-a"], tiny["picture-b"]), control_preprocess=("scribble",)),
                     save=False).images
    assert not np.array_equal(one, two)
    edit = dict(model=str(tiny["sd"]), prompt="a red fox", mode="img2img", image=tiny["picture-b"], strength=0.8,
                steps=4, seed=2, preview_every=0)
    plain = engine.run(EditJob(**edit), save=False).images
    steered = engine.run(EditJob(**edit, controlnets=((str(tiny["cn"]), 1.0, 0.0, 1.0),),
                                 control_images=(tiny["picture-a"],), control_preprocess=("scribble",)),
                         save=False).images
    assert steered.shape == plain.shape and not np.array_equal(steered, plain)


def test_a_single_file_controlnet_loads_offline_with_its_family_config(engine, tiny, tmp_path, monkeypatch):
    root = tmp_path / "configs"
    (root / "sd1").mkdir(parents=True)
    (tiny["file"].parent / "cn-file-config").rename(root / "sd1" / "controlnet")  # the tiny family's config
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(root))
    from_file = engine.run(_controlled(tiny, net="file"), save=False).images
    from_folder = engine.run(_controlled(tiny, net="cn"), save=False).images
    assert np.array_equal(from_file, from_folder)


def test_a_controlnet_of_another_family_is_one_line_naming_both(engine, tiny):
    with pytest.raises(ModelError) as error:
        engine.run(_controlled(tiny, "xl", "cn"), save=False)
    message = str(error.value)
    assert "\n" not in message and "cn is for an SD-type model" in message and "xl is an SDXL-type model" in message
    pickle = tiny["cn"].parent / "cn.pth"
    pickle.write_bytes(b"not really")
    with pytest.raises(ModelError, match="pickle file"):
        engine.run(_controlled(tiny, net="cn").replace(controlnets=((str(pickle), 1.0, 0.0, 1.0),)), save=False)


def test_preprocessors_are_deterministic_and_make_the_maps_controlnets_expect(tiny):
    picture = Image.open(tiny["picture-a"])
    edges = np.asarray(canny(picture, 100, 200))
    assert np.array_equal(edges, np.asarray(canny(picture, 100, 200)))
    assert set(np.unique(edges)) == {0, 255} and not np.array_equal(edges, np.asarray(picture))
    scribble, invert = (np.asarray(preprocess(picture, name)) for name in ("scribble", "invert"))
    assert np.array_equal(scribble, 255 - np.asarray(picture))  # dark strokes on white → white lines on black
    assert np.array_equal(invert, 255 - np.asarray(picture))


def test_bad_controlnet_fields_are_refused_in_words(tiny):
    with pytest.raises(JobError, match="needs its control image"):
        _job(tiny, controlnets=(("cn", 1.0, 0.0, 1.0),))
    with pytest.raises(JobError, match="must start before it ends"):
        _controlled(tiny, start=0.6, end=0.4)
    with pytest.raises(JobError, match="not instruct edits"):
        EditJob(model="m", prompt="x", mode="instruct", image="a.png", controlnets=(("cn", 1.0, 0.0, 1.0),),
                control_images=("a.png",))


def test_cli_controlnet_flags_and_metadata(tiny, tmp_path, capsys):
    common = ["txt2img", "--model", str(tiny["sd"]), "--prompt", "a fox", "--size", "64x64", "--steps", "3",
              "--seed", "1", "--scheduler", "ddim"]
    assert main(common + ["--controlnet", f"{tiny['cn']}:0.8:0:0.5", "--control-image", tiny["picture-a"],
                          "--control-preprocess", "canny", "--canny", "50,150", "--out", str(tmp_path)]) == 0
    path = next(tmp_path.glob("*.png"))
    assert ('ControlNet 0: "Module: canny, Model: cn, Weight: 0.8, Guidance Start: 0, Guidance End: 0.5"'
            in read_png_text(path)["parameters"])
    job = read_job(path)
    assert job.controlnets == ((str(tiny["cn"]), 0.8, 0.0, 0.5),) and job.canny_thresholds == (50, 150)
    capsys.readouterr()
    assert main(common + ["--controlnet", str(tiny["cn"]), "--out", str(tmp_path / "x")]) == 1
    assert "needs its control image" in capsys.readouterr().err


def test_controlnet_with_a_hires_fix_and_with_outpainting(engine, tiny):
    hires = engine.run(_controlled(tiny, hires_scale=1.5), save=False).images  # the first pass steered
    assert hires.shape == (1, 96, 96, 3)
    assert not np.array_equal(hires, engine.run(_job(tiny, hires_scale=1.5), save=False).images)
    outpaint = dict(model=str(tiny["sd"]), prompt="a red fox", mode="outpaint", image=tiny["picture-b"],
                    extend=(16, 0, 0, 0), feather=8, strength=1.0, steps=3, seed=2, preview_every=0)
    plain = engine.run(EditJob(**outpaint), save=False).images
    steered = engine.run(EditJob(**outpaint, controlnets=((str(tiny["cn"]), 1.0, 0.0, 1.0),),
                                 control_images=(tiny["picture-a"],)), save=False).images
    assert steered.shape == plain.shape == (1, 64, 80, 3) and not np.array_equal(steered, plain)
    assert np.array_equal(steered[0, :, 32:], np.asarray(Image.open(tiny["picture-b"]))[:, 16:])  # kept exactly


def test_controlnet_steers_inpainting_with_a_normal_model_and_keeps_the_rest(engine, tiny, tmp_path):
    mask = np.zeros((64, 64), np.uint8)
    mask[8:24, 8:24] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    inpaint = dict(model=str(tiny["sd"]), prompt="a red fox", mode="inpaint", image=tiny["picture-b"],
                   mask=str(tmp_path / "mask.png"), feather=4, strength=1.0, steps=3, seed=2, preview_every=0)
    plain = engine.run(EditJob(**inpaint), save=False).images
    steered = engine.run(EditJob(**inpaint, controlnets=((str(tiny["cn"]), 1.0, 0.0, 1.0),),
                                 control_images=(tiny["picture-a"],)), save=False).images
    assert steered.shape == plain.shape == (1, 64, 64, 3) and not np.array_equal(steered, plain)
    assert np.array_equal(steered[0, 32:], np.asarray(Image.open(tiny["picture-b"]))[32:])  # kept exactly
