"""Prompt editing and alternation (engine/prompts/editing.py, engine/sampling/prompt_editing.py): A1111's rules,
checked against the examples of its ``modules/prompt_parser.py`` and its wiki, and the runs that follow them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.prompts.editing import has_editing, schedule, texts_per_step
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling import stages
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


def plan(prompt: str, steps: int = 10) -> list[list]:
    return [list(entry) for entry in schedule(prompt, steps)]


# ---- the rules, against A1111's doctests (prompt_parser.get_learned_conditioning_prompt_schedules, 10 steps) ----

@pytest.mark.parametrize("prompt, expected", [
    ("test", [[10, "test"]]),
    ("a [b:3]", [[3, "a "], [10, "a b"]]),  # [to:when]
    ("a [b: 3]", [[3, "a "], [10, "a b"]]),  # whitespace before the number
    ("a [[[b]]:2]", [[2, "a "], [10, "a [[b]]"]]),  # emphasis inside kept as written
    ("[(a:2):3]", [[3, ""], [10, "(a:2)"]]),
    ("a [b : c : 1] d", [[1, "a b  d"], [10, "a  c  d"]]),  # whitespace kept
    ("a[b:[c:d:2]:1]e", [[1, "abe"], [2, "ace"], [10, "ade"]]),  # nesting
    ("a [unbalanced", [[10, "a [unbalanced"]]),
    ("a [b:.5] c", [[5, "a  c"], [10, "a b c"]]),  # a fraction of the steps
    ("((a][:b:c [d:3]", [[3, "((a][:b:c "], [10, "((a][:b:c d"]]),  # stray brackets are text
    ("[a|(b:1.1)]", [[n, "a" if n % 2 else "(b:1.1)"] for n in range(1, 11)]),  # alternation
])
def test_a1111s_doctest_schedules(prompt, expected):
    assert plan(prompt) == expected


def test_a1111s_compound_example_at_100_steps():
    prompt = ("fantasy landscape with a [mountain:lake:0.25] and [an oak:a christmas tree:0.75][ in foreground::0.6]"
              "[ in background:0.25] [shoddy:masterful:0.5]")
    assert plan(prompt, 100) == [
        [25, "fantasy landscape with a mountain and an oak in foreground shoddy"],
        [50, "fantasy landscape with a lake and an oak in foreground in background shoddy"],
        [60, "fantasy landscape with a lake and an oak in foreground in background masterful"],
        [75, "fantasy landscape with a lake and an oak in background masterful"],
        [100, "fantasy landscape with a lake and a christmas tree in background masterful"],
    ]


def test_the_wikis_landscape_switches_after_step_16_of_100():
    texts = texts_per_step("a [fantasy:cyberpunk:16] landscape", 100)
    assert texts[:17] == ["a fantasy landscape"] * 17  # steps 0–16 (A1111's counter starts at 0)
    assert texts[17:] == ["a cyberpunk landscape"] * 83


def test_from_nothing_and_to_nothing():
    assert texts_per_step("a [b:2] c", 4) == ["a  c", "a  c", "a  c", "a b c"]  # [to:when]
    assert texts_per_step("a [b::2] c", 4) == ["a b c", "a b c", "a b c", "a  c"]  # [from::when]


def test_when_as_a_fraction_or_a_step_is_rounded_down_and_capped_at_the_steps():
    assert texts_per_step("[a:b:0.5]", 10) == ["a"] * 6 + ["b"] * 4
    assert texts_per_step("[a:b:0.55]", 10) == ["a"] * 6 + ["b"] * 4  # int(5.5) = 5
    assert texts_per_step("[a:b:3.9]", 6) == ["a"] * 4 + ["b"] * 2
    assert texts_per_step("[a:b:50]", 4) == ["a"] * 4  # at most the run's steps: never switches


def test_nested_edits_inside_from_and_to():
    assert texts_per_step("[[a:b:0.3]:c:0.6]", 10) == ["a"] * 4 + ["b"] * 3 + ["c"] * 3


def test_alternation_reads_each_option_in_turn_after_reading_the_first_twice():
    # A1111's schedule [[1, cat], [2, dog], …] read by its counter from 0: steps 0 and 1 both read point 1
    assert texts_per_step("a [cat|dog] sits", 6) == ["a cat sits"] + ["a cat sits", "a dog sits"] * 2 + ["a cat sits"]
    assert texts_per_step("[a|b|c]", 7) == ["a", "a", "b", "c", "a", "b", "c"]
    assert texts_per_step("[x [cat|dog]:bird:2]", 4) == ["x cat", "x cat", "x dog", "bird"]


def test_unparseable_prompts_are_read_as_written_and_only_edits_count():
    assert texts_per_step("a | b [c:d:1]", 3) == ["a | b [c:d:1]"] * 3  # a "|" outside an alternation
    assert not has_editing("a (red:1.2) [fox] fox") and not has_editing("plain") and not has_editing("a | b")
    assert has_editing("[a:b:3]") and has_editing("[a|b]") and has_editing("(x [a::0.5])")
    assert plan("a [b:c:1 ]") == [[10, "a [b:c:1 ]"]]  # whitespace after the number: not an edit
    assert plan(r"a \[b:c:1\]") == [[10, r"a \[b:c:1\]"]] and not has_editing(r"\[b:c:1\]")  # escaped brackets


# ---- runs on the tiny SD pipeline ----

@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("editing") / "sd", "txt2img")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(model, prompt, steps=10, **extra):
    values = dict(model=str(model), prompt=prompt, negative_prompt="fog", steps=steps, width=32, height=32, seed=5,
                  output_dir="", scheduler="euler")
    return Text2ImageJob(**{**values, **extra})


class _SwitchByHand(stages.Extension):
    """Reads ``first`` (the job's plain prompt), then from the step after ``after`` the pipeline's own encoding
    of ``then``."""

    def __init__(self, then: str, after: int) -> None:
        self.then, self.after = then, after

    def prepare(self, run) -> None:
        run.args["callback_on_step_end_tensor_inputs"] = ["latents", "prompt_embeds"]
        positive, negative = run.pipe.encode_prompt(self.then, "cpu", 1, True, negative_prompt=run.job.negative_prompt)
        self.embeds = torch.cat([negative, positive])

    def step_end(self, run, index, callback_kwargs) -> None:
        if index == self.after:
            callback_kwargs["prompt_embeds"] = self.embeds


class _Keep(stages.Extension):
    """Keeps the pipeline's float pictures (before uint8): small differences stay visible."""

    def after_denoise(self, run) -> None:
        self.images = np.array(run.out.images, dtype=np.float64)


def _float_run(engine, model, prompt, *extensions):
    keep = _Keep()
    stages.run_prompt_job(engine.load(str(model), "txt2img"), _job(model, prompt), "cpu", lambda e: None,
                          lambda: False, extensions=[*extensions, keep])
    return keep.images


def test_an_edit_at_half_of_10_steps_is_the_prompt_switched_by_hand_after_step_5(engine, sd):
    from ddpm_studio.engine.sampling.prompt_editing import PromptEditing

    edited = _float_run(engine, sd, "a [red cat:blue dog:0.5] walks", PromptEditing())
    by_hand = _float_run(engine, sd, "a red cat walks", _SwitchByHand("a blue dog walks", after=5))
    np.testing.assert_allclose(edited, by_hand, atol=1e-5)
    for other in (_float_run(engine, sd, "a red cat walks"),  # no switch
                  _float_run(engine, sd, "a red cat walks", _SwitchByHand("a blue dog walks", after=4))):  # a step early
        assert np.abs(edited - other).max() > 1e-4


def test_the_step_events_say_where_the_prompt_switched(engine, sd):
    events = []
    engine.run(_job(sd, "a [red cat:blue dog:0.5] walks"), save=False, on_step=events.append)
    steps = [e for e in events if not e.final]
    assert [e.prompt_switch for e in steps] == [""] * 6 + ["a blue dog walks"] + [""] * 3


def test_alternation_changes_the_picture_and_every_step_says_so(engine, sd):
    events = []
    result = engine.run(_job(sd, "a [cat|dog]", steps=4), save=False, on_step=events.append)
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "a dog", "a cat"]
    cat = engine.run(_job(sd, "a cat", steps=4), save=False)
    assert not np.array_equal(result.images, cat.images)


