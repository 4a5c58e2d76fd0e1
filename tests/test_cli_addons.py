"""The CLI's add-on flags as the issue spells them: --lora PATH_OR_NAME:WEIGHT (repeatable), --lora-dir DIR,
--embeddings DIR, --vae, --models-home DIR (an A1111 folder used in place), and prompt tags."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.cli import main
from ddpm_studio.commands.sample import lora_argument
from ddpm_studio.engine.output.metadata import read_job, read_png_text
from ddpm_studio.engine.png.chunks import parse_a1111
from tests.tiny_addons import save_embedding, save_lora
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An A1111 install: a model folder under models/Stable-diffusion, a LoRA, an embedding."""
    from diffusers import StableDiffusionPipeline

    root = tmp_path_factory.mktemp("a1111")
    model = save_tiny_sd(root / "models" / "Stable-diffusion" / "tiny")
    (root / "models" / "Stable-diffusion" / "tiny" / "v1-inference.yaml").touch()  # clutter a real folder has
    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True)
    save_lora(root / "models" / "Lora" / "inkstyle.safetensors", pipe, seed=9)
    save_embedding(root / "embeddings" / "goodhands.safetensors", (32,))
    return root


def _run(args, out):
    assert main(["txt2img", "--steps", "3", "--size", "64x64", "--seed", "4", "--device", "cpu", "--out", str(out),
                 *args]) == 0
    paths = sorted(out.glob("*.png"))
    assert len(paths) == 1
    return paths[0]


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_lora_flags_tags_and_the_models_home_give_the_same_image(home, tmp_path, capsys):
    model = str(home / "models" / "Stable-diffusion" / "tiny")
    plain = _run(["--model", model, "--prompt", "a cat"], tmp_path / "plain")
    by_flag = _run(["--model", model, "--prompt", "a cat", "--lora", "inkstyle:0.7",
                    "--lora-dir", str(home / "models" / "Lora")], tmp_path / "flag")
    assert "LoRA inkstyle (0.7)" in capsys.readouterr().err
    by_path = _run(["--model", model, "--prompt", "a cat", "--lora",
                    f"{home / 'models' / 'Lora' / 'inkstyle.safetensors'}:0.7"], tmp_path / "path")
    by_home = _run(["--models-home", str(home), "--model", "tiny", "--prompt", "a cat <lora:inkstyle:0.7>"],
                   tmp_path / "home")
    assert not np.array_equal(_pixels(plain), _pixels(by_flag))
    assert np.array_equal(_pixels(by_flag), _pixels(by_path)) and np.array_equal(_pixels(by_flag), _pixels(by_home))
    fields = parse_a1111(read_png_text(by_flag)["parameters"])
    assert fields["prompt"] == "a cat <lora:inkstyle:0.7>" and fields["Lora hashes"].startswith("inkstyle: ")
    assert read_job(by_flag).loras == (("inkstyle", 0.7),)


def test_embeddings_flag(home, tmp_path):
    model = str(home / "models" / "Stable-diffusion" / "tiny")
    plain = _run(["--model", model, "--prompt", "a cat, goodhands"], tmp_path / "plain")
    with_embedding = _run(["--model", model, "--prompt", "a cat, goodhands", "--embeddings", str(home / "embeddings")],
                          tmp_path / "emb")
    assert not np.array_equal(_pixels(plain), _pixels(with_embedding))
    assert "TI hashes" in parse_a1111(read_png_text(with_embedding)["parameters"])


def test_a_wrong_lora_is_one_line_exit_1(home, tmp_path, capsys):
    code = main(["txt2img", "--model", str(home / "models" / "Stable-diffusion" / "tiny"), "--prompt", "a",
                 "--steps", "2", "--size", "64x64", "--device", "cpu", "--out", str(tmp_path), "--lora", "nothing:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["ddpm-studio: error: No LoRA named 'nothing' (no LoRA folder is set)."]
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("text,expected", [("style", ("style", 1.0)), ("style:0.5", ("style", 0.5)),
                                           ("/a/b.safetensors:-1", ("/a/b.safetensors", -1.0)),
                                           ("C:\\loras\\x.safetensors", ("C:\\loras\\x.safetensors", 1.0))])
def test_lora_argument(text, expected):
    assert lora_argument(text) == expected


def test_unreadable_embedding_files_are_named_on_stderr(home, tmp_path, capsys):
    """A cut-short file and one with no embedding in it are not passed over in silence: each is named with why, and
    the one the prompt names is said to go to the text encoder as plain words."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "embeddings"
    whole = save_embedding(folder / "goodhands.safetensors", (32,))
    (folder / "badhands.safetensors").write_bytes(whole.read_bytes()[:-40])  # an unfinished download
    save_file({"weights": torch.zeros(2), "bias": torch.zeros(2)}, str(folder / "notes.safetensors"))
    _run(["--model", str(home / "models" / "Stable-diffusion" / "tiny"), "--prompt", "a cat, badhands, goodhands",
          "--embeddings", str(folder)], tmp_path / "out")
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2
    bad = next(n for n in notes if "badhands.safetensors" in n)
    assert "is cut short" in bad and "'badhands' in the prompt goes to the text encoder as plain words" in bad
    unkeyed = next(n for n in notes if "notes.safetensors" in n)
    assert "not a textual-inversion embedding" in unkeyed and "plain words" not in unkeyed  # the prompt does not name it
    assert "used: embedding goodhands" in err
