"""Host memory kept for reuse: glibc's malloc tuned so that tensors freed on the CPU are handed to the next
allocation instead of back to the kernel.

By default glibc serves blocks above its mmap threshold (128 KiB, raised as big blocks are freed, up to 32 MiB)
with fresh ``mmap`` pages and returns the top of its heap once 128 KiB of it are free. A CPU training step allocates
and frees hundreds of megabytes of activations and gradients, so every step faults all those pages in again and the
kernel zeroes them: about 60 000 page faults per step for the ``small`` UNet at batch 64, about a fifth of the step,
and a sampling step at batch 8 pays the same way (bench/host_memory.py measures both). With the mmap threshold fixed
at glibc's largest (32 MiB) and the trim threshold at 1 GiB, the pages stay with the process and are reused; what
the process holds stays near its peak working set, as with jemalloc or tcmalloc, which PyTorch's CPU tuning guide
recommends for the same reason.

No effect where the C library is not glibc, and none when the user has set glibc's own ``MALLOC_MMAP_THRESHOLD_``
or ``MALLOC_TRIM_THRESHOLD_`` (theirs win) or ``DDPM_STUDIO_HOST_MEMORY=default``. No Qt, no torch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1 << 30
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as the module docstring says, once per process; whether the tuning is in effect."""
    global _applied
    if _applied is None:
        _applied = _tune()
    return _applied


def _tune() -> bool:
    if not sys.platform.startswith("linux") or os.environ.get("DDPM_STUDIO_HOST_MEMORY") == "default":
        return False
    if any(name in os.environ for name in USER_SETTINGS):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mmap threshold first: setting either one stops glibc's own adjustment of both
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
