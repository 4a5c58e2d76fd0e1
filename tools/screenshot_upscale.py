"""The docs' screenshot of the Upscale panel with a model upscaler and the before/after view, taken offscreen.

The upscaler is an ESRGAN file in the layout spandrel reads, with hand-set weights rather than random ones, so the
picture is a picture: its convolutions pass the colours through, the two 2× upsamplings repeat pixels, the last two
layers blur the blocks away and sharpen the edges again — a crude 4× upscaler, visibly unlike the Lanczos beside it.
The input is one of the bundled model's emoji (docs/samples-emoji.png), made small.

    python tools/screenshot_upscale.py --out docs/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent


def handmade_esrgan(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    from ddpm_studio.engine.models.upscaler_files import spandrel

    spandrel()
    from spandrel.architectures.ESRGAN import ESRGAN

    model = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    blur = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    sharpen = torch.tensor([[0.0, -0.5, 0], [-0.5, 3, -0.5], [0, -0.5, 0]])
    with torch.no_grad():
        for conv in convs:  # every block inside the trunk adds nothing: the trunk passes its input through
            conv.weight.zero_()
            conv.bias.zero_()
        for conv, kernel in ((convs[0], None), (convs[-4], None), (convs[-3], None), (convs[-2], blur),
                             (convs[-1], sharpen)):
            for c in range(3):  # colour c in feature c, through the first conv, the upsamplings and the last two
                if kernel is None:
                    conv.weight[c, c, 1, 1] = 1.0
                else:
                    conv.weight[c, c] = kernel
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()

    from PIL import Image

    from tools.screenshot import ready_window, start_app

    app, tmp, settings = start_app()
    model = handmade_esrgan(tmp / "ESRGAN" / "4x-handmade.safetensors")
    settings.add_model_folder(str(model.parent))
    with Image.open(ROOT / "docs" / "samples-emoji.png") as sheet:
        picture = tmp / "emoji.png"
        # one emoji of the sheet, brought down to a small smooth picture (the sheet shows them pixel for pixel)
        sheet.convert("RGB").crop((0, 0, 137, 137)).resize((56, 56), Image.Resampling.LANCZOS).save(picture)
    window = ready_window(app, settings, (1180, 800))
    panel = window.upscale_panel
    window.tabs.setCurrentWidget(panel)
    panel.select_model(str(model.resolve()))
    panel.load_image(str(picture))
    done = []
    window.sampler.job_finished.connect(lambda *_: done.append(1))
    panel.generate()
    while not done:
        app.processEvents()
    for _ in range(30):
        app.processEvents()
    panel.compare.set_split(0.5)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "screenshot-upscale.png"))
    window.close()


if __name__ == "__main__":
    main()
