"""Wan 2.1-style VAE files (Qwen-Image's ``qwen_image_vae.safetensors`` in ComfyUI's models/vae): known by their
decoder's first convolution, a 3-D one (``decoder.conv1.weight``, 5-D: out × z_dim × 3 × 3 × 3), and loaded into the
VAE class the config folder's model_index.json names (diffusers' ``AutoencoderKLQwenImage``, which diffusers'
``from_single_file`` does not take).

The file keeps Wan's original key names (``encoder.downsamples.N…``, ``decoder.upsamples.N…``, ``conv1``/``conv2``
for the quant convolutions); diffusers' ``convert_wan_vae_to_diffusers`` (loaders/single_file_utils.py, for its
``AutoencoderKLWan``) renames them, and ``AutoencoderKLQwenImage`` names its weights exactly as ``AutoencoderKLWan``
does, so that conversion serves it. The model is built from the folder's ``vae/config.json``; nothing is fetched.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

WAN_KEY = "decoder.conv1.weight"  # Wan's decoder input convolution: its second dimension is z_dim


def wan_channels(shapes: dict[str, tuple[int, ...]], prefixes=("",)) -> int:
    """The latent channels (z_dim) of the Wan-style VAE in a file's header; 0 when it holds none."""
    for prefix in prefixes:
        shape = shapes.get(prefix + WAN_KEY)
        if shape and len(shape) == 5:
            return int(shape[1])
    return 0


def load_wan_vae(class_name: str, path: Path, config: Path, dtype):
    """The ``class_name`` VAE (diffusers) built from ``config/vae`` with the weights of the Wan-style file ``path``."""
    import diffusers
    import torch
    from accelerate import init_empty_weights
    from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers

    from ddpm_studio.engine.models.text_files import read_tensors

    cls = getattr(diffusers, class_name)
    state = convert_wan_vae_to_diffusers(read_tensors(path, "", dtype))
    with init_empty_weights():
        vae = cls.from_config(cls.load_config(config / "vae"))
    own = vae.state_dict()
    lacking = [key for key in own if key not in state]
    wrong = [key for key in own if key in state and tuple(state[key].shape) != tuple(own[key].shape)]
    if lacking or wrong:
        key = (wrong or lacking)[0]
        what = f"{key} is {tuple(state[key].shape)}, the model's {tuple(own[key].shape)}" if wrong else f"no {key}"
        raise ModelError(f"{path.name} does not fit {config.name}'s {class_name}: {what}.")
    try:
        vae.load_state_dict({key: state[key] for key in own}, assign=True)
    except (RuntimeError, ValueError) as exc:
        raise ModelError(f"{path.name} cannot be loaded as {class_name}: {first_line(exc)}") from None
    return vae.to(dtype or torch.float32).eval().requires_grad_(False)
