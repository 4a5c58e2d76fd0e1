"""The docs' screenshots of the Grid tab and of the attention overlay for two words, taken offscreen.

    python tools/screenshot_see.py --out docs/

- ``screenshot-grid.png``: a 3×2 grid of the bundled model (schedulers ddim, dpm++2m, euler-a across, 10 and 25
  steps down, seed 3), scrubbed back to 40 % of each cell's run.
- ``screenshot-attention.png``: Text to Image on a tiny random-weight SD pipeline (its maps look like noise: the shot
  is about the control), the canvas with the map of one word and then of another, side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.screenshot import ready_window, side_by_side, start_app  # noqa: E402


def settle(app, rounds: int = 30) -> None:
    for _ in range(rounds):
        app.processEvents()


def grid_shot(app, settings, out: Path) -> None:
    window = ready_window(app, settings, (1280, 820))
    panel = window.grid_panel
    window.tabs.setCurrentWidget(panel)
    form = panel.form
    form.model_box.setCurrentIndex(form.model_box.findData("bundled:emoji-32"))
    form.seed_field.keep(3)
    form.axis_rows[0].choose("scheduler", "ddim, dpm++2m, euler-a")
    form.axis_rows[1].choose("steps", "10, 25")
    done = []
    panel.grid_finished.connect(done.append)
    panel.run_series()
    while not done:
        app.processEvents()
    panel.slider.setValue(400)
    settle(app)
    window.grab().save(str(out / "screenshot-grid.png"))
    window.close()


def attention_shot(app, settings, tmp: Path, out: Path) -> None:
    from tests.tiny_sd import save_tiny_sd

    settings.add_model_folder(str(save_tiny_sd(tmp / "models" / "tiny-sd").parent))
    window = ready_window(app, settings, (1180, 760))
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-sd"))
    panel.prompts.prompt.setPlainText("a lighthouse on a cliff")
    panel.prompts.attention_maps.setChecked(True)
    panel.width_box.setValue(128)
    panel.height_box.setValue(128)
    panel.steps.setValue(10)
    panel.random_seed.setChecked(False)
    panel.seed.setText("3")
    before = panel.gallery.count()
    panel.generate()
    while panel.gallery.count() == before:
        app.processEvents()
    canvas = panel.canvas
    canvas.slider.setValue(4)  # step 5 of 10
    shots = []
    for word in ("lighthouse", "cliff"):
        canvas.attention.pick(word)
        settle(app)
        shots.append(canvas.grab())
    side_by_side(*shots).save(str(out / "screenshot-attention.png"))
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    app, tmp, settings = start_app()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grid_shot(app, settings, out)
    attention_shot(app, settings, tmp, out)


if __name__ == "__main__":
    main()
