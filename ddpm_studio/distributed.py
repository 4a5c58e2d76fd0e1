"""Which process this is, when ``accelerate launch`` (or torchrun) started several. Without a GPU, accelerate must be
told that its processes are CPU ones, or each of them runs alone (``PartialState`` is made once per process, so
every caller asks through here). No Qt; torch and accelerate imported only when asked."""

from __future__ import annotations

import os


def several_processes() -> bool:
    """Whether this process is one of several started by ``accelerate launch`` (or torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def several_cpu_processes() -> bool:
    """Several processes and no GPU (``accelerate launch --multi_gpu --num_processes K`` on a CPU machine): they
    talk over gloo."""
    if not several_processes():
        return False
    import torch

    return not torch.cuda.is_available()


def process_state():
    """accelerate's ``PartialState`` for this process, CPU processes included."""
    from accelerate import PartialState

    return PartialState(cpu=several_cpu_processes())