def test_an_edited_negative_prompt_switches_too(engine, sd):
    events = []
    engine.run(_job(sd, "a cat", steps=4, negative_prompt="[fog:rain:1]"), save=False, on_step=events.append)
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "negative: rain", ""]


def test_a_prompt_without_editing_runs_without_the_extension():
    from ddpm_studio.engine.runner import latent_extensions

    assert latent_extensions(_job("m", "a (red:1.2) [fox] <lora:x:0.5>")) == []
    assert [type(e).__name__ for e in latent_extensions(_job("m", "a [red:blue:3] fox"))] == ["PromptEditing"]


def test_the_saved_parameters_keep_the_prompt_as_written(engine, sd, tmp_path):
    from ddpm_studio.engine.output.metadata import read_job

    job = _job(sd, "a [red cat:blue dog:0.5] [walks|runs]", steps=4, output_dir=str(tmp_path))
    result = engine.run(job)
    assert read_job(sorted(result.saved_paths)[0]) == job


def test_sdxl_switches_its_pooled_embedding_too(engine, tmp_path):
    xl = save_tiny_sdxl(tmp_path / "xl")
    events = []
    job = Text2ImageJob(model=str(xl), prompt="a [cat:dog:1]", steps=3, width=64, height=64, seed=1, output_dir="")
    edited = engine.run(job, save=False, on_step=events.append)
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "a dog"]
    cat = engine.run(dataclasses.replace(job, prompt="a cat"), save=False)
    assert np.isfinite(edited.images).all() and not np.array_equal(edited.images, cat.images)


