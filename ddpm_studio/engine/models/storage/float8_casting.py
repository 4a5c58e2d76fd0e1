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

Layers the model's class names as precision-sensitive for layerwise casting (``_skip_layerwise_casting_patterns``)
are not skipped (their weights are float8 in the file; expanding them would undo what the file saved) but cast as a
group, the whole submodule at once, because some read their own weights' dtype in their forward.

The hook is registered under diffusers' own name for layerwise casting (``layerwise_casting``) and carries
``compute_dtype``, so ``model.dtype`` (diffusers' get_parameter_dtype) answers the compute dtype and the pipelines
cast their inputs to it, as they do for a model with diffusers' casting enabled.
"""

from __future__ import annotations

import re

import torch
from diffusers.hooks import HookRegistry
from diffusers.hooks.layerwise_casting import LayerwiseCastingHook

FLOAT8 = (torch.float8_e4m3fn, torch.float8_e5m2)
HOOK_NAME = "layerwise_casting"  # diffusers' _LAYERWISE_CASTING_HOOK: model.dtype reads compute_dtype from it


class StoredFloat8Casting(LayerwiseCastingHook):
    """The float8 parameters of a module (``recurse``: and of its submodules) cast, and scaled, to ``compute_dtype``
    while it runs; the stored tensors put back after."""

    def __init__(self, storage_dtype: torch.dtype, compute_dtype: torch.dtype, scales: dict[str, torch.Tensor],
                 recurse: bool = False, float32: frozenset = frozenset()):
        super().__init__(storage_dtype, compute_dtype, non_blocking=False)
        self.scales = scales  # parameter name (relative to the module) → its scale (a scalar, or one per row)
        self.recurse = recurse
        self.float32 = float32  # parameters computed in float32 whatever the compute dtype (T5's wo in fp16)
        self.resting: list[tuple[torch.nn.Parameter, torch.Tensor]] = []

    def initialize_hook(self, module):
        return module  # the parameters stay as the file stored them

    def pre_forward(self, module, *args, **kwargs):
        for name, param in module.named_parameters(recurse=self.recurse):
            if param.dtype not in FLOAT8:
                continue
            stored = param.data
            self.resting.append((param, stored))
            scale = self.scales.get(name)
            dtype = torch.float32 if name in self.float32 else self.compute_dtype
            if scale is None:
                param.data = stored.to(dtype)
            else:  # scaled in float32, then rounded once to the compute dtype
                param.data = (stored.to(torch.float32) * scale.to(stored.device)).to(dtype)
        return args, kwargs

    def post_forward(self, module, output):
        for param, stored in self.resting:
            param.data = stored
        self.resting = []
        return output


# modules of transformers' text encoders whose forward reads a child's weight dtype (T5's feed-forward casts its
# input to ``wo``'s dtype: transformers' T5DenseGatedActDense / T5DenseActDense)
TEXT_GROUPS = (r"DenseReluDense$",)


def _grouped(model: torch.nn.Module, extra: tuple[str, ...] = ()) -> list[str]:
    """The modules cast as a whole: those the model's class names as precision-sensitive for layerwise casting
    (``_skip_layerwise_casting_patterns``, e.g. Z-Image's ``t_embedder``, whose forward reads its first layer's
    weight dtype to cast its input), and ``extra``. Their float8 weights stay float8 too; they are cast together
    while the group runs, so the group's own forward sees the compute dtype."""
    patterns = tuple(getattr(model, "_skip_layerwise_casting_patterns", None) or ()) + tuple(extra)
    groups: list[str] = []
    for name, _ in model.named_modules():
        if name and any(re.search(p, name) for p in patterns) and not any(name.startswith(g + ".") for g in groups):
            groups.append(name)
    return groups


def _hook(module, compute_dtype, scales: dict, prefix: str, recurse: bool, float32_parts=()) -> int:
    params = dict(module.named_parameters(recurse=recurse))
    stored = {name: p for name, p in params.items() if p.dtype in FLOAT8}
    if not stored:
        return 0
    for owner in module.modules() if recurse else (module,):
        if any(p.dtype in FLOAT8 for p in owner.parameters(recurse=False)) and not hasattr(owner, "compute_dtype"):
            owner.compute_dtype = compute_dtype  # what peft makes a LoRA on it in (its base layer's compute dtype)
    own_scales = {name: scales[prefix + name] for name in stored if prefix + name in scales}
    wide = frozenset(name for name in stored if any(part in (prefix + name).split(".") for part in float32_parts))
    registry = HookRegistry.check_if_exists_or_initialize(module)
    storage = next(iter(stored.values())).dtype
    registry.register_hook(StoredFloat8Casting(storage, compute_dtype, own_scales, recurse, wide), HOOK_NAME)
    return len(stored)


def enable_stored_float8(model: torch.nn.Module, compute_dtype: torch.dtype,
                         scales: dict[str, torch.Tensor] | None = None, groups: tuple[str, ...] = (),
                         float32_groups: tuple[str, ...] = ()) -> int:
    """Hooks on every module that owns float8 parameters, or on the group it belongs to (``_grouped``); the model's
    other floating parameters cast to ``compute_dtype`` (``scales``: parameter path → scale). Returns how many
    parameters stay float8. ``groups``: more name patterns cast as a whole; the parameters of modules named in
    ``float32_groups`` (T5's ``wo`` in fp16, which overflows there) compute in float32."""
    scales = scales or {}
    for param in model.parameters():
        if param.dtype not in FLOAT8 and param.is_floating_point() and param.dtype != compute_dtype:
            param.data = param.data.to(compute_dtype)
    grouped = _grouped(model, groups)
    kept = 0
    for name, module in model.named_modules():
        if any(name == g or name.startswith(g + ".") for g in grouped):
            if name in grouped:
                kept += _hook(module, compute_dtype, scales, f"{name}.", True, float32_groups)
            continue
        kept += _hook(module, compute_dtype, scales, f"{name}." if name else "", False, float32_groups)
    return kept


def report_compute_dtype(model: torch.nn.Module, compute_dtype: torch.dtype) -> None:
    """A transformers model's ``dtype`` (its first floating parameter's: float8 here) made to answer the compute
    dtype, as diffusers' models answer it from the hook: the pipelines cast the prompt embeddings to it, and T5 makes
    its attention mask's minimum from it. The model's class becomes a subclass of its own with that one property."""
    own = type(model)
    model.__class__ = type(own.__name__, (own,), {"dtype": property(lambda self: compute_dtype),
                                                  "__module__": own.__module__, "__doc__": own.__doc__})


def float8_parameters(model: torch.nn.Module) -> int:
    """How many of the model's parameters are float8 now."""
    return sum(1 for p in model.parameters() if p.dtype in FLOAT8)
