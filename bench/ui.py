"""UI benchmark: does sampling freeze the window, and is the window up before the heavy imports?

1. Event-loop gaps: the real MainWindow (offscreen) samples a small UNet with previews every step while a 5 ms
   QTimer probe records when it fires; the longest gap between firings is how long the GUI was unresponsive.
2. Start-up: wall time from process start to "window shown" for `ddpm-studio gui`, next to the wall time of a fresh
   `python -c "import diffusers"`, both as subprocesses measured the same way.

Prints a table, then one JSON line. Targets: longest gap ≤ 50 ms; window first, in under a third of the import.

    python bench/ui.py [--preset small] [--resolution 32] [--batch 8] [--steps 50] [--threads 2] [--starts 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def event_loop_gaps(args) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import asyncio

    import qasync
    import torch
    from diffusers import DDPMPipeline, DDPMScheduler
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.training.ddpm.presets import build_unet
    from ddpm_studio.ui.app.main_window import MainWindow
    from ddpm_studio.ui.core.settings import Settings

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="ddpm-ui-bench-"))
    DDPMPipeline(unet=build_unet(args.preset, args.resolution), scheduler=DDPMScheduler()).save_pretrained(tmp / "models" / "bench")
    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    settings = Settings(tmp / "settings.ini")
    settings.add_model_folder(str(tmp / "models"))
    settings.output_dir = str(tmp / "out")
    window = MainWindow(settings=settings, device="cpu")
    window.show()

    ticks: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    probe = QTimer()
    probe.setInterval(5)
    probe.timeout.connect(lambda: ticks.append(clock.nsecsElapsed() / 1e6))
    finished = []
    window.sampler.job_finished.connect(lambda *_: finished.append(clock.nsecsElapsed() / 1e6))
    window.sampler.backend_ready.connect(lambda *_: QTimer.singleShot(0, start))
    previews = []
    window.sampler.preview_ready.connect(lambda: previews.append(1))

    def start():
        panel = window.generate_panel
        panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("dpm++2m"))
        panel.steps.setValue(args.steps)
        panel.batch.setValue(args.batch)
        started.append(clock.nsecsElapsed() / 1e6)
        probe.start()
        panel.generate()

    started: list[float] = []
    window.start_backend()
    deadline = time.time() + 600
    while not finished and time.time() < deadline:
        app.processEvents()
        time.sleep(0.001)
    probe.stop()
    for _ in range(50):  # let the last preview paint before we look
        app.processEvents()
    shown_steps = window.generate_panel.canvas.progress.value()
    window.close()
    window.sampler.wait(30000)

    during = [t for t in ticks if started[0] <= t <= finished[0]]
    gaps = [b - a for a, b in zip(during, during[1:])]
    return {
        "run_seconds": (finished[0] - started[0]) / 1000,
        "longest_gap_ms": max(gaps) if gaps else float("nan"),
        "p99_gap_ms": statistics.quantiles(gaps, n=100)[98] if len(gaps) > 100 else max(gaps, default=float("nan")),
        "probe_ticks": len(during),
        "preview_signals": len(previews),
        "steps": args.steps,
        "canvas_reached_step": shown_steps,
    }


def wall_time_until(cmd: list[str], marker: str | None, env: dict) -> float:
    """Seconds from spawning ``cmd`` until it prints a line containing ``marker`` (or until it exits)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    elapsed = None
    for line in proc.stdout:
        if marker and marker in line and elapsed is None:
            elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed if elapsed is not None else time.perf_counter() - start


def startup(args) -> dict:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1",
           "DDPM_STUDIO_SETTINGS": str(Path(tempfile.mkdtemp()) / "s.ini")}
    window, diffusers_import = [], []
    for _ in range(args.starts):  # interleaved
        window.append(wall_time_until([sys.executable, "-m", "ddpm_studio", "gui", "--exit-when-ready", "--device", "cpu"], "window shown", env))
        diffusers_import.append(wall_time_until([sys.executable, "-c", "import diffusers, diffusers.models.unets.unet_2d"], None, env))
    return {"window_shown_s": statistics.median(window), "import_diffusers_s": statistics.median(diffusers_import)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()

    start = startup(args)  # first, before this process imports anything heavy
    gaps = event_loop_gaps(args)
    import torch

    print(f"sampling {gaps['steps']} steps took {gaps['run_seconds']:.2f} s; probe fired {gaps['probe_ticks']} times; "
          f"{gaps['preview_signals']} preview signals; canvas reached step {gaps['canvas_reached_step']}")
    print(f"longest event-loop gap {gaps['longest_gap_ms']:.1f} ms (p99 {gaps['p99_gap_ms']:.1f} ms)")
    print(f"window shown after {start['window_shown_s']:.2f} s; `import diffusers` alone takes {start['import_diffusers_s']:.2f} s")
    print(json.dumps({
        "longest_event_loop_gap_ms": round(gaps["longest_gap_ms"], 1),
        "p99_event_loop_gap_ms": round(gaps["p99_gap_ms"], 1),
        "window_shown_s": round(start["window_shown_s"], 3),
        "import_diffusers_s": round(start["import_diffusers_s"], 3),
        "window_over_import": round(start["window_shown_s"] / start["import_diffusers_s"], 3),
        "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
