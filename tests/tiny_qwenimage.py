"""A tiny random Qwen-Image pipeline built offline: a QwenImageTransformer2DModel of one block (patch size 2 on
latents packed 2×2: 16 channels × 4 = 64 inputs, 16 outputs per patch as the real one's config says), a Wan-style
AutoencoderKLQwenImage with 16 latent channels, 8× smaller sides and the real model's latents_mean / latents_std
(its latents are normalised per channel, not scaled), a two-layer Qwen2.5-VL text encoder on a byte-level BPE trained
here with the ``tokenizers`` library and wrapped in transformers' ``Qwen2Tokenizer``, and the flow-matching Euler
scheduler with Qwen-Image's own config (dynamic exponential shift, schedule ending at σ 0.02).

The sizes follow diffusers' own Qwen-Image pipeline tests (a tiny Qwen2_5_VLConfig with mrope sections summing to
half the head width); the numbers of the real files are in the comments."""

from __future__ import annotations

import json
from pathlib import Path

import torch

TEXT_WIDTH = 32  # the transformer's context width: Qwen2.5-VL-7B's hidden size in the real model (3584)
# Wan 2.1's VAE statistics, as Qwen-Image's vae/config.json (and diffusers' AutoencoderKLQwenImage defaults) give them
LATENTS_MEAN = (-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921)
LATENTS_STD = (2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
               3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160)
# Qwen-Image's scheduler/scheduler_config.json
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=0.9,
                        base_image_seq_len=256, max_image_seq_len=8192, shift_terminal=0.02,
                        time_shift_type="exponential")
# the pipeline's prompt template: its system part, which the pipeline drops as its first 34 tokens, then the user's
TEMPLATE_HEAD = ("<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, quantity, text, "
                 "spatial relationships of the objects and background:<|im_end|>\n<|im_start|>user\n")
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
WORDS = "a an the cat dog boat lighthouse at dusk in snow red fox night blurry assistant"


def tiny_qwen_tokenizer():
    """A byte-level BPE (Qwen's pre-tokenizer) trained on the template and a few words, so each word of the
    template's head is one token as in the real vocabulary: the pipeline's 34 dropped tokens are exactly that head."""
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        trainers,
    )
    from transformers import Qwen2Tokenizer

    inner = Tokenizer(models.BPE())
    inner.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    inner.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, min_frequency=1, special_tokens=list(SPECIAL), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = TEMPLATE_HEAD.replace("<|im_start|>", "").replace("<|im_end|>", "")
    inner.train_from_iterator([text, WORDS, " " + WORDS], trainer=trainer)
    model = json.loads(inner.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    tokenizer = Qwen2Tokenizer(vocab=model["vocab"], merges=merges, model_max_length=32768)
    tokenizer.add_tokens([AddedToken(token, special=True, normalized=False) for token in SPECIAL[1:]])  # chat marks
    assert len(tokenizer) > 256 + len(SPECIAL), len(tokenizer)  # a byte-level vocabulary, not a 2-token stub
    return tokenizer


def tiny_qwenimage_pipeline():
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tokenizer = tiny_qwen_tokenizer()
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(  # real: 60 layers, 24 heads of 128, rope axes (16, 56, 56)
        patch_size=2, in_channels=64, out_channels=16, num_layers=1, attention_head_dim=16, num_attention_heads=2,
        joint_attention_dim=TEXT_WIDTH, guidance_embeds=False, axes_dims_rope=(8, 4, 4))
    vae = AutoencoderKLQwenImage(  # real: base_dim 96, dim_mult (1, 2, 4, 4), 2 res blocks
        base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, temperal_downsample=[False, True, True],
        latents_mean=list(LATENTS_MEAN), latents_std=list(LATENTS_STD))
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={"hidden_size": TEXT_WIDTH, "intermediate_size": 37, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": len(tokenizer),
                     "rope_scaling": {"mrope_section": [2, 2, 4], "rope_type": "default", "type": "default"},
                     "rope_theta": 1000000.0, "bos_token_id": None,
                     "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>")},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": TEXT_WIDTH},
        hidden_size=TEXT_WIDTH, vocab_size=len(tokenizer), bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"))).eval()
    scheduler = FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG)
    return QwenImagePipeline(transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                             scheduler=scheduler)


def save_tiny_qwenimage(path: Path) -> Path:
    """The tiny Qwen-Image pipeline saved as a diffusers folder (safetensors)."""
    tiny_qwenimage_pipeline().save_pretrained(path, safe_serialization=True)
    return path
