"""An existing A1111 or ComfyUI install used in place: where its checkpoints, LoRAs, embeddings and VAEs are.

Nothing is copied; the folders are listed where they are. The layouts (each tool's own default folders):

- AUTOMATIC1111 / Forge: ``models/Stable-diffusion``, ``models/Lora`` and ``models/LyCORIS``, ``embeddings``,
  ``models/VAE``;
- both: the wildcard folders of the dynamic-prompts extensions (``LAYOUT["wildcards"]``), and A1111's
  ``styles.csv`` in the install's root (``prompts/styles.home_styles_file``);
- ComfyUI: ``models/checkpoints``, ``models/loras``, ``models/embeddings``, ``models/vae`` (and ``models/diffusers``
  for diffusers folders); the flow families' split files in ``models/diffusion_models`` (older: ``models/unet``) and
  ``models/text_encoders`` (older: ``models/clip``; Forge: ``models/text_encoder``), paired by
  ``engine/models/pairing.py``;
- model upscalers (ESRGAN and its kin, ``models/upscaler_files.py``): A1111's ``models/ESRGAN``,
  ``models/RealESRGAN`` and ``models/SwinIR``, ComfyUI's ``models/upscale_models``.

The user may point at the install or at its ``models`` folder; both are understood.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.models.catalogue import ModelError

LAYOUT = {  # kind → folders relative to the install, A1111's then ComfyUI's
    "checkpoints": ("models/Stable-diffusion", "models/checkpoints", "models/diffusers"),
    "loras": ("models/Lora", "models/LyCORIS", "models/loras"),
    "embeddings": ("embeddings", "models/embeddings"),
    "vaes": ("models/VAE", "models/vae"),
    "controlnets": ("models/ControlNet", "extensions/sd-webui-controlnet/models", "models/controlnet"),
    "diffusion_models": ("models/diffusion_models", "models/unet"),
    "text_encoders": ("models/text_encoders", "models/clip", "models/text_encoder"),
    # __name__ wildcard files: A1111's sd-dynamic-prompts extension keeps them in its own folder; ComfyUI's
    # comfyui-dynamicprompts nodes likewise, and the Impact Pack in wildcards/ and custom_wildcards/
    "wildcards": ("extensions/sd-dynamic-prompts/wildcards", "custom_nodes/comfyui-dynamicprompts/wildcards",
                  "custom_nodes/ComfyUI-Impact-Pack/wildcards", "custom_nodes/ComfyUI-Impact-Pack/custom_wildcards"),
    "upscalers": ("models/ESRGAN", "models/RealESRGAN", "models/SwinIR", "models/upscale_models"),  # model upscalers
}

LABELS = {"checkpoints": "checkpoints", "loras": "LoRAs", "embeddings": "embeddings", "vaes": "VAEs",
          "controlnets": "ControlNets", "diffusion_models": "diffusion models", "text_encoders": "text encoders",
          "wildcards": "wildcards", "upscalers": "upscalers"}


@dataclass(frozen=True)
class ModelsHome:
    root: Path
    checkpoints: tuple[str, ...] = ()
    loras: tuple[str, ...] = ()
    embeddings: tuple[str, ...] = ()
    vaes: tuple[str, ...] = ()
    controlnets: tuple[str, ...] = ()
    diffusion_models: tuple[str, ...] = ()
    text_encoders: tuple[str, ...] = ()
    wildcards: tuple[str, ...] = ()
    upscalers: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """"checkpoints, LoRAs, embeddings" — what the install has folders for."""
        have = [label for kind, label in LABELS.items() if getattr(self, kind)]
        return ", ".join(have)


def models_home(folder: str | Path) -> ModelsHome:
    """The add-on folders of the install at ``folder``; a ModelError when it has none of them."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ModelError(f"{root} is not a folder.")
    base = root.parent if root.name == "models" and not (root / "models").is_dir() else root
    found = {kind: tuple(str(base / rel) for rel in rels if (base / rel).is_dir()) for kind, rels in LAYOUT.items()}
    if not any(found.values()):
        expected = ", ".join(rels[0] for rels in LAYOUT.values())
        raise ModelError(f"{root} does not look like an A1111 or ComfyUI folder: none of {expected} (or ComfyUI's "
                         "models/checkpoints, models/loras, …) is in it.")
    return ModelsHome(root=base, **found)


def home_above(path: Path) -> ModelsHome | None:
    """The ComfyUI (or A1111) install a model file lies in, when it lies in one's ``models/<kind>/`` folder."""
    for parent in Path(path).parents:
        if parent.name == "models":
            try:
                return models_home(parent)
            except ModelError:
                return None
    return None
