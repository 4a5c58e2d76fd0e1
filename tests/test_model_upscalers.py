"""Model upscalers (ESRGAN, SwinIR, DAT through spandrel): tiny random models built with spandrel's own classes load
from .safetensors and weights-only .pth files, upscale 2× and 4×, tile without changing the picture, are listed from
a models home, write their name and hash; a .pth that needs pickle code is refused and nothing in it runs."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model, list_models
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.upscale.model_upscale import load_model_upscaler, upscale_pixels
from tests.upscaler_models import save_upscaler

ARCHS = {"esrgan": "ESRGAN", "swinir": "SwinIR", "dat": "DAT"}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def picture(path, width, height, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("kind", ["esrgan", "swinir", "dat"])
def test_upscales_and_tiles_equal_an_untiled_run(engine, tmp_path, kind, scale, suffix):
    path = save_upscaler(tmp_path / "models", kind, scale, suffix)
    info = inspect_model(str(path))
    assert (info.family, info.upscale, info.modes, info.panel) == ("model-upscaler", scale, ("upscale",), "Upscale")
    assert info.class_name == f"{ARCHS[kind]} {scale}× upscaler"
    image = picture(tmp_path / "in.png", 56, 40)
    events = []
    whole = engine.run(UpscaleJob(model=str(path), image=image, output_dir=str(tmp_path / "out")), on_step=events.append)
    assert whole.images.shape == (1, 40 * scale, 56 * scale, 3) and whole.tiles == 1
    assert whole.reference.shape == whole.images.shape[1:]  # Lanczos at the model's factor, to compare with
    tiled = engine.run(UpscaleJob(model=str(path), image=image, tile=32, overlap=16, preview_every=1, output_dir=""),
                       on_step=events.append)
    assert tiled.tiles == 6 and [e.index for e in events[-7:-1]] == list(range(6))
    assert events[-2].x0.shape == (1, 40, 56, 3) and events[-1].final  # previews at the input size, then the result
    # the receptive fields of these tiny models are narrower than the 16 px margin each tile sees around it
    diff = np.abs(whole.images.astype(int) - tiled.images.astype(int))
    assert diff.max() <= 1
    with Image.open(whole.saved_paths[0]) as png:
        text = png.text["parameters"]
    assert f"Postprocess upscaler: {path.stem}" in text and f"Postprocess upscale by: {scale}" in text
    assert "Model hash: " in text and "Noise level" not in text


def test_tiles_blend_where_the_receptive_field_is_wider_than_the_margin(tmp_path):
    """With a margin narrower than the model sees, tiles differ from the whole near their borders; the feathered
    overlap keeps that small (no hard seam), and a wider margin makes it vanish."""
    loaded = load_model_upscaler(str(save_upscaler(tmp_path, "esrgan", 2)), "cpu", torch.float32)
    pixels = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    whole = upscale_pixels(loaded, pixels, "cpu")
    narrow = upscale_pixels(loaded, pixels, "cpu", tile=24, overlap=2)
    wide = upscale_pixels(loaded, pixels, "cpu", tile=48, overlap=24)
    assert np.abs(whole - wide).max() * 255 < 1e-3 < np.abs(whole - narrow).max() * 255


def test_pickled_callable_is_refused_and_never_runs(engine, tmp_path):
    marker = tmp_path / "ran.txt"

    class Payload:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    bad = tmp_path / "4x-evil.pth"
    torch.save({"params_ema": {"conv_first.weight": torch.zeros(1)}, "hook": Payload()}, bad)
    with pytest.raises(ModelError, match="weights-only loader.*refused.*nothing in it ran"):
        engine.run(UpscaleJob(model=str(bad), image=picture(tmp_path / "in.png", 32, 32), output_dir=""))
    assert not marker.exists()
    assert not list_models([str(tmp_path)], accept=lambda info: info.family == "model-upscaler")  # nor listed
    assert not marker.exists()


def test_not_an_upscaler_is_a_message(engine, tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "something.safetensors"
    save_file({"a.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(ModelError, match="something.safetensors"):
        engine.run(UpscaleJob(model=str(other), image=picture(tmp_path / "in.png", 32, 32), output_dir=""))


def test_listed_from_a_models_home_and_spandrel_without_torchvision(tmp_path):
    from ddpm_studio.engine.models.home import models_home

    esrgan = save_upscaler(tmp_path / "A1111" / "models" / "ESRGAN", "esrgan", 4, ".pth")
    comfy = save_upscaler(tmp_path / "ComfyUI" / "models" / "upscale_models", "swinir", 2)
    a1111, comfyui = models_home(tmp_path / "A1111"), models_home(tmp_path / "ComfyUI" / "models")
    assert a1111.upscalers == (str(esrgan.parent),) and comfyui.upscalers == (str(comfy.parent),)
    found = list_models([*a1111.upscalers, *comfyui.upscalers], accept=lambda info: "upscale" in info.modes)
    assert [(info.path, info.upscale) for info in found] == [(esrgan.resolve(), 4), (comfy.resolve(), 2)]
    try:
        import torchvision  # noqa: F401
    except Exception:  # the stand-in spandrel was imported with is gone again: nothing else sees a torchvision
        assert "torchvision" not in sys.modules


def test_cli_upscale_with_a_model(tmp_path, capsys):
    from ddpm_studio.cli import main

    model = save_upscaler(tmp_path / "m", "esrgan", 2)
    image = picture(tmp_path / "in.png", 40, 24)
    assert main(["upscale", image, "--model", str(model), "--tile", "32", "--out", str(tmp_path / "o"),
                 "--device", "cpu"]) == 0
    paths = capsys.readouterr().out.split()
    with Image.open(paths[0]) as png:
        assert png.size == (80, 48) and "Postprocess upscaler: 2x-tiny-esrgan" in png.text["parameters"]
    assert main(["upscale", image, "--model", str(tmp_path / "m" / "missing.pth"), "--device", "cpu"]) == 1
    assert "missing.pth" in capsys.readouterr().err


def _python(code: str) -> "subprocess.CompletedProcess":
    import os
    import subprocess

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ},
                          timeout=120)


def test_spandrel_is_imported_without_torchvision_and_leaves_none_behind():
    code = ("import importlib.util, sys\n"
            "from ddpm_studio.engine.models import upscaler_files as u\n"
            "have = importlib.util.find_spec('torchvision') is not None\n"
            "u.spandrel()\n"
            "print(have, u._without_torchvision, 'torchvision' in sys.modules, importlib.util.find_spec('torchvision') is None)\n"
            "from spandrel.architectures.RestoreFormer import tv_normalize\n"
            "try:\n    tv_normalize(None, 0, 1)\nexcept u.ModelError as e:\n    print('said:', e)\n")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    if first.startswith("False"):  # no torchvision here: the stand-in lived only for the import
        assert first == "False True False True"
        assert "needs torchvision, which is not installed" in done.stdout


def test_without_spandrel_a_model_upscaler_says_how_to_install_it(tmp_path):
    path = save_upscaler(tmp_path, "esrgan", 2)
    code = ("import sys\nsys.modules['spandrel'] = None\n"
            "from ddpm_studio.engine.upscale.model_upscale import load_model_upscaler\n"
            f"try:\n    load_model_upscaler({str(path)!r}, 'cpu', None)\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n")
    done = _python(code)
    assert "ModelError" in done.stdout and "pip install --no-deps" in done.stdout and "spandrel" in done.stdout
