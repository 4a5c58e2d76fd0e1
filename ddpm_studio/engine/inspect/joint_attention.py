"""Per-word attention maps for the MMDiT families, SD 3.5, Flux.1, Chroma and Flux.2 Klein (attention_maps.py has the UNets' and the method,
DAAM's): there is no cross-attention layer in them; the picture's tokens and the prompt's attend to one another in
one joint attention per block (Esser et al., "Scaling Rectified Flow Transformers", arXiv:2403.03206). The map of a
word is what the picture's queries give its tokens' keys under that one softmax over all keys, the picture's and the
prompt's alike — the share of each patch's attention that goes to the word.

A joint block's processor (diffusers' ``JointAttnProcessor2_0`` in SD 3.5, ``FluxAttnProcessor`` in Flux.1's double-
stream blocks, and Chroma's, which are Flux's with its attention mask over the joint sequence; ``Flux2AttnProcessor``
in Klein's) is wrapped for one run: its own computation runs unchanged, and beside it the queries and keys are
formed again as it forms them (the q/k norms; SD 3.5 puts the picture's tokens first, Flux the prompt's and rotates
both by its RoPE) for image 0 of the prompt's half of the batch, and the probabilities of the prompt's columns are
taken head by head (logsumexp over each row: the picture's keys make the memory N² per head, not per layer). Each
layer's first call in a step is the prompt's: Flux's true CFG calls it again with the negative prompt, which is left
out. Flux's single-stream blocks, where both kinds of token run as one sequence, are not recorded.

The prompt's tokens: SD 3.5 reads CLIP's 77 then T5's (pipeline ``_get_clip_prompt_embeds`` and
``_get_t5_prompt_embeds`` concatenated), Flux and Chroma T5's alone (Chroma's mask applied as its attention applies
it), Klein Qwen3's, the prompt inside its chat template; a word is the sum of its tokens in every encoder that
reads it. The prompt is plain text here (weights are not applied to these families).
"""

from __future__ import annotations

import torch

from ddpm_studio.engine.inspect.attention_maps import WORD, AttentionRecorder

# the processors recorded, by class name → whether the prompt's tokens come first in the joint sequence
JOINT_PROCESSORS = {"JointAttnProcessor2_0": False, "FluxAttnProcessor": True, "Flux2AttnProcessor": True}
# a family's text sequence: (tokenizer, encoder that must be loaded, where its tokens start)
TEXT_LAYOUT = {"sd3": (("tokenizer", "text_encoder", 0), ("tokenizer_3", "text_encoder_3", 77)),
               "flux": (("tokenizer_2", "text_encoder_2", 0),), "chroma": (("tokenizer", "text_encoder", 0),),
               "klein": (("tokenizer", "text_encoder", 0),)}


def _chat(tokenizer, prompt: str) -> str:
    """Flux.2 Klein's text: the prompt as a user's turn of Qwen3's chat template (Flux2KleinPipeline's
    ``_get_qwen3_prompt_embeds``), which its tokens sit inside."""
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=False)


TEMPLATES = {"klein": _chat}  # a family whose encoder reads the prompt inside a text of its own
CLIP_TOKENS = 77


def joint_families() -> frozenset:
    return frozenset(TEXT_LAYOUT)


def joint_word_positions(pipe, family: str, prompt: str) -> list[tuple[str, list[int]]]:
    """Each word of ``prompt`` with its tokens' positions in the family's text sequence, in the order written; a
    word no tokenizer finds whole is left out."""
    found: dict[int, tuple[str, list[int]]] = {}
    for tokenizer_name, encoder_name, start in TEXT_LAYOUT[family]:
        tokenizer = getattr(pipe, tokenizer_name, None)
        if tokenizer is None or getattr(pipe, encoder_name, None) is None:  # SD 3.5 without its T5
            continue
        template = TEMPLATES.get(family)
        flat = tokenizer(template(tokenizer, prompt) if template else prompt).input_ids
        cursor = 0
        for number, match in enumerate(WORD.finditer(prompt)):
            # a byte-level BPE (Qwen's) reads a word after a space as another token than the word alone
            forms = [tokenizer(text, add_special_tokens=False).input_ids for text in (match.group(0),
                                                                                      " " + match.group(0))]
            hit = next(((at, ids) for at in range(cursor, len(flat)) for ids in forms
                        if ids and flat[at:at + len(ids)] == ids), None)
            if hit is not None:
                at, ids = hit
                word = found.setdefault(number, (match.group(0), []))
                word[1].extend(start + p for p in range(at, at + len(ids)))
                cursor = at + len(ids)
    return [found[number] for number in sorted(found)]


