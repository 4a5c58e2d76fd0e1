"""Per-word attention maps for the MMDiT families, SD 3.5, Flux.1, Chroma, Flux.2 Klein and Qwen-Image (attention_maps.py has the UNets' and the method,
DAAM's): there is no cross-attention layer in them; the picture's tokens and the prompt's attend to one another in
one joint attention per block (Esser et al., "Scaling Rectified Flow Transformers", arXiv:2403.03206). The map of a
word is what the picture's queries give its tokens' keys under that one softmax over all keys, the picture's and the
prompt's alike — the share of each patch's attention that goes to the word.

A joint block's processor (diffusers' ``JointAttnProcessor2_0`` in SD 3.5, ``FluxAttnProcessor`` in Flux.1's double-
stream blocks, and Chroma's, which are Flux's with its attention mask over the joint sequence; ``Flux2AttnProcessor``
in Klein's; ``QwenDoubleStreamAttnProcessor2_0`` in Qwen-Image's, whose RoPE turns the picture's and the prompt's
tokens by their own frequencies and whose mask hides the prompt's padding) is wrapped for one run: its own computation runs unchanged, and beside it the queries and keys are
formed again as it forms them (the q/k norms; SD 3.5 puts the picture's tokens first, Flux the prompt's and rotates
both by its RoPE) for image 0 of the prompt's half of the batch, and the probabilities of the prompt's columns are
taken head by head (logsumexp over each row: the picture's keys make the memory N² per head, not per layer). Each
layer's first call in a step is the prompt's: Flux's true CFG calls it again with the negative prompt, which is left
out. Flux's single-stream blocks, where both kinds of token run as one sequence, are not recorded.

The prompt's tokens: SD 3.5 reads CLIP's 77 then T5's (pipeline ``_get_clip_prompt_embeds`` and
``_get_t5_prompt_embeds`` concatenated), Flux and Chroma T5's alone (Chroma's mask applied as its attention applies
it), Klein Qwen3's, the prompt inside its chat template, Qwen-Image Qwen2.5-VL's inside its pipeline's template less
the system turn it drops; a word is the sum of its tokens in every encoder that
reads it. The prompt is plain text here (weights are not applied to these families).
"""

from __future__ import annotations

import torch

from ddpm_studio.engine.inspect.attention_maps import WORD, AttentionRecorder

# the processors recorded, by class name → how they form the joint sequence: the picture's tokens first (SD 3.5), the
# prompt's first and all rotated together (Flux's), or the prompt's first, each rotated by its own frequencies and the
# prompt's padding masked (Qwen-Image's QwenDoubleStreamAttnProcessor2_0)
JOINT_PROCESSORS = {"JointAttnProcessor2_0": "image_first", "FluxAttnProcessor": "text_first",
                    "Flux2AttnProcessor": "text_first", "QwenDoubleStreamAttnProcessor2_0": "qwen"}
# a family's text sequence: (tokenizer, encoder that must be loaded, where its tokens start)
TEXT_LAYOUT = {"sd3": (("tokenizer", "text_encoder", 0), ("tokenizer_3", "text_encoder_3", 77)),
               "flux": (("tokenizer_2", "text_encoder_2", 0),), "chroma": (("tokenizer", "text_encoder", 0),),
               "klein": (("tokenizer", "text_encoder", 0),), "qwenimage": (("tokenizer", "text_encoder", 0),)}


def _chat(pipe, tokenizer, prompt: str) -> tuple[str, int]:
    """Flux.2 Klein's text: the prompt as a user's turn of Qwen3's chat template (Flux2KleinPipeline's
    ``_get_qwen3_prompt_embeds``), which its tokens sit inside."""
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True, enable_thinking=False), 0


def _qwen_template(pipe, tokenizer, prompt: str) -> tuple[str, int]:
    """Qwen-Image's text: its pipeline's ``prompt_template_encode`` around the prompt, whose first
    ``prompt_template_encode_start_idx`` tokens (the system turn) it drops from the embeddings."""
    return pipe.prompt_template_encode.format(prompt), -int(pipe.prompt_template_encode_start_idx)


