"""A training command killed as a crash or a power cut kills it: SIGKILL once a checkpoint is written, then the
torn ``.partial`` folder a kill in mid-write leaves behind."""

from __future__ import annotations

import signal
import subprocess
import time

from ddpm_studio.training.checkpoints import latest_checkpoint


def kill_after_checkpoint(cmd: list[str], out, at_least: int, env: dict, deadline_s: float = 180) -> int:
    """Run ``cmd`` until ``out`` has a complete checkpoint at step ≥ ``at_least``, kill it, leave a torn partial
    checkpoint beside it; returns the latest complete step."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + deadline_s  # a guard against a hang, not a timing: the loop waits on the files
        while time.time() < deadline and (latest_checkpoint(out) is None or latest_checkpoint(out)[0] < at_least):
            time.sleep(0.2)
        assert latest_checkpoint(out) is not None, "no checkpoint appeared"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (out / "checkpoints" / "checkpoint-99999999.partial").mkdir()
    return latest_checkpoint(out)[0]