class _JointRecording:
    """A joint block's processor: the original one's output, and the picture's attention to the prompt beside it."""

    def __init__(self, inner, recorder: "JointAttentionRecorder", name: str, text_first: bool) -> None:
        self.inner, self.recorder, self.name, self.text_first = inner, recorder, name, text_first

    def __call__(self, attn, hidden_states, *args, **kwargs):
        out = self.inner(attn, hidden_states, *args, **kwargs)
        # SD 3.5's Attention passes these by name, FluxAttention in this order
        named = {**dict(zip(("encoder_hidden_states", "attention_mask", "image_rotary_emb"), args)), **kwargs}
        context = named.get("encoder_hidden_states")
        if context is not None and self.recorder.first_call(self.name):
            self.recorder.add_joint(attn, hidden_states, context, self.text_first, named.get("image_rotary_emb"),
                                    named.get("attention_mask"))
        return out


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(1, S, heads·D) → (1, S, heads, D)."""
    return x.unflatten(-1, (heads, -1))


class JointAttentionRecorder(AttentionRecorder):
    """Installed on an MMDiT transformer for one run (``with``): sums each step's joint attention per word."""

    def __init__(self, transformer, words, latent_size, prompt_row) -> None:
        super().__init__(transformer, words, latent_size, prompt_row)
        self._seen: set[str] = set()

    def __enter__(self) -> "JointAttentionRecorder":
        self._original = dict(self.unet.attn_processors)
        wrapped = {}
        for name, processor in self._original.items():
            kind = type(processor).__name__
            joint = kind in JOINT_PROCESSORS and not name.startswith("single_transformer_blocks.")
            wrapped[name] = _JointRecording(processor, self, name, JOINT_PROCESSORS[kind]) if joint else processor
        self.unet.set_attn_processor(wrapped)
        return self

    def first_call(self, name: str) -> bool:
        if name in self._seen:
            return False
        self._seen.add(name)
        return True

    def take(self):
        self._seen = set()
        return super().take()

    @torch.no_grad()
    def add_joint(self, attn, hidden_states, context, text_first: bool, rotary=None, mask=None) -> None:
        row = self.prompt_row(hidden_states.shape[0])
        image, text = hidden_states[row:row + 1], context[row:row + 1]
        heads = attn.heads
        query, key = _heads(attn.to_q(image), heads), _heads(attn.to_k(image), heads)
        text_key = _heads(attn.add_k_proj(text), heads)
        text_query = _heads(attn.add_q_proj(text), heads) if rotary is not None else None
        if attn.norm_q is not None:
            query, key = attn.norm_q(query), attn.norm_k(key)
        if attn.norm_added_k is not None:
            text_key = attn.norm_added_k(text_key)
            text_query = attn.norm_added_q(text_query) if text_query is not None else None
        tokens = text_key.shape[1]
        if text_first:
            keys = torch.cat([text_key, key], dim=1)
            if rotary is not None:  # Flux rotates the whole joint sequence, the prompt's tokens first
                from diffusers.models.embeddings import apply_rotary_emb

                keys = apply_rotary_emb(keys, rotary, sequence_dim=1)
                query = apply_rotary_emb(torch.cat([text_query, query], dim=1), rotary, sequence_dim=1)[:, tokens:]
            columns = slice(0, tokens)
        else:
            keys = torch.cat([key, text_key], dim=1)
            columns = slice(key.shape[1], key.shape[1] + tokens)
        query, keys = query[0].transpose(0, 1).float(), keys[0].transpose(0, 1).float()  # heads × S × D
        if mask is not None:  # Chroma's, over the joint sequence (B × 1 × S × S): the picture's rows
            mask = mask[row, 0, tokens:] if text_first else mask[row, 0, :query.shape[1]]
        scale = query.shape[-1] ** -0.5  # scaled_dot_product_attention's own
        probs = None
        for head in range(query.shape[0]):
            logits = query[head] @ keys[head].T * scale
            if mask is not None:  # as scaled_dot_product_attention takes it: a bool mask keeps, a float one adds
                logits = logits.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else logits + mask
            share = torch.exp(logits[:, columns] - torch.logsumexp(logits, dim=-1, keepdim=True))
            probs = share if probs is None else probs + share
        self.accumulate(probs)
