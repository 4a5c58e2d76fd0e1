"""Attention maps for SD 3.5 and Flux.1 (engine/inspect/joint_attention.py): what the recorder takes from each joint
block equals the probabilities the block's own attention computed (its queries and keys caught on their way into
scaled_dot_product_attention, softmaxed whole, the picture's rows and the prompt's columns kept); the words are
found in the family's text sequence (SD 3.5: CLIP's 77 tokens then T5's; Flux: T5's); a run's steps carry one map
per word, and the panel offers the row for these families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.inspect.joint_attention import JointAttentionRecorder, joint_word_positions
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_flux import save_tiny_flux
from tests.tiny_klein import save_tiny_klein
from tests.tiny_qwenimage import save_tiny_qwenimage
from tests.tiny_sd3 import save_tiny_sd3


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("joint-attention")
    return {"sd3": save_tiny_sd3(root / "tiny-sd3"), "flux": save_tiny_flux(root / "tiny-flux"),
            "chroma": save_tiny_chroma(root / "tiny-chroma"), "klein": save_tiny_klein(root / "tiny-klein"),
            "qwenimage": save_tiny_qwenimage(root / "tiny-qwen-image")}


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


def _job(folder, **fields):
    values = dict(model=str(folder), prompt="a red fox in deep snow", steps=1, seed=4, width=64, height=64,
                  preview_every=1, scheduler="euler", guidance_scale=3.5, attention_maps=True)
    return Text2ImageJob(**{**values, **fields})


@pytest.mark.parametrize("family, text_first", [("sd3", False), ("flux", True), ("chroma", True), ("klein", True),
                                                ("qwenimage", True)])
def test_each_blocks_map_is_its_own_attention_to_the_prompt(engine, folders, family, text_first, monkeypatch):
    """One step; the SDPA calls of the joint blocks are caught (SD 3.5 runs the negative and the prompt as one
    batch of two: row 1 is the prompt's), and each is compared with what the recorder added for that block."""
    sdpa = torch.nn.functional.scaled_dot_product_attention
    caught, recorded = [], []

    def spy(query, key, value, *args, **kwargs):
        mask = kwargs.get("attn_mask")
        caught.append((query.detach().clone(), key.detach().clone(), None if mask is None else mask.clone()))
        return sdpa(query, key, value, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    monkeypatch.setattr(JointAttentionRecorder, "accumulate", lambda self, probs: recorded.append(probs.clone()))
    # Qwen-Image: 2 steps (its shift_terminal schedule divides by zero at 1) without true CFG (one call a step)
    guidance = {"chroma": 3.0, "klein": 1.0, "qwenimage": 1.0}.get(family, 3.5)
    engine.run(_job(folders[family], guidance_scale=guidance, steps=2 if family == "qwenimage" else 1), save=False)
    assert recorded
    tokens_n = recorded[0].shape[0]  # the picture's tokens (64² px → 8² latents → 4² patches)
    assert tokens_n == 16
    text_n = recorded[0].shape[1]  # SD 3.5: CLIP's 77 + the 256 of its absent T5; Flux: T5's 512
    joint = [c for c in caught if c[0].shape[2] == tokens_n + text_n]  # the picture's and the prompt's tokens
    assert len(joint) >= len(recorded)  # (and Flux's single-stream blocks after its double-stream ones)
    # Chroma's attention takes its mask (Qwen-Image's pipeline passes none for one prompt without padding)
    assert (joint[0][2] is not None) == (family == "chroma")
    for probs, (query, key, mask) in zip(recorded, joint):  # the double-stream blocks come first, in order
        row = query.shape[0] - 1  # the prompt's row: the second of SD 3.5's CFG batch, Flux's only one
        logits = query[row].float() @ key[row].float().transpose(-1, -2) * query.shape[-1] ** -0.5
        if mask is not None:  # Chroma's, as scaled_dot_product_attention applies it
            logits = logits.masked_fill(~mask[row], float("-inf")) if mask.dtype == torch.bool else logits + mask[row]
        weights = torch.softmax(logits, dim=-1).sum(dim=0)  # tokens × tokens, summed over heads
        expected = weights[text_n:, :text_n] if text_first else weights[:tokens_n, tokens_n:]
        assert probs.shape == expected.shape
        assert torch.allclose(probs, expected, atol=1e-4), (family, (probs - expected).abs().max())


def test_words_are_found_in_each_encoders_tokens(engine, folders):
    sd3 = engine.load(str(folders["sd3"]), "txt2img").pipe
    words = dict(joint_word_positions(sd3, "sd3", "a red fox, in snow"))
    assert list(words) == ["a", "red", "fox", "in", "snow"]
    ids = sd3.tokenizer("a red fox, in snow").input_ids
    assert [ids[p] for p in words["fox"]] == sd3.tokenizer("fox", add_special_tokens=False).input_ids
    assert all(p < 77 for positions in words.values() for p in positions)  # its T5 is left out: CLIP's alone
    flux = engine.load(str(folders["flux"]), "txt2img").pipe
    words = dict(joint_word_positions(flux, "flux", "a red fox"))
    ids = flux.tokenizer_2("a red fox").input_ids
    assert [ids[p] for p in words["red"]] == flux.tokenizer_2("red", add_special_tokens=False).input_ids
    klein = engine.load(str(folders["klein"]), "txt2img").pipe  # the prompt inside Qwen3's chat template
    words = dict(joint_word_positions(klein, "klein", "a red fox"))
    assert list(words) == ["a", "red", "fox"] and words["a"][0] > 2  # after the template's opening tokens
    ids = klein.tokenizer(klein.tokenizer.apply_chat_template([{"role": "user", "content": "a red fox"}],
                                                              tokenize=False, add_generation_prompt=True,
                                                              enable_thinking=False)).input_ids
    assert [ids[p] for p in words["fox"]] == klein.tokenizer(" fox", add_special_tokens=False).input_ids


@pytest.mark.parametrize("family", ["sd3", "flux", "chroma", "klein", "qwenimage"])
def test_a_run_carries_a_map_per_word_every_step(engine, folders, family):
    events = []
    result = engine.run(_job(folders[family], steps=2, prompt="a red fox in deep snow"), on_step=events.append,
                        save=False)
    steps = [event for event in events if not event.final]
    assert len(steps) == 2 and np.isfinite(result.images).all()
    for event in steps:
        assert event.attention_words == ("a", "red", "fox", "in", "deep", "snow")
        assert event.attention.shape == (6, 8, 8) and event.attention.dtype == np.uint8
        assert (event.attention.reshape(6, -1).max(axis=1) == 255).all()  # each word scaled to its own peak
    assert not np.array_equal(steps[0].attention[1], steps[0].attention[2])  # words differ
    plain = engine.run(_job(folders[family], steps=2, attention_maps=False), save=False)
    assert np.array_equal(plain.images, result.images)  # recording changes nothing in the picture
