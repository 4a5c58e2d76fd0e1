"""A1111's prompt syntax, rule by rule (engine/prompts/syntax.py), and prompts encoded as A1111 encodes them: chunks of
75 tokens, weights with the mean restored, BREAK (engine/prompts/encoding.py) — down to the images of tiny pipelines."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
from ddpm_studio.engine.models.single_file import shipped_tokenizer
from ddpm_studio.engine.prompts.encoding import CHUNK, Chunk, chunk_ids, chunks, is_plain, prompt_arguments, weighted
from ddpm_studio.engine.prompts.syntax import LoraTag, PromptSyntaxError, has_syntax, lora_tags, parse
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


def pairs(prompt: str) -> list[tuple[str, float]]:
    return [("BREAK" if p.is_break else p.text, round(p.weight, 6)) for p in parse(prompt)]


# ---- the rules (the examples are A1111's own, from parse_prompt_attention's documentation) ----

def test_plain_text_is_one_piece_at_weight_1():
    assert pairs("normal text") == [("normal text", 1.0)]
    assert not has_syntax("a lighthouse at dusk, oil painting")


def test_round_brackets_multiply_by_1_1_and_nest():
    assert pairs("an (important) word") == [("an ", 1.0), ("important", 1.1), (" word", 1.0)]
    assert pairs("((very))") == [("very", 1.21)]


def test_square_brackets_divide_by_1_1():
    assert pairs("a [quiet] street") == [("a ", 1.0), ("quiet", round(1 / 1.1, 6)), (" street", 1.0)]


def test_a_number_after_a_colon_is_the_weight():
    assert pairs("(a fox:1.5)") == [("a fox", 1.5)]
    assert pairs("( a fox : 0.25 )") == [(" a fox ", 0.25)]
    assert pairs("(fog:-0.5)") == [("fog", -0.5)]


def test_escaped_brackets_and_backslashes_are_text():
    assert pairs(r"\(literal\]") == [("(literal]", 1.0)]
    assert pairs(r"a \\ b \x") == [(r"a \ b \x", 1.0)]


def test_a_bracket_left_open_weighs_the_rest():
    assert pairs("(unbalanced") == [("unbalanced", 1.1)]
    assert pairs("a [b (c") == [("a ", 1.0), ("b ", round(1 / 1.1, 6)), ("c", 1.0)]


def test_stray_closers_and_colons_are_text():
    assert pairs("a) b] c:d") == [("a) b] c:d", 1.0)]
    assert pairs("time: 3:15)") == [("time: 3:15)", 1.0)]  # no "(" open: not a weight
    assert pairs("(a:1.2.3)") == [("a:1.2.3", 1.1)]  # not a number: the colon is text, the bracket still 1.1


def test_break_starts_a_new_chunk_only_as_a_word_in_capitals():
    assert pairs("a cat BREAK a dog") == [("a cat", 1.0), ("BREAK", -1.0), ("a dog", 1.0)]
    assert pairs("breakfast BREAKFAST break") == [("breakfast BREAKFAST break", 1.0)]
    assert has_syntax("a BREAK b") and not has_syntax("BREAKFAST")


def test_equal_neighbours_join_and_nothing_is_one_empty_piece():
    assert pairs("(unnecessary)(parens)") == [("unnecessaryparens", 1.1)]
    assert pairs("") == [("", 1.0)]


def test_a1111s_compound_example():
    assert pairs("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).") == [
        ("a ", 1.0), ("house", 1.573), (" ", 1.1), ("on", 1.0), (" a ", 1.1), ("hill", 0.55), (", sun, ", 1.1),
        ("sky", 1.4641), (".", 1.1)]


# ---- tokens in chunks, with CLIP's own tokenizer ----

@pytest.fixture(scope="module")
def clip():
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(shipped_tokenizer()), local_files_only=True)


def test_lora_tags_are_taken_out_with_their_weights():
    text, tags = lora_tags("a cat <lora:ink_style:0.8>, (red:1.2) <LORA:other> <lyco:loha-thing:-0.5>")
    assert text == "a cat , (red:1.2)  "
    assert tags == [LoraTag("ink_style", 0.8), LoraTag("other", 1.0), LoraTag("loha-thing", -0.5)]
    assert lora_tags("no tags (here)") == ("no tags (here)", [])


@pytest.mark.parametrize("prompt", ["<hypernet:x:1>", "<lora:x:1:0.5>", "<lora:x:strong>", "<lora::1>"])
def test_lora_tags_that_cannot_be_followed_are_refused(prompt):
    with pytest.raises(PromptSyntaxError, match=re.escape(prompt) if "hypernet" not in prompt else "hypernet"):
        lora_tags(prompt)


def test_long_prompts_fill_chunks_of_75(clip):
    text = " ".join(["cat"] * 80)
    made = chunks(parse(text), clip)
    assert [len(c.tokens) for c in made] == [75, 5] and is_plain("cat " * 75, clip) and not is_plain(text, clip)
    ids, weights = chunk_ids(made[1], clip)
    assert len(ids) == 77 and ids[0] == 49406 and ids[6] == 49407 and ids[7:] == [clip.pad_token_id] * 70
    assert weights == [1.0] * 77


def test_a_full_chunk_breaks_after_a_comma_within_20_tokens(clip):
    text = " ".join(["cat"] * 60) + ", " + " ".join(["dog"] * 30)  # the comma is token 61
    made = chunks(parse(text), clip)
    assert [len(c.tokens) for c in made] == [61, 30] and made[0].tokens[-1] == clip(",", add_special_tokens=False).input_ids[0]
    far = " ".join(["cat"] * 40) + ", " + " ".join(["dog"] * 50)  # 34 tokens back: too far, the chunk is cut at 75
    assert [len(c.tokens) for c in chunks(parse(far), clip)] == [75, 16]


def test_break_ends_a_chunk_and_weights_follow_their_tokens(clip):
    made = chunks(parse("a (red:1.5) fox BREAK BREAK a dog"), clip)
    assert len(made) == 3 and made[1].tokens == []  # two BREAKs: an empty chunk between
    assert made[0].weights == [1.0, 1.5, 1.0] and made[2].weights == [1.0, 1.0]


def test_weighting_restores_the_mean():
    z = torch.randn(1, 77, 8) + 0.3
    weights = [1.0] * 10 + [1.5] * 5 + [1.0] * 62
    out = weighted(z, weights)
    assert torch.allclose(out.mean(), z.mean(), atol=1e-6) and not torch.equal(out, z)
    assert weighted(z, [1.0] * 77) is z
    centred = z - z.mean(dim=-1, keepdim=True)  # each token's mean 0, as after a layer norm with no bias
    assert torch.equal(weighted(centred, weights), centred * torch.tensor(weights)[None, :, None])  # no blow-up


# ---- images of tiny pipelines ----

@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("syntax") / "sd", "txt2img")


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def image(engine, model, prompt, negative="", **extra):
    job = Text2ImageJob(model=str(model), prompt=prompt, negative_prompt=negative, steps=2, width=32, height=32,
                        seed=3, output_dir="", **extra)
    return engine.run(job, save=False).images


def test_a_plain_prompt_is_left_to_the_pipeline(engine, sd):
    pipe = engine.load(str(sd), "txt2img").pipe
    assert prompt_arguments(pipe, "a red fox", "") == {"prompt": "a red fox", "negative_prompt": None}
    assert "prompt_embeds" in prompt_arguments(pipe, "(a red fox:1.2)", "")


def test_weight_1_is_the_plain_prompt_and_other_weights_change_the_image(engine, sd):
    plain = image(engine, sd, "a red fox", "fog")
    assert np.array_equal(image(engine, sd, "(a red fox:1.0)", "fog"), plain)
    assert np.array_equal(image(engine, sd, "a red fox", "(fog:1.0)"), plain)
    assert not np.array_equal(image(engine, sd, "a (red:1.6) fox", "fog"), plain)
    assert not np.array_equal(image(engine, sd, "a red fox", "[fog]"), plain)


def test_a_word_past_token_77_changes_the_image(engine, sd):
    """The tiny tokenizer makes a token per character: 90 of them overflow one chunk."""
    head = "a fox in the snow " * 5
    assert len(head) > 77
    one, other = image(engine, sd, head + "red"), image(engine, sd, head + "blue")
    assert not np.array_equal(one, other)  # the pipeline alone truncates at 77 and draws both the same
    assert image(engine, sd, head + "red", batch_size=2).shape == (2, 32, 32, 3)


def test_break_and_a_long_negative_prompt(engine, sd):
    plain = image(engine, sd, "a fox", "blur")
    assert not np.array_equal(image(engine, sd, "a fox BREAK in snow", "blur"), image(engine, sd, "a fox in snow", "blur"))
    assert image(engine, sd, "a fox", "blur, " * 30).shape == plain.shape  # negative of 2 chunks, prompt of 1


@pytest.mark.parametrize("mode", ["img2img", "inpaint", "instruct"])
def test_edit_takes_weighted_and_long_prompts(engine, sd, tmp_path, mode):
    from PIL import Image

    model = sd if mode == "img2img" else save_tiny_sd(tmp_path / mode, mode)
    Image.new("RGB", (32, 32), (90, 120, 200)).save(tmp_path / "in.png")
    Image.new("L", (32, 32), 255).save(tmp_path / "mask.png")
    for prompt in ("(autumn:1.4) leaves", "autumn leaves, " * 8):
        job = EditJob(model=str(model), mode=mode, image=str(tmp_path / "in.png"), mask=str(tmp_path / "mask.png"),
                      prompt=prompt, negative_prompt="[blur]", strength=0.8, steps=2, seed=1, batch_size=2,
                      output_dir="")
        assert engine.run(job, save=False).images.shape == (2, 32, 32, 3)  # finite: no NaN from the weighting


def test_sdxl_weight_1_is_the_plain_prompt_and_long_prompts_run(tmp_path):
    model = save_tiny_sdxl(tmp_path / "sdxl")
    engine = Engine(device="cpu")
    plain = image(engine, model, "a castle")  # empty negative: diffusers' zeros, kept by ours
    assert np.array_equal(image(engine, model, "(a castle:1.0)"), plain)
    assert np.array_equal(image(engine, model, "(a castle:1.0)", "fog"), image(engine, model, "a castle", "fog"))
    assert not np.array_equal(image(engine, model, "a (castle:1.5)"), plain)
    long = image(engine, model, "a castle on a hill " * 6 + "at night")
    assert long.shape == plain.shape and not np.array_equal(long, image(engine, model, "a castle on a hill " * 6))


def test_chunks_of_an_empty_prompt_and_of_exactly_75_tokens(clip):
    assert [c.tokens for c in chunks(parse(""), clip)] == [[]]
    assert [len(c.tokens) for c in chunks(parse("cat " * CHUNK), clip)] == [CHUNK]
    assert chunk_ids(Chunk([], []), clip)[0][:2] == [49406, 49407]


# ---- clip skip ----

def test_clip_skip_reads_the_layer_before_through_the_final_norm(engine, sd):
    """A1111's Clip skip 2 (diffusers' clip_skip=1): the text encoder's second-last layer, through its final norm."""
    pipe = engine.load(str(sd), "txt2img").pipe
    ours = prompt_arguments(pipe, "a red fox", "fog", clip_skip=2)
    ids = pipe.tokenizer("a red fox", padding="max_length", max_length=77, return_tensors="pt").input_ids
    with torch.inference_mode():
        layers = pipe.text_encoder(ids, output_hidden_states=True).hidden_states
        expected = pipe.text_encoder.final_layer_norm(layers[-2])
    assert torch.equal(ours["prompt_embeds"], expected)
    one, two = image(engine, sd, "a red fox"), image(engine, sd, "a red fox", clip_skip=2)
    assert not np.array_equal(one, two)
    with pytest.raises(Exception, match="has 2 layers: clip skip can be at most 2 here, not 3"):
        image(engine, sd, "a red fox", clip_skip=3)


