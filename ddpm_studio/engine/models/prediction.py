"""What an SD 2.x checkpoint's UNet predicts: the noise ε (SD 2.x 512-base, the inpainting model) or v (the 768-v
models). A single ``.safetensors`` file does not say, and sampling an ε model as a v model (or the reverse) gives
noise or flat colour. The answer is found, in this order:

1. a ``.yaml`` of the same name beside the file: A1111's convention for SD 2.x files, whose v configs set
   ``parameterization: "v"`` (a yaml without that line is an ε config);
2. an inpainting UNet (9 input channels) is ε, as Stability's SD 2 inpainting model is;
3. a probe, the test A1111 makes: the UNet on a flat latent of 0.5 at t = 999 with a flat context of 0.5. A v model's
   output lies far below its input there (mean difference under −1); an ε model's stays near it.

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


def describe(prediction_type: str, how: str) -> str:
    return f"{NAMES.get(prediction_type, prediction_type)} ({how})"
