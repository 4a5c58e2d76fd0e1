"""Model upscalers: the single-file super-resolution networks artists keep in ``models/ESRGAN`` and
``models/upscale_models`` (Real-ESRGAN, 4x-UltraSharp, SwinIR, HAT, DAT, OmniSR, …), recognised from their state dict
by spandrel (MIT, github.com/chaiNNer-org/spandrel), which knows those architectures and builds the network.

Files: ``.safetensors``, and ``.pth``/``.pt`` read only by torch's weights-only loader — no pickle code runs, whatever
the pickle setting says; a file that needs more than tensors and plain containers is refused and nothing in it runs.
TorchScript archives (a ``.pt`` spandrel would hand to ``torch.jit.load``) are refused the same way.

spandrel is installed without its dependency list (``pip install --no-deps``): it declares torchvision, which only its
LaMa (inpainting) and RestoreFormer (face restoration) architectures use, yet ``import spandrel`` imports every
architecture. The torchvision wheels a CPU-only machine reaches are CUDA builds that replace its torch, so when
torchvision is missing (or does not import) spandrel is imported with a stand-in for torchvision that lives only for
that import; those two architectures are then refused with a message (neither is an upscaler). No Qt here.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line

UPSCALER_SUFFIXES = (".safetensors", ".pth", ".pt")
FAMILY = "model-upscaler"
TORCHVISION_ARCHS = ("LaMa", "RestoreFormer")  # spandrel's two architectures that import torchvision
INSTALL = "pip install --no-deps -c constraints.txt spandrel==0.4.2 einops"
_STAND_IN = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")

_spandrel = None
_without_torchvision = False


def spandrel():
    """The spandrel module, imported once (see the module's note on torchvision); a ModelError when it is missing."""
    global _spandrel, _without_torchvision
    if _spandrel is None:
        try:
            import torchvision  # noqa: F401 (a working torchvision: every architecture is there)
        except Exception:  # missing, or a CUDA build next to a CPU torch (libc10_cuda.so not found)
            _without_torchvision = True
        try:
            _spandrel = _import_without_torchvision() if _without_torchvision else _import()
        except ImportError as exc:
            raise ModelError(f"Model upscalers (ESRGAN, SwinIR, DAT, …) need the spandrel package: {INSTALL} "
                             f"({first_line(exc)}).") from None
    return _spandrel


def _import():
    import spandrel as module

    return module


class _NeedsTorchvision:
    """What the stand-in's names are: any use of them says which package is missing."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args, **kwargs):
        raise ModelError(f"This architecture ({', '.join(TORCHVISION_ARCHS)}) needs torchvision, which is not "
                         "installed here.")


def _import_without_torchvision():
    def attribute(name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _NeedsTorchvision()

    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        del sys.modules[name]  # what a failed import of a broken build left behind
    for name in _STAND_IN:
        module = types.ModuleType(name)
        module.__getattr__ = attribute  # type: ignore[attr-defined]
        sys.modules[name] = module
    try:
        return _import()
    finally:
        for name in _STAND_IN:  # gone again: nothing else ever sees a torchvision that is not there
            sys.modules.pop(name, None)


def is_upscaler_suffix(path: Path) -> bool:
    return path.suffix.lower() in UPSCALER_SUFFIXES


def read_state_dict(path: Path, meta: bool = False) -> dict:
    """The file's tensors (on the meta device when ``meta``: shapes only), its wrappers taken off (``params_ema``,
    ``module.``, …, as spandrel canonicalises them)."""
    import torch

    path = Path(path)
    if not is_upscaler_suffix(path):
        raise ModelError(f"{path} is not a model upscaler file ({', '.join(UPSCALER_SUFFIXES)}).")
    if path.suffix.lower() == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                if meta:
                    state = {k: torch.empty(f.get_slice(k).get_shape(), device="meta",
                                            dtype=_dtype(f.get_slice(k).get_dtype())) for k in f.keys()}
                else:
                    state = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise ModelError(f"{path} is not a readable safetensors file: {first_line(exc, 200)}") from None
    else:
        try:  # torch's weights-only unpickler: tensors and plain containers, never a callable
            state = torch.load(path, map_location="meta" if meta else "cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{path} needs more than torch's weights-only loader allows, so it was refused and "
                             f"nothing in it ran ({first_line(exc, 200)}). A .safetensors copy of the model would "
                             "load.") from None
    if not isinstance(state, dict):
        raise ModelError(f"{path} holds no state dict (a {type(state).__name__}).")
    return spandrel().canonicalize_state_dict(state)


def _dtype(name: str):
    import torch

    return {"F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}.get(name, torch.float32)


class _MetaUnsupported(Exception):
    """An architecture whose loader reads tensor values, which the meta device does not have."""


@dataclass(frozen=True)
class UpscalerFacts:
    arch: str  # spandrel's architecture name (ESRGAN, SwinIR, DAT, …)
    scale: int


def build(path: Path, meta: bool = False):
    """spandrel's ImageModelDescriptor for the file (on the CPU in fp32; on the meta device when ``meta``: its
    facts without its weights); a ModelError naming the file when it holds no upscaler spandrel knows."""
    import torch

    module = spandrel()
    state = read_state_dict(path, meta)
    try:
        if meta:
            with torch.device("meta"):
                descriptor = module.MAIN_REGISTRY.load(state)
        else:
            descriptor = module.MAIN_REGISTRY.load(state)
    except module.UnsupportedModelError:
        raise ModelError(f"{path} holds no model upscaler that spandrel knows (ESRGAN, SwinIR, HAT, DAT, OmniSR, …)."
                         ) from None
    except ModelError:
        raise
    except Exception as exc:
        if meta:
            raise _MetaUnsupported from None
        raise ModelError(f"{path} could not be built as a model upscaler: {first_line(exc, 200)}") from None
    arch = descriptor.architecture.name
    if descriptor.architecture.id in TORCHVISION_ARCHS and _without_torchvision:
        raise ModelError(f"{path} is a {arch} model, which needs torchvision (not installed here); it is not an "
                         "upscaler either.")
    if descriptor.purpose not in ("SR", "FaceSR") or not isinstance(descriptor, module.ImageModelDescriptor):
        raise ModelError(f"{path} is a {arch} model for {descriptor.purpose.lower()}, not an upscaler.")
    if descriptor.scale < 2:
        raise ModelError(f"{path} is a 1× {arch} model (it restores, it does not enlarge), not an upscaler.")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise ModelError(f"{path} is a {arch} model for {descriptor.input_channels}-channel pictures; DDPM Studio "
                         "upscales RGB.")
    return descriptor


def upscaler_facts(path: Path) -> UpscalerFacts:
    """The file's architecture and factor: from its shapes alone where the architecture's loader needs no values,
    else from its weights (SwinIR's loader reads its relative-position tables' values)."""
    try:
        descriptor = build(path, meta=True)
    except _MetaUnsupported:
        descriptor = build(path)
    return UpscalerFacts(arch=descriptor.architecture.name, scale=int(descriptor.scale))


def upscaler_fields(path: Path) -> dict | None:
    """The catalogue's ModelInfo fields of a model upscaler file, or None when ``path`` is none (or spandrel is
    missing)."""
    if not is_upscaler_suffix(path):
        return None
    try:
        facts = upscaler_facts(path)
    except ModelError:
        return None
    return dict(name=path.stem, class_name=f"{facts.arch} {facts.scale}× upscaler", family=FAMILY, panel="Upscale",
                modes=("upscale",), upscale=facts.scale)
