"""The CLIP tokenizer that ships with the app: CLIP's own vocabulary, rebuilt by tools/derive_clip_tokenizer.py, so a
single-file checkpoint loads and generates offline with nothing in the Hugging Face cache."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.single_file import shipped_tokenizer
from ddpm_studio.engine.runner import Engine
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import CLIP_VOCAB, save_tiny_sd, tiny_tokenizer


def test_the_shipped_tokenizer_gives_clips_ids():
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(shipped_tokenizer()), local_files_only=True)
    assert len(tokenizer) == CLIP_VOCAB == 49408 and tokenizer.model_max_length == 77
    assert tokenizer("a photo of a").input_ids == [49406, 320, 1125, 539, 320, 49407]  # CLIP's own, as published
    vocab = json.loads((shipped_tokenizer() / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["!"] == 0 and vocab["!</w>"] == 256 and vocab["<|endoftext|>"] == 49407  # bytes, word ends, specials
    assert (shipped_tokenizer() / "merges.txt").read_text(encoding="utf-8").count("\n") == 1 + 48894


def test_the_tool_rebuilds_the_shipped_files_from_clips_byte_pair_file(tmp_path):
    from tools import derive_clip_tokenizer as tool

    merges = (shipped_tokenizer() / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
    # the file as CLIP and open-clip-torch ship it: a header line, the merges, then more merges than CLIP uses
    source = tmp_path / "bpe_simple_vocab_16e6.txt.gz"
    source.write_bytes(gzip.compress(("bpe_simple_vocab_16e6.txt#version: 0.2\n" + "\n".join(merges)
                                      + "\nz z\nq q\n").encode("utf-8")))
    vocab, used = tool.derive(source)
    tool.write(vocab, used, tmp_path / "out")
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        assert (tmp_path / "out" / name).read_bytes() == (shipped_tokenizer() / name).read_bytes(), name
    short = tmp_path / "short.txt.gz"
    short.write_bytes(gzip.compress(b"header\na b\n"))
    with pytest.raises(ValueError, match="not CLIP's byte-pair file"):
        tool.derive(short)


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory):
    """A tiny SD 1.x single file whose text encoder has CLIP's vocabulary size, and configs without a tokenizer."""
    root = tmp_path_factory.mktemp("clip-vocab")
    folder = save_tiny_sd(root / "tiny-clip", "txt2img", vocab_size=CLIP_VOCAB)
    (root / "checkpoints").mkdir()
    checkpoint = save_single_file(folder, root / "checkpoints" / "tiny-clip.safetensors")
    save_config_folder(folder, root / "configs" / "sd1")
    shutil.rmtree(root / "configs" / "sd1" / "tokenizer")
    return {"file": checkpoint, "configs": root / "configs"}


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch, clip_checkpoint):
    import huggingface_hub.constants

    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(clip_checkpoint["configs"]))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))


def test_a_single_file_generates_offline_with_an_empty_cache(clip_checkpoint, empty_cache):
    engine = Engine(device="cpu")
    job = Text2ImageJob(model=str(clip_checkpoint["file"]), prompt="a photo of a lighthouse", steps=2, width=32,
                        height=32, seed=4, output_dir="")
    result = engine.run(job, save=False)
    assert result.images.shape == (1, 32, 32, 3)
    assert len(engine._model.pipe.tokenizer) == CLIP_VOCAB  # the shipped one
    other = engine.run(job.replace(prompt="a photo of a cat"), save=False)
    assert not np.array_equal(result.images, other.images)  # the words reach the text encoder


def test_a_tokenizer_the_user_put_beside_the_configs_still_wins(clip_checkpoint, empty_cache):
    own = clip_checkpoint["configs"] / "sd1" / "tokenizer"
    tiny_tokenizer(own).save_pretrained(own)
    try:
        loaded = Engine(device="cpu").load(str(clip_checkpoint["file"]), "txt2img")
        assert len(loaded.pipe.tokenizer) == 514
    finally:
        shutil.rmtree(own)
