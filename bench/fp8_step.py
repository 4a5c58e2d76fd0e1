"""float8 storage against bf16 per step on the CPU: what casting each layer's float8 weights to the compute dtype as
it runs (engine/models/storage/float8_casting.py) costs against weights already in that dtype.

One Z-Image-Turbo-wide transformer (diffusers' ZImageTransformer2DModel defaults: dim 3840, 30 heads, cap_feat_dim
2560) cut to 2 main layers and 1 refiner layer of each kind, random weights, a 256×256 picture (256 tokens) and a
32-token caption, one forward per step. Three sides, each the same weights, interleaved over rounds:

  bf16        the model in bf16, computed in bf16
  fp8>bf16    its linear weights float8 e4m3fn in memory, each layer cast to bf16 as it runs (the rest bf16)
  fp8>fp32    the same float8 weights, computed in fp32 (the rest fp32)

Prints one JSON line: seconds per step of each, fp8>bf16 over bf16, and the weights' bytes of each.

    python bench/fp8_step.py [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(storage: str):
    from diffusers import ZImageTransformer2DModel

    from ddpm_studio.engine.models.storage.float8_casting import enable_stored_float8

    torch.manual_seed(0)
    model = ZImageTransformer2DModel(n_layers=2, n_refiner_layers=1).to(torch.bfloat16).eval().requires_grad_(False)
    with torch.no_grad():  # made with torch.empty (diffusers' own tests fill them too)
        model.x_pad_token.fill_(1.0)
        model.cap_pad_token.fill_(1.0)
    if storage == "bf16":
        return model, torch.bfloat16
    compute = torch.bfloat16 if storage == "fp8>bf16" else torch.float32
    for name, param in model.named_parameters():  # as ComfyUI's fp8 files store them: the linear weights
        if name.endswith(".weight") and param.dim() == 2 and "norm" not in name:
            param.data = param.data.to(torch.float8_e4m3fn)
    enable_stored_float8(model, compute)
    return model, compute


def step(model, dtype) -> float:
    x = [torch.randn(16, 1, 32, 32, dtype=dtype)]  # 256² → 32² latents, patched 2×2: 256 tokens
    caption = [torch.randn(32, 2560, dtype=dtype)]
    started = time.perf_counter()
    with torch.inference_mode():
        model(x, torch.tensor([0.5]), caption)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sides = {name: build(name) for name in ("bf16", "fp8>bf16", "fp8>fp32")}
    times: dict[str, list[float]] = {name: [] for name in sides}
    for model, dtype in sides.values():
        step(model, dtype)  # warm-up
    for r in range(args.rounds):
        order = list(sides)[r % 3:] + list(sides)[:r % 3]
        for name in order:
            times[name].append(step(*sides[name]))
    seconds = {name: round(statistics.median(t), 3) for name, t in times.items()}
    size = {name: round(sum(p.numel() * p.element_size() for p in m.parameters()) / 1e9, 3)
            for name, (m, _) in sides.items()}
    print(json.dumps({"seconds_per_step": seconds, "fp8>bf16 / bf16": round(seconds["fp8>bf16"] / seconds["bf16"], 3),
                      "weights_gb": size, "threads": args.threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
