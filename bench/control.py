"""The cost of control and composition, measured side by side in one process, interleaved.

- ControlNet: a Text to Image run with one ControlNet (made from the model's UNet config: its encoder half, random
  weights) and a canny control image, against the same run without it. No target: the physical cost is one
  ControlNet forward per step, so the ratio should be near 1 + (ControlNet's share of the UNet's work); the
  parameter counts are printed beside it.
- Hires fix: one Text to Image job with a hires fix (``--scale``, strength ``--strength``) against the sum of its two
  passes run as separate jobs — Text to Image at the base size, then img2img of the first picture enlarged with
  Lanczos (made once, before timing) at the large size. Target ≤ 1.03 for the Lanczos upscaler, whose passes are
  exactly those two runs (decode, enlarge, encode, img2img); the latent upscaler skips the decode and the encode
  between the passes, so it is reported against the same sum.

The model is bench/latent_preview.py's small random-weight SD. Prints a table, then one JSON line.

    python bench/control.py [--size 256] [--steps 10] [--scale 2] [--strength 0.5] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from latent_preview import build_small_sd  # noqa: E402
from timing import interleaved, paired_ratio  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256, help="the first pass's side")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--scale", type=float, default=2.0)
    parser.add_argument("--strength", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.jobs.types import EditJob, Text2ImageJob
    from ddpm_studio.engine.runner import Engine

    work = Path(tempfile.mkdtemp(prefix="bench-control-"))
    model = str(build_small_sd(work / "small-sd"))
    engine, img2img = Engine(device="cpu"), Engine(device="cpu")  # an engine keeps one pipeline: one for each pass
    base = Text2ImageJob(model=model, prompt="a red lighthouse on a green cliff at dusk", steps=args.steps,
                         width=args.size, height=args.size, seed=0, preview_every=1)
    hires = base.replace(hires_scale=args.scale, hires_strength=args.strength, hires_upscaler="lanczos")
    width, height = hires.output_size
    first = engine.run(base, save=False).images[0]
    enlarged = work / "enlarged.png"
    Image.fromarray(first).resize((width, height), Image.Resampling.LANCZOS).save(enlarged)
    second = EditJob(model=model, prompt=base.prompt, mode="img2img", image=str(enlarged), strength=args.strength,
                     steps=args.steps, seed=0, preview_every=1)
    from tests.tiny_controlnet import save_tiny_controlnet

    controlnet = save_tiny_controlnet(work / "controlnet", Path(model))
    controlled = base.replace(controlnets=((str(controlnet), 1.0, 0.0, 1.0),), control_images=(str(enlarged),),
                              control_preprocess=("canny",))
    img2img.run(second, save=False)
    engine.run(hires, save=False)
    engine.run(controlled, save=False)  # every pipeline made once before timing

    def two_passes() -> None:
        engine.run(base, save=False)
        img2img.run(second, save=False)

    runs = {"hires_lanczos": lambda: engine.run(hires, save=False),
            "hires_latent": lambda: engine.run(hires.replace(hires_upscaler="latent"), save=False),
            "two_passes": two_passes, "plain": lambda: engine.run(base, save=False),
            "controlnet": lambda: engine.run(controlled, save=False)}
    times = interleaved(runs, args.rounds)
    print(f"{'run':16} {'s/run':>8}")
    for name, t in times.items():
        print(f"{name:16} {statistics.median(t):8.3f}")
    loaded = engine._model
    params = {"unet": sum(p.numel() for p in loaded.pipe.unet.parameters()),
              "controlnet": sum(p.numel() for m in loaded.controlnets.values() for p in m.parameters())}
    print(json.dumps({
        "controlnet/plain": round(paired_ratio(times, "controlnet", "plain"), 4),
        "unet_params": params["unet"], "controlnet_params": params["controlnet"],
        "hires_lanczos/two_passes": round(paired_ratio(times, "hires_lanczos", "two_passes"), 4),
        "hires_latent/two_passes": round(paired_ratio(times, "hires_latent", "two_passes"), 4),
        "seconds_two_passes": round(statistics.median(times["two_passes"]), 4), "size": args.size,
        "hires_size": f"{width}x{height}", "steps": args.steps, "strength": args.strength,
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
