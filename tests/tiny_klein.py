"""A tiny random Flux.2 Klein pipeline built offline: a Flux2Transformer2DModel of one double- and one single-stream
block on 128 inputs (32 latent channels patchified 2×2), a 32-channel AutoencoderKLFlux2 whose batch norm has running
statistics of its own (so the pipeline's normalisation is not the identity), a Qwen3 causal LM of 27 layers (the
pipeline stacks its hidden states 9, 18 and 27) on the byte-level Qwen tokenizer of ``tiny_zimage.py`` with Qwen3's
chat template as Klein's pipeline calls it (thinking switched off), and the flow-matching Euler scheduler with dynamic
shifting."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tiny_zimage import tiny_qwen_tokenizer

QWEN_WIDTH = 16  # the text encoder's hidden size: Qwen3-4B's 2560 in Klein 4B
CONTEXT_WIDTH = 3 * QWEN_WIDTH  # the transformer's joint_attention_dim: three hidden states side by side (7680)
QWEN_LAYERS = 27  # the deepest hidden state the pipeline reads is the 27th
# the part of Qwen3's chat template the pipeline uses: one user turn, the assistant's turn opened, thinking off
CHAT_TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n"
                 "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n"
                 "{% if enable_thinking is defined and not enable_thinking %}<think>\n\n</think>\n\n{% endif %}"
                 "{% endif %}")


def tiny_klein_tokenizer():
    """Z-Image's tiny Qwen tokenizer (one token per byte, Qwen's special tokens) with the chat template Klein's
    pipeline calls (``enable_thinking=False`` closes an empty thinking block, as Qwen3's template does)."""
    tokenizer = tiny_qwen_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_klein_pipeline(is_distilled: bool = True):
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=128, num_layers=1, num_single_layers=1, attention_head_dim=8,
        num_attention_heads=2, joint_attention_dim=CONTEXT_WIDTH, timestep_guidance_channels=16,
        axes_dims_rope=(2, 2, 2, 2), guidance_embeds=False)  # Klein has no guidance embedding
    vae = AutoencoderKLFlux2(
        latent_channels=32, block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=8,
        sample_size=64)
    vae.bn.running_mean.copy_(torch.randn(128) * 0.3)  # statistics as a trained VAE has them, not 0 and 1
    vae.bn.running_var.copy_(torch.rand(128) + 0.5)
    tokenizer = tiny_klein_tokenizer()
    qwen = Qwen3ForCausalLM(Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=QWEN_WIDTH, intermediate_size=24, num_hidden_layers=QWEN_LAYERS,
        num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True))
    scheduler = FlowMatchEulerDiscreteScheduler(  # dynamic shifting, as Klein's folder has it
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    return Flux2KleinPipeline(transformer=transformer, vae=vae, text_encoder=qwen, tokenizer=tokenizer,
                              scheduler=scheduler, is_distilled=is_distilled)


def save_tiny_klein(path: Path, is_distilled: bool = True) -> Path:
    """The tiny Klein pipeline saved as a diffusers folder (safetensors): step-distilled like Klein 4B and 9B
    (``is_distilled`` in its model_index.json), or like their base models without it."""
    tiny_klein_pipeline(is_distilled).save_pretrained(path, safe_serialization=True)
    return path
