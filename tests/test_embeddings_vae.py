"""Textual-inversion embeddings (A1111 and SDXL layouts, pickle refused unless allowed) and the VAE override
(a diffusers VAE file, an A1111/LDM-key VAE file, a diffusers folder), through the engine on tiny random models."""

from __future__ import annotations

import numpy as np
import pytest

from ddpm_studio.engine.addons.resources import AddonError, AddonFolders, list_embeddings
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.tiny_addons import save_embedding
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedding-models")
    embeddings = root / "embeddings"
    save_embedding(embeddings / "EasyStyle.safetensors", (32,), vectors=2)
    save_embedding(embeddings / "xl" / "xlstyle.safetensors", (32, 48), vectors=1)
    return {"sd": save_tiny_sd(root / "sd"), "xl": save_tiny_sdxl(root / "sdxl"), "embeddings": embeddings,
            "root": root}


def _engine(models, **options):
    return Engine(device="cpu", folders=AddonFolders(embeddings=[str(models["embeddings"])]), **options)


def _job(model, **changes):
    return Text2ImageJob(**{**dict(model=str(model), prompt="a cat", steps=3, width=64, height=64, preview_every=0,
                                   seed=2), **changes})


def _image(engine, job):
    return engine.run(job, save=False).images


def test_an_embedding_changes_the_image_when_named_and_not_when_absent(models):
    engine = _engine(models)
    base = _image(engine, _job(models["sd"]))
    named = _image(engine, _job(models["sd"], prompt="a cat, easystyle"))  # any case, as A1111's tokenizer matches
    assert np.abs(named.astype(int) - base).max() > 0
    assert np.array_equal(_image(engine, _job(models["sd"])), base)  # loaded now, but not named: no change
    weighted = _image(engine, _job(models["sd"], prompt="a cat, (EasyStyle:1.3)"))  # through our own encoder
    assert not np.array_equal(weighted, named)
    negative = _image(engine, _job(models["sd"], negative_prompt="EasyStyle"))
    assert not np.array_equal(negative, base)


def test_the_run_reports_the_embeddings_it_used_and_their_hashes(models, tmp_path):
    import hashlib

    from ddpm_studio.engine.output.metadata import read_png_text
    from ddpm_studio.engine.png.chunks import parse_a1111

    result = _engine(models).run(_job(models["sd"], prompt="a cat, EasyStyle", output_dir=str(tmp_path)))
    fields = parse_a1111(read_png_text(result.saved_paths[0])["parameters"])
    digest = hashlib.sha256((models["embeddings"] / "EasyStyle.safetensors").read_bytes()).hexdigest()[:12]
    assert fields["TI hashes"] == f"EasyStyle: {digest}"
    assert fields["prompt"] == "a cat, EasyStyle"


def test_an_sdxl_embedding_goes_into_both_text_encoders(models):
    engine = _engine(models)
    base = _image(engine, _job(models["xl"]))
    assert not np.array_equal(_image(engine, _job(models["xl"], prompt="a cat, xlstyle")), base)
    tokenizers = (engine._model.pipe.tokenizer, engine._model.pipe.tokenizer_2)
    assert all("xlstyle" in t.get_vocab() for t in tokenizers)


def test_an_embedding_for_another_family_is_a_message(models):
    engine = _engine(models)
    with pytest.raises(AddonError, match="xlstyle is made for SDXL, and this model is one whose text encoder is 32 "
                                         "wide: take 'xlstyle' out of the prompt"):
        engine.run(_job(models["sd"], prompt="xlstyle"), save=False)


def test_a_pickle_embedding_is_refused_unless_allowed(models, tmp_path):
    import torch

    torch.save({"string_to_param": {"*": torch.randn(1, 32)}, "name": "oldstyle", "step": 100},
               tmp_path / "oldstyle.pt")
    folders = AddonFolders(embeddings=[str(tmp_path)])
    with pytest.raises(AddonError, match="pickle"):
        Engine(device="cpu", folders=folders).run(_job(models["sd"], prompt="oldstyle"), save=False)
    allowing = Engine(device="cpu", folders=folders, allow_pickle=True)
    assert not np.array_equal(_image(allowing, _job(models["sd"], prompt="oldstyle")),
                              _image(allowing, _job(models["sd"])))


