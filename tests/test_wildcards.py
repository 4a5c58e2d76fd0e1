"""Wildcards (engine/prompts/wildcards.py, sampling/wildcard_runs.py): ``{a|b|c}`` and ``__name__`` resolved per image
from its seed; the PNG's parameters show the resolved text, its job keeps the template."""

from __future__ import annotations

import numpy as np
import pytest

from ddpm_studio.engine.addons.resources import AddonFolders
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.prompts.wildcards import Resolver, WildcardError, has_wildcards
from ddpm_studio.engine.runner import Engine
from tests.tiny_sd import save_tiny_sd

OPTIONS = ("red", "green", "blue")


@pytest.fixture()
def folders(tmp_path):
    first, second = tmp_path / "wild1", tmp_path / "wild2"
    (first / "nature").mkdir(parents=True)
    second.mkdir()
    (first / "animal.txt").write_text("cat\ndog\n# a comment, not an option\nfox\n", encoding="utf-8")
    (first / "nature" / "bird.txt").write_text("owl\nwren\n", encoding="utf-8")  # a nested file: __nature/bird__
    (second / "scene.txt").write_text("a __animal__ in the {snow|rain}\n", encoding="utf-8")  # a nested wildcard
    return [str(first), str(second)]


def test_braces_resolve_the_same_for_a_seed_and_differently_across_seeds():
    resolver = Resolver([])
    template = "a {red|green|blue} ball, (sharp:1.2), [cat|dog]"
    again = Resolver([])
    chosen = [resolver.resolve(template, seed) for seed in range(12)]
    assert chosen == [again.resolve(template, seed) for seed in range(12)]  # a seed reproduces its prompt
    assert all(text.endswith(", (sharp:1.2), [cat|dog]") for text in chosen)  # A1111 syntax passes untouched
    assert {text.split()[1] for text in chosen} == set(OPTIONS)  # different across seeds: all three seen


def test_files_nested_files_and_nested_wildcards(folders):
    resolver = Resolver(folders)
    animals = {resolver.resolve("__animal__", seed) for seed in range(20)}
    assert animals == {"cat", "dog", "fox"}  # the comment line is no option
    assert {resolver.resolve("__nature/bird__", seed) for seed in range(20)} == {"owl", "wren"}
    scene = resolver.resolve("__scene__", 3)
    assert scene.startswith("a ") and scene.split()[1] in animals and scene.split()[-1] in ("snow", "rain")


def test_an_unknown_name_says_which_and_where(folders):
    with pytest.raises(WildcardError, match=r"__nothing__.*nothing\.txt.*wild1.*wild2"):
        Resolver(folders).resolve("a __nothing__", 1)
    with pytest.raises(WildcardError, match="cannot be read"):
        Resolver(folders).resolve("a {red|green", 1)


def test_an_unreadable_file_is_named_and_skipped(folders, tmp_path):
    (tmp_path / "wild2" / "animals.txt").symlink_to(tmp_path / "gone.txt")  # a link to nothing: cannot be opened
    resolver = Resolver(folders)
    assert {resolver.resolve("__anim*__", seed) for seed in range(10)} == {"cat", "dog", "fox"}  # both files matched
    assert "wild2/animals.txt" in resolver.note


def test_text_that_only_looks_like_wildcards_is_left_alone():
    assert not has_wildcards("snake_case__name, a __ b, (x:1.2) [a|b] [a:b:0.5]")
    assert Resolver([]).resolve("snake_case__name", 1) == "snake_case__name"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_sd(tmp_path_factory.mktemp("wild") / "sd")


def _job(model, tmp_path, **changes):
    return Text2ImageJob(**{**dict(model=str(model), prompt="a {red|green|blue} __animal__", steps=2, width=64,
                                   height=64, preview_every=0, seed=0, output_dir=str(tmp_path / "out")), **changes})


def _seeds_resolving_apart(resolver, template, count=2):
    """A first seed whose ``count`` images resolve ``template`` differently."""
    for seed in range(100):
        if len({resolver.resolve(template, seed + i) for i in range(count)}) == count:
            return seed
    raise AssertionError("no seed resolves apart")


def test_a_batch_records_each_images_prompt_and_restores_the_template(model, folders, tmp_path):
    from ddpm_studio.engine.gallery.rows import row_from_png
    from ddpm_studio.engine.output.metadata import read_job, read_metadata, read_png_text
    from ddpm_studio.engine.png.chunks import PARAMETERS_KEY

    engine = Engine(device="cpu", folders=AddonFolders(wildcards=folders))
    template = "a {red|green|blue} __animal__"
    seed = _seeds_resolving_apart(Resolver(folders), template)
    job = _job(model, tmp_path, seed=seed, batch_size=2, negative_prompt="{blurry|dark}")
    events = []
    result = engine.run(job, on_step=events.append)
    assert result.job.prompt == template and len(result.saved_paths) == 2
    expected = Resolver(folders).resolve_batch(template, "{blurry|dark}", seed, 2)
    assert result.prompts == expected and expected[0][0] != expected[1][0]
    assert [e.index for e in events] == [0, 1, 2, 3] and {e.total for e in events} == {4}  # numbered on
    for index, path in enumerate(result.saved_paths):
        parameters = read_png_text(path)[PARAMETERS_KEY]
        prompt, negative = expected[index]
        assert parameters.startswith(f"{prompt}\nNegative prompt: {negative}\n")
        assert f"Seed: {seed + index}," in parameters
        assert read_metadata(path)["resolved"]["prompt"] == prompt
        assert row_from_png(path)["prompt"] == prompt  # the gallery finds the image by its resolved words
        restored = read_job(path, own_seed=True)
        assert restored.prompt == template and restored.negative_prompt == "{blurry|dark}"  # the template back
        alone = engine.run(restored.replace(batch_size=1, output_dir=""), save=False)  # its seed, its prompt
        assert alone.prompts == [expected[index]]
        np.testing.assert_allclose(alone.images[0].astype(int), result.images[index].astype(int), atol=2)


def test_a_prompt_without_wildcards_runs_as_before(model, tmp_path):
    result = Engine(device="cpu").run(_job(model, tmp_path, prompt="a red cat", output_dir=""), save=False)
    assert result.prompts is None and result.images.shape[0] == 1


def test_an_unknown_wildcard_stops_the_run_in_words(model, tmp_path):
    from ddpm_studio.engine.errors import ModelError

    with pytest.raises(ModelError, match="__animal__"):
        Engine(device="cpu").run(_job(model, tmp_path, output_dir=""), save=False)
