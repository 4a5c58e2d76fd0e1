"""The gallery index at scale: an index of ``--rows`` synthetic rows (prompts drawn from a small vocabulary, seeds,
models, schedulers and dates spread out), then, timed: a word search (two words, the first page of 200 newest),
a seed lookup, a filtered search (model + sampler + date range), and indexing a folder of ``--files`` of our own PNGs
(written by the engine's own writer with full metadata; pixels small). Targets (issue 21): ≤ 50 ms for the word
search and the seed lookup. Then the Gallery tab opened on that index (offscreen Qt), timed from show() to the first
paint of its grid (thumbnails still placeholders: the synthetic rows have no files), target ≤ 300 ms.

Prints a table, then one JSON line.

    python bench/gallery.py [--rows 100000] [--files 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ("red fox forest castle hill lighthouse dusk oil painting portrait woman man cat dog city night neon river "
         "mountain snow desert ship sea storm flower garden robot dragon knight wizard cottage bridge").split()
MODELS = ("dreamshaper_8", "sd15", "sdxl_base", "emoji-32", "anything-v5", "realistic-vision")
SCHEDULERS = ("ddim", "dpm++2m", "dpm++2m-karras", "euler", "euler-a", "unipc")


def synthetic_rows(count: int, seed: int = 0):
    rng = random.Random(seed)
    start = time.time() - 365 * 86400
    for number in range(count):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        yield {"path": f"/synthetic/{number // 1000:04d}/{number:07d}.png", "size": 400_000, "mtime": start,
               "source": "ddpm-studio", "kind": "txt2img", "model": rng.choice(MODELS), "prompt": prompt,
               "negative": "blurry, lowres" if rng.random() < 0.5 else "", "seed": rng.randrange(2**32),
               "scheduler": rng.choice(SCHEDULERS), "steps": rng.choice((20, 25, 30)), "guidance": 7.0,
               "loras": "", "width": 512, "height": 512, "device": "cuda/float16",
               "created": start + number * 365 * 86400 / count}


def timed(call, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def first_paint() -> float:
    """Seconds from showing the Gallery tab (a new one, on the big index) to the first paint of its grid."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.ui.core.settings import Settings
    from ddpm_studio.ui.gallery.panel import GalleryPanel

    app = QApplication.instance() or QApplication([])
    painted = []

    class Watch(QObject):
        def eventFilter(self, _obj, event) -> bool:
            if event.type() == QEvent.Type.Paint and not painted:
                painted.append(time.perf_counter())
            return False

    panel = GalleryPanel(Settings(Path(tempfile.mkdtemp()) / "s.ini"))
    watch = Watch()
    panel.grid.viewport().installEventFilter(watch)
    panel.resize(1180, 760)
    started = time.perf_counter()
    panel.show()
    while not painted:
        app.processEvents()
    seconds = painted[0] - started
    panel.shutdown()
    panel.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import numpy as np

    from ddpm_studio.engine.gallery.index import GalleryIndex
    from ddpm_studio.engine.jobs.types import GenerateJob
    from ddpm_studio.engine.output.save import save_result_images

    work = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    index = GalleryIndex(work / "big.sqlite")
    started = time.perf_counter()
    rows = list(synthetic_rows(args.rows))
    for first in range(0, len(rows), 5000):
        index._write(rows[first:first + 5000])
    filled = time.perf_counter() - started
    needle = rows[len(rows) // 2]["seed"]
    def search(text: str):  # the synthetic paths have no files behind them: not looked for
        return index.search(text, limit=200, check_files=False)

    results = {
        "word_search": timed(lambda: search("castle dusk"), args.rounds),
        "seed_lookup": timed(lambda: search(f"seed:{needle}"), args.rounds),
        "filtered_search": timed(lambda: search("portrait model:dream sampler:euler-a since:2026-06-01"), args.rounds),
        "count_all_matches": timed(lambda: index.count("castle"), args.rounds),
    }
    import os

    matches = index.count("castle")
    os.environ["DDPM_STUDIO_GALLERY"] = str(work / "big.sqlite")
    index.close()
    results["open_panel_first_paint"] = first_paint()
    folder = work / "pngs"
    job = GenerateJob(model="bundled:emoji-32", seed=0, batch_size=1)
    picture = (np.random.default_rng(0).random((1, 64, 64, 3)) * 255).astype(np.uint8)
    os.environ["DDPM_STUDIO_GALLERY"] = "off"  # written without indexing, then indexed as a folder
    for number in range(args.files):
        save_result_images(job.replace(seed=number), picture, folder, model_name="emoji-32", device="cpu/float32")
    small = GalleryIndex(work / "small.sqlite")
    started = time.perf_counter()
    report = small.add_folder(folder)
    indexing = time.perf_counter() - started
    print(f"{'what':22} {'ms':>9}")
    for name, seconds in results.items():
        print(f"{name:22} {seconds * 1000:9.2f}")
    print(f"filled {args.rows} rows in {filled:.1f} s; indexed {report.added} PNGs in {indexing:.2f} s "
          f"({report.added / indexing:.0f} images/s)")
    print(json.dumps({**{f"ms_{k}": round(v * 1000, 2) for k, v in results.items()}, "rows": args.rows,
                      "images_per_s_indexing": round(report.added / indexing, 1), "files": report.added,
                      "matches_castle": matches}))


if __name__ == "__main__":
    main()
