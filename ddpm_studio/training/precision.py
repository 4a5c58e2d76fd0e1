"""Mixed precision ``auto``: measured, not assumed. bf16 autocast's speed depends on the CPU and the shapes: on a
CPU with avx512_bf16/AMX it trains the ``small`` UNet 1.38× faster (bench/RESULTS.md), on one with only avx2 it is
about ten times slower (issue 19). So ``auto`` times a few forward and backward passes of each precision the device
supports — fp32 always, bf16 on a CPU with bf16 instructions, fp16 and bf16 on CUDA — on the real model and batch,
without an optimizer step (the weights do not change) and without touching the random state, and picks the fastest
whose loss is finite. The choice is kept per (model config, batch, resolution, device, torch) in the cache folder,
so the next run of the same shape starts at once. No Qt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

AUTO = "auto"
CACHE_FILE = "precision.json"
NAMES = {"no": "fp32", "bf16": "bf16", "fp16": "fp16"}
TIMED_STEPS = 3


@dataclass
class Choice:
    precision: str  # "no", "bf16" or "fp16": what accelerate is given
    seconds: dict[str, float] = field(default_factory=dict)  # per candidate timed: seconds a step (inf: not finite)
    cached: bool = False

    def describe(self) -> str:
        chosen = NAMES[self.precision]
        timings = ", ".join(f"{NAMES[p]} {self.seconds[p]:.3g} s" if math.isfinite(self.seconds[p])
                            else f"{NAMES[p]} loss not finite" for p in sorted(self.seconds, key=list(NAMES).index))
        if self.cached:
            measured = f": {timings} per step" if timings else ""
            return f"Mixed precision auto: {chosen}, measured before for this model, batch and device{measured}"
        if len(self.seconds) <= 1:
            return f"Mixed precision auto: {chosen} (the only precision this device trains fast in)"
        return f"Mixed precision auto: {chosen}, the fastest of {timings} per step"


def cpu_has_bf16() -> bool:
    """Whether the CPU has bf16 instructions (avx512_bf16 or AMX); without them bf16 is emulated, and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def candidates(device: torch.device) -> list[str]:
    if device.type == "cuda":
        return ["no", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    if device.type == "cpu" and cpu_has_bf16():
        return ["no", "bf16"]
    return ["no"]


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return device.type


def cache_key(model_config: dict, batch: int, resolution: int, device: torch.device) -> str:
    text = json.dumps({"model": model_config, "batch": batch, "resolution": resolution,
                       "device": device_name(device), "threads": torch.get_num_threads(),
                       "torch": torch.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def autocast(device: torch.device, precision: str):
    if precision == "no":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def time_precision(loss_of: Callable[[object], torch.Tensor], params: list[torch.nn.Parameter], device: torch.device,
                   precision: str, steps: int = TIMED_STEPS) -> float:
    """Seconds per forward and backward pass under ``precision`` (after one untimed pass); inf if a loss is not
    finite. ``loss_of(autocast_context)`` computes one batch's loss. Gradients are cleared after, the weights and
    the random state are as before."""
    devices = [device.index or 0] if device.type == "cuda" else []
    seconds, finite = 0.0, True
    with torch.random.fork_rng(devices=devices):
        for number in range(steps + 1):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            loss = loss_of(autocast(device, precision))
            loss.backward()
            finite = finite and math.isfinite(float(loss.detach()))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if number:
                seconds += time.perf_counter() - start
            for p in params:
                p.grad = None
    return seconds / steps if finite else math.inf


def choose(key: str, options: list[str], measure: Callable[[str], float], cache: Path | None = None) -> Choice:
    """The fastest of ``options`` by ``measure(precision)`` (seconds per step, inf when not finite), remembered
    under ``key`` in ``cache``; fp32 when nothing else is finite."""
    known = _read(cache)
    if len(options) == 1:
        return Choice(options[0], {options[0]: math.nan})
    entry = known.get(key)
    entry = {"precision": entry} if isinstance(entry, str) else entry  # caches written before the timings were kept
    if isinstance(entry, dict) and entry.get("precision") in options:
        seconds = entry.get("seconds") if isinstance(entry.get("seconds"), dict) else {}
        kept = {p: float(v) for p, v in seconds.items() if p in NAMES and isinstance(v, (int, float))}
        return Choice(entry["precision"], kept, cached=True)
    seconds = {p: measure(p) for p in options}
    finite = {p: s for p, s in seconds.items() if math.isfinite(s)}
    best = min(finite, key=finite.get) if finite else "no"
    if cache is not None:
        known[key] = {"precision": best, "seconds": seconds}
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=1, sort_keys=True), encoding="utf-8")
        except OSError:
            pass  # a cache that cannot be written only means measuring again next time
    return Choice(best, seconds)


def _read(cache: Path | None) -> dict:
    if cache is None:
        return {}
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def cache_path() -> Path:
    from ddpm_studio.paths import cache_dir

    return cache_dir() / CACHE_FILE


def agree(choice: Choice) -> Choice:
    """Under several processes, every one trains in the main process's choice (they would hang otherwise)."""
    if not torch.distributed.is_available() or not torch.distributed.is_initialized():
        return choice
    shared = [choice.precision]
    torch.distributed.broadcast_object_list(shared, src=0)
    return Choice(shared[0], choice.seconds, choice.cached) if shared[0] != choice.precision else choice


def settle_precision(config, model_config: dict, loss_of, params, device, emit):
    """``config`` with its precision settled: with ``auto``, the fastest one measured on this model and batch,
    recorded as ``chosen_precision`` and said in a ``precision`` event; else as it is."""
    import dataclasses

    from ddpm_studio.training.events import TrainEvent

    if config.mixed_precision != AUTO:
        return config
    key = cache_key(model_config, config.batch_size, config.resolution, device)
    choice = agree(choose(key, candidates(device), lambda p: time_precision(loss_of, params, device, p),
                          cache_path()))
    emit(TrainEvent("precision", max_steps=config.max_steps, message=choice.describe(),
                    precision=NAMES[choice.precision]))
    return dataclasses.replace(config, chosen_precision=choice.precision)


def as_set(config):
    """The ``precision`` event of a run whose precision was set, not measured."""
    from ddpm_studio.training.events import TrainEvent

    name = NAMES.get(config.mixed_precision, config.mixed_precision)
    return TrainEvent("precision", max_steps=config.max_steps, precision=name,
                      message=f"Mixed precision {name}, as set (auto would time each precision this device has and "
                              "take the fastest)")


class AutocastOn:
    """What a loss function needs of the Accelerator (``device``, ``autocast()``), for timing a precision."""

    def __init__(self, device, context) -> None:
        self.device, self.context = device, context

    def autocast(self):
        return self.context
