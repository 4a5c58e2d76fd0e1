"""Model references and their errors: each message names the path and the problem."""

from __future__ import annotations

import json
import shutil

import pytest

from ddpm_studio.engine.models import catalogue as models
from ddpm_studio.engine.models.catalogue import ModelError, inspect_model, list_models
from ddpm_studio.engine.models.pixel_ddpm import load_ddpm


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_loads_a_local_pipeline_folder(tiny_ddpm_dir):
    loaded = load_ddpm(str(tiny_ddpm_dir))
    assert loaded.info.family == "ddpm" and loaded.info.name == "tiny-ddpm"
    assert loaded.scheduler_config["num_train_timesteps"] == 1000
    assert loaded.unet.config.sample_size == 16


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(ModelError, match=f"Model folder not found: {tmp_path / 'nope'}"):
        load_ddpm(str(tmp_path / "nope"))


def test_folder_without_model_index(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(ModelError, match="model_index.json is missing") as err:
        load_ddpm(str(tmp_path))
    assert str(tmp_path) in str(err.value)


def test_pipeline_of_another_family_says_which_panel(tmp_path):
    (tmp_path / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionInpaintPipeline", "unet": ["diffusers", "UNet2DConditionModel"]})
    )
    with pytest.raises(ModelError) as err:
        load_ddpm(str(tmp_path))
    message = str(err.value)
    assert "StableDiffusionInpaintPipeline" in message and "Edit (inpaint)" in message and str(tmp_path) in message


def test_truncated_weights(tiny_ddpm_dir, tmp_path):
    broken = _copy(tiny_ddpm_dir, tmp_path / "broken")
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelError, match="Could not read the UNet weights in") as err:
        load_ddpm(str(broken))
    assert str(weights) in str(err.value)


def test_garbage_weights(tiny_ddpm_dir, tmp_path):
    broken = _copy(tiny_ddpm_dir, tmp_path / "garbage")
    weights = broken / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"this is not a safetensors file at all")
    with pytest.raises(ModelError, match="Could not read the UNet weights"):
        load_ddpm(str(broken))


def test_pickle_weights_refused_unless_allowed(tiny_ddpm_dir, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    pickled = _copy(tiny_ddpm_dir, tmp_path / "pickled")
    weights = pickled / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(weights), pickled / "unet" / "diffusion_pytorch_model.bin")
    weights.unlink()

    unpickled = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: unpickled.append(a) or real_load(*a, **k))
    with pytest.raises(ModelError, match="pickle file"):
        load_ddpm(str(pickled))
    assert unpickled == []  # refused before anything was unpickled
    assert load_ddpm(str(pickled), allow_pickle=True).unet.config.sample_size == 16


def test_hub_id_not_in_cache_is_an_offline_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        inspect_model("google/ddpm-cifar10-32")


def test_hub_id_in_cache_resolves_offline(tiny_ddpm_dir, tmp_path, monkeypatch):
    """A pipeline laid out like a real HF cache entry loads by its hub id, offline."""
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-ddpm"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_ddpm_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    loaded = load_ddpm("someone/tiny-ddpm")
    assert loaded.info.name == "someone/tiny-ddpm" and loaded.info.family == "ddpm"


def test_bundled_reference(tiny_ddpm_dir, tmp_path, monkeypatch):
    bundle = tmp_path / "models"
    _copy(tiny_ddpm_dir, bundle / "mini")
    monkeypatch.setattr(models, "bundled_models_dir", lambda: bundle)
    assert inspect_model("bundled:mini").path == (bundle / "mini")
    with pytest.raises(ModelError, match="No bundled model named 'other'.*mini"):
        inspect_model("bundled:other")


def test_listing_skips_broken_and_foreign_folders(tiny_ddpm_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(models, "bundled_models_dir", lambda: tmp_path / "no-bundle")
    user = tmp_path / "mine"
    _copy(tiny_ddpm_dir, user / "good")
    (user / "bad").mkdir(parents=True)
    (user / "bad" / "model_index.json").write_text("{not json")
    (user / "sd").mkdir()
    (user / "sd" / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    found = list_models([str(user)])
    assert [m.name for m in found] == ["good"]
