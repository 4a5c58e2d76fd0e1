"""Write ``resources/configs/<family>/controlnet/config.json`` for sd1, sd2 and sdxl: the config of a ControlNet made
from that family's UNet config (diffusers' ``ControlNetModel.from_unet``, built on the meta device: no weights), so
single-file ControlNets load offline as single-file checkpoints do.

    python tools/derive_controlnet_configs.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent / "resources" / "configs"


def main() -> None:
    from diffusers import ControlNetModel, UNet2DConditionModel

    for family in ("sd1", "sd2", "sdxl"):
        config = UNet2DConditionModel.load_config(ROOT / family / "unet")
        with torch.device("meta"):
            unet = UNet2DConditionModel.from_config(config)
            controlnet = ControlNetModel.from_unet(unet, load_weights_from_unet=False)
        target = ROOT / family / "controlnet"
        controlnet.save_config(target)
        print(target / "config.json", file=sys.stderr)


if __name__ == "__main__":
    main()
