"""The docs' screenshots of control and composition, taken offscreen on tiny random-weight networks (their pictures
are noise: the shots are about the controls).

    python tools/screenshot_control.py --out docs/

- ``screenshot-scribble.png``: Text to Image with a ControlNet unit whose control image was drawn in the app (the
  Draw… page beside the window), after the run.
- ``screenshot-outpaint.png``: Edit outpainting the bundled model's sample grid 128 px to the right with a tiny
  inpainting model: the kept picture, the seam, the painted new area.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.screenshot import ready_window, side_by_side, start_app  # noqa: E402
from tools.screenshot_see import settle  # noqa: E402


def run(app, window, panel) -> None:
    finished = []
    window.sampler.job_finished.connect(lambda *_: finished.append(1))
    panel.generate()
    while not finished:
        app.processEvents()
    settle(app, 60)


def scribble_shot(app, settings, tmp: Path, out: Path) -> None:
    from PySide6.QtCore import QPointF

    from tests.tiny_controlnet import save_tiny_controlnet
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp / "models" / "tiny-sd")
    home = tmp / "home"
    save_tiny_controlnet(home / "models" / "ControlNet" / "scribble-tiny", model)
    (home / "models" / "Stable-diffusion").mkdir(parents=True)
    settings.add_model_folder(str(model.parent))
    window = ready_window(app, settings, (1180, 940))
    window.use_models_home(str(home))
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-sd"))
    panel.prompts.prompt.setPlainText("a house on a hill, ink drawing")
    panel.width_box.setValue(128)
    panel.height_box.setValue(128)
    panel.steps.setValue(10)
    panel.seed_field.keep(3)
    unit = panel.control.add_unit()
    dialog = unit.draw()
    dialog.painter.brush = 4
    house = [(20, 110), (20, 60), (64, 24), (108, 60), (108, 110), (20, 110)]
    for start, end in zip(house, house[1:]):
        dialog.painter.paint_stroke(QPointF(*start), QPointF(*end))
    dialog.painter.paint_stroke(QPointF(0, 118), QPointF(127, 100))
    settle(app)
    page = dialog.grab()
    dialog.ok.click()
    run(app, window, panel)
    side_by_side(window.grab(), page).save(str(out / "screenshot-scribble.png"))
    window.close()


def outpaint_shot(app, settings, tmp: Path, out: Path) -> None:
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp / "inpaint-models" / "tiny-inpaint", "inpaint")
    settings.add_model_folder(str(model.parent))
    window = ready_window(app, settings, (1180, 820))
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.mode_box.setCurrentIndex(panel.mode_box.findData("outpaint"))
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-inpaint"))
    panel.load_image(str(Path(__file__).resolve().parent.parent / "docs" / "samples-emoji.png"))
    panel.outpaint.sides["right"].setValue(128)
    panel.prompts.prompt.setPlainText("more emoji on white")
    panel.strength.setValue(1.0)
    panel.steps.setValue(10)
    panel.seed_field.keep(3)
    run(app, window, panel)
    window.grab().save(str(out / "screenshot-outpaint.png"))
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    app, tmp, settings = start_app()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scribble_shot(app, settings, tmp, out)
    outpaint_shot(app, settings, tmp, out)


if __name__ == "__main__":
    main()
