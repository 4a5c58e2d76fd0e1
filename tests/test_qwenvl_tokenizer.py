"""Qwen-Image's text encoder (Qwen2.5-VL) reads its prompt through the shipped Qwen3 tokenizer, less Qwen3's four
added tokens past id 151,664, when no Qwen2.5-VL one is cached (tokenizers.STAND_INS, LAST_ADDED): no package on
PyPI carries Qwen2.5-VL's own, and the two are one vocabulary.

What this rests on, each checked here against the shipped file:

- the byte-level BPE: Qwen2.5-VL's merges.txt (as ComfyUI ships it for qwen_2.5_vl_7b.safetensors,
  comfy/text_encoders/qwen25_tokenizer/merges.txt) is 1,278,501 characters, and the shipped Qwen3 merges written in
  that format are too, with the same text where we compared (its head, middle and tail, below); the vocabulary is
  the 256 byte symbols and one token per merge in merge order (ids 256 + i), so the merges fix it;
- the special tokens: Qwen2.5-VL-7B-Instruct's tokenizer_config.json has ids 151,643–151,664 (``ADDED``), the same
  as Qwen3's; Qwen3 adds 151,665–151,668 (<tool_response>, </tool_response>, <think>, </think>);
- the splitting: both tokenizers are transformers' Qwen2Tokenizer (NFC, Qwen2's pre-tokenizing pattern).

The proof: Qwen2.5-VL's tokenizer is built here by its own definition — transformers' Qwen2Tokenizer on those merges
and its 22 added tokens — and QwenImagePipeline's prompt template, with prompts, gives the same ids under both (a
prompt holding <think>, one of Qwen3's four, too: Qwen3's whole tokenizer would read it as one token).
"""

from __future__ import annotations

import pytest

from ddpm_studio.engine.models.tokenizers import load_tokenizer, shipped, tokenizer_folder

# Qwen2.5-VL-7B-Instruct's added tokens (tokenizer_config.json added_tokens_decoder), from id 151,643; True: special
ADDED = (("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<|object_ref_start|>", True),
         ("<|object_ref_end|>", True), ("<|box_start|>", True), ("<|box_end|>", True), ("<|quad_start|>", True),
         ("<|quad_end|>", True), ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
         ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False), ("</tool_call>", False),
         ("<|fim_prefix|>", False), ("<|fim_middle|>", False), ("<|fim_suffix|>", False), ("<|fim_pad|>", False),
         ("<|repo_name|>", False), ("<|file_sep|>", False))
MERGES_CHARS = 1278501  # Qwen2.5-VL's merges.txt
MERGES_AT = {0: "#version: 0.2\nĠ Ġ\nĠĠ ĠĠ\ni n\nĠ t\n", 640000: "d oll\nĠvamp ires\nlaunch er\n",
             1278000: "¼ ĩ\níĭ į\níĵ ¬\n", 1278501 - 9: "º Ł\nâ½ Ĺ\n"}
PROMPTS = ("a red fox in snow", "A café sign reading \"Qwen-Image\" 通义千问, 1328×1328 <think> &c.", " ", "",
           "line one\nline two\t\ttabs  and   spaces")


def _shipped_model():
    import gzip
    import json

    with gzip.open(shipped("qwen2.5-vl") / "tokenizer.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def test_the_shipped_merges_are_qwen25_vls():
    data = _shipped_model()
    merges = data["model"]["merges"]
    text = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    assert len(text) == MERGES_CHARS
    for at, piece in MERGES_AT.items():
        assert text[at:at + len(piece)] == piece, at
    vocab = data["model"]["vocab"]
    assert len(vocab) == 256 + len(merges) == 151643
    assert all(vocab[a + b] == 256 + i for i, (a, b) in enumerate(merges))  # the merges fix the vocabulary
    added = {token["id"]: (token["content"], token["special"]) for token in data["added_tokens"]}
    assert [added[151643 + i] for i in range(len(ADDED))] == list(ADDED)
    assert [added[i][0] for i in range(151665, 151669)] == ["<tool_response>", "</tool_response>", "<think>",
                                                            "</think>"]


@pytest.fixture(scope="module")
def both():
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    data = _shipped_model()
    own = Qwen2Tokenizer(vocab=data["model"]["vocab"], merges=[tuple(m) for m in data["model"]["merges"]],
                         unk_token=None, bos_token=None, eos_token=None, pad_token=None)
    own.add_tokens([AddedToken(content, special=special, normalized=False) for content, special in ADDED])
    own.eos_token, own.pad_token = "<|im_end|>", "<|endoftext|>"  # its tokenizer_config's
    assert own.convert_tokens_to_ids([c for c, _ in ADDED]) == list(range(151643, 151665))
    return own, load_tokenizer("qwen2.5-vl")


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_pipelines_template_tokenizes_the_same_under_both(both, prompt):
    from diffusers import QwenImagePipeline

    own, stand_in = both
    template = _template(QwenImagePipeline)
    text = template.format(prompt)
    kwargs = dict(max_length=1024 + 34, padding=True, truncation=True)  # what _get_qwen_prompt_embeds asks
    assert stand_in(text, **kwargs).input_ids == own(text, **kwargs).input_ids
    assert stand_in(template.format(""), **kwargs).input_ids[:34][-3:] == \
        own.convert_tokens_to_ids(["<|im_start|>", "user", "Ċ"])  # the 34 tokens the pipeline drops end here


def _template(cls) -> str:
    """QwenImagePipeline's prompt template, as its __init__ sets it."""
    import inspect
    import re

    found = re.search(r'self\.prompt_template_encode = "(.*?)"\n', inspect.getsource(cls.__init__))
    return found[1].encode().decode("unicode_escape")


def test_the_shipped_qwen3_tokenizer_stands_in_with_an_empty_cache():
    assert tokenizer_folder("qwen2.5-vl") == shipped("qwen3") == shipped("qwen2.5-vl")
    tokenizer = load_tokenizer("qwen2.5-vl")
    assert tokenizer.pad_token_id == 151643 and tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645
    assert len(tokenizer) == 151665 and len(load_tokenizer("qwen3")) == 151669  # Qwen3's own keeps its four
    assert tokenizer("<think>").input_ids != load_tokenizer("qwen3")("<think>").input_ids == [151667]
