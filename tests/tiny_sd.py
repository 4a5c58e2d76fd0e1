"""Tiny random Stable Diffusion pipelines built offline: UNet2DConditionModel (4, 8 or 9 input channels), AutoencoderKL
(4 levels: the real 8× latent scale), CLIPTextModel, and a CLIP tokenizer written here (byte-level vocab, no merges)."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def byte_level_vocab() -> dict[str, int]:
    """CLIP's byte-to-unicode table: 256 printable stand-ins for the bytes, each also as a word end; then the specials."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = [], 0
    for b in range(256):
        if b in printable:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    tokens = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def tiny_tokenizer(folder: Path):
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(byte_level_vocab()), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    assert len(tokenizer) == 514, len(tokenizer)  # transformers 5 silently gives 2 tokens for a bad folder
    return tokenizer


CLIP_VOCAB = 49408  # the real CLIP vocabulary's size: a text encoder for the tokenizer that ships with the app


def tiny_components(tmp: Path, unet_in_channels: int = 4, vocab_size: int = 1000):
    """``vocab_size``: 1000 for the byte-level tokenizer written here; CLIP_VOCAB for the real vocabulary."""
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=unet_in_channels, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8, attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8,
        sample_size=64,
    )
    tokenizer = tiny_tokenizer(tmp / "tokenizer-src")
    start, end = (49406, 49407) if vocab_size == CLIP_VOCAB else (512, 513)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=32, bos_token_id=start, eos_token_id=end, pad_token_id=end,
    ))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return dict(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, scheduler=scheduler,
                safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def save_tiny_sd(path: Path, kind: str = "txt2img", vocab_size: int = 1000) -> Path:
    """kind: txt2img (StableDiffusionPipeline), inpaint (9-channel UNet), instruct (8-channel InstructPix2Pix)."""
    import diffusers

    cls, channels = {
        "txt2img": ("StableDiffusionPipeline", 4),
        "inpaint": ("StableDiffusionInpaintPipeline", 9),
        "instruct": ("StableDiffusionInstructPix2PixPipeline", 8),
    }[kind]
    components = tiny_components(path.parent / f".{path.name}-parts", channels, vocab_size)
    if kind == "instruct":
        components.pop("requires_safety_checker")
    getattr(diffusers, cls)(**components).save_pretrained(path, safe_serialization=True)
    return path


def save_tiny_sd2(path: Path, prediction_type: str = "v_prediction") -> Path:
    """A tiny random SD 2.x-like pipeline: a GELU text encoder (OpenCLIP's activation) whose tokenizer pads with "!",
    and a UNet with linear projections in its transformers, as SD 2.x's; the scheduler says ``prediction_type``."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    parts = tiny_components(path.parent / f".{path.name}-parts")
    torch.manual_seed(1)
    parts["unet"] = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8, attention_head_dim=(2, 4), use_linear_projection=True,
    )
    parts["text_encoder"] = CLIPTextModel(CLIPTextConfig(
        vocab_size=1000, hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, hidden_act="gelu", bos_token_id=512, eos_token_id=513, pad_token_id=0,
    ))
    folder = path.parent / f".{path.name}-parts" / "tokenizer-src"
    parts["tokenizer"] = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77, pad_token="!")
    parts["scheduler"] = parts["scheduler"].from_config(parts["scheduler"].config, prediction_type=prediction_type)
    StableDiffusionPipeline(**parts).save_pretrained(path, safe_serialization=True)
    return path


def save_tiny_taesd(path: Path) -> Path:
    """A tiny random AutoencoderTiny (TAESD's architecture): 4 latent channels, 8× up, as a preview decoder."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    AutoencoderTiny(encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
                    num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1)).save_pretrained(path)
    return path


def save_tiny_sdxl(path: Path, text_layers: int = 2) -> Path:
    """A tiny random SDXL pipeline: two CLIP text encoders of different widths (32, and 48 with a projection to 32, as
    SDXL's are 768 and 1280), a UNet with SDXL's "text_time" added conditioning (pooled text 32 + 6 size/crop numbers × 8
    = 80 inputs) and cross-attention over both encoders (32 + 48 = 80)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    parts = tiny_components(path.parent / f".{path.name}-parts")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=80, norm_num_groups=8, attention_head_dim=(2, 4), use_linear_projection=True,
        transformer_layers_per_block=(1, 2), addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=80,
    )
    common = dict(vocab_size=1000, intermediate_size=37, num_attention_heads=4, num_hidden_layers=text_layers,
                  max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513)
    pipe = StableDiffusionXLPipeline(
        vae=parts["vae"], text_encoder=CLIPTextModel(CLIPTextConfig(hidden_size=32, projection_dim=32, **common)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=48, projection_dim=32, **common)),
        tokenizer=parts["tokenizer"], tokenizer_2=parts["tokenizer"], unet=unet,
        scheduler=EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1),
        add_watermarker=False,
    )
    pipe.save_pretrained(path, safe_serialization=True)
    return path