def test_a_t5_family_reads_the_words_and_says_editing_was_not_applied(engine, tmp_path):
    from tests.tiny_flux import save_tiny_flux

    flux = save_tiny_flux(tmp_path / "flux")
    job = Text2ImageJob(model=str(flux), prompt="a [lighthouse:castle:0.5] at dusk", steps=2, seed=7, width=64,
                        height=64, scheduler="euler", guidance_scale=3.5, output_dir="")
    result = engine.run(job, save=False)
    assert result.images is not None and "prompt editing" in result.note and "not applied" in result.note


def test_with_a_hires_fix_img2img_and_a_controlnet(engine, sd, tmp_path):
    from PIL import Image

    from ddpm_studio.engine.jobs.types import EditJob
    from tests.tiny_controlnet import save_tiny_controlnet

    events = []
    hires = engine.run(_job(sd, "a [cat:dog:1]", steps=4, hires_scale=2.0), save=False, on_step=events.append)
    assert hires.images.shape == (1, 64, 64, 3) and np.isfinite(hires.images).all()
    # the hires pass (2 of its 4 steps) reads the schedule from its start again: back to the cat
    assert [(e.index, e.prompt_switch) for e in events if e.prompt_switch] == [(2, "a dog"), (4, "a cat")]
    picture = tmp_path / "in.png"
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(picture)
    events = []
    edit = EditJob(model=str(sd), mode="img2img", image=str(picture), prompt="a [cat|dog]", steps=6, strength=0.5,
                   seed=1, output_dir="", scheduler="euler")
    assert np.isfinite(engine.run(edit, save=False, on_step=events.append).images).all()
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "a dog"]  # the steps run: 0, 1, 2
    net = save_tiny_controlnet(tmp_path / "cn", sd)
    Image.fromarray(np.full((32, 32, 3), 255, np.uint8)).save(tmp_path / "scribble.png")
    events = []
    controlled = _job(sd, "a [cat:dog:1]", steps=3, controlnets=((str(net), 1.0, 0.0, 1.0),),
                      control_images=(str(tmp_path / "scribble.png"),), control_preprocess=("none",))
    assert np.isfinite(engine.run(controlled, save=False, on_step=events.append).images).all()
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "a dog"]


def test_each_picture_of_a_batch_switches_as_a_single_picture_does(engine, sd):
    from ddpm_studio.engine.sampling.prompt_editing import PromptEditing

    keep_one, keep_two = _Keep(), _Keep()
    loaded = engine.load(str(sd), "txt2img")
    for keep, batch in ((keep_one, 1), (keep_two, 2)):
        stages.run_prompt_job(loaded, _job(sd, "a [red cat|blue dog] walks", steps=4, batch_size=batch), "cpu",
                              lambda e: None, lambda: False, extensions=[PromptEditing(), keep])
    assert keep_two.images.shape[0] == 2
    np.testing.assert_allclose(keep_two.images[0], keep_one.images[0], atol=1e-5)  # the same seed, the same texts


def test_sd35_follows_the_edit_through_its_clips_and_t5(engine, tmp_path):
    from tests.tiny_sd3 import save_tiny_sd3

    sd3 = save_tiny_sd3(tmp_path / "sd3")
    events = []
    job = Text2ImageJob(model=str(sd3), prompt="a [lighthouse:castle:1] at dusk", negative_prompt="blurry", steps=3,
                        seed=7, width=64, height=64, output_dir="")
    edited = engine.run(job, save=False, on_step=events.append)
    assert [e.prompt_switch for e in events if not e.final] == ["", "", "a castle at dusk"]
    assert "prompt editing" not in edited.note
    plain = engine.run(dataclasses.replace(job, prompt="a lighthouse at dusk"), save=False)
    assert np.isfinite(edited.images).all() and not np.array_equal(edited.images, plain.images)


def test_the_cli_follows_an_edit_and_the_a1111_parameters_keep_it_as_written(sd, tmp_path, capsys):
    from PIL import Image

    from ddpm_studio.cli import main
    from ddpm_studio.engine.png.chunks import parse_a1111

    prompt = "a [red cat:blue dog:0.5] [walks|runs]"
    assert main(["txt2img", "--model", str(sd), "--prompt", prompt, "--steps", "4", "--size", "32x32", "--seed", "1",
                 "--out", str(tmp_path), "--device", "cpu"]) == 0
    png = capsys.readouterr().out.split()[0]
    with Image.open(png) as saved:
        assert parse_a1111(saved.text["parameters"])["prompt"] == prompt


def test_attention_maps_name_the_words_each_step_read(engine, sd):
    events = []
    engine.run(_job(sd, "a [red cat:blue dog:0.5] walks", steps=4, attention_maps=True, preview_every=1), save=False,
               on_step=events.append)
    words = [e.attention_words for e in events if not e.final]
    assert words == [("a", "red", "cat", "walks")] * 3 + [("a", "blue", "dog", "walks")]
    assert all(e.attention.shape[0] == 4 for e in events if not e.final)
