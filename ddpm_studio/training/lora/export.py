"""A trained LoRA written as artists' tools expect it: one ``.safetensors`` file in kohya/A1111 key layout —
``lora_unet_<module path with _>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha``, the text encoders under
``lora_te_`` (SDXL: ``lora_te1_`` and ``lora_te2_``) — with kohya's metadata in its header (``ss_network_dim``,
``ss_network_alpha``, ``ss_base_model_version``, ``ss_tag_frequency`` …) and our whole recipe. A1111, ComfyUI,
Civitai and diffusers' ``load_lora_weights`` read this layout. Written beside itself and renamed into place, so a
kill never leaves half a file under the LoRA's name. The UNet's module names are diffusers', as kohya writes them
for SD 1.x/2.x; every loader named above maps them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.runtime.files import normal_mode


def kohya_state(parts: dict[str, dict[str, torch.Tensor]], alpha: float, xl: bool) -> dict[str, torch.Tensor]:
    """peft state dicts (``module.lora_A.weight`` / ``lora_B``) per component — unet, text_encoder, text_encoder_2 —
    as one kohya-layout dict."""
    prefixes = {"unet": "lora_unet_", "text_encoder": "lora_te1_" if xl else "lora_te_", "text_encoder_2": "lora_te2_"}
    state = {}
    for component, weights in parts.items():
        for key, tensor in weights.items():
            module, _, kind = key.partition(".lora_")
            if component != "unet" and not module.startswith("text_model."):
                module = "text_model." + module  # transformers 5's CLIPTextModel has no text_model level; files do
            name = prefixes[component] + module.replace(".", "_")
            part = {"A.weight": "lora_down.weight", "B.weight": "lora_up.weight"}[kind]
            state[f"{name}.{part}"] = tensor.detach().to("cpu", torch.float32).contiguous()
            state[f"{name}.alpha"] = torch.tensor(float(alpha))
    return state


def kohya_metadata(config, arch: str, images: int, step: int, tag_frequency: str, base_name: str) -> dict[str, str]:
    return {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(config.rank),
        "ss_network_alpha": f"{config.alpha:g}",
        "ss_base_model_version": next(iter(BY_KEY[arch].kohya_versions), "") if arch in BY_KEY else "",
        "ss_v2": str(arch == "sd2"),
        "ss_sd_model_name": base_name,
        "ss_output_name": config.lora_name,
        "ss_resolution": f"({config.resolution}, {config.resolution})",
        "ss_enable_bucket": str(config.buckets),
        "ss_num_train_images": str(images),
        "ss_steps": str(step),
        "ss_max_train_steps": str(config.max_steps),
        "ss_learning_rate": f"{config.learning_rate:g}",
        "ss_unet_lr": f"{config.learning_rate:g}",
        "ss_text_encoder_lr": f"{config.text_encoder_lr:g}" if config.train_text_encoder else "0",
        "ss_train_batch_size": str(config.batch_size),
        "ss_gradient_accumulation_steps": str(config.gradient_accumulation_steps),
        "ss_min_snr_gamma": f"{config.min_snr_gamma:g}",
        "ss_noise_offset": f"{config.noise_offset:g}",
        "ss_caption_dropout_rate": f"{config.caption_dropout:g}",
        "ss_shuffle_caption": str(config.shuffle_tags),
        "ss_keep_tokens": str(config.keep_tags),
        "ss_seed": str(config.seed),
        "ss_tag_frequency": tag_frequency,
        "modelspec.trigger_phrase": config.trigger.strip(),
        "ddpm_studio_recipe": json.dumps(config.to_dict(), sort_keys=True),
    }


def write_lora(path: Path, state: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file(state, str(partial), metadata=metadata)
    os.chmod(partial, normal_mode(partial.parent))  # safetensors writes owner-only
    os.replace(partial, path)
    return path
