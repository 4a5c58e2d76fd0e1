"""Growing a trained UNet deeper: same function at the start, every new layer trainable, and the tool's folder loads."""

from __future__ import annotations

import re
import sys

import pytest
import torch

from ddpm_studio.training.ddpm.grow import deepen_unet


def _trained_looking_unet(layers_per_block: int):
    """A tiny UNet whose weights are all non-zero (a fresh one has zero-initialised parts that would hide mistakes)."""
    from diffusers import UNet2DModel

    from ddpm_studio.training.ddpm.presets import unet_config

    config = unet_config("tiny", 16)
    config["layers_per_block"] = layers_per_block
    torch.manual_seed(0)
    unet = UNet2DModel(**config)
    with torch.no_grad():
        for parameter in unet.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return unet


@pytest.mark.parametrize("layers_per_block", [1, 2])
def test_deeper_unet_computes_the_same_function(layers_per_block):
    unet = _trained_looking_unet(layers_per_block)
    grown = deepen_unet(unet)

    assert grown.config.layers_per_block == layers_per_block + 1
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in unet.parameters())
    x_t = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    timesteps = torch.tensor([3, 400, 999])
    with torch.no_grad():
        before = unet(x_t, timesteps).sample
        after = grown(x_t, timesteps).sample
    assert before.abs().mean() > 0.05
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


def test_every_new_layer_learns():
    unet = _trained_looking_unet(1)
    grown = deepen_unet(unet)
    new_layer = re.compile(r"^(down|up)_blocks\.\d+\.(resnets|attentions)\.1\.")  # index 1 is new in both, for 1 → 2
    new_layers = {
        name: parameter.detach().clone()
        for name, parameter in grown.named_parameters()
        if new_layer.match(name) and not name.endswith("to_k.bias")  # a key bias shifts every logit alike: no gradient
    }
    assert len(new_layers) > 20

    optimizer = torch.optim.SGD(grown.parameters(), lr=0.1)
    x_t = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    for _ in range(2):  # zero-initialised branches get gradient at step 1, the layers feeding them at step 2
        loss = grown(x_t, torch.tensor([10, 700])).sample.square().mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    parameters = dict(grown.named_parameters())
    unchanged = [name for name, value in new_layers.items() if torch.equal(parameters[name].detach(), value)]
    assert not unchanged, f"new layers that did not train: {unchanged}"


def test_grow_tool_writes_a_loadable_pipeline(tiny_ddpm_dir, tmp_path, monkeypatch, capsys):
    from ddpm_studio.engine.models.pixel_ddpm import load_ddpm
    from tools import grow_model

    target = tmp_path / "grown"
    monkeypatch.setattr(sys, "argv", ["grow_model.py", str(tiny_ddpm_dir), str(target)])
    grow_model.main()
    assert "layers per block 1 → 2" in capsys.readouterr().out

    original = load_ddpm(str(tiny_ddpm_dir), dtype=torch.float32)
    loaded = load_ddpm(str(target), dtype=torch.float32)
    assert loaded.unet.config.layers_per_block == 2
    assert loaded.scheduler_config["prediction_type"] == original.scheduler_config["prediction_type"]
    x_t = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    timesteps = torch.tensor([5, 900])
    with torch.no_grad():
        after, before = loaded.unet(x_t, timesteps).sample, original.unet(x_t, timesteps).sample
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)

    monkeypatch.setattr(sys, "argv", ["grow_model.py", str(tiny_ddpm_dir), str(target)])
    with pytest.raises(SystemExit, match="exists"):
        grow_model.main()


def test_grow_tool_names_a_folder_it_cannot_use(tmp_path, monkeypatch):
    from tools import grow_model

    broken = tmp_path / "not-a-model"
    broken.mkdir()
    monkeypatch.setattr(sys, "argv", ["grow_model.py", str(broken), str(tmp_path / "grown")])
    with pytest.raises(SystemExit, match="Cannot grow .*not-a-model"):
        grow_model.main()
    assert not (tmp_path / "grown").exists()
