"""Per-word attention maps (DAAM: Tang et al., "What the DAAM: Interpreting Stable Diffusion Using Cross Attention",
ACL 2023, arXiv:2210.04885): where in the picture each word of the prompt is looked at, step by step.

Every cross-attention layer (``attn2``) of the UNet gets a processor (diffusers' ``set_attn_processor``; no fork of
diffusers) that leaves the layer's own computation to its original processor and, beside it, takes the attention
probabilities softmax(q·kᵀ·scale) of the prompt's half of the classifier-free-guidance batch, for the first image.
They are summed over heads, brought to latent resolution (bilinear) and summed over layers, per prompt token; a word
of several tokens is the sum of its tokens (the paper's rules). At each step's end the maps are taken, each word's
normalised to its own maximum, as uint8 (words × h × w, at latent resolution), and travel in the step event like the
x_t and x0 previews. Off by default: with it off no processor is installed, so a step costs what it did.
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # a word as the maps name it: letters and digits (punctuation skipped)


def word_positions(pipe, prompt: str) -> list[tuple[str, list[int]]]:
    """Each word of ``prompt`` with the positions of its tokens in what the UNet attends to (the encoder's 77-token
    chunks side by side: position 0 of each chunk is its start token), in the order written."""
    from ddpm_studio.engine.prompts.encoding import CHUNK, chunks, converter, is_plain
    from ddpm_studio.engine.prompts.syntax import Piece, parse

    tokenizer = pipe.tokenizer
    convert = converter(pipe, tokenizer)
    plain = is_plain(prompt, tokenizer, convert)
    pieces = [Piece(prompt)] if plain else parse(prompt)
    flat: list[tuple[int, int]] = []  # (token id, position)
    for number, chunk in enumerate(chunks(pieces, tokenizer, convert)):
        flat += [(token, number * (CHUNK + 2) + 1 + i) for i, token in enumerate(chunk.tokens)]
    text = "".join(" " if p.is_break else p.text for p in pieces)
    words, cursor = [], 0
    for match in WORD.finditer(text):
        ids = tokenizer(match.group(0), add_special_tokens=False).input_ids
        for start in range(cursor, len(flat) - len(ids) + 1):
            if [t for t, _ in flat[start:start + len(ids)]] == ids:
                words.append((match.group(0), [p for _, p in flat[start:start + len(ids)]]))
                cursor = start + len(ids)
                break
    return words


class _Recording:
    """A cross-attention layer's processor: the original one's output, and the probabilities recorded beside it."""

    def __init__(self, inner, recorder: "AttentionRecorder") -> None:
        self.inner, self.recorder = inner, recorder

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kw):
        out = self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kw)
        if encoder_hidden_states is not None and hidden_states.ndim == 3:
            self.recorder.add(attn, hidden_states, encoder_hidden_states)
        return out


class AttentionRecorder:
    """Installed on a UNet for one run (``with``): sums each step's cross-attention per word at latent resolution."""

    def __init__(self, unet, words: list[tuple[str, list[int]]], latent_size: tuple[int, int], prompt_row) -> None:
        self.unet, self.words, self.size = unet, words, latent_size
        self.prompt_row = prompt_row  # batch size → the row of image 0 with the prompt (not the negative prompt)
        self.names = tuple(word for word, _ in words)
        self.total: torch.Tensor | None = None  # (tokens, h, w), this step
        self._original = None

    def __enter__(self) -> "AttentionRecorder":
        self._original = dict(self.unet.attn_processors)
        self.unet.set_attn_processor({name: _Recording(p, self) if name.endswith("attn2.processor") else p
                                      for name, p in self._original.items()})
        return self

    def __exit__(self, *exc) -> None:
        self.unet.set_attn_processor(self._original)

    @torch.no_grad()
    def add(self, attn, hidden_states: torch.Tensor, context: torch.Tensor) -> None:
        row = self.prompt_row(hidden_states.shape[0])
        rows = slice(row, row + 1)
        if attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        query, key = attn.to_q(hidden_states[rows]), attn.to_k(context[rows])
        heads = attn.heads
        query = query.view(1, -1, heads, query.shape[-1] // heads).transpose(1, 2).float()
        key = key.view(1, -1, heads, key.shape[-1] // heads).transpose(1, 2).float()
        self.accumulate(torch.softmax(query @ key.transpose(-1, -2) * attn.scale, dim=-1).sum(dim=1)[0])

    def accumulate(self, probs: torch.Tensor) -> None:
        """Add one layer's attention (pixels × tokens, the pixels a row-major grid of the latents' aspect) to this
        step's sums at latent resolution."""
        height, width = self.size
        side = max(1, round(height / (height * width / probs.shape[0]) ** 0.5))
        grid = probs.T.reshape(probs.shape[1], side, probs.shape[0] // side)[None]
        grid = F.interpolate(grid, size=self.size, mode="bilinear", align_corners=False)[0]
        self.total = grid if self.total is None else self.total + grid

    def take(self) -> np.ndarray | None:
        """This step's maps, one per word, each scaled to 0–255 by its own maximum; then the sums start again."""
        if self.total is None or not self.words:
            self.total = None
            return None
        maps = torch.stack([self.total[[p for p in positions if p < self.total.shape[0]]].sum(dim=0)
                            for _, positions in self.words])
        self.total = None
        peak = maps.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None]
        return (maps / peak * 255.0).round().to(torch.uint8).cpu().numpy()
