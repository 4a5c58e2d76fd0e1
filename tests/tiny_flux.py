"""A tiny random Flux.1 pipeline built offline: a FluxTransformer2DModel of one double- and one single-stream block
(patch size 1 on latents packed 2×2: 16 channels × 4 = 64 inputs), with the guidance embedding of Flux-dev (or
without it, like schnell), a 16-channel AutoencoderKL with Flux's own scaling and shift factors (0.3611, 0.1159), a
CLIP text encoder on the byte-level tokenizer of ``tiny_sd.py``, a T5 encoder on a unigram tokenizer of a few words made here
with the ``tokenizers`` library, and the flow-matching Euler scheduler with Flux's dynamic shifting."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_sd import tiny_tokenizer

T5_WIDTH = 32  # the transformer's context width: T5-XXL's in a real model (4096)
CLIP_WIDTH = 24  # the pooled text's width: CLIP-L's in a real model (768)
T5_WORDS = ("a", "an", "the", "cat", "dog", "boat", "lighthouse", "at", "dusk", "in", "snow", "red", "fox", "night")


def tiny_t5_tokenizer():
    """A T5 tokenizer on a few words (pad 0, eos 1, unk 2, as T5's own), built without any download."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *((f"\u2581{word}", -1.0) for word in T5_WORDS)]
    inner = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    inner.pre_tokenizer = pre_tokenizers.Sequence([  # T5's own: words, each marked with ▁
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")])
    inner.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=inner, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           extra_ids=0, model_max_length=512)


def tiny_flux_vae():
    """A 16-channel AutoencoderKL with Flux.1's scaling and shift factors (Chroma's too)."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8,
        sample_size=64, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False,
    )


def tiny_t5_encoder():
    """A 2-layer T5 encoder on ``tiny_t5_tokenizer``'s words, ``T5_WIDTH`` wide."""
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(T5Config(vocab_size=3 + len(T5_WORDS), d_model=T5_WIDTH, d_kv=8, d_ff=37, num_layers=2,
                                   num_heads=4, relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
                                   decoder_start_token_id=0))


def tiny_flux_pipeline(parts: Path, guidance_embeds: bool = True):
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=T5_WIDTH, pooled_projection_dim=CLIP_WIDTH,
        guidance_embeds=guidance_embeds, axes_dims_rope=(2, 2, 4),
    )
    vae = tiny_flux_vae()
    clip = CLIPTextModel(CLIPTextConfig(
        hidden_size=CLIP_WIDTH, vocab_size=1000, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513, projection_dim=CLIP_WIDTH))
    t5 = tiny_t5_encoder()
    scheduler = FlowMatchEulerDiscreteScheduler(  # Flux-dev's scheduler config
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    return FluxPipeline(transformer=transformer, vae=vae, text_encoder=clip, tokenizer=tiny_tokenizer(parts),
                        text_encoder_2=t5, tokenizer_2=tiny_t5_tokenizer(), scheduler=scheduler)


def save_tiny_flux(path: Path, guidance_embeds: bool = True) -> Path:
    """The tiny Flux pipeline saved as a diffusers folder (safetensors): dev-like, or schnell-like without the
    guidance embedding."""
    tiny_flux_pipeline(path.parent / f".{path.name}-parts", guidance_embeds).save_pretrained(
        path, safe_serialization=True)
    return path
