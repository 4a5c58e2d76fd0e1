"""The Upscale panel's upscaler without a model: PIL's Lanczos, 4×, one pass — its reference and its catalogue
entry, without torch (the panel lists it before the window's backend has loaded torch; model_upscale.py runs it)."""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.models.catalogue import ModelInfo

LANCZOS = "lanczos"
LANCZOS_SCALE = 4


def lanczos_info() -> ModelInfo:
    return ModelInfo(ref=LANCZOS, path=Path(LANCZOS), name="Lanczos", class_name="Lanczos (no model)", family=LANCZOS,
                     panel="Upscale", modes=("upscale",), upscale=LANCZOS_SCALE)
