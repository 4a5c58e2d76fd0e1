"""A tiny random Z-Image pipeline built offline: a ZImageTransformer2DModel of two layers and one refiner layer (it
patchifies 2×2 inside, so the scheduler holds plain (B, 16, h, w) latents), Flux.1's 16-channel AutoencoderKL with its
scaling and shift factors (0.3611, 0.1159), a Qwen3 text encoder (transformers' Qwen3Model, whose second-to-last
hidden state the pipeline reads) on a byte-level BPE tokenizer made here with Qwen's special tokens and a chat
template, and the flow-matching Euler scheduler with Z-Image-Turbo's static shift 3."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_sd import byte_level_vocab

QWEN_WIDTH = 32  # the text encoder's hidden size, the transformer's cap_feat_dim: Qwen3-4B's in a real model (2560)
# the chat turn ZImagePipeline wraps a prompt in (apply_chat_template with add_generation_prompt): Qwen's markers
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def tiny_qwen_tokenizer():
    """A Qwen2Tokenizer (the class Z-Image's folders name) on the 256 byte-level symbols, no merges, so a token is a
    byte (ids 0–255 the bytes' values), then Qwen's <|endoftext|> (pad), <|im_start|> and <|im_end|> (eos)."""
    from transformers import Qwen2Tokenizer

    symbols = list(byte_level_vocab())[:256]  # the byte-to-unicode stand-ins, in byte order
    tokenizer = Qwen2Tokenizer(vocab={symbol: i for i, symbol in enumerate(symbols)}, merges=[], unk_token=None,
                               pad_token="<|endoftext|>", eos_token="<|im_end|>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = CHAT_TEMPLATE
    assert len(tokenizer) == 259, len(tokenizer)
    return tokenizer


def tiny_zimage_pipeline():
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=32, n_layers=2, n_refiner_layers=1,
        n_heads=2, n_kv_heads=2, cap_feat_dim=QWEN_WIDTH, axes_dims=[8, 4, 4], axes_lens=[256, 32, 32])
    with torch.no_grad():  # made with torch.empty: whatever the memory held, NaN included (diffusers' tests fix them)
        transformer.x_pad_token.fill_(1.0)
        transformer.cap_pad_token.fill_(1.0)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8,
        sample_size=64, scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False, use_post_quant_conv=False,
    )
    qwen = Qwen3Model(Qwen3Config(
        vocab_size=259, hidden_size=QWEN_WIDTH, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, head_dim=8, max_position_embeddings=512, pad_token_id=257, eos_token_id=256))
    # Z-Image-Turbo's scheduler config: a static shift of 3, no dynamic shifting
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=False)
    return ZImagePipeline(transformer=transformer, vae=vae, text_encoder=qwen, tokenizer=tiny_qwen_tokenizer(),
                          scheduler=scheduler)


def save_tiny_zimage(path: Path) -> Path:
    """The tiny Z-Image pipeline saved as a diffusers folder (safetensors)."""
    tiny_zimage_pipeline().save_pretrained(path, safe_serialization=True)
    return path
