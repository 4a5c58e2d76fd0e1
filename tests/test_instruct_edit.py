"""Instruction editing on the flow families (engine/sampling/instruct.py) with tiny random pipelines: Flux.1 Kontext
and Flux.2 Klein's reference editing run with previews every step, at the input's size, cancel inside a step and
restore from their PNG with their reference pictures; Qwen-Image-Edit's folders are known and their calls built
(loading one needs torchvision, which is not installed here: the loader says so by name), and with a stand-in for
its Qwen2-VL processor they run through the stages as any run does; ``edit --mode instruct`` on the CLI."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests import flow_edits
from tests.stopped_runs import run_stopped_in_second_call
from tests.tiny_instruct import (
    qwenimage_edit_pipeline,
    save_tiny_kontext,
    save_tiny_qwenimage_edit,
    tiny_qwenimage_edit_pipeline,
)
from tests.tiny_klein import save_tiny_klein

KLEIN_SIZE = (96, 64)  # width, height: Flux2KleinPipeline reads no picture under 64 px a side


@pytest.fixture(scope="module")
def kontext(tmp_path_factory):
    return save_tiny_kontext(tmp_path_factory.mktemp("kontext") / "tiny-kontext")


@pytest.fixture(scope="module")
def klein(tmp_path_factory):
    return save_tiny_klein(tmp_path_factory.mktemp("klein-instruct") / "tiny-klein")


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    """flow_edits' pictures, and for Klein a 96×64 picture to edit and three 80×64 references."""
    folder = tmp_path_factory.mktemp("instruct-pictures")
    found = flow_edits.pictures(folder)
    rng = np.random.default_rng(5)
    for name, (width, height) in (("input", KLEIN_SIZE), ("ref1", (80, 64)), ("ref2", (64, 80)),
                                  ("ref3", (80, 64))):
        pixels = (rng.random((height, width, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{name}.png")
        found[name] = str(folder / f"{name}.png")
    return found


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def instruct_job(model, image, **fields):
    return flow_edits.edit_job(model, "instruct", image, prompt="make it snow", **fields)


def check_previews_every_step(events, width: int, height: int, steps: int = 4):
    *each, last = events
    assert last.final and [e.index for e in each] == list(range(steps)) and all(e.total == steps for e in each)
    for event in each:  # the picture's own latents unpacked, never the reference pictures' tokens
        assert event.x_t.shape == event.x0.shape == (1, height // 8, width // 8, 3)
        assert event.noise_kind == "flow" and 0 < event.noise_level <= 1 and event.x0.std() > 0
    assert each[0].noise_level > each[-1].noise_level


def test_a_kontext_folder_is_flux_made_for_instruction_editing(kontext):
    from ddpm_studio.engine.models.families import family_of_info

    info = inspect_model(str(kontext))
    assert (info.family, info.modes, info.panel) == ("flux-kontext", ("instruct",), "Edit (instruct)")
    assert family_of_info(info).key == "flux"
    from ddpm_studio.engine.models.defaults import recommended_settings

    assert info.flavour == "kontext" and recommended_settings(info)["guidance_scale"] == 2.5  # its model card's


def test_kontext_edits_at_the_inputs_size_with_previews_every_step(engine, kontext, pics):
    events = []
    result = engine.run(instruct_job(kontext, pics["picture"], guidance_scale=2.5), on_step=events.append,
                        save=False)
    width, height = flow_edits.SIZE  # 64×48: not Kontext's 1024² max_area, nor a preferred resolution of its
    assert result.images.shape == (1, height, width, 3) and np.isfinite(result.images).all()
    assert not np.array_equal(result.images[0], pics["pixels"])
    check_previews_every_step(events, width, height)


def test_kontext_takes_no_reference_pictures_and_dpm_runs_as_euler(engine, kontext, pics):
    with pytest.raises(ModelError, match="takes no reference pictures besides the one to edit"):
        engine.run(instruct_job(kontext, pics["picture"], references=(pics["ref1"],)), save=False)
    note = engine.run(instruct_job(kontext, pics["picture"], scheduler="dpm++2m", steps=2, preview_every=0),
                      save=False).note
    assert "dpm++2m does not take: it ran with Euler" in note


def test_attention_maps_are_refused_for_kontext_by_name(engine, kontext, pics):
    # its joint sequence holds the input picture's tokens beside the ones it makes: not recorded yet
    with pytest.raises(ModelError, match="Attention maps are not recorded for Flux.1's instruction editing yet"):
        engine.run(instruct_job(kontext, pics["picture"], attention_maps=True, steps=2), save=False)


def test_cancel_inside_a_kontext_step(engine, kontext, pics, tmp_path):
    job = instruct_job(kontext, pics["picture"], output_dir=str(tmp_path))
    transformer = engine.load(str(kontext), "instruct").pipe.transformer
    result, steps, _ = run_stopped_in_second_call(engine, job, transformer, transformer.single_transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def test_klein_edits_with_reference_pictures_at_the_inputs_size(engine, klein, pics):
    assert inspect_model(str(klein)).modes == ("txt2img", "inpaint", "outpaint", "instruct")
    events = []
    one = engine.run(instruct_job(klein, pics["input"], guidance_scale=1.0, references=(pics["ref1"],)),
                     on_step=events.append, save=False)
    width, height = KLEIN_SIZE
    assert one.images.shape == (1, height, width, 3)
    check_previews_every_step(events, width, height)
    two = engine.run(instruct_job(klein, pics["input"], guidance_scale=1.0, preview_every=0,
                                  references=(pics["ref1"], pics["ref2"])), save=False)
    swapped = engine.run(instruct_job(klein, pics["input"], guidance_scale=1.0, preview_every=0,
                                      references=(pics["ref2"], pics["ref1"])), save=False)
    assert two.images.shape == one.images.shape
    assert not np.array_equal(two.images, one.images)  # the second reference is read
    assert not np.array_equal(two.images, swapped.images)  # in the order given


def test_klein_refuses_a_fourth_reference_and_a_picture_too_small_by_name(engine, klein, pics):
    references = (pics["ref1"], pics["ref2"], pics["ref3"], pics["ref1"])
    with pytest.raises(ModelError, match="takes up to 3 reference pictures"):
        engine.run(instruct_job(klein, pics["input"], references=references), save=False)
    with pytest.raises(ModelError, match="picture.png .64×48.*at least 64px"):
        engine.run(instruct_job(klein, pics["picture"]), save=False)


def test_cancel_inside_a_klein_reference_step(engine, klein, pics, tmp_path):
    job = instruct_job(klein, pics["input"], guidance_scale=1.0, references=(pics["ref1"],),
                       output_dir=str(tmp_path))
    transformer = engine.load(str(klein), "instruct").pipe.transformer
    result, steps, _ = run_stopped_in_second_call(engine, job, transformer, transformer.single_transformer_blocks[0])
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def test_the_png_restores_a_reference_edit(engine, klein, pics, tmp_path):
    job = instruct_job(klein, pics["input"], guidance_scale=1.0, steps=2, preview_every=0,
                       references=(pics["ref2"], pics["ref1"]), output_dir=str(tmp_path))
    saved = engine.run(job).saved_paths[0]
    restored = read_job(saved)
    assert restored == job and restored.references == (pics["ref2"], pics["ref1"])
    with Image.open(saved) as image:
        parameters = image.text["parameters"]
        assert image.size == KLEIN_SIZE
    assert 'Reference images: "ref2.png, ref1.png"' in parameters  # quoted: A1111 quotes a value with commas
    assert "Image CFG scale" not in parameters  # InstructPix2Pix's, which Klein has not


def test_reference_pictures_belong_to_instruct_mode():
    from ddpm_studio.engine.jobs.checks import JobError
    from ddpm_studio.engine.jobs.types import EditJob

    with pytest.raises(JobError, match="instruction editing"):
        EditJob(model="m", image="a.png", mode="img2img", references=("b.png",))
    assert EditJob.from_dict({**EditJob(model="m", image="a.png", mode="instruct").to_dict(),
                              "references": ["b.png", "c.png"]}).references == ("b.png", "c.png")


@pytest.fixture(scope="module")
def qwen_edits(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen-edit")
    return save_tiny_qwenimage_edit(root / "qwen-edit"), save_tiny_qwenimage_edit(root / "qwen-edit-plus", plus=True)


def test_qwen_image_edit_folders_are_instruct_variants_of_qwen_image(qwen_edits):
    edit, plus = (inspect_model(str(folder)) for folder in qwen_edits)
    assert (edit.family, edit.modes) == ("qwen-image-edit", ("instruct",))
    assert (plus.family, plus.modes) == ("qwen-image-edit-plus", ("instruct",))


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed here")
def test_without_torchvision_qwen_image_edit_is_refused_by_name(engine, qwen_edits, pics):
    with pytest.raises(ModelError, match="Qwen2-VL processor, which cannot be built without torchvision") as error:
        engine.run(instruct_job(qwen_edits[1], pics["picture"]), save=False)
    assert str(qwen_edits[1]) in str(error.value)


def test_qwen_image_edit_plus_is_called_with_the_pictures_in_order_at_the_inputs_size(qwen_edits, pics):
    from ddpm_studio.engine.sampling.latent import pipeline_arguments
    from ddpm_studio.engine.sampling.pipelines import LoadedPipeline

    edit, plus = qwen_edits
    loaded = LoadedPipeline(info=inspect_model(str(plus)), mode="instruct", pipe=qwenimage_edit_pipeline(plus, True),
                            to_rgb=None, scheduler_config={})
    job = instruct_job(plus, pics["picture"], guidance_scale=4.0, references=(pics["ref1"], pics["ref2"]))
    args = pipeline_arguments(loaded, job, job.prompt, "")
    assert [picture.size for picture in args["image"]] == [flow_edits.SIZE, (80, 64), (64, 80)]
    assert (args["width"], args["height"]) == flow_edits.SIZE  # not the pipeline's 1 MP
    assert args["true_cfg_scale"] == 4.0 and args["negative_prompt"] == " "
    with pytest.raises(ModelError, match="takes up to 2 reference pictures"):
        pipeline_arguments(loaded, job.replace(references=(pics["ref1"],) * 3), job.prompt, "")
    single = LoadedPipeline(info=inspect_model(str(edit)), mode="instruct", pipe=qwenimage_edit_pipeline(edit),
                            to_rgb=None, scheduler_config={})
    args = pipeline_arguments(single, instruct_job(edit, pics["picture"]), "make it snow", "")
    assert args["image"].size == flow_edits.SIZE and (args["width"], args["height"]) == flow_edits.SIZE
    with pytest.raises(ModelError, match="takes no reference pictures"):
        pipeline_arguments(single, job, job.prompt, "")


def test_the_cli_edits_by_instruction(kontext, klein, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    common = ["edit", "--mode", "instruct", "--prompt", "make it snow", "--steps", "2", "--scheduler", "euler",
              "--out", str(tmp_path), "--device", "cpu"]
    assert main([*common, "--model", str(klein), "--image", pics["input"], "--reference", pics["ref1"],
                 "--reference", pics["ref2"], "--guidance", "1"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        assert image.size == KLEIN_SIZE
    job = read_job(out)
    assert job.mode == "instruct" and job.references == (pics["ref1"], pics["ref2"]) and job.model == str(klein)
    assert main([*common, "--model", str(kontext), "--image", pics["picture"]]) == 0
    with Image.open(capsys.readouterr().out.split()[0]) as image:
        assert image.size == flow_edits.SIZE
    assert main([*common, "--model", str(kontext), "--image", pics["picture"], "--reference", pics["ref1"]]) != 0
    assert "takes no reference pictures" in capsys.readouterr().err


def _run_qwen_edit(info, plus: bool, job, on_step=lambda event: None, should_stop=lambda: False):
    """``job`` through the stages on the tiny Qwen-Image-Edit (Plus) pipeline with the stand-in processor (the loader
    refuses the folder without torchvision, before anything loads)."""
    import torch

    from ddpm_studio.engine.sampling.latent_preview import LatentToRGB
    from ddpm_studio.engine.sampling.pipelines import LoadedPipeline, own_scheduler_config
    from ddpm_studio.engine.sampling.stages import run_prompt_job

    pipe = tiny_qwenimage_edit_pipeline(plus)
    pipe.set_progress_bar_config(disable=True)
    loaded = LoadedPipeline(info=info, mode="instruct", pipe=pipe, to_rgb=LatentToRGB.for_vae(pipe.vae),
                            scheduler_config=own_scheduler_config(pipe.scheduler))
    return run_prompt_job(loaded, job, torch.device("cpu"), on_step, should_stop)


def test_qwen_image_edit_plus_runs_with_references_at_the_inputs_size(qwen_edits, pics, monkeypatch):
    from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus

    # the pictures' latents at 128² rather than the pipeline's 1 MP (its VAE_IMAGE_SIZE), to keep the test short
    monkeypatch.setattr(pipeline_qwenimage_edit_plus, "VAE_IMAGE_SIZE", 128 * 128)
    info = inspect_model(str(qwen_edits[1]))
    events = []
    job = instruct_job(qwen_edits[1], pics["picture"], guidance_scale=4.0, steps=3, references=(pics["ref1"],))
    one = _run_qwen_edit(info, True, job, events.append)
    width, height = flow_edits.SIZE
    assert one.images.shape == (1, height, width, 3)  # not the pipeline's 1 MP
    assert [e.index for e in events] == [0, 1, 2] and all(e.total == 3 for e in events)
    assert all(e.x_t.shape == e.x0.shape == (1, height // 8, width // 8, 3) for e in events)
    assert events[0].noise_level > events[-1].noise_level
    two = _run_qwen_edit(info, True, job.replace(references=(pics["ref1"], pics["ref2"]), preview_every=0))
    assert not np.array_equal(one.images, two.images)


def test_qwen_image_edit_runs_and_cancels(qwen_edits, pics):
    info = inspect_model(str(qwen_edits[0]))
    job = instruct_job(qwen_edits[0], pics["picture"], guidance_scale=1.0, steps=3)
    events = []
    stopped = _run_qwen_edit(info, False, job, events.append, should_stop=lambda: len(events) >= 1)
    assert stopped.cancelled and stopped.images is None and len(events) == 1
