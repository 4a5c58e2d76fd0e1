"""What a checkpoint's UNet predicts: the noise ε or v. SD 2.x files (ε: 512-base, the inpainting model; v: the
768-v models) and SDXL finetunes (v: NoobAI-XL v-pred) may be either, and sampling an ε model as a v model (or the
reverse) gives noise, grey or burnt colour. The answer is found, in this order:

1. a key of the file that says it (the family table's ``prediction_keys``: SDXL's ``v_pred``, as ComfyUI and Forge
   read it);
2. a ``.yaml`` of the same name beside the file: A1111's convention, whose v configs set ``parameterization: "v"``
   (a yaml without that line is an ε config);
3. for a family whose files do not say (SD 2.x, the table's ``probe_prediction``): an inpainting UNet (9 input
   channels) is ε, as Stability's SD 2 inpainting model is; else a probe, the test A1111 makes: the UNet on a flat
   latent of 0.5 at t = 999 with a flat context of 0.5. A v model's output lies far below its input there (mean
   difference under −1); an ε model's stays near it;
4. else the family's own (ε), said by nothing.

Jobs may override it (``prediction_type`` epsilon or v_prediction) where the guess is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

from ddpm_studio.engine.errors import first_line

V_PARAMETERIZATION = re.compile(r"^\s*parameterization\s*:\s*[\"']?v[\"']?\s*(#.*)?$", re.MULTILINE)
PROBE_TIMESTEP = 999
PROBE_THRESHOLD = -1.0  # mean(output − input) below this: a v model
NAMES = {"epsilon": "ε-prediction", "v_prediction": "v-prediction"}


def sidecar(path: Path) -> Path | None:
    """The A1111-style config beside a checkpoint (model.safetensors → model.yaml), if there is one."""
    for suffix in (".yaml", ".yml"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    return None


def from_sidecar(config: Path) -> str | None:
    """v_prediction if an A1111 config says ``parameterization: "v"``, else epsilon; None if it cannot be read."""
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return "v_prediction" if V_PARAMETERIZATION.search(text) else "epsilon"


def probe(unet) -> str:
    """epsilon or v_prediction, from one UNet call on an 8×8 latent (a fraction of a second even for SD 2.x on a CPU)."""
    import torch

    param = next(unet.parameters())
    x = torch.full((1, unet.config.in_channels, 8, 8), 0.5, dtype=param.dtype, device=param.device)
    context = torch.full((1, 2, unet.config.cross_attention_dim), 0.5, dtype=param.dtype, device=param.device)
    with torch.no_grad():
        out = unet(x, torch.tensor([PROBE_TIMESTEP], device=param.device), encoder_hidden_states=context).sample
    difference = (out.float() - x.float()).mean().item()
    return "v_prediction" if difference < PROBE_THRESHOLD else "epsilon"


def detect_prediction_type(path: Path, unet) -> tuple[str, str]:
    """(epsilon or v_prediction, how it was found: for the user)."""
    config = sidecar(path)
    if config is not None and (found := from_sidecar(config)):
        return found, f"from {config.name}"
    if unet.config.in_channels == 9:
        return "epsilon", "an inpainting UNet"
    try:
        return probe(unet), "detected from the UNet's output; choose Prediction by hand if images look wrong"
    except (RuntimeError, NotImplementedError) as exc:  # e.g. an operation missing for this dtype on this device
        return "v_prediction", f"the UNet could not be tested ({first_line(exc, 120)}); v assumed, as for SD 2.x 768 models"


def checkpoint_prediction(path: Path, facts, unet) -> tuple[str, str] | None:
    """(epsilon or v_prediction, how it was found) for a single-file checkpoint (``single_file.CheckpointFacts``),
    or None when nothing tells and its family's own is meant."""
    from ddpm_studio.engine.models.families import BY_KEY

    if facts.prediction:
        return facts.prediction, f"from its {facts.prediction_key} key"
    if BY_KEY[facts.arch].probe_prediction:
        return detect_prediction_type(path, unet)
    config = sidecar(path)
    if config is not None and (found := from_sidecar(config)):
        return found, f"from {config.name}"
    return None


def describe(prediction_type: str, how: str) -> str:
    return f"{NAMES.get(prediction_type, prediction_type)} ({how})"
