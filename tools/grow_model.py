"""Make a deeper copy of a trained DDPM pipeline folder that samples exactly as the original, to train on from there.

    python tools/grow_model.py runs/emoji-32/model runs/emoji-32-deep-base
    ddpm-studio train data/emoji-32 --base runs/emoji-32-deep-base --out runs/emoji-32-deep ...

The UNet gets one more layer per block (see ddpm_studio/training/ddpm/grow.py); the scheduler and everything else in the
folder are copied unchanged. The script checks that both UNets give the same output on random input before it writes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ddpm_studio.engine.models.catalogue import ModelError  # noqa: E402
from ddpm_studio.engine.models.pixel_ddpm import load_ddpm  # noqa: E402
from ddpm_studio.engine.runtime.files import give_normal_modes  # noqa: E402
from ddpm_studio.engine.sampling.pixel import sample_hw  # noqa: E402
from ddpm_studio.training.ddpm.grow import deepen_unet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a DDPM pipeline folder (or bundled:NAME)")
    parser.add_argument("target", type=Path, help="the new folder (must not exist)")
    args = parser.parse_args()
    if args.target.exists():
        sys.exit(f"{args.target} exists; choose a new folder.")

    try:
        loaded = load_ddpm(args.source, dtype=torch.float32)
        grown = deepen_unet(loaded.unet)
    except (ModelError, ValueError) as exc:
        sys.exit(f"Cannot grow {args.source}: {exc}")
    height, width = sample_hw(loaded.unet)
    x = torch.randn(4, loaded.unet.config.in_channels, height, width, generator=torch.Generator().manual_seed(0))
    timesteps = torch.tensor([0, 250, 600, 999])
    with torch.no_grad():
        difference = (loaded.unet(x, timesteps).sample - grown(x, timesteps).sample).abs().max().item()
    if difference > 1e-4:
        sys.exit(f"The grown UNet differs from the original by {difference:.2e}; nothing written.")

    shutil.copytree(loaded.info.path, args.target, ignore=shutil.ignore_patterns("unet"))
    grown.save_pretrained(args.target / "unet", safe_serialization=True)
    give_normal_modes(args.target)  # save_pretrained's safetensors are owner-only (0600)
    before = sum(p.numel() for p in loaded.unet.parameters())
    after = sum(p.numel() for p in grown.parameters())
    print(
        f"{args.target}: layers per block {loaded.unet.config.layers_per_block} → {grown.config.layers_per_block}, "
        f"{before / 1e6:.2f} M → {after / 1e6:.2f} M parameters; largest output difference {difference:.1e}"
    )


if __name__ == "__main__":
    main()