def test_sdxl_clip_skip_reads_one_layer_further_back(tmp_path):
    model = save_tiny_sdxl(tmp_path / "sdxl-skip", text_layers=3)
    engine = Engine(device="cpu")
    pipe = engine.load(str(model), "txt2img").pipe
    ours = prompt_arguments(pipe, "a castle", "fog", clip_skip=2)
    theirs = pipe.encode_prompt("a castle", device=pipe.device, negative_prompt="fog", clip_skip=1)  # diffusers' count
    assert torch.equal(ours["prompt_embeds"], theirs[0]) and torch.equal(ours["pooled_prompt_embeds"], theirs[2])
    assert not np.array_equal(image(engine, model, "a castle", clip_skip=2), image(engine, model, "a castle"))


def test_clip_skip_is_in_the_parameters_and_the_cli(sd, tmp_path, capsys):
    from ddpm_studio.cli import main
    from ddpm_studio.engine.output.metadata import read_job
    from ddpm_studio.engine.png.chunks import parse_a1111

    assert main(["txt2img", "--model", str(sd), "--prompt", "a (red:1.2) fox", "--clip-skip", "2", "--steps", "2",
                 "--size", "32x32", "--seed", "1", "--out", str(tmp_path), "--device", "cpu"]) == 0
    png = capsys.readouterr().out.split()[0]
    assert read_job(png).clip_skip == 2
    from PIL import Image

    with Image.open(png) as saved:
        params = parse_a1111(saved.text["parameters"])
    assert params["Clip skip"] == "2" and params["prompt"] == "a (red:1.2) fox"
