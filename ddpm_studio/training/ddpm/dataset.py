"""The torch Dataset over a scanned image folder: square crops in [-1, 1], cached in memory when small enough."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ddpm_studio.training.data import load_rgb, resize_short_side, scan

CACHE_BUDGET_BYTES = 2 * 1024**3


class ImageFolderDataset(torch.utils.data.Dataset):
    """Square crops at the training resolution, as float tensors in [-1, 1] (CHW)."""

    def __init__(self, folder: str | Path, resolution: int, center_crop: bool = True, random_flip: bool = True) -> None:
        self.resolution, self.center_crop, self.random_flip = resolution, center_crop, random_flip
        self.report, arrays = scan(folder, resolution, keep_budget=CACHE_BUDGET_BYTES)
        # all decoded images stay in memory when they fit the budget; otherwise each is decoded again when used
        self._arrays = arrays if len(arrays) == len(self.report.good) else None

    def __len__(self) -> int:
        return len(self.report.good)

    def _array(self, i: int) -> np.ndarray:
        if self._arrays is not None:
            return self._arrays[i]
        return np.array(resize_short_side(load_rgb(self.report.good[i]), self.resolution))

    def __getitem__(self, i: int) -> torch.Tensor:
        array = self._array(i)
        h, w = array.shape[:2]
        r = self.resolution
        if self.center_crop:
            top, left = (h - r) // 2, (w - r) // 2
        else:
            top, left = int(torch.randint(0, h - r + 1, ())), int(torch.randint(0, w - r + 1, ()))
        crop = array[top : top + r, left : left + r]
        if self.random_flip and torch.rand(()) < 0.5:
            crop = crop[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div(127.5).sub(1.0)
