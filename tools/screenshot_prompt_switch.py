"""The docs' screenshot of prompt editing: a Text to Image run on a tiny random-weight SD pipeline (its pictures are
noise: the shot is about the marks) whose prompt switches at half of its steps, scrubbed back to the step where it
switched — the scrubber's label names the new text, the trajectory plot marks the step with a dotted line.

    python tools/screenshot_prompt_switch.py --out docs/     # writes screenshot-prompt-switch.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.screenshot import ready_window, start_app  # noqa: E402
from tools.screenshot_see import settle  # noqa: E402


def prompt_switch_shot(app, settings, tmp: Path, out: Path) -> None:
    from tests.tiny_sd import save_tiny_sd

    model = save_tiny_sd(tmp / "models" / "tiny-sd")
    settings.add_model_folder(str(model.parent))
    window = ready_window(app, settings, (1180, 900))
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-sd"))
    panel.prompts.prompt.setPlainText("a house on a hill, [ink drawing:oil painting:0.5]")
    panel.width_box.setValue(128)
    panel.height_box.setValue(128)
    panel.steps.setValue(20)
    panel.seed_field.keep(3)
    finished = []
    window.sampler.job_finished.connect(lambda *_: finished.append(1))
    panel.generate()
    while not finished:
        app.processEvents()
    settle(app, 60)
    canvas = panel.canvas
    switched = [index for index, _text in canvas.trajectory.switches]
    frames = canvas._history.frames() if canvas._history is not None else []
    at = next((n for n, frame in enumerate(frames) if switched and frame.index == switched[0]), None)
    if at is None:
        raise SystemExit(f"no prompt switch was reported (switches: {switched})")
    canvas.slider.setValue(at)
    settle(app, 30)
    window.grab().save(str(out / "screenshot-prompt-switch.png"))
    window.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    app, tmp, settings = start_app()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prompt_switch_shot(app, settings, tmp, out)


if __name__ == "__main__":
    main()
