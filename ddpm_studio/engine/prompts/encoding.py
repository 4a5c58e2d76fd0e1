"""Prompts as A1111 encodes them: in 75-token chunks, each word's embedding scaled by its weight, for SD 1.x, 2.x and
SDXL pipelines (prompt syntax: ``prompt_syntax``).

A plain prompt — no syntax, at most 75 tokens, clip skip 1 — is left to the pipeline, which encodes it as it always has,
so its image does not change. Anything else becomes ``prompt_embeds`` (and SDXL's pooled embeddings), made the way
A1111's ``sd_hijack_clip`` makes them:

- each piece of the prompt is tokenized on its own, its tokens carrying its weight;
- tokens fill chunks of 75; a chunk that would overflow moves its last words to the next one from just after the last
  comma, if that comma is within the last 20 tokens (A1111's default "comma padding backtrack"); BREAK ends a chunk;
- each chunk is encoded as the pipeline encodes a prompt ([start] tokens [end] padding, 77 ids; SDXL: both text
  encoders' penultimate layers side by side, the pooled embedding from the second encoder's first chunk);
- clip skip N (A1111's setting; diffusers' ``clip_skip`` is N − 1) reads the layer N from the end: SD 1.x/2.x take
  that layer's output through the final layer norm, SDXL the layer N further back than its usual penultimate one —
  as diffusers' pipelines do, which InstructPix2Pix's does not offer;
- where weights are not all 1, the chunk's embeddings are multiplied by them, then rescaled so that their mean is what
  it was before (A1111's "Original" emphasis);
- the chunks are joined along the token axis (77·k tokens: the UNet attends to any length), and the negative prompt
  is padded with empty-prompt chunks to the same length (an empty SDXL negative stays zeros, as diffusers makes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.prompts.syntax import Piece, has_syntax, parse

CHUNK = 75  # tokens a chunk holds between its start and end tokens (CLIP's context is 77)
COMMA_BACKTRACK = 20  # A1111's default: how far back a chunk may break at a comma instead of mid-phrase


@dataclass
class Chunk:
    tokens: list[int]
    weights: list[float]


def is_plain(prompt: str, tokenizer, convert=None) -> bool:
    """No syntax and at most 75 tokens (a many-vector embedding's name counted as its tokens): the pipeline's own
    encoding is the same."""
    if has_syntax(prompt):
        return False
    return len(tokenizer(convert(prompt) if convert else prompt, add_special_tokens=False).input_ids) <= CHUNK


def converter(pipe, tokenizer):
    """The pipeline's textual-inversion rewrite for ``tokenizer`` (an embedding of n vectors is n tokens), if any."""
    convert = getattr(pipe, "maybe_convert_prompt", None)
    return (lambda text: convert(text, tokenizer)) if convert is not None else None


def chunks(pieces: list[Piece], tokenizer, convert=None) -> list[Chunk]:
    """The prompt's tokens and weights in chunks of at most 75 (A1111's rules, above); ``convert`` rewrites each
    piece's text first (``converter``)."""
    comma = tokenizer(",", add_special_tokens=False).input_ids[-1]
    done: list[Chunk] = []
    chunk, last_comma = Chunk([], []), -1

    def close() -> None:
        nonlocal chunk, last_comma
        done.append(chunk)
        chunk, last_comma = Chunk([], []), -1

    for piece in pieces:
        if piece.is_break:
            close()
            continue
        text = convert(piece.text) if convert else piece.text
        for token in tokenizer(text, add_special_tokens=False).input_ids:
            if token == comma:
                last_comma = len(chunk.tokens)
            elif len(chunk.tokens) == CHUNK and last_comma != -1 and CHUNK - last_comma <= COMMA_BACKTRACK:
                moved = Chunk(chunk.tokens[last_comma + 1 :], chunk.weights[last_comma + 1 :])
                del chunk.tokens[last_comma + 1 :], chunk.weights[last_comma + 1 :]
                close()
                chunk = moved
            if len(chunk.tokens) == CHUNK:
                close()
            chunk.tokens.append(token)
            chunk.weights.append(piece.weight)
    if chunk.tokens or not done:
        close()
    return done


def chunk_ids(chunk: Chunk, tokenizer) -> tuple[list[int], list[float]]:
    """77 ids as the pipelines tokenize a prompt — start, tokens, end, then the tokenizer's padding — and their weights."""
    pad = CHUNK - len(chunk.tokens)
    ids = [tokenizer.bos_token_id, *chunk.tokens, tokenizer.eos_token_id] + [tokenizer.pad_token_id] * pad
    return ids, [1.0, *chunk.weights, 1.0] + [1.0] * pad


MEAN_TOO_SMALL = 1e-4  # of the mean magnitude: a mean this close to 0 cannot be restored by a ratio


def weighted(z: torch.Tensor, weights: list[float]) -> torch.Tensor:
    """Each token's embedding times its weight, then the whole rescaled to its old mean; unchanged at all weights 1.

    Where a mean is about 0 the ratio would be noise (a text encoder whose last layer norm has no learnt bias: random
    test models, not CLIP), so the embeddings are only multiplied."""
    if all(w == 1.0 for w in weights):
        return z
    mean = z.float().mean()
    scaled = z.float() * torch.tensor(weights, dtype=torch.float32, device=z.device)[None, :, None]
    new_mean, size = scaled.mean(), scaled.abs().mean()
    if min(abs(float(mean)), abs(float(new_mean))) <= MEAN_TOO_SMALL * float(size):
        return scaled.to(z.dtype)
    return (scaled * (mean / new_mean)).to(z.dtype)


def _encoders(pipe) -> list[tuple[object, object]]:
    pairs = [(pipe.tokenizer, pipe.text_encoder)]
    if getattr(pipe, "text_encoder_2", None) is not None:
        pairs.append((pipe.tokenizer_2, pipe.text_encoder_2))
    return [(t, e) for t, e in pairs if t is not None and e is not None]


def _encode_chunk(pipe, ids_per_encoder: list[list[int]], weights_per_encoder: list[list[float]], clip_skip: int):
    """(embeddings 1 × 77 × D, pooled or None) of one chunk, as the pipeline's own encode_prompt makes them."""
    from diffusers.utils.torch_utils import get_module_execution_device  # where offloading runs it, too

    xl = getattr(pipe, "text_encoder_2", None) is not None
    parts, pooled = [], None
    for (tokenizer, encoder), ids, weights in zip(_encoders(pipe), ids_per_encoder, weights_per_encoder):
        skip = clip_skip > 1
        out = encoder(torch.tensor([ids], device=get_module_execution_device(encoder)), output_hidden_states=xl or skip)
        if skip:
            layers = len(out.hidden_states) - 1
            deepest = layers - 1 if xl else layers  # SDXL counts from its penultimate layer
            if clip_skip > deepest:
                raise ModelError(f"This model's text encoder has {layers} layers: clip skip can be at most {deepest} "
                                 f"here, not {clip_skip}.")
        if xl:
            if out[0].ndim == 2 and pooled is None:
                pooled = out[0]
            z = out.hidden_states[-(clip_skip + 1)]
        elif skip:
            # the last layer's output goes through the final layer norm; an earlier one must too (transformers 5's
            # CLIPTextModel holds the norm itself, older ones under .text_model)
            z = getattr(encoder, "text_model", encoder).final_layer_norm(out.hidden_states[-clip_skip])
        else:
            z = out[0]
        parts.append(weighted(z, weights))
    return torch.cat(parts, dim=-1), pooled


def _encode(pipe, prompt: str, clip_skip: int) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    pieces = parse(prompt)
    per_encoder = [[chunk_ids(c, t) for c in chunks(pieces, t, converter(pipe, t))] for t, _ in _encoders(pipe)]
    count = max(len(c) for c in per_encoder)
    empty = {id(t): chunk_ids(Chunk([], []), t) for t, _ in _encoders(pipe)}
    embeds, pooled = [], None
    for n in range(count):  # encoders tokenize alike (one vocabulary); should one make fewer chunks, pad it
        ids = [c[n] if n < len(c) else empty[id(t)] for c, (t, _) in zip(per_encoder, _encoders(pipe))]
        z, chunk_pooled = _encode_chunk(pipe, [i for i, _ in ids], [w for _, w in ids], clip_skip)
        embeds.append(z)
        pooled = chunk_pooled if pooled is None else pooled
    return embeds, pooled


def text_embeddings(pipe, prompt: str, clip_skip: int = 1) -> list[torch.Tensor]:
    """The text embeddings of ``prompt`` as a run makes them — one per 75-token chunk, and SDXL's pooled one — for
    a check (a plain prompt is encoded so too: the pipeline's own encoding is the same)."""
    embeds, pooled = _encode(pipe, prompt, clip_skip)
    return embeds + ([pooled] if pooled is not None else [])


def prompt_arguments(pipe, prompt: str, negative: str, clip_skip: int = 1) -> dict:
    """The prompt arguments for one pipeline call: the texts when both are plain, else embeddings made here."""
    convert = converter(pipe, pipe.tokenizer)
    if clip_skip == 1 and is_plain(prompt, pipe.tokenizer, convert) and is_plain(negative, pipe.tokenizer, convert):
        return dict(prompt=prompt, negative_prompt=negative or None)
    with torch.inference_mode():
        positive, pooled = _encode(pipe, prompt, clip_skip)
        xl = getattr(pipe, "text_encoder_2", None) is not None
        zeros = xl and not negative and getattr(pipe.config, "force_zeros_for_empty_prompt", False)
        negative_chunks, negative_pooled = _encode(pipe, negative, clip_skip)
        if len(positive) != len(negative_chunks):  # the shorter one padded with empty-prompt chunks
            empty, _ = _encode(pipe, "", clip_skip)
            longest = max(len(positive), len(negative_chunks))
            positive += empty * (longest - len(positive))
            negative_chunks += empty * (longest - len(negative_chunks))
        args = dict(prompt_embeds=torch.cat(positive, dim=1), negative_prompt_embeds=torch.cat(negative_chunks, dim=1))
        if zeros:
            args["negative_prompt_embeds"] = torch.zeros_like(args["negative_prompt_embeds"])
            negative_pooled = torch.zeros_like(negative_pooled) if negative_pooled is not None else None
        if xl:
            args.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=negative_pooled)
    return args


def encoded_alike(pipe, texts, clip_skip: int = 1) -> dict[str, tuple[torch.Tensor, torch.Tensor | None]]:
    """Each distinct text's embeddings, encoded once (its chunks joined, and SDXL's pooled embedding), all padded
    with empty-prompt chunks to the longest one's length: one may stand in for another between steps (prompt
    editing, ``prompts/editing.py``), as ``prompt_arguments`` pads a prompt and its negative to each other."""
    with torch.inference_mode():
        encoded = {text: _encode(pipe, text, clip_skip) for text in dict.fromkeys(texts)}
        longest = max(len(chunks) for chunks, _ in encoded.values())
        empty = _encode(pipe, "", clip_skip)[0] if any(len(c) < longest for c, _ in encoded.values()) else []
        return {text: (torch.cat(chunks + empty * (longest - len(chunks)), dim=1), pooled)
                for text, (chunks, pooled) in encoded.items()}
