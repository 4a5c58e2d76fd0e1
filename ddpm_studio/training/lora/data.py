"""A captioned folder for LoRA training: every picture decoded once (the same robust loader and report as the DDPM
trainer's, ``data.py``), its caption read (``captions.py``), its aspect-ratio bucket chosen (``buckets.py``), and —
once a VAE is at hand — its latents cached: the VAE's mean and spread per picture (and per mirrored picture when
flipping), so a step draws its latents from them instead of running the encoder. Batches hold pictures of one
bucket, in an order fixed by the seed and the epoch, so a resumed run sees the batches an unbroken one would.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ddpm_studio.training.data import DataError, DataReport, find_images, load_rgb
from ddpm_studio.training.lora.buckets import bucket_sizes, fit_to_bucket, nearest_bucket, square_size
from ddpm_studio.training.lora.captions import CaptionOptions, orphan_captions, read_captions


@dataclass
class LoraReport(DataReport):
    notes: list[tuple[Path, str]] = field(default_factory=list)  # caption files that are empty or have no image

    def details(self) -> str:
        lines = [f"skipped {path}: {reason}" for path, reason in self.bad]
        return "\n".join(lines + [f"note {path}: {reason}" for path, reason in self.notes])


@dataclass
class LoraItem:
    path: Path
    caption: str
    bucket: tuple[int, int]  # (width, height) it is trained at
    original_size: tuple[int, int]  # (height, width) of the picture, for SDXL's size conditioning
    crop: tuple[int, int] = (0, 0)  # (top, left) of the cut, in the scaled picture
    latents: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # (mean, std); [1]: mirrored


class LoraData:
    def __init__(self, folder: str | Path, resolution: int, captions: CaptionOptions, buckets: bool = True) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise DataError(f"Training folder not found: {self.folder}")
        self.resolution, self.options = resolution, captions
        self.report = LoraReport(self.folder)
        sizes = bucket_sizes(resolution) if buckets else [square_size(resolution)]
        good = []
        for path in find_images(self.folder):
            try:
                with_size = load_rgb(path)
            except (ValueError, OSError) as exc:
                self.report.bad.append((path, str(exc)))
                continue
            good.append((path, (with_size.height, with_size.width)))
        if not good:
            bad = f" ({len(self.report.bad)} file(s) could not be used)" if self.report.bad else ""
            raise DataError(f"No usable image in {self.folder}{bad}.")
        texts, problems = read_captions([p for p, _ in good], captions)
        self.report.notes.extend(problems + orphan_captions(self.folder))
        self.items = []
        for (path, (height, width)), caption in zip(good, texts):
            self.report.good.append(path)
            self.items.append(LoraItem(path, caption, nearest_bucket(width, height, sizes), (height, width)))

    def __len__(self) -> int:
        return len(self.items)

    def bucket_summary(self) -> str:
        counts = Counter(item.bucket for item in self.items)
        shown = ", ".join(f"{w}×{h} ({n})" for (w, h), n in sorted(counts.items(), key=lambda kv: -kv[1]))
        return f"{len(counts)} bucket{'s' if len(counts) != 1 else ''}: {shown}"

    def pixels(self, item: LoraItem) -> torch.Tensor:
        """The picture cut to its bucket, CHW in [-1, 1]; records where it was cut."""
        picture, item.crop = fit_to_bucket(load_rgb(item.path), item.bucket)
        array = np.asarray(picture, dtype=np.float32) / 127.5 - 1.0
        return torch.from_numpy(array).permute(2, 0, 1)

    @torch.no_grad()
    def cache_latents(self, vae, device, flip: bool, on_progress=None) -> None:
        """Each picture through the VAE's encoder once (mirrored too with ``flip``): its mean and spread, scaled."""
        scale = vae.config.scaling_factor
        dtype = next(vae.parameters()).dtype
        for number, item in enumerate(self.items):
            pixels = self.pixels(item).unsqueeze(0)
            views = [pixels, pixels.flip(-1)] if flip else [pixels]
            batch = torch.cat(views).to(device, dtype)
            dist = vae.encode(batch).latent_dist
            item.latents = [((dist.mean[i] * scale).float().cpu(), (dist.std[i] * scale).float().cpu())
                            for i in range(len(views))]
            if on_progress is not None:
                on_progress(number + 1, len(self.items))

    def epoch_batches(self, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
        """This epoch's batches: item numbers of one bucket each, shuffled by (seed, epoch); a bucket's last
        short batch is kept (a small folder still trains every picture)."""
        rng = random.Random(seed * 100_003 + epoch)
        by_bucket: dict[tuple[int, int], list[int]] = {}
        for number, item in enumerate(self.items):
            by_bucket.setdefault(item.bucket, []).append(number)
        batches = []
        for bucket in sorted(by_bucket):
            numbers = by_bucket[bucket]
            rng.shuffle(numbers)
            batches.extend(numbers[i:i + batch_size] for i in range(0, len(numbers), batch_size))
        rng.shuffle(batches)
        return batches

    def batch_at(self, index: int, batch_size: int, seed: int) -> list[int]:
        """The ``index``-th batch of the whole run (epochs one after another)."""
        per_epoch = len(self.epoch_batches(batch_size, seed, 0))
        return self.epoch_batches(batch_size, seed, index // per_epoch)[index % per_epoch]
