"""The docs' screenshot of the Train panel training a Stable Diffusion LoRA, taken offscreen: a tiny random-weight
SD pipeline (its validation pictures are noise: the shot is about the panel), a folder of drawn pictures of three
shapes with some caption files, a short run with validation pictures, and one picture's caption open.

    python tools/screenshot_lora_training.py --out docs/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.screenshot import ready_window, start_app  # noqa: E402


def drawn_folder(folder: Path) -> Path:
    """Twelve pictures — circles, stars and boxes, square, wide and tall — four with captions."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    sizes = [(96, 96), (160, 80), (80, 140)]
    colours = [(230, 90, 60), (60, 140, 220), (250, 200, 60), (120, 190, 90)]
    for i in range(12):
        width, height = sizes[i % 3]
        picture = Image.new("RGB", (width, height), (250, 246, 235))
        draw = ImageDraw.Draw(picture)
        box = (width * 0.2, height * 0.2, width * 0.8, height * 0.8)
        shape = ("circle", "star", "box")[i // 4 % 3]
        colour = colours[i % 4]
        if shape == "circle":
            draw.ellipse(box, fill=colour)
        elif shape == "box":
            draw.rectangle(box, fill=colour, outline=(40, 40, 40), width=3)
        else:
            cx, cy, r = width / 2, height / 2, min(width, height) * 0.35
            import math
            points = [(cx + (r if k % 2 == 0 else r / 2.4) * math.sin(k * math.pi / 5),
                       cy - (r if k % 2 == 0 else r / 2.4) * math.cos(k * math.pi / 5)) for k in range(10)]
            draw.polygon(points, fill=colour)
        picture.save(folder / f"{shape}-{i:02d}.png")
        if i % 3 == 0:
            (folder / f"{shape}-{i:02d}.txt").write_text(f"{shape}, flat colour, cream background\n",
                                                         encoding="utf-8")
    return folder


def main() -> None:
    from tests.tiny_sd import save_tiny_sd

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    app, tmp, settings = start_app()
    settings.add_model_folder(str(save_tiny_sd(tmp / "models" / "my-sd15-model").parent))
    window = ready_window(app, settings, (1280, 860))
    panel = window.train_panel
    window.tabs.setCurrentWidget(panel)
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    panel.lora_fields.trigger.setText("shp_style")
    panel.resolution.setValue(64)
    panel.steps.setValue(60)
    panel.lr.setValue(2e-3)
    panel.sample_every.setValue(20)
    panel.checkpoint_every.setValue(30)
    data = drawn_folder(tmp / "my-shapes")
    panel.folder.setText(str(data))
    panel.output.setText(str(tmp / "runs" / "shp_style"))
    panel.scan_folder(str(data))
    while panel.thumbnails.count() < 12:
        app.processEvents()
    done = []
    panel.lora_exported.connect(done.append)
    panel.start()
    while not done or panel.trainer is not None:
        app.processEvents()
    captioned = next(panel.thumbnails.item(i) for i in range(panel.thumbnails.count())
                     if panel.thumbnails.item(i).toolTip().endswith("box-09.png"))
    panel.data_view.show_caption(captioned)
    for _ in range(30):
        app.processEvents()
    window.grab().save(str(Path(args.out) / "screenshot-train-lora.png"))
    window.close()


if __name__ == "__main__":
    main()
