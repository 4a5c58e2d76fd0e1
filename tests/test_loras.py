"""LoRAs through the engine, on tiny random SD 1.x and SDXL pipelines: both key layouts change the image at weight 1
and leave it bit-identical at weight 0 (also after a fused run), a prompt tag is the same as the list, weights change
without reloading the model, and a LoRA for another family is one line before anything is loaded."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest

from ddpm_studio.engine.addons.resources import AddonError, AddonFolders, list_loras, lora_file
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.tiny_addons import save_lora
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    root = tmp_path_factory.mktemp("lora-models")
    sd, xl = save_tiny_sd(root / "sd"), save_tiny_sdxl(root / "sdxl")
    sd_pipe = StableDiffusionPipeline.from_pretrained(sd, local_files_only=True)
    xl_pipe = StableDiffusionXLPipeline.from_pretrained(xl, local_files_only=True)
    loras = root / "loras"
    save_lora(loras / "kohya_style.safetensors", sd_pipe, "kohya", seed=1, tags={"sks": 5, "cat": 2})
    save_lora(loras / "peft_style.safetensors", sd_pipe, "diffusers", seed=2)
    save_lora(loras / "xl" / "kohya_xl.safetensors", xl_pipe, "kohya", seed=3)
    save_lora(loras / "xl" / "peft_xl.safetensors", xl_pipe, "diffusers", seed=4)
    return {"sd": sd, "xl": xl, "loras": loras}


@pytest.fixture()
def engine(models):
    return Engine(device="cpu", folders=AddonFolders(loras=[str(models["loras"])]))


def _job(model, **changes):
    return Text2ImageJob(**{**dict(model=str(model), prompt="a cat", steps=3, width=64, height=64, preview_every=0,
                                   seed=5), **changes})


def _image(engine, job):
    return engine.run(job, save=False).images


@pytest.mark.parametrize("name,model", [("kohya_style", "sd"), ("peft_style", "sd"), ("kohya_xl", "xl"),
                                        ("peft_xl", "xl")])
def test_a_lora_changes_the_image_at_weight_1_and_not_at_weight_0(engine, models, name, model):
    base = _image(engine, _job(models[model]))
    with_lora = _image(engine, _job(models[model], loras=((name, 1.0),)))
    assert np.abs(with_lora.astype(int) - base).max() > 10
    at_zero = _image(engine, _job(models[model], loras=((name, 0.0),)))
    assert np.array_equal(at_zero, base)  # after a fused run: the base weights are back bit for bit
    assert np.array_equal(_image(engine, _job(models[model])), base)


def test_a_prompt_tag_is_the_same_lora_as_the_list_and_the_encoder_never_sees_it(engine, models):
    listed = _image(engine, _job(models["sd"], loras=(("kohya_style", 0.8),)))
    tagged = _image(engine, _job(models["sd"], prompt="a cat <lora:kohya_style:0.8>"))
    assert np.array_equal(listed, tagged)
    by_path = _image(engine, _job(models["sd"], loras=((str(models["loras"] / "kohya_style.safetensors"), 0.8),)))
    assert np.array_equal(listed, by_path)


def test_weights_combine_and_may_be_negative_without_reloading_the_model(engine, models, monkeypatch):
    from ddpm_studio.engine.sampling import pipelines

    base = _image(engine, _job(models["sd"]))
    loads = []
    real = pipelines.load_pipeline
    monkeypatch.setattr(pipelines, "load_pipeline", lambda *a, **k: loads.append(a) or real(*a, **k))
    plus = _image(engine, _job(models["sd"], loras=(("kohya_style", 1.0),)))
    minus = _image(engine, _job(models["sd"], loras=(("kohya_style", -1.0),)))
    both = _image(engine, _job(models["sd"], loras=(("kohya_style", 0.5), ("peft_style", 0.5))))
    for a, b in ((plus, minus), (plus, both), (minus, base), (both, base)):
        assert not np.array_equal(a, b)
    assert loads == []  # the model loaded before stays: only adapters changed
    assert np.array_equal(_image(engine, _job(models["sd"])), base)


def test_an_sdxl_lora_on_sd_is_one_line_and_the_model_stays_usable(engine, models):
    base = _image(engine, _job(models["sd"]))
    model = engine._model
    with pytest.raises(AddonError) as caught:
        engine.run(_job(models["sd"], loras=(("kohya_xl", 1.0),)), save=False)
    message = str(caught.value)
    assert "\n" not in message and "kohya_xl" in message and "SDXL" in message
    assert engine._model is model
    assert np.array_equal(_image(engine, _job(models["sd"])), base)


def test_the_family_is_read_from_the_header(models):
    found, skipped = list_loras([models["loras"]])
    by_name = {lora.name: lora for lora in found}
    assert set(by_name) == {"kohya_style", "peft_style", "kohya_xl", "peft_xl"} and skipped == []
    assert by_name["kohya_style"].context_dim == 32 and by_name["kohya_xl"].arch == "sdxl"
    assert by_name["kohya_style"].triggers == ("sks", "cat")  # most used first
    sd, xl = by_name["kohya_style"], by_name["kohya_xl"]
    assert sd.fits(32, False) and not sd.fits(80, True) and xl.fits(80, True) and not xl.fits(32, False)
    assert sd.fits(0, None) is None  # a model that does not say: the run decides


def test_a_missing_or_broken_lora_is_a_message_naming_it(engine, models, tmp_path):
    with pytest.raises(AddonError, match="No LoRA named 'nowhere'"):
        engine.run(_job(models["sd"], prompt="a cat <lora:nowhere:1>"), save=False)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(AddonError, match="junk.safetensors"):
        lora_file(junk)
    with pytest.raises(AddonError, match="chosen twice"):
        engine.run(_job(models["sd"], prompt="a cat <lora:kohya_style:1>", loras=(("kohya_style", 1.0),)), save=False)


def test_a_pickle_lora_is_refused_unless_allowed(models, tmp_path):
    import torch
    from safetensors.torch import load_file

    state = load_file(str(models["loras"] / "kohya_style.safetensors"))
    torch.save(state, tmp_path / "old.pt")
    refusing = Engine(device="cpu", folders=AddonFolders(loras=[str(tmp_path)]))
    with pytest.raises(AddonError, match="pickle"):
        refusing.run(_job(models["sd"], loras=(("old", 1.0),)), save=False)
    both = AddonFolders(loras=[str(tmp_path), str(models["loras"])])
    allowing = Engine(device="cpu", allow_pickle=True, folders=both)
    assert np.array_equal(_image(allowing, _job(models["sd"], loras=(("old", 1.0),))),
                          _image(allowing, _job(models["sd"], loras=(("kohya_style", 1.0),))))


def test_tags_are_checked_when_the_job_is_made():
    with pytest.raises(JobError, match="<lora:NAME:WEIGHT>"):
        Text2ImageJob(model="m", prompt="a <lora:x:heavy>")
    with pytest.raises(JobError, match="negative"):
        Text2ImageJob(model="m", negative_prompt="<lora:x:1>")


def test_the_parameters_name_each_lora_with_its_hash(engine, models, tmp_path):
    from ddpm_studio.engine.output.metadata import read_job, read_png_text
    from ddpm_studio.engine.png.chunks import parse_a1111

    job = _job(models["sd"], prompt="a cat <lora:kohya_style:0.5>", loras=(("peft_style", 1.0),),
               output_dir=str(tmp_path))
    path = engine.run(job).saved_paths[0]
    fields = parse_a1111(read_png_text(path)["parameters"])
    assert fields["prompt"] == "a cat <lora:kohya_style:0.5> <lora:peft_style:1>"  # every LoRA where A1111 puts it

    def addnet(file):
        data = file.read_bytes()
        (size,) = struct.unpack("<Q", data[:8])
        return hashlib.sha256(data[8 + size:]).hexdigest()[:12]

    expected = {n: addnet(models["loras"] / f"{n}.safetensors") for n in ("peft_style", "kohya_style")}
    assert fields["Lora hashes"] == ", ".join(f"{n}: {h}" for n, h in expected.items())
    assert read_job(path) == job  # our own chunk restores the job itself: list and tags as they were


def test_hashes_are_cached_by_path_size_and_time(tmp_path, monkeypatch):
    from ddpm_studio.engine.output import file_hashes

    monkeypatch.setenv("DDPM_STUDIO_CACHE", str(tmp_path / "cache"))
    target = tmp_path / "model.safetensors"
    target.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}weights")
    calls = []
    real = file_hashes._sha256
    # counted for this file only: a checkpoint's hash started by an earlier test may still be running
    monkeypatch.setattr(file_hashes, "_sha256", lambda *a: (a[0] == target.resolve() and calls.append(a)) or real(*a))
    first = file_hashes.model_hash(target)
    assert first == hashlib.sha256(target.read_bytes()).hexdigest()[:10]
    assert file_hashes.model_hash(target) == first and len(calls) == 1
    assert file_hashes.lora_hash(target) == hashlib.sha256(b"weights").hexdigest()[:12]
    target.write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}changed!")
    assert file_hashes.model_hash(target) != first and len(calls) == 3


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "instruct"])
def test_loras_work_in_every_edit_mode(models, tmp_path, mode):
    from diffusers import StableDiffusionPipeline
    from PIL import Image

    from ddpm_studio.engine.jobs.types import EditJob

    model = save_tiny_sd(tmp_path / mode, mode if mode != "img2img" else "txt2img")
    save_lora(tmp_path / "loras" / "edit.safetensors", StableDiffusionPipeline.from_pretrained(
        models["sd"], local_files_only=True))  # the same shapes: the UNet's attention and the text encoder
    Image.new("RGB", (64, 64), (120, 60, 200)).save(tmp_path / "in.png")
    Image.new("L", (64, 64), 255).save(tmp_path / "mask.png")
    engine = Engine(device="cpu", folders=AddonFolders(loras=[str(tmp_path / "loras")]))
    job = EditJob(model=str(model), mode=mode, image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"),
                  prompt="a cat", steps=3, preview_every=0, strength=0.9)
    base = _image(engine, job)
    assert not np.array_equal(_image(engine, job.replace(prompt="a cat <lora:edit:1>")), base)
    assert np.array_equal(_image(engine, job.replace(loras=(("edit", 0.0),))), base)


def test_restoring_names_the_loras_and_embeddings_that_are_not_here(engine, models, tmp_path):
    from ddpm_studio.engine.addons.resources import missing_files
    from ddpm_studio.engine.output.metadata import read_metadata
    from tests.tiny_addons import save_embedding

    save_embedding(tmp_path / "emb" / "shiny.safetensors", (32,))
    here = AddonFolders(loras=[str(models["loras"])], embeddings=[str(tmp_path / "emb")])
    made = Engine(device="cpu", folders=here).run(_job(models["sd"], prompt="a cat, shiny <lora:kohya_style:0.5>",
                                                       output_dir=str(tmp_path / "out")))
    payload = read_metadata(made.saved_paths[0])
    assert payload["files"] == {"loras": ["kohya_style"], "embeddings": ["shiny"]}
    assert missing_files(payload, here) == []
    assert missing_files(payload, AddonFolders()) == [("lora", "kohya_style"), ("embedding", "shiny")]


def test_a_locon_applies_and_a_loha_or_lokr_diffusers_cannot_read_is_named(engine, models, tmp_path):
    from diffusers import StableDiffusionPipeline

    from tests.tiny_addons import save_lycoris

    pipe = StableDiffusionPipeline.from_pretrained(models["sd"], local_files_only=True)
    for kind in ("locon", "loha", "lokr"):
        save_lycoris(tmp_path / f"{kind}.safetensors", pipe, kind)
    engine.folders = AddonFolders(loras=[str(tmp_path)])
    base = _image(engine, _job(models["sd"]))
    assert not np.array_equal(_image(engine, _job(models["sd"], loras=(("locon", 1.0),))), base)  # convolutions too
    for kind, network in (("loha", "LoHa"), ("lokr", "LoKr")):
        with pytest.raises(AddonError, match=f"{kind}.safetensors is a LyCORIS {network} file"):
            engine.run(_job(models["sd"], loras=((kind, 1.0),)), save=False)
    assert np.array_equal(_image(engine, _job(models["sd"])), base)  # nothing half-loaded stays behind


@pytest.mark.parametrize("width,family", [(768, "SD 1.x"), (1024, "SD 2.x"), (2048, "SDXL")])
def test_real_families_are_told_apart_by_their_cross_attention_width(tmp_path, width, family):
    import torch
    from safetensors.torch import save_file

    from ddpm_studio.engine.addons.resources import model_family

    key = "lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    path = tmp_path / "real.safetensors"
    save_file({f"{key}.lora_down.weight": torch.zeros(8, width), f"{key}.lora_up.weight": torch.zeros(640, 8),
               f"{key}.alpha": torch.tensor(8.0)}, str(path))
    lora = lora_file(path)
    assert lora.family == family == model_family(width)
    assert [w for w in (768, 1024, 2048) if lora.fits(w, w == 2048)] == [width]
