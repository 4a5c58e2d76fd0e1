"""Per-word attention maps (engine/inspect/attention_maps.py, DAAM): recorded through attention processors on tiny SD 1.x and
SDXL pipelines, one map per word per step that differ between words and are not flat, the image unchanged; words
found across prompt syntax and BREAK; ``txt2img --attention-maps DIR``."""

from __future__ import annotations

import types

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.engine.inspect.attention_maps import word_positions
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("attention")
    return {"sd": save_tiny_sd(root / "sd"), "xl": save_tiny_sdxl(root / "xl")}


def _job(model, **changes):
    return Text2ImageJob(**{**dict(model=str(model), prompt="red cat", steps=3, width=64, height=64, seed=2,
                                   preview_every=1), **changes})


@pytest.mark.parametrize("kind", ["sd", "xl"])
def test_each_word_has_a_map_per_step_that_differs_from_the_others_and_the_image_is_unchanged(models, kind):
    engine = Engine(device="cpu")
    events = []
    with_maps = engine.run(_job(models[kind], attention_maps=True), on_step=events.append, save=False)
    steps = [e for e in events if not e.final]
    assert len(steps) == 3 and all(e.attention_words == ("red", "cat") for e in steps)
    for event in steps:
        maps = event.attention
        assert maps.shape == (2, 8, 8) and maps.dtype == np.uint8  # words × latent height × latent width
        assert all(m.max() == 255 and m.std() > 0 for m in maps)  # each normalised to its own peak, not flat
        assert not np.array_equal(maps[0], maps[1])
    assert np.array_equal(with_maps.images, engine.run(_job(models[kind]), save=False).images)
    assert all(e.attention is None for e in events if e.final)


def test_words_are_found_through_prompt_syntax_and_break():
    from transformers import CLIPTokenizer

    from ddpm_studio.engine.models.single_file import shipped_tokenizer

    pipe = types.SimpleNamespace(tokenizer=CLIPTokenizer.from_pretrained(shipped_tokenizer()))
    assert word_positions(pipe, "a red cat") == [("a", [1]), ("red", [2]), ("cat", [3])]
    assert word_positions(pipe, "a (red:1.3), [cat]") == [("a", [1]), ("red", [2]), ("cat", [4])]  # 3: the comma
    assert word_positions(pipe, "a cat BREAK red")[-1] == ("red", [78])  # the second chunk: its start token is 77
    lighthouse = word_positions(pipe, "lighthouse")[0]
    assert lighthouse[0] == "lighthouse" and lighthouse[1] == list(range(1, 1 + len(lighthouse[1])))


def test_the_cli_writes_a_map_per_word_and_per_step(models, tmp_path, capsys):
    assert main(["txt2img", "--model", str(models["sd"]), "--prompt", "red cat", "--size", "64x64", "--steps", "3",
                 "--seed", "1", "--device", "cpu", "--out", str(tmp_path / "out"),
                 "--attention-maps", str(tmp_path / "maps")]) == 0
    assert "attention maps of red, cat" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "maps").glob("*.png")) == ["cat.png", "red.png"]
    assert Image.open(tmp_path / "maps" / "red.png").size == (64, 64)  # laid over the result
    assert len(list((tmp_path / "maps" / "steps").glob("red-*.png"))) == 3


def test_the_upscalers_take_no_attention_maps():
    with pytest.raises(JobError, match="Attention maps"):
        UpscaleJob(model="m", image="x.png", attention_maps=True)