def test_embeddings_are_listed_with_their_family(models, tmp_path):
    (tmp_path / "notes.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    found, skipped = list_embeddings([models["embeddings"], tmp_path])
    assert {(e.name, e.family, e.vectors) for e in found} == {("EasyStyle", "", 2), ("xlstyle", "SDXL", 1)}
    assert len(skipped) == 1 and skipped[0].path == tmp_path / "notes.safetensors"
    assert "notes.safetensors is not a textual-inversion embedding" in skipped[0].reason


def test_a_cut_short_file_is_skipped_with_why_not_listed(models, tmp_path):
    """An unfinished download: its header is whole, its tensors are not. Listed as skipped (the run says so), not
    as an embedding whose loading would fail later."""
    whole = (models["embeddings"] / "EasyStyle.safetensors").read_bytes()
    (tmp_path / "halfdone.safetensors").write_bytes(whole[:-10])
    (tmp_path / "headless.safetensors").write_bytes(whole[:20])
    found, skipped = list_embeddings([tmp_path])
    assert found == [] and sorted(f.name for f in skipped) == ["halfdone", "headless"]
    assert all("is cut short" in f.reason and f.tag == "unreadable" for f in skipped)


@pytest.fixture(scope="module")
def other_vae(models):
    """Another random VAE of the same shape, as a diffusers folder, a diffusers-key file and an LDM-key file."""
    import torch
    from diffusers import AutoencoderKL
    from safetensors.torch import save_file

    from tests.ldm_checkpoint import vae_to_ldm

    own = AutoencoderKL.from_pretrained(models["sd"] / "vae", local_files_only=True)
    torch.manual_seed(7)
    vae = AutoencoderKL.from_config(own.config)
    folder = models["root"] / "vaes"
    vae.save_pretrained(folder / "other-vae")
    state = {k: v.contiguous() for k, v in vae.state_dict().items()}
    save_file(state, str(folder / "other.safetensors"))
    save_file({k: v.contiguous() for k, v in vae_to_ldm(state, 4).items()}, str(folder / "other-ldm.safetensors"))
    return folder


def test_a_vae_override_decodes_with_that_vae_and_the_models_own_comes_back(models, other_vae):
    engine = Engine(device="cpu", folders=AddonFolders(vaes=[str(other_vae)]))
    base = _image(engine, _job(models["sd"]))
    by_file = _image(engine, _job(models["sd"], vae=str(other_vae / "other.safetensors")))
    assert np.abs(by_file.astype(int) - base).max() > 10
    assert np.array_equal(_image(engine, _job(models["sd"], vae=str(other_vae / "other-ldm.safetensors"))), by_file)
    assert np.array_equal(_image(engine, _job(models["sd"], vae=str(other_vae / "other-vae"))), by_file)
    assert np.array_equal(_image(engine, _job(models["sd"], vae="other")), by_file)  # by name, in the VAE folders
    assert np.array_equal(_image(engine, _job(models["sd"])), base)


def test_a_vae_that_does_not_fit_is_a_message_naming_it(models, tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file({"encoder.down_blocks.0.resnets.0.conv1.weight": torch.zeros(3, 3, 3, 3)},
              str(tmp_path / "bad.safetensors"))
    engine = Engine(device="cpu")
    with pytest.raises(AddonError, match="bad.safetensors"):
        engine.run(_job(models["sd"], vae=str(tmp_path / "bad.safetensors")), save=False)
    engine.run(_job(models["sd"]), save=False)  # the model is still there and usable


def test_vaes_are_listed_once_each(other_vae):
    from ddpm_studio.engine.addons.resources import list_vaes

    assert sorted((v.name, v.path.is_dir()) for v in list_vaes([other_vae])) == [
        ("other", False), ("other-ldm", False), ("other-vae", True)]  # the folder's own weights file is the folder
