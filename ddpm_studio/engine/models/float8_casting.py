"""Float8 weights kept as they are stored and computed layer by layer in the compute dtype.

This is diffusers' layerwise casting (``diffusers.hooks.layerwise_casting``: a hook on each layer that casts its
weights to the compute dtype before the layer runs and back to the storage dtype after), with two differences that
a downloaded float8 file needs:

- the layer's stored tensor is kept and put back after the forward, rather than the computed copy cast back: no
  second rounding, and no cast at all on the way back;
- a weight of a "scaled fp8" file is multiplied by its scale (ComfyUI's ``scale_weight`` / ``weight_scale``, one
  per tensor, or one per output row where the conversion joined tensors of different scales) when it is cast.

Which tensors stay float8 is the file's choice, not a name pattern: diffusers' own casting skips ``norm``,
``pos_embed``, ``patch_embed``, ``proj_in`` and ``proj_out`` (its DEFAULT_SKIP_MODULES_PATTERN) and casts every
other layer down; here what the file stores in float8 stays float8 and everything else (norms, biases, embeddings
the file keeps in bf16/fp32) is held in the compute dtype, so nothing is rounded that the file did not round.

The hook is registered under diffusers' own name for layerwise casting (``layerwise_casting``) and carries
``compute_dtype``, so ``model.dtype`` (diffusers' get_parameter_dtype) answers the compute dtype and the pipelines
cast their inputs to it, as they do for a model with diffusers' casting enabled.
"""

from __future__ import annotations

import torch
from diffusers.hooks import HookRegistry
from diffusers.hooks.layerwise_casting import LayerwiseCastingHook

FLOAT8 = (torch.float8_e4m3fn, torch.float8_e5m2)
HOOK_NAME = "layerwise_casting"  # diffusers' _LAYERWISE_CASTING_HOOK: model.dtype reads compute_dtype from it


class StoredFloat8Casting(LayerwiseCastingHook):
    """The layer's float8 parameters cast (and scaled) to ``compute_dtype`` while it runs; the stored tensors put
    back after."""

    def __init__(self, storage_dtype: torch.dtype, compute_dtype: torch.dtype, scales: dict[str, torch.Tensor]):
        super().__init__(storage_dtype, compute_dtype, non_blocking=False)
        self.scales = scales  # parameter name → its scale (a scalar, or one per output row)
        self.resting: dict[str, torch.Tensor] = {}

    def initialize_hook(self, module):
        return module  # the parameters stay as the file stored them

    def pre_forward(self, module, *args, **kwargs):
        for name, param in module.named_parameters(recurse=False):
            if param.dtype not in FLOAT8:
                continue
            stored = param.data
            self.resting[name] = stored
            scale = self.scales.get(name)
            if scale is None:
                param.data = stored.to(self.compute_dtype)
            else:  # scaled in float32, then rounded once to the compute dtype
                param.data = (stored.to(torch.float32) * scale.to(stored.device)).to(self.compute_dtype)
        return args, kwargs

    def post_forward(self, module, output):
        for name, stored in self.resting.items():
            getattr(module, name).data = stored
        self.resting = {}
        return output


def enable_stored_float8(model: torch.nn.Module, compute_dtype: torch.dtype,
                         scales: dict[str, torch.Tensor] | None = None) -> int:
    """Hooks on every module that owns float8 parameters (``scales``: parameter path → scale); the model's other
    floating parameters cast to ``compute_dtype``. Returns how many parameters stay float8."""
    scales = scales or {}
    kept = 0
    for module_name, module in model.named_modules():
        own = dict(module.named_parameters(recurse=False))
        stored = {name: p for name, p in own.items() if p.dtype in FLOAT8}
        for name, param in own.items():
            if name not in stored and param.is_floating_point() and param.dtype != compute_dtype:
                param.data = param.data.to(compute_dtype)
        if not stored:
            continue
        prefix = f"{module_name}." if module_name else ""
        own_scales = {name: scales[prefix + name] for name in stored if prefix + name in scales}
        storage = next(iter(stored.values())).dtype
        registry = HookRegistry.check_if_exists_or_initialize(module)
        registry.register_hook(StoredFloat8Casting(storage, compute_dtype, own_scales), HOOK_NAME)
        kept += len(stored)
    return kept


def float8_parameters(model: torch.nn.Module) -> int:
    """How many of the model's parameters are float8 now."""
    return sum(1 for p in model.parameters() if p.dtype in FLOAT8)
