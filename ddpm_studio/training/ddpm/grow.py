"""Grow a trained UNet2DModel deeper without changing what it computes, so training can go on at the larger size.

Each down block gains one ResNet (and one attention, in attention blocks) after its last one; each up block gains one
after its first. A new ResNet starts as the identity: its second convolution is zero, and in an up block its 1×1
shortcut passes the running features through and drops the skip connection it is given. A new attention starts with a
zero output projection, so its residual connection makes it the identity too. The old layers keep their weights and
each old up-block ResNet still receives the skip features it was trained with: the extra skip that the new down-block
ResNet adds is exactly what the new up-block ResNet ignores.

This is function-preserving growth in the sense of Net2Net's "deeper" operator (Chen, Goodfellow and Shlens, 2016), done
with zero-initialised residual branches instead of identity-initialised layers. The new layers' gradients are not
zero: the zero weights themselves receive gradient at the first step.
"""

from __future__ import annotations

import re

import torch

_UP = re.compile(r"^up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.")


def _renamed(key: str) -> str:
    """Where an old parameter goes in the deeper model.

    Up blocks take their skips last in, first out. The first up layer now gets the new down layer's output, which equals
    the old last down layer's output that it was trained with; the new up layer (index 1) gets that output again and
    ignores it; every old up layer after the first moves one on and gets the skip it had before.
    """
    match = _UP.match(key)
    if match and int(match[3]) >= 1:
        return f"up_blocks.{match[1]}.{match[2]}.{int(match[3]) + 1}." + key[match.end():]
    return key  # down layers keep their index: the new one is appended after them


def deepen_unet(unet):
    """A copy of ``unet`` (a diffusers UNet2DModel) with layers_per_block + 1 that computes the same function."""
    from diffusers import UNet2DModel

    layers = unet.config.layers_per_block
    if not isinstance(layers, int):
        raise ValueError("Only a UNet with one layers_per_block for all levels can be grown.")
    config = dict(unet.config)
    config["layers_per_block"] = layers + 1
    grown = UNet2DModel.from_config(config)
    if unet.dtype != grown.dtype:
        grown = grown.to(dtype=unet.dtype)

    state = grown.state_dict()
    for key, value in unet.state_dict().items():
        target = _renamed(key)
        if state[target].shape != value.shape:
            raise ValueError(f"Cannot place {key} {tuple(value.shape)} at {target} {tuple(state[target].shape)}.")
        state[target] = value.clone()
    grown.load_state_dict(state)

    with torch.no_grad():
        for block in grown.down_blocks:
            _make_identity(block, index=layers)
        for block in grown.up_blocks:
            _make_identity(block, index=1)
    return grown


def _make_identity(block, index: int) -> None:
    resnet = block.resnets[index]
    resnet.conv2.weight.zero_()
    resnet.conv2.bias.zero_()
    if resnet.conv_shortcut is not None:  # an up-block ResNet: input is cat(features, skip); keep the features only
        out_channels = resnet.conv_shortcut.weight.shape[0]
        weight = torch.zeros_like(resnet.conv_shortcut.weight)
        weight[:, :out_channels, 0, 0] = torch.eye(out_channels, dtype=weight.dtype)
        resnet.conv_shortcut.weight.copy_(weight)
        resnet.conv_shortcut.bias.zero_()
    attentions = getattr(block, "attentions", None)
    if attentions is not None:
        projection = attentions[index].to_out[0]
        projection.weight.zero_()
        projection.bias.zero_()
