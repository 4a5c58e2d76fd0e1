"""Whether an add-on file's weights are finite, checked as it loads: a LoRA, an embedding or a VAE with NaN or
infinite values (a training run that diverged, a bad merge) is refused before a run, naming it. A run's own NaN
values are explained by ``sampling/non_finite.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import torch

from ddpm_studio.engine.addons.resources import AddonError


def first_non_finite(named: Iterable[tuple[str, object]]) -> str | None:
    """The name of the first floating-point tensor in ``named`` that holds a NaN or an infinity, else None."""
    for name, value in named:
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return name
    return None


def flat_tensors(state, prefix: str = "") -> Iterable[tuple[str, object]]:
    """(key, tensor) of a state dict, nested dicts (an A1111 ``.pt`` embedding's ``string_to_param``) opened."""
    for key, value in (state.items() if isinstance(state, dict) else ()):
        if isinstance(value, dict):
            yield from flat_tensors(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def safetensors_values(path: Path) -> Iterable[tuple[str, torch.Tensor]]:
    """A ``.safetensors`` file's tensors one at a time (never all in memory at once)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        for key in handle.keys():
            yield key, handle.get_tensor(key)


def check_values(kind: str, path: Path, named: Iterable[tuple[str, object]]) -> None:
    """An AddonError naming the file when one of its tensors holds NaN or infinite values."""
    try:
        key = first_non_finite(named)
    except AddonError:
        raise
    except Exception as exc:  # a file cut short: said by the loader's own message, which names it
        from ddpm_studio.engine.errors import first_line

        raise AddonError(f"The {kind} {path} cannot be read: {first_line(exc, 240)}") from None
    if key is not None:
        raise AddonError(f"The {kind} {path} holds NaN or infinite values ('{key}'): the file is damaged (a "
                         "training run that diverged, or a bad merge) and would give black images; use another "
                         "copy of it, or take it out of the run.")
