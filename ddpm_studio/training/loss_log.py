"""The run's loss history on disk (``loss_log.csv`` in the run folder: step, loss, learning rate), one line per loss
report, so that a resumed run's loss plot shows the whole run and not only what came after the resume. Written by
the main process; on a resume, lines past the checkpoint's step are dropped, since those steps are trained again.
No Qt."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

LOSS_LOG = "loss_log.csv"
HEADER = ("step", "loss", "lr")


def append(output: Path, step: int, loss: float, lr: float) -> None:
    path = Path(output) / LOSS_LOG
    new = not path.exists()
    try:
        with path.open("a", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(HEADER)
            writer.writerow((step, f"{loss:.6g}", f"{lr:.6g}"))
    except OSError:
        pass  # the history is for the plot; the checkpoints are what a resume needs


def _rows(output: Path) -> list[tuple[int, float, str]]:
    """(step, loss, learning rate as written) of each readable line; a damaged line is skipped."""
    try:
        with (Path(output) / LOSS_LOG).open(encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
    except OSError:
        return []
    found = []
    for row in rows[1:]:
        try:
            found.append((int(row[0]), float(row[1]), row[2] if len(row) > 2 else ""))
        except (IndexError, ValueError):
            continue
    return found


def read(output: Path, up_to: int | None = None) -> list[tuple[int, float]]:
    """(step, loss) pairs in step order, those after ``up_to`` (and losses that are not finite) left out."""
    return sorted((step, loss) for step, loss, _ in _rows(output)
                  if math.isfinite(loss) and (up_to is None or step <= up_to))


def start_at(output: Path, step: int) -> None:
    """The history of a run that goes on from ``step``: a new run (0) has none; a resumed one keeps its lines up to
    the checkpoint."""
    path = Path(output) / LOSS_LOG
    if not path.exists():
        return
    kept = [row for row in _rows(output) if row[0] <= step] if step > 0 else []
    written = path.with_name(path.name + ".partial")
    try:
        with written.open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(HEADER)
            writer.writerows((line_step, f"{loss:.6g}", lr) for line_step, loss, lr in kept)
        os.replace(written, path)  # whole or not at all: the panel may be reading it as the run starts
    except OSError:
        pass
