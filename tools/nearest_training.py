"""Does the model make new pictures or copy its training set? Sample a grid, find each sample's nearest training image
(mean squared distance in pixels, 0-255) and draw them in pairs: sample above, nearest training image below.

    python tools/nearest_training.py --model bundled:emoji-32 --data data/emoji-32 --out /tmp/nearest.png

The printed figures: the median over the samples of the distance to the nearest training image, and, for scale, the
median distance from a training image to its nearest other training image. Samples far closer to the data than the
data is to itself would be copies.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def nearest(queries: np.ndarray, data: np.ndarray, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(index, mean squared distance) of each query's nearest row of ``data``; flattened float arrays."""
    distances = (queries**2).sum(1)[:, None] - 2 * queries @ data.T + (data**2).sum(1)[None, :]
    if exclude_self:
        np.fill_diagonal(distances, np.inf)
    index = distances.argmin(1)
    return index, distances[np.arange(len(queries)), index] / queries.shape[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled:emoji-32")
    parser.add_argument("--data", default="data/emoji-32")
    parser.add_argument("--out", default="nearest.png")
    parser.add_argument("--scheduler", help="default: the model's recommended one")
    parser.add_argument("--steps", type=int, help="default: the model's recommended count")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--autoguidance", type=float, help="default: the model's recommended scale (1: no guidance)")
    args = parser.parse_args()

    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.models.catalogue import resolve
    from ddpm_studio.engine.models.defaults import read_defaults
    from ddpm_studio.engine.runner import Engine

    defaults = read_defaults(resolve(args.model), args.model)
    scale = args.autoguidance if args.autoguidance is not None else defaults.get("guidance_scale", 1.0)
    guide = defaults.get("guide_model", "") if scale != 1.0 else ""
    job = GenerateJob(model=args.model, scheduler=args.scheduler or defaults.get("scheduler", "dpm++2m"),
                      steps=args.steps or defaults.get("steps", 25), seed=args.seed, batch_size=args.count, preview_every=0,
                      guide_model=guide, guidance_scale=scale if guide else 1.0)
    samples = Engine(device="cpu").run(job, save=False).images
    files = sorted(Path(args.data).glob("*.png"))
    data = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    if data.shape[1:] != samples.shape[1:]:
        raise SystemExit(f"{args.data} holds {data.shape[2]}×{data.shape[1]} images; the model makes {samples.shape[2]}×{samples.shape[1]}.")
    flat_data = data.reshape(len(data), -1).astype(np.float64)
    index, distance = nearest(samples.reshape(len(samples), -1).astype(np.float64), flat_data)
    _, data_distance = nearest(flat_data, flat_data, exclude_self=True)
    print(f"{job.scheduler}, {job.steps} steps, autoguidance {job.guidance_scale:g}, seed {job.seed}: median distance sample → nearest training image "
          f"{np.median(distance):.0f}; training image → nearest other one {np.median(data_distance):.0f} (MSE, 0-255)")

    size = samples.shape[1]
    columns = min(16, len(samples))
    rows = -(-len(samples) // columns)
    sheet = Image.new("RGB", (columns * (size + 2), rows * (2 * size + 6)), "white")
    for i, (sample, j) in enumerate(zip(samples, index)):
        x, y = (i % columns) * (size + 2), (i // columns) * (2 * size + 6)
        sheet.paste(Image.fromarray(sample), (x, y))
        sheet.paste(Image.fromarray(data[j]), (x, y + size + 1))
    sheet.resize((sheet.width * 2, sheet.height * 2), Image.Resampling.NEAREST).save(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
