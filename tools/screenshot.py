"""Screenshots of the app for the docs, taken offscreen: the Generate panel mid-run, the scrubber after a run, the
forward-process explorer, and the Train panel.

Needs a Qt binding whose void calls keep None alive (see tests/test_qt_binding.py): this script spins processEvents.

    python tools/screenshot.py --model bundled:emoji-32 --out docs/ [--train-run runs/emoji-32 [--train-log LOG]] \
        [--explorer-image PNG]

The Generate shot is grabbed while the sampler is between steps (a preview on the canvas, the progress bar part-way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def start_app():
    """The QApplication with the app's qasync loop, a temporary folder, and settings of its own in it (output there)."""
    import qasync
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.ui.core.settings import Settings

    app = QApplication([])
    asyncio.set_event_loop(qasync.QEventLoop(app))
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(tmp / "s.ini")
    settings.output_dir = str(tmp / "out")
    return app, tmp, settings


def side_by_side(left, right, gap: int = 12):
    """Two grabs (QPixmaps) on one dark sheet, left and right, tops aligned."""
    from PySide6.QtGui import QColor, QPainter, QPixmap

    sheet = QPixmap(left.width() + gap + right.width(), max(left.height(), right.height()))
    sheet.fill(QColor(40, 40, 48))
    painter = QPainter(sheet)
    painter.drawPixmap(0, 0, left)
    painter.drawPixmap(left.width() + gap, 0, right)
    painter.end()
    return sheet


def ready_window(app, settings, size: tuple[int, int]):
    """The main window on ``settings``, shown at ``size``, once its sampler is ready."""
    from ddpm_studio.ui.app.main_window import MainWindow

    window = MainWindow(settings=settings)
    window.resize(*size)
    window.show()
    ready = []
    window.sampler.backend_ready.connect(lambda *_: ready.append(1))
    window.start_backend()
    while not ready:
        app.processEvents()
    return window


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", default="docs")
    parser.add_argument("--scheduler", default="ddpm")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--stop-at", type=float, default=0.6, help="grab when this fraction of the steps is done")
    parser.add_argument("--train-run", help="a training output folder whose samples and log to show in the Train shot")
    parser.add_argument("--train-log", help="that run's log (default: RUN.log beside the run folder)")
    parser.add_argument("--explorer-image", help="a picture for the forward-process explorer shot")
    args = parser.parse_args()

    app, tmp, settings = start_app()
    if not args.model.startswith("bundled:"):
        settings.add_model_folder(args.model)
    window = ready_window(app, settings, (1180, 760))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    panel = window.generate_panel
    ref = args.model if args.model.startswith("bundled:") else str(Path(args.model).resolve())
    panel.select_model(ref)
    recommended = panel.scheduler_box.currentIndex(), panel.steps.value()  # what choosing the model filled in
    panel.batch.setValue(16)
    panel.random_seed.setChecked(False)  # the same pictures every time the docs are made
    panel.seed.setText("2026")
    # one finished run first, with the model's recommended settings, so the gallery has images
    done = []
    window.sampler.job_finished.connect(lambda *_: done.append(1))
    panel.scheduler_box.setCurrentIndex(recommended[0])
    panel.steps.setValue(recommended[1])
    panel.generate()
    while not done:
        app.processEvents()
    for _ in range(20):
        app.processEvents()
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData(args.scheduler))
    panel.steps.setValue(args.steps)
    panel.seed.setText("7")
    started = []
    window.sampler.job_started.connect(lambda *_: started.append(1))
    panel.generate()
    while not started or panel.canvas.progress.maximum() <= 1 or panel.canvas.progress.value() < args.stop_at * panel.canvas.progress.maximum():
        app.processEvents()
    window.sampler.cancel_current()
    for _ in range(20):
        app.processEvents()
    window.grab().save(str(out / "screenshot-generate.png"))

    show_scrubber(window, app, panel)
    window.grab().save(str(out / "screenshot-scrubber.png"))
    if args.explorer_image:
        show_explorer(window, app, args.model, args.explorer_image)
        window.grab().save(str(out / "screenshot-explorer.png"))

    if args.train_run:
        show_training(window, app, Path(args.train_run), Path(args.train_log) if args.train_log else None)
        window.grab().save(str(out / "screenshot-train.png"))
    window.close()


def show_scrubber(window, app, panel) -> None:
    """A finished 100-step DDPM run, scrubbed back to a third of the way."""
    while window.sampler.busy:  # the cancelled run of the previous shot ends first
        app.processEvents()
    for _ in range(20):
        app.processEvents()
    done = []
    window.sampler.job_finished.connect(lambda *_: done.append(1))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("ddpm"))
    panel.steps.setValue(100)
    panel.seed.setText("11")
    panel.generate()
    while not done:
        app.processEvents()
    for _ in range(20):
        app.processEvents()
    canvas = panel.canvas
    canvas.slider.setValue(int(canvas.slider.maximum() * 0.35))
    canvas.setFocus()
    for _ in range(20):
        app.processEvents()


def show_explorer(window, app, model: str, image: str) -> None:
    """The forward-process explorer on one picture, t = 300, with the model's noise estimate."""
    panel = window.explorer_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(max(0, panel.model_box.findData(model)))
    panel.load_image(image)
    panel.t_slider.setValue(300)
    task = panel.ask_model()
    while task is not None and not task.done():
        app.processEvents()
    for _ in range(20):
        app.processEvents()


def show_training(window, app, run: Path, log: Path | None = None) -> None:
    """Replay a finished run's log into the Train panel (loss plot, last sample), for the picture."""
    import re

    import numpy as np
    from PIL import Image

    from ddpm_studio.training.ddpm.config import TrainConfig
    from ddpm_studio.training.events import TrainEvent

    panel = window.train_panel
    window.tabs.setCurrentWidget(panel)
    config = TrainConfig.load(run / "train_config.json")
    panel._apply_config_dict(config.to_dict())
    panel.progress.setRange(0, config.max_steps)
    panel.scan_folder(config.data_dir)
    log = log or run.with_suffix(".log")
    for line in log.read_text().splitlines() if log.exists() else []:
        match = re.match(r"step (\d+)/(\d+) loss ([\d.]+) lr ([\d.e+-]+) ([\d.]+) img/s", line)
        if match:
            step, total, loss, lr, rate = match.groups()
            panel._on_event(TrainEvent("step", step=int(step), max_steps=int(total), loss=float(loss), lr=float(lr), images_per_s=float(rate)))
    samples = sorted((run / "samples").glob("step-*.png"))
    if samples:
        image = np.asarray(Image.open(samples[-1]).convert("RGB"))
        panel._on_event(TrainEvent("sample", step=int(samples[-1].stem.split("-")[1]), image=image, path=str(samples[-1])))
    for _ in range(200):
        app.processEvents()
    panel.scanner.wait()
    for _ in range(50):
        app.processEvents()


if __name__ == "__main__":
    main()
