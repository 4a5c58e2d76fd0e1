"""A flow family's VAE from the file artists keep (ComfyUI's ``models/vae``), as the class its config folder's
model_index.json names: diffusers' ``from_single_file`` where diffusers reads that class from one file
(``AutoencoderKL``: SD 3.5's, Flux.1's and Z-Image's), else a conversion of our own (Qwen-Image's Wan-style one in
wan_vae.py).

Flux.2's ``AutoencoderKLFlux2`` is not among diffusers' single-file classes. BFL's ``flux2-vae.safetensors`` (which
ComfyUI keeps as it is) holds an LDM-style encoder and decoder — the layout of the VAEs inside SD checkpoints — with
its quant convolutions inside them (``encoder.quant_conv``, ``decoder.post_quant_conv``) and the batch norm of its
patchified latents (``bn.running_mean``, ``bn.running_var``); so says diffusers' scripts/convert_flux2_to_diffusers.py
(DIFFUSERS_VAE_TO_FLUX2_MAPPING), and ComfyUI's comfy/sd.py reads the file by the same keys. The encoder and decoder
go through diffusers' own ``convert_ldm_vae_checkpoint``; the quant convolutions and the batch norm are renamed here.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

PREFIXES = ("first_stage_model.", "vae.", "")  # the VAE inside a checkpoint, or a file of its own
FLUX2_QUANT = {"encoder.quant_conv.": "quant_conv.", "decoder.post_quant_conv.": "post_quant_conv."}
FLUX2_NORM = ("bn.running_mean", "bn.running_var")


def load_vae(class_name: str, path: Path, config: Path, dtype):
    """The ``class_name`` VAE from ``path`` (a VAE file, or a checkpoint holding one), its config the pipeline folder
    ``config``'s ``vae/``; offline."""
    import diffusers

    if class_name == "AutoencoderKLFlux2":
        return load_flux2_vae(path, config / "vae", dtype)
    if class_name == "AutoencoderKLQwenImage":  # Wan-style, which from_single_file does not take
        from ddpm_studio.engine.models.wan_vae import load_wan_vae

        return load_wan_vae(class_name, path, config, dtype)
    from ddpm_studio.engine.models.storage.quantized import vae_source

    cls = getattr(diffusers, class_name)
    return cls.from_single_file(vae_source(path), config=str(config), subfolder="vae", local_files_only=True,
                                torch_dtype=dtype)


def _vae_state(path: Path) -> dict:
    from ddpm_studio.engine.models.text_files import read_tensors

    state = read_tensors(path)
    prefix = next((p for p in PREFIXES if p + "decoder.conv_in.weight" in state), None)
    if prefix is None:
        raise ModelError(f"{path} holds no VAE (no decoder.conv_in.weight).")
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def flux2_to_diffusers(state: dict, config) -> dict:
    """A Flux.2 VAE's tensors in BFL's layout → AutoencoderKLFlux2's names."""
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    renamed = {}
    for key, value in state.items():
        old = next((o for o in FLUX2_QUANT if key.startswith(o)), None)
        renamed[FLUX2_QUANT[old] + key[len(old):] if old else key] = value
    converted = convert_ldm_vae_checkpoint(renamed, config)
    converted.update({key: renamed[key] for key in FLUX2_NORM if key in renamed})
    return converted


def load_flux2_vae(path: Path, config: Path, dtype):
    import torch
    from diffusers import AutoencoderKLFlux2

    state = _vae_state(path)
    try:
        settings = AutoencoderKLFlux2.load_config(config)
    except Exception as exc:
        raise ModelError(f"{config} holds no Flux.2 VAE config: {first_line(exc)}") from None
    with torch.device("meta"):
        vae = AutoencoderKLFlux2.from_config(settings)
    converted = flux2_to_diffusers(state, vae.config)
    own = vae.state_dict()
    converted.setdefault("bn.num_batches_tracked", torch.tensor(0))  # a counter only training moves
    lacking = [key for key in own if key not in converted]
    if lacking:
        raise ModelError(f"{path.name} is no Flux.2 VAE: it lacks {', '.join(lacking[:3])}"
                         f"{' …' if len(lacking) > 3 else ''}.")
    wrong = [key for key in own if tuple(converted[key].shape) != tuple(own[key].shape)]
    if wrong:
        raise ModelError(f"{path.name} does not fit the Flux.2 VAE: {wrong[0]} is {tuple(converted[wrong[0]].shape)}, "
                         f"the model's is {tuple(own[wrong[0]].shape)}.")
    vae.load_state_dict({key: converted[key] for key in own}, assign=True)
    return vae.to(dtype).eval().requires_grad_(False)
