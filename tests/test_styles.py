"""Styles (engine/prompts/styles.py): A1111's styles.csv read as it is and applied to the prompt; the CLI's
``--styles FILE --style NAME`` and ``--wildcards DIR``, and a models home's wildcards folder and styles.csv."""

from __future__ import annotations

import pytest

from ddpm_studio.cli import main
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.png.chunks import parse_a1111
from ddpm_studio.engine.prompts.styles import (
    Style,
    StyleError,
    apply_styles,
    chosen,
    read_style_files,
    read_styles,
)
from ddpm_studio.engine.prompts.wildcards import Resolver
from tests.tiny_sd import save_tiny_sd

# as A1111 writes it (utf-8 with a BOM; a quoted field holding commas; a row with no name)
STYLES_CSV = ('\ufeffname,prompt,negative_prompt\n'
              'Cinematic,"cinematic still of {prompt}, film grain","cartoon, drawing"\n'
              'Sharp,"sharp focus, 8k",blurry\n'
              ',orphan,\n'
              'Empty,,\n')


@pytest.fixture()
def styles_file(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text(STYLES_CSV, encoding="utf-8")
    return path


def test_styles_csv_is_read_as_a1111_writes_it(styles_file):
    styles = read_styles(styles_file)
    assert list(styles) == ["Cinematic", "Sharp", "Empty"]  # the unnamed row skipped, the BOM gone
    assert styles["Cinematic"] == Style("Cinematic", "cinematic still of {prompt}, film grain", "cartoon, drawing")


def test_prompt_placeholder_and_appending(styles_file):
    styles = read_styles(styles_file)
    assert apply_styles("a cat", "", [styles["Cinematic"]]) == ("cinematic still of a cat, film grain",
                                                                "cartoon, drawing")
    assert apply_styles("a cat", "ugly", [styles["Sharp"]]) == ("a cat, sharp focus, 8k", "ugly, blurry")
    assert apply_styles("a cat", "ugly", [styles["Empty"]]) == ("a cat", "ugly")  # nothing added
    both = apply_styles("a cat", "", chosen(styles, ["Cinematic", "Sharp"]))  # in order, each on the one before
    assert both == ("cinematic still of a cat, film grain, sharp focus, 8k", "cartoon, drawing, blurry")


def test_an_unknown_style_and_an_unreadable_file_are_named(styles_file, tmp_path):
    with pytest.raises(StyleError, match=r"'Nope'.*styles\.csv.*Cinematic, Sharp, Empty"):
        chosen(read_styles(styles_file), ["Nope"], [styles_file])
    with pytest.raises(StyleError, match="missing.csv"):
        read_styles(tmp_path / "missing.csv")
    styles, problems = read_style_files([tmp_path / "missing.csv", styles_file])
    assert "Sharp" in styles and len(problems) == 1 and "missing.csv" in problems[0]


def test_cli_wildcards_styles_and_style(tmp_path, styles_file):
    model = save_tiny_sd(tmp_path / "sd")
    wild = tmp_path / "wild" / "pets"
    wild.mkdir(parents=True)
    (wild / "animal.txt").write_text("cat\ndog\nfox\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["txt2img", "--model", str(model), "--prompt", "a {small|big} __pets/animal__", "--steps", "2",
                 "--size", "64x64", "--seed", "7", "--batch", "2", "--device", "cpu", "--out", str(out),
                 "--wildcards", str(tmp_path / "wild"), "--styles", str(styles_file), "--style", "Cinematic",
                 "--style", "Sharp"]) == 0
    template = "cinematic still of a {small|big} __pets/animal__, film grain, sharp focus, 8k"
    resolved = Resolver([str(tmp_path / "wild")]).resolve_batch(template, "cartoon, drawing, blurry", 7, 2)
    paths = sorted(out.glob("*.png"))
    assert len(paths) == 2
    for path, (prompt, negative) in zip(paths, resolved):
        fields = parse_a1111(read_png_text(path)["parameters"])
        assert fields["prompt"] == prompt and fields["negative_prompt"] == negative  # applied and resolved
        assert read_job(path).prompt == template  # the applied template: restoring needs no styles file


def test_the_models_home_brings_its_wildcards_and_styles(tmp_path, styles_file):
    home = tmp_path / "a1111"
    model = save_tiny_sd(home / "models" / "Stable-diffusion" / "tiny")
    wild = home / "extensions" / "sd-dynamic-prompts" / "wildcards"
    wild.mkdir(parents=True)
    (wild / "colour.txt").write_text("teal\n", encoding="utf-8")
    (home / "styles.csv").write_text(STYLES_CSV, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["txt2img", "--models-home", str(home), "--model", "tiny", "--prompt", "a __colour__ cat",
                 "--steps", "2", "--size", "64x64", "--seed", "1", "--device", "cpu", "--out", str(out),
                 "--style", "Sharp"]) == 0
    assert model.is_dir()
    fields = parse_a1111(read_png_text(next(out.glob("*.png")))["parameters"])
    assert fields["prompt"] == "a teal cat, sharp focus, 8k" and fields["negative_prompt"] == "blurry"


def test_cli_unknown_style_is_one_line(tmp_path, styles_file, capsys):
    code = main(["txt2img", "--model", str(tmp_path), "--prompt", "a", "--device", "cpu", "--out", str(tmp_path),
                 "--steps", "2", "--styles", str(styles_file), "--style", "Nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "Nope" in err[0]
