"""The docs' screenshot of the Gallery tab: 24 samples of the bundled model (seeds 0–23, two schedulers) indexed
as they were made, a search for one scheduler, an image with stars chosen, and beside the window the comparison of
two images (their parameters that differ). Taken offscreen in a data folder of its own.

    python tools/screenshot_gallery.py --out docs/
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
WORK = Path(tempfile.mkdtemp(prefix="ddpm-studio-gallery-shot-"))
os.environ["XDG_DATA_HOME"] = str(WORK / "data")  # the shot's own index, never the user's
os.environ["DDPM_STUDIO_CACHE"] = str(WORK / "cache")

from tools.screenshot import ready_window, side_by_side, start_app  # noqa: E402
from tools.screenshot_see import settle  # noqa: E402


def make_samples() -> None:
    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.runner import Engine

    engine = Engine(device="cpu")
    for scheduler, first in (("euler-a", 0), ("ddim", 12)):
        engine.run(GenerateJob(model="bundled:emoji-32", scheduler=scheduler, steps=25, seed=first, batch_size=12,
                               guide_model="bundled:emoji-32/guide", guidance_scale=2.0, preview_every=0,
                               output_dir=str(WORK / "out")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs")
    args = parser.parse_args()
    make_samples()
    app, _tmp, settings = start_app()
    window = ready_window(app, settings, (1180, 760))
    panel = window.gallery_panel
    window.tabs.setCurrentWidget(panel)
    panel.search.setText("sampler:ddim")
    panel.refresh()
    panel.model.thumbnails.wait()
    settle(app, 60)
    selection = panel.grid.selectionModel()
    selection.select(panel.model.index(3), selection.SelectionFlag.Select)
    panel.details._star(4)
    settle(app)
    shot = window.grab()
    selection.select(panel.model.index(7), selection.SelectionFlag.Select)
    dialog = panel.compare()
    dialog.resize(620, 560)
    settle(app, 40)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    side_by_side(shot, dialog.grab()).save(str(Path(args.out) / "screenshot-gallery.png"))
    window.close()


if __name__ == "__main__":
    main()
