"""Write the config folders that ship in ``resources/configs/`` for the flow families' single files: what diffusers'
``from_single_file`` reads instead of fetching the reference repo's folder, and what the text encoders of split
files are built from. Configs only (a few KB), no weights.

The values are those of the reference repos' own config files (facts, taken field by field):

- ``sd3.5-large``: stabilityai/stable-diffusion-3.5-large (transformer/config.json: 38 layers of 38 heads × 64,
  caption projection 2432, positions up to 192², RMS q/k norms);
- ``sd3.5-medium``: stabilityai/stable-diffusion-3.5-medium (24 layers of 24 heads × 64, caption projection 1536,
  positions up to 384², MMDiT-X's second attention in layers 0–12, RMS q/k norms);
  both: text_encoder CLIP-L (CLIPTextModelWithProjection, 768), text_encoder_2 CLIP-G (1280), text_encoder_3
  T5-XXL (google/t5-v1_1-xxl's encoder: 4096 wide, 24 blocks, 64 heads, gated GELU), a 16-channel AutoencoderKL
  with scale 1.5305 and shift 0.0609, FlowMatchEulerDiscreteScheduler with shift 3.0;
- ``flux.1-dev`` / ``flux.1-schnell``: black-forest-labs/FLUX.1-dev and FLUX.1-schnell (19 double- and 38
  single-stream blocks of 24 heads × 128 on 64 packed inputs, RoPE axes 16/56/56; dev has the guidance embedding,
  schnell not), text_encoder CLIP-L (CLIPTextModel, its pooled output), text_encoder_2 T5-XXL, the 16-channel VAE
  with scale 0.3611 and shift 0.1159, flow Euler with dynamic shifting 0.5 → 1.15 over 256 → 4096 tokens (dev) or
  a fixed shift of 1 (schnell);
- ``chroma``: lodestones/Chroma1-HD (transformer/config.json: Flux.1's 19 double- and 38 single-stream blocks of
  24 heads × 128, its modulation replaced by an approximator of 5 layers 5120 wide on 64 channels — the values
  diffusers' ChromaTransformer2DModel defaults to, whose docstring names Chroma1-HD; model_index.json: ChromaPipeline
  with a T5EncoderModel and its tokenizer, no CLIP), text_encoder T5-XXL, Flux.1's VAE, and the flow Euler scheduler
  with Flux.1-dev's dynamic shifting (ChromaPipeline reads its mu from those keys);
- ``qwen-image``: Qwen/Qwen-Image (transformer/config.json: 60 layers of 24 heads × 128 on 64 packed inputs, context
  3584, RoPE axes 16/56/56; text_encoder/config.json: Qwen2.5-VL-7B-Instruct's, 28 layers 3584 wide with its
  32-block vision tower; vae/config.json: the Wan 2.1-style AutoencoderKLQwenImage, z_dim 16, with its per-channel
  latents mean and std; scheduler: flow Euler, exponential dynamic shift 0.5 → 0.9 over 256 → 8192 tokens, ending
  at σ 0.02);
- ``z-image-turbo``: Tongyi-MAI/Z-Image-Turbo (see ``ZIMAGE_TRANSFORMER``), its text encoder Qwen/Qwen3-4B's config,
  Flux.1's VAE, flow Euler with a static shift of 3;
- ``flux.2-klein-4b`` / ``flux.2-klein-9b``: black-forest-labs/FLUX.2-klein-4B and -9B, step-distilled (see
  ``KLEIN_TRANSFORMER``), their text encoders Qwen3-4B's and Qwen3-8B's configs, FLUX.2's 32-channel VAE.

``tests/test_flow_configs.py`` builds each model from these on the meta device and checks its parameter count
against the published one (its ``PUBLISHED`` table: SD 3.5 Large 8.1 B, Flux.1 11.9 B, Chroma 8.9 B, Qwen-Image
20.4 B, T5-XXL's encoder 4.8 B, Qwen2.5-VL-7B 8.3 B …).

    python tools/write_flow_configs.py            # writes every folder above into resources/configs/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CLIP_L = {  # openai/clip-vit-large-patch14's text model, as SD 3.5's and Flux.1's text_encoder/config.json hold it
    "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "hidden_act": "quick_gelu",
    "hidden_size": 768, "initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": 3072,
    "layer_norm_eps": 1e-05, "max_position_embeddings": 77, "model_type": "clip_text_model", "num_attention_heads": 12,
    "num_hidden_layers": 12, "pad_token_id": 1, "projection_dim": 768, "vocab_size": 49408,
}
CLIP_G = {  # laion/CLIP-ViT-bigG-14's text model (SD 3.5's text_encoder_2, SDXL's too)
    **CLIP_L, "hidden_act": "gelu", "hidden_size": 1280, "intermediate_size": 5120, "num_attention_heads": 20,
    "num_hidden_layers": 32, "projection_dim": 1280,
}
T5_XXL = {  # google/t5-v1_1-xxl's encoder (SD 3.5's text_encoder_3, Flux.1's text_encoder_2)
    "architectures": ["T5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096, "decoder_start_token_id": 0,
    "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
    "initializer_factor": 1.0, "is_encoder_decoder": True, "is_gated_act": True, "layer_norm_epsilon": 1e-06,
    "model_type": "t5", "num_decoder_layers": 24, "num_heads": 64, "num_layers": 24, "output_past": True,
    "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
    "tie_word_embeddings": False, "use_cache": True, "vocab_size": 32128,
}
VAE_16 = {  # the 16-channel AutoencoderKL of SD 3.5 and Flux.1 (their vae/config.json; scale and shift differ)
    "_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4, "force_upcast": True, "in_channels": 3, "latent_channels": 16,
    "latents_mean": None, "latents_std": None, "layers_per_block": 2, "mid_block_add_attention": True,
    "norm_num_groups": 32, "out_channels": 3, "sample_size": 1024, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "use_post_quant_conv": False, "use_quant_conv": False,
}
SD35_TRANSFORMER = {"_class_name": "SD3Transformer2DModel", "attention_head_dim": 64, "in_channels": 16,
                    "joint_attention_dim": 4096, "out_channels": 16, "patch_size": 2, "pooled_projection_dim": 2048,
                    "qk_norm": "rms_norm", "sample_size": 128}
SD35_INDEX = {"_class_name": "StableDiffusion3Pipeline", "feature_extractor": [None, None],
              "image_encoder": [None, None],
              "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
              "text_encoder": ["transformers", "CLIPTextModelWithProjection"],
              "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
              "text_encoder_3": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
              "tokenizer_2": ["transformers", "CLIPTokenizer"], "tokenizer_3": ["transformers", "T5TokenizerFast"],
              "transformer": ["diffusers", "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
FLUX_TRANSFORMER = {"_class_name": "FluxTransformer2DModel", "attention_head_dim": 128, "axes_dims_rope": [16, 56, 56],
                    "in_channels": 64, "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 19,
                    "num_single_layers": 38, "patch_size": 1, "pooled_projection_dim": 768}
FLUX_INDEX = {"_class_name": "FluxPipeline", "feature_extractor": [None, None], "image_encoder": [None, None],
              "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
              "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
              "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "T5TokenizerFast"],
              "transformer": ["diffusers", "FluxTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
FLOW_EULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000}
CHROMA_TRANSFORMER = {  # lodestones/Chroma1-HD's transformer/config.json
    "_class_name": "ChromaTransformer2DModel", "approximator_hidden_dim": 5120, "approximator_layers": 5,
    "approximator_num_channels": 64, "attention_head_dim": 128, "axes_dims_rope": [16, 56, 56], "in_channels": 64,
    "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 19, "num_single_layers": 38,
    "out_channels": None, "patch_size": 1}
CHROMA_INDEX = {"_class_name": "ChromaPipeline", "feature_extractor": [None, None], "image_encoder": [None, None],
                "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                "text_encoder": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "T5Tokenizer"],
                "transformer": ["diffusers", "ChromaTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}
QWEN_IMAGE_TRANSFORMER = {"_class_name": "QwenImageTransformer2DModel", "attention_head_dim": 128,
                          "axes_dims_rope": [16, 56, 56], "guidance_embeds": False, "in_channels": 64,
                          "joint_attention_dim": 3584, "num_attention_heads": 24, "num_layers": 60, "out_channels": 16,
                          "patch_size": 2}
QWEN25_VL_7B = {  # Qwen/Qwen-Image's text_encoder/config.json (Qwen/Qwen2.5-VL-7B-Instruct's)
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 3584, "image_token_id": 151655,
    "initializer_range": 0.02, "intermediate_size": 18944, "max_position_embeddings": 128000, "max_window_layers": 28,
    "model_type": "qwen2_5_vl", "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
    "rms_norm_eps": 1e-06, "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": False, "use_cache": True,
    "use_sliding_window": False, "video_token_id": 151656, "vision_end_token_id": 151653,
    "vision_start_token_id": 151652, "vision_token_id": 151654, "vocab_size": 152064,
    "vision_config": {"depth": 32, "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu", "hidden_size": 1280,
                      "in_channels": 3, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
                      "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "tokens_per_second": 2,
                      "window_size": 112},
}
QWEN_IMAGE_VAE = {  # Qwen/Qwen-Image's vae/config.json: Wan 2.1's VAE and its latent statistics
    "_class_name": "AutoencoderKLQwenImage", "attn_scales": [], "base_dim": 96, "dim_mult": [1, 2, 4, 4],
    "dropout": 0.0, "num_res_blocks": 2, "temperal_downsample": [False, True, True], "z_dim": 16,
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715, 0.5517,
                     -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
    "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
                    1.6382, 1.1253, 2.8251, 1.916],
}
QWEN_IMAGE_INDEX = {"_class_name": "QwenImagePipeline", "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                    "text_encoder": ["transformers", "Qwen2_5_VLForConditionalGeneration"],
                    "tokenizer": ["transformers", "Qwen2Tokenizer"],
                    "transformer": ["diffusers", "QwenImageTransformer2DModel"],
                    "vae": ["diffusers", "AutoencoderKLQwenImage"]}

# Qwen/Qwen3-4B's config.json (Z-Image-Turbo's and FLUX.2-klein-4B's text_encoder/config.json are it): 36 layers,
# 2560 wide, 32 query and 8 key/value heads of 128, tied embeddings; Qwen/Qwen3-8B's: 4096 wide, 12288 MLP, untied
QWEN3_4B = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560, "initializer_range": 0.02,
    "intermediate_size": 9728, "max_position_embeddings": 40960, "max_window_layers": 36, "model_type": "qwen3",
    "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": True,
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}
QWEN3_8B = {**QWEN3_4B, "hidden_size": 4096, "intermediate_size": 12288, "tie_word_embeddings": False}
# Tongyi-MAI/Z-Image-Turbo: transformer/config.json (30 layers of 30 heads × 128 on 3840, 2 refiner layers,
# Qwen3-4B's 2560-wide captions, RoPE axes 32/48/48 with theta 256), model_index.json, a static shift of 3
ZIMAGE_TRANSFORMER = {
    "_class_name": "ZImageTransformer2DModel", "all_f_patch_size": [1], "all_patch_size": [2],
    "axes_dims": [32, 48, 48], "axes_lens": [1536, 512, 512], "cap_feat_dim": 2560, "dim": 3840, "in_channels": 16,
    "n_heads": 30, "n_kv_heads": 30, "n_layers": 30, "n_refiner_layers": 2, "norm_eps": 1e-05, "qk_norm": True,
    "rope_theta": 256.0, "t_scale": 1000.0,
}
ZIMAGE_INDEX = {"_class_name": "ZImagePipeline", "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
                "text_encoder": ["transformers", "Qwen3Model"], "tokenizer": ["transformers", "Qwen2Tokenizer"],
                "transformer": ["diffusers", "ZImageTransformer2DModel"], "vae": ["diffusers", "AutoencoderKL"]}

# black-forest-labs/FLUX.2-klein-4B: transformer/config.json (5 double- and 20 single-stream blocks of 24 heads × 128
# on 128 inputs, three Qwen3-4B hidden states as its 7680-wide context, RoPE axes 4 × 32 with theta 2000, no guidance
# embedding), vae/config.json (FLUX.2's AutoencoderKLFlux2: 32 channels, a batch norm over its 2×2 patches),
# scheduler_config.json (dynamic shifting) and model_index.json (step-distilled: is_distilled); FLUX.2-klein-9B's
# transformer: 8 double and 24 single blocks of 32 heads, Qwen3-8B's 3 × 4096 = 12288 context
KLEIN_TRANSFORMER = {
    "_class_name": "Flux2Transformer2DModel", "attention_head_dim": 128, "axes_dims_rope": [32, 32, 32, 32],
    "eps": 1e-06, "guidance_embeds": False, "in_channels": 128, "joint_attention_dim": 7680, "mlp_ratio": 3.0,
    "num_attention_heads": 24, "num_layers": 5, "num_single_layers": 20, "out_channels": None, "patch_size": 1,
    "rope_theta": 2000, "timestep_guidance_channels": 256,
}
KLEIN_9B_TRANSFORMER = {**KLEIN_TRANSFORMER, "joint_attention_dim": 12288, "num_attention_heads": 32, "num_layers": 8,
                        "num_single_layers": 24}
FLUX2_VAE = {
    "_class_name": "AutoencoderKLFlux2", "act_fn": "silu", "batch_norm_eps": 0.0001, "batch_norm_momentum": 0.1,
    "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4, "force_upcast": True,
    "in_channels": 3, "latent_channels": 32, "layers_per_block": 2, "mid_block_add_attention": True,
    "norm_num_groups": 32, "out_channels": 3, "patch_size": [2, 2], "sample_size": 1024,
    "up_block_types": ["UpDecoderBlock2D"] * 4, "use_post_quant_conv": True, "use_quant_conv": True,
}
KLEIN_INDEX = {"_class_name": "Flux2KleinPipeline", "is_distilled": True,
               "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
               "text_encoder": ["transformers", "Qwen3ForCausalLM"],
               "tokenizer": ["transformers", "Qwen2TokenizerFast"],
               "transformer": ["diffusers", "Flux2Transformer2DModel"], "vae": ["diffusers", "AutoencoderKLFlux2"]}
KLEIN_SCHEDULER = {**FLOW_EULER, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                   "max_shift": 1.15, "shift": 3.0, "use_dynamic_shifting": True}


def qwen3_folders() -> dict[str, dict[str, dict]]:
    """The config folders of the families whose text encoder is Qwen3 (Z-Image; Flux.2 Klein)."""
    return {
        "z-image-turbo": {
            "transformer/config.json": ZIMAGE_TRANSFORMER, "text_encoder/config.json": QWEN3_4B,
            "vae/config.json": {**VAE_16, "scaling_factor": 0.3611, "shift_factor": 0.1159},  # Flux.1's VAE
            "scheduler/scheduler_config.json": {**FLOW_EULER, "shift": 3.0, "use_dynamic_shifting": False},
            "model_index.json": ZIMAGE_INDEX},
        "flux.2-klein-4b": {
            "transformer/config.json": KLEIN_TRANSFORMER, "text_encoder/config.json": QWEN3_4B,
            "vae/config.json": FLUX2_VAE, "scheduler/scheduler_config.json": KLEIN_SCHEDULER,
            "model_index.json": KLEIN_INDEX},
        "flux.2-klein-9b": {
            "transformer/config.json": KLEIN_9B_TRANSFORMER, "text_encoder/config.json": QWEN3_8B,
            "vae/config.json": FLUX2_VAE, "scheduler/scheduler_config.json": KLEIN_SCHEDULER,
            "model_index.json": KLEIN_INDEX},
    }


def folders() -> dict[str, dict[str, dict]]:
    """Config folder name → {file inside it: its JSON}."""
    sd35 = {
        "text_encoder/config.json": {"architectures": ["CLIPTextModelWithProjection"], **CLIP_L},
        "text_encoder_2/config.json": {"architectures": ["CLIPTextModelWithProjection"], **CLIP_G},
        "text_encoder_3/config.json": T5_XXL,
        "vae/config.json": {**VAE_16, "scaling_factor": 1.5305, "shift_factor": 0.0609},
        "scheduler/scheduler_config.json": {**FLOW_EULER, "shift": 3.0},
        "model_index.json": SD35_INDEX,
    }
    flux = {
        "text_encoder/config.json": {"architectures": ["CLIPTextModel"], **CLIP_L},
        "text_encoder_2/config.json": T5_XXL,
        "vae/config.json": {**VAE_16, "scaling_factor": 0.3611, "shift_factor": 0.1159},
        "model_index.json": FLUX_INDEX,
    }
    return {
        "sd3.5-large": {**sd35, "transformer/config.json": {
            **SD35_TRANSFORMER, "caption_projection_dim": 2432, "dual_attention_layers": [], "num_attention_heads": 38,
            "num_layers": 38, "pos_embed_max_size": 192}},
        "sd3.5-medium": {**sd35, "transformer/config.json": {
            **SD35_TRANSFORMER, "caption_projection_dim": 1536, "dual_attention_layers": list(range(13)),
            "num_attention_heads": 24, "num_layers": 24, "pos_embed_max_size": 384}},
        "flux.1-dev": {**flux, "transformer/config.json": {**FLUX_TRANSFORMER, "guidance_embeds": True},
                       "scheduler/scheduler_config.json": {
                           **FLOW_EULER, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                           "max_shift": 1.15, "shift": 3.0, "use_dynamic_shifting": True}},
        "flux.1-schnell": {**flux, "transformer/config.json": {**FLUX_TRANSFORMER, "guidance_embeds": False},
                           "scheduler/scheduler_config.json": {
                               **FLOW_EULER, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                               "max_shift": 1.15, "shift": 1.0, "use_dynamic_shifting": False}},
        "chroma": {"transformer/config.json": CHROMA_TRANSFORMER, "text_encoder/config.json": T5_XXL,
                   "vae/config.json": {**VAE_16, "scaling_factor": 0.3611, "shift_factor": 0.1159},  # Flux.1's
                   "scheduler/scheduler_config.json": {
                       **FLOW_EULER, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 4096,
                       "max_shift": 1.15, "shift": 3.0, "use_dynamic_shifting": True},
                   "model_index.json": CHROMA_INDEX},
        "qwen-image": {"transformer/config.json": QWEN_IMAGE_TRANSFORMER, "text_encoder/config.json": QWEN25_VL_7B,
                       "vae/config.json": QWEN_IMAGE_VAE, "model_index.json": QWEN_IMAGE_INDEX,
                       "scheduler/scheduler_config.json": {
                           **FLOW_EULER, "base_image_seq_len": 256, "base_shift": 0.5, "max_image_seq_len": 8192,
                           "max_shift": 0.9, "shift": 1.0, "shift_terminal": 0.02, "time_shift_type": "exponential",
                           "use_dynamic_shifting": True}},
        **qwen3_folders(),
    }


def write(root: Path) -> list[Path]:
    written = []
    for name, files in folders().items():
        for rel, data in files.items():
            path = root / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "configs")
    args = parser.parse_args()
    for path in write(args.out):
        print(path)


if __name__ == "__main__":
    main()
