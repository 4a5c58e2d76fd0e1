"""A VAE chosen by the user in place of a model's own (A1111's "SD VAE"), swapped into the loaded pipeline.

Accepted: a diffusers VAE folder (``config.json`` + ``diffusion_pytorch_model.safetensors``) or one ``.safetensors``
file with diffusers keys or the original LDM keys (``encoder.down.0.block.0…``, as A1111's ``models/VAE`` files are;
converted by diffusers' ``convert_ldm_vae_checkpoint``). A file has no config: the model's own VAE config is used,
so the file must fit it (its weights load strictly). A VAE holding NaN or infinite values is refused, naming it. The
model's own VAE is kept aside and put back when the job asks for none.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.addons.resources import AddonError, list_vaes
from ddpm_studio.engine.addons.values import check_values
from ddpm_studio.engine.errors import first_line
from ddpm_studio.engine.models.families import PICKLE_SUFFIXES
from ddpm_studio.engine.runtime.offload import execution_device, place_like

LDM_PREFIXES = ("first_stage_model.", "vae.")


def find_vae(ref: str, folders) -> Path:
    path = Path(ref).expanduser()
    if path.exists():
        return path
    matches = [v.path for v in list_vaes(folders) if v.name in (path.stem, path.name)]
    if not matches:
        where = ", ".join(str(f) for f in folders) or "no VAE folder is set"
        raise AddonError(f"No VAE named '{path.name}' ({where}).")
    return matches[0]


def load_vae(path: Path, like, dtype):
    """An AutoencoderKL from ``path``, on the device and in the dtype of ``like`` (the model's own VAE)."""
    from diffusers import AutoencoderKL

    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise AddonError(f"The VAE {path} is a pickle file; DDPM Studio loads VAEs from .safetensors files or "
                         "diffusers folders only.")
    try:
        if path.is_dir():
            vae = AutoencoderKL.from_pretrained(path, local_files_only=True, use_safetensors=True, dtype=dtype)
        else:
            vae = AutoencoderKL.from_config(like.config)
            vae.load_state_dict(_diffusers_keys(path, vae.config), strict=True)
    except AddonError:
        raise
    except Exception as exc:
        raise AddonError(f"The VAE {path} does not fit this model: {first_line(exc, 240)}") from None
    check_values("VAE", path, vae.named_parameters())
    if vae.config.latent_channels != like.config.latent_channels:
        raise AddonError(f"The VAE {path} has {vae.config.latent_channels} latent channels; this model's has "
                         f"{like.config.latent_channels}.")
    vae = vae.to(device=execution_device(like), dtype=dtype).eval().requires_grad_(False)
    if getattr(like, "use_tiling", False):
        vae.enable_tiling()
    if getattr(like, "use_slicing", False):
        vae.enable_slicing()
    return vae


def _diffusers_keys(path: Path, config) -> dict:
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except Exception as exc:
        raise AddonError(f"The VAE {path} cannot be read: {first_line(exc)}") from None
    for prefix in LDM_PREFIXES:
        if any(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if any(k.startswith("encoder.down_blocks.") for k in state):
        return state
    if not any(k.startswith("encoder.down.") for k in state):
        raise AddonError(f"{path} holds no VAE weights (neither diffusers nor LDM VAE keys).")
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    state = {k: v for k, v in state.items() if not k.startswith("model_ema.")}
    return convert_ldm_vae_checkpoint(state, dict(config))


class VaeSlot:
    """The VAE a pipeline decodes with: its own, or one the job names (loaded once, kept while asked for)."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.own = pipe.vae
        self.current: tuple | None = None  # (path, mtime) of the VAE in use; None: the model's own

    def use(self, path: Path | None) -> bool:
        """Make ``path`` (None: the model's own) the pipeline's VAE; True when the VAE changed."""
        key = None if path is None else (str(path.resolve()), path.stat().st_mtime_ns)
        if key == self.current:
            return False
        vae = self.own if path is None else load_vae(path, self.own, self.own.dtype)
        self.pipe.register_modules(vae=vae)
        place_like(self.pipe, "vae")  # with an offload, the new VAE needs its hooks too
        self.current = key
        return True