# a family whose encoder reads the prompt inside a text of its own: (that text, where its tokens start)
TEMPLATES = {"klein": _chat, "qwenimage": _qwen_template}
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
        text, shift = TEMPLATES[family](pipe, tokenizer, prompt) if family in TEMPLATES else (prompt, 0)
        flat = tokenizer(text).input_ids
        start += shift
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

    def __init__(self, inner, recorder: "JointAttentionRecorder", name: str, layout: str) -> None:
        self.inner, self.recorder, self.name, self.layout = inner, recorder, name, layout

    # the arguments by name: FluxAttention passes them in this order, SD 3.5's and Qwen-Image's Attention by name, and
    # keeps of its keyword arguments only those its processor's signature names
    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, image_rotary_emb=None,
                 encoder_hidden_states_mask=None, **kwargs):
        named = dict(encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask,
                     image_rotary_emb=image_rotary_emb, encoder_hidden_states_mask=encoder_hidden_states_mask)
        out = self.inner(attn, hidden_states, **{key: value for key, value in named.items() if value is not None},
                         **kwargs)
        if encoder_hidden_states is not None and self.recorder.first_call(self.name):
            mask = encoder_hidden_states_mask if self.layout == "qwen" else attention_mask
            self.recorder.add_joint(attn, hidden_states, encoder_hidden_states, self.layout, image_rotary_emb, mask)
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
    def add_joint(self, attn, hidden_states, context, layout: str, rotary=None, mask=None) -> None:
        row = self.prompt_row(hidden_states.shape[0])
        image, text = hidden_states[row:row + 1], context[row:row + 1]
        heads = attn.heads
        query, key = _heads(attn.to_q(image), heads), _heads(attn.to_k(image), heads)
        text_key = _heads(attn.add_k_proj(text), heads)
        if attn.norm_q is not None:
            query, key = attn.norm_q(query), attn.norm_k(key)
        if attn.norm_added_k is not None:
            text_key = attn.norm_added_k(text_key)
        tokens = text_key.shape[1]
        if layout == "image_first":
            keys, columns = torch.cat([key, text_key], dim=1), slice(key.shape[1], key.shape[1] + tokens)
            mask = mask[row, 0, :query.shape[1]] if mask is not None else None
        elif layout == "qwen":
            if rotary is not None:  # the picture's and the prompt's own frequencies
                from diffusers.models.transformers.transformer_qwenimage import apply_rotary_emb_qwen

                query = apply_rotary_emb_qwen(query, rotary[0], use_real=False)
                key = apply_rotary_emb_qwen(key, rotary[0], use_real=False)
                text_key = apply_rotary_emb_qwen(text_key, rotary[1], use_real=False)
            keys, columns = torch.cat([text_key, key], dim=1), slice(0, tokens)
            if mask is not None:  # the prompt's padding, as the processor joins it to the picture's tokens
                picture = torch.ones((mask.shape[0], key.shape[1]), dtype=torch.bool, device=mask.device)
                mask = torch.cat([mask, picture], dim=1)[row]
        else:  # text_first: Flux rotates the whole joint sequence, the prompt's tokens first
            keys, columns = torch.cat([text_key, key], dim=1), slice(0, tokens)
            if rotary is not None:
                from diffusers.models.embeddings import apply_rotary_emb

                text_query = _heads(attn.add_q_proj(text), heads)
                text_query = attn.norm_added_q(text_query) if attn.norm_added_q is not None else text_query
                keys = apply_rotary_emb(keys, rotary, sequence_dim=1)
                query = apply_rotary_emb(torch.cat([text_query, query], dim=1), rotary, sequence_dim=1)[:, tokens:]
            mask = mask[row, 0, tokens:] if mask is not None else None  # Chroma's: B × 1 × S × S
        self.accumulate(_shares(query[0].transpose(0, 1).float(), keys[0].transpose(0, 1).float(), columns, mask))


def _shares(query: torch.Tensor, keys: torch.Tensor, columns: slice, mask=None) -> torch.Tensor:
    """The picture's queries' probabilities over all ``keys`` (heads × tokens × D), the ``columns`` kept and summed
    over heads; one head at a time (the picture's keys make it N² per head). ``mask`` as scaled_dot_product_attention
    takes it: a bool one keeps, a float one adds."""
    scale = query.shape[-1] ** -0.5  # scaled_dot_product_attention's own
    probs = None
    for head in range(query.shape[0]):
        logits = query[head] @ keys[head].T * scale
        if mask is not None:
            logits = logits.masked_fill(~mask.bool(), float("-inf")) if mask.dtype in (torch.bool, torch.long) \
                else logits + mask
        share = torch.exp(logits[:, columns] - torch.logsumexp(logits, dim=-1, keepdim=True))
        probs = share if probs is None else probs + share
    return probs
