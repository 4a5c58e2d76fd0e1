"""Where a pipeline's weights live between uses: on the device, or offloaded to the CPU in one of diffusers' three
ways (model CPU offload, sequential CPU offload, group offload) — applied to the pipeline's components, whatever
its family, so a new family's pipeline gets them without a line here.

Group offload moves the denoiser's and the text encoders' blocks onto the GPU in turn (diffusers'
``apply_group_offloading``, block level, one block per group; with CUDA streams the next block is copied while the
current one runs). A diffusers model names its blocks itself (its ModuleLists, and ``_group_offload_block_modules``);
a transformers text encoder keeps its layer list a level or two down (``encoder.layers`` in CLIP,
``encoder.block`` in T5), so the children that lead to it are named as block modules: each layer is then a group,
instead of the whole encoder (T5-XXL alone is 9.5 GB in bf16). The VAE stays on the device: it is small, and
diffusers warns that streams and tiling do not mix on it.
"""

from __future__ import annotations

import torch

from ddpm_studio.engine.runtime.options import OFFLOAD_NAMES

KEPT_ON_DEVICE = ("vae",)  # components group offload leaves on the device


def offload_applies(device) -> bool:
    """Offloading moves weights between a CUDA GPU and the CPU: on the CPU there is nowhere to move them, and an
    Apple GPU shares the CPU's memory."""
    return torch.device(device).type == "cuda"


def not_applied_note(offload: str, device) -> str:
    return (f"{OFFLOAD_NAMES[offload]} was not used: it moves weights between a CUDA GPU and the CPU, and this model "
            f"runs on the {torch.device(device).type.upper()}")


def place(pipe, offload: str, device) -> None:
    """Put ``pipe`` on ``device`` with ``offload`` (one of ``options.OFFLOADS``, or "" for none)."""
    device = torch.device(device)
    if offload == "cpu_offload":
        pipe.enable_model_cpu_offload(device=device)  # each model moves to the GPU only while it runs
    elif offload == "sequential_offload":
        pipe.enable_sequential_cpu_offload(device=device)  # each layer's weights, only while it runs
    elif offload == "group_offload":
        group_offload(pipe, device)
    else:
        pipe.to(device)
    pipe._studio_offload = (offload, device)  # for a component swapped in later (VaeSlot): placed the same way


def group_offload(pipe, device: torch.device) -> None:
    """Group offload on every component but the VAE, block by block; onto ``device``, with streams on CUDA."""
    from diffusers import ModelMixin
    from diffusers.hooks import apply_group_offloading

    options = dict(onload_device=device, offload_type="block_level", num_blocks_per_group=1,
                   use_stream=device.type == "cuda")
    for name, component in pipe.components.items():
        if not isinstance(component, torch.nn.Module):
            continue
        if name in KEPT_ON_DEVICE or not getattr(component, "_supports_group_offloading", True):
            component.to(device)
        elif isinstance(component, ModelMixin):  # a diffusers model: its own blocks
            component.enable_group_offload(**options)
        else:  # a transformers encoder: the blocks down its tree
            apply_group_offloading(component, block_modules=block_path(component) or None, **options)


def block_path(module: torch.nn.Module) -> list[str]:
    """The names of the children that lead down to ``module``'s layer lists (ModuleLists or Sequentials of more than
    one block), which block-level group offload does not look inside by itself."""
    names: set[str] = set()

    def leads_to_blocks(parent: torch.nn.Module) -> bool:
        found = False
        for name, child in parent.named_children():
            if isinstance(child, (torch.nn.ModuleList, torch.nn.Sequential)) and len(child) > 1:
                found = True
            elif leads_to_blocks(child):
                names.add(name)
                found = True
        return found

    leads_to_blocks(module)
    return sorted(names)


def place_like(pipe, name: str) -> None:
    """Place the component ``name``, just swapped into ``pipe``, as the pipeline's others are."""
    offload, device = getattr(pipe, "_studio_offload", ("", None))
    if offload in ("cpu_offload", "sequential_offload"):
        place(pipe, offload, device)  # diffusers removes its hooks and hooks every component again
    elif device is not None:
        getattr(pipe, name).to(device)


def execution_device(module: torch.nn.Module) -> torch.device:
    """Where ``module`` computes: its weights' device, or with an offload the GPU its hooks move them to (its weights
    then sit on the CPU, or on the meta device)."""
    from diffusers.utils.torch_utils import get_module_execution_device

    if not isinstance(module, torch.nn.Module):  # an encoder that only says where it runs
        return torch.device(module.device)
    return get_module_execution_device(module)
