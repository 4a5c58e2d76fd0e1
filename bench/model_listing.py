"""Opening the window with an A1111 folder of SDXL checkpoints: every panel lists the model folders, and each listing
inspects every checkpoint. With each file's header read once (engine/models/catalogue.py's ``_known_single_file``) against
read at every listing, the main window built offscreen in a fresh process each side, rounds alternating which goes
first. The checkpoints are fake: SDXL-sized headers (2 500 one-element tensors with the keys that tell an SDXL file),
which is what the listing reads.

Prints each round, then one JSON line.

    python bench/model_listing.py [--checkpoints 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def fake_checkpoints(folder: Path, count: int) -> Path:
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1, 4, 1, 1),
               "conditioner.embedders.1.model.positional_embedding": torch.zeros(1)}
    prefixes = ["model.diffusion_model.output_blocks", "first_stage_model.decoder",
                "conditioner.embedders.0.transformer.text_model", "conditioner.embedders.1.model.transformer"]
    for i in range(2500):
        tensors[f"{prefixes[i % 4]}.{i}.layer.weight"] = torch.zeros(1)
    for n in range(count):
        save_file(tensors, str(folder / f"sdxl-{n:03d}.safetensors"))
    return folder


def one_side(side: str, folder: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import ddpm_studio.engine.models.catalogue as models

    if side == "every_listing":
        models._known_single_file = models._inspect_single_file
    reads = []
    real_detect = models.detect
    models.detect = lambda path, allow_pickle=False: reads.append(path) or real_detect(path, allow_pickle)
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.ui.app.main_window import MainWindow
    from ddpm_studio.ui.core.settings import Settings

    app = QApplication([])
    settings = Settings(Path(tempfile.mkdtemp()) / "settings.ini")
    settings.add_model_folder(folder)
    started = time.perf_counter()
    MainWindow(settings=settings, device="cpu")
    seconds = time.perf_counter() - started
    app.processEvents()
    return {"seconds": seconds, "header_reads": len(reads)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", choices=["once", "every_listing"], help=argparse.SUPPRESS)  # for isolated.py
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(one_side(args.side, args.folder)))
        return
    from isolated import in_own_process

    folder = fake_checkpoints(Path(tempfile.mkdtemp(prefix="ddpm-listing-bench-")), args.checkpoints)
    runs = {"once": [], "every_listing": []}
    for r in range(args.rounds):
        for side in ("once", "every_listing") if r % 2 == 0 else ("every_listing", "once"):
            runs[side].append(in_own_process(__file__, "--side", side, "--folder", folder))
        print(f"round {r + 1}: " + ", ".join(f"{side} {runs[side][-1]['seconds']:.2f} s "
                                           f"({runs[side][-1]['header_reads']} header reads)" for side in runs))
    print(json.dumps({
        "every_listing_over_once": round(statistics.median(
            e["seconds"] / o["seconds"] for e, o in zip(runs["every_listing"], runs["once"])), 2),
        "once_s": round(statistics.median(r["seconds"] for r in runs["once"]), 3),
        "every_listing_s": round(statistics.median(r["seconds"] for r in runs["every_listing"]), 3),
        "header_reads_once": runs["once"][0]["header_reads"],
        "header_reads_every_listing": runs["every_listing"][0]["header_reads"],
        "checkpoints": args.checkpoints}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
