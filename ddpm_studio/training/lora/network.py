"""The LoRA layers a training adds, through peft: low-rank A·B beside the UNet's attention projections (to_q, to_k,
to_v, to_out.0, as diffusers' and kohya's scripts target them) and, when the text encoder is trained too, beside its
q/k/v/out projections. A starts Gaussian and B at zero, so step 0 is the base model exactly. peft is called directly
(``inject_adapter_in_model``), which works on diffusers' and transformers' models alike."""

from __future__ import annotations

from contextlib import contextmanager

import torch

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def add_lora(model, rank: int, alpha: float, targets: list[str], seed: int) -> list[torch.nn.Parameter]:
    """LoRA layers into ``model`` (its own weights frozen), drawn from ``seed`` without touching the global random
    state; returns the new trainable parameters."""
    from peft import LoraConfig, inject_adapter_in_model

    model.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        inject_adapter_in_model(LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets,
                                           init_lora_weights="gaussian"), model)
    params = [p for name, p in model.named_parameters() if "lora_" in name]
    for p in params:
        p.requires_grad_(True)
    return params


def lora_weights(model) -> dict[str, torch.Tensor]:
    """The LoRA layers' weights, named ``<module>.lora_A.weight`` / ``lora_B.weight``."""
    from peft.utils import get_peft_model_state_dict

    return get_peft_model_state_dict(model)


def load_lora_into(model, weights: dict[str, torch.Tensor]) -> None:
    from peft.utils import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, weights)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise ValueError(f"The checkpoint's LoRA does not fit this model ({len(unexpected)} unknown keys, "
                         f"e.g. {unexpected[0]}).")


@contextmanager
def lora_off(*models):
    """The models as their base, LoRA layers bypassed, for as long as the block runs."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for model in models for m in model.modules() if isinstance(m, BaseTunerLayer)]
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield
    finally:
        for layer in layers:
            layer.enable_adapters(True)
