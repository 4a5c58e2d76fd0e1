"""A real-size model upscaler on the CPU: Real-ESRGAN x4plus's shapes (RRDBNet, 64 features, 23 blocks, 4×; built
with spandrel's own class, random weights: speed does not depend on training) upscales a 256² picture to 1024².

Three ways, each in a fresh process (so peak memory is its own; ``isolated.py``): spandrel's plain call on the whole
picture, ours as the app runs it (``model_upscale.upscale_pixels``, automatic tiles: one pass at this size), and ours
in 128 px tiles with a 16 px margin (what a large picture gets). Prints seconds (median of the rounds) and the peak
resident memory each process reached, then one JSON line with ours / plain (the target is ≤ 1.05).

    python bench/model_upscale.py [--size 256] [--blocks 23] [--rounds 3] [--threads 2] [--tile 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def build(folder: Path, blocks: int) -> Path:
    import torch
    from safetensors.torch import save_file

    from ddpm_studio.engine.models.upscaler_files import spandrel

    spandrel()
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(0)  # RealESRGAN_x4plus: num_feat 64, num_block 23, scale 4 (Real-ESRGAN's inference script)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=64, num_blocks=blocks, scale=4)
    path = folder / f"RealESRGAN_x4plus-shaped-{blocks}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def side(args) -> None:
    """One way, in this process: prints a JSON line with its seconds and peak memory."""
    import numpy as np
    import torch

    from ddpm_studio.engine.upscale.model_upscale import load_model_upscaler, upscale_pixels

    torch.set_num_threads(args.threads)
    loaded = load_model_upscaler(args.model, "cpu", torch.float32)
    pixels = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    image = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255.0
    runs = {
        "plain": lambda: loaded.model(image),
        "ours": lambda: upscale_pixels(loaded, pixels, "cpu"),
        "tiled": lambda: upscale_pixels(loaded, pixels, "cpu", tile=args.tile, overlap=16),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seconds = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        out = runs[args.side]()
        seconds.append(time.perf_counter() - start)
    shape = tuple(out.shape)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": args.side, "seconds": statistics.median(seconds), "all": seconds,
                      "peak_mib": round(peak), "loaded_mib": round(before), "shape": shape}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--blocks", type=int, default=23)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--side", choices=["plain", "ours", "tiled"])
    parser.add_argument("--model")
    args = parser.parse_args()
    if args.side:
        return side(args)
    from isolated import in_own_process

    with tempfile.TemporaryDirectory() as folder:
        model = build(Path(folder), args.blocks)
        common = ["--size", args.size, "--rounds", args.rounds, "--threads", args.threads, "--tile", args.tile,
                  "--model", model]
        results = {name: in_own_process(__file__, "--side", name, *common) for name in ("plain", "ours", "tiled")}
    print(f"CPU: {cpu_model()}, {args.threads} torch threads, "
          f"{args.size}² → {args.size * 4}², {args.blocks} RRDB blocks")
    for name, r in results.items():
        print(f"{name:6s} {r['seconds']:8.2f} s   peak {r['peak_mib']:6d} MiB (after loading {r['loaded_mib']} MiB)")
    print(json.dumps({"ours_over_plain": results["ours"]["seconds"] / results["plain"]["seconds"],
                      "tiled_over_plain": results["tiled"]["seconds"] / results["plain"]["seconds"],
                      **{name: {k: r[k] for k in ("seconds", "peak_mib")} for name, r in results.items()},
                      "threads": args.threads, "size": args.size, "blocks": args.blocks, "cpu": cpu_model()}))


if __name__ == "__main__":
    main()
