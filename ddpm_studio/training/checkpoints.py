"""Checkpoint folders that a kill can never leave torn, and model export as a diffusers pipeline folder.

A checkpoint is written to ``checkpoint-NNNNNNNN.partial`` and renamed when complete; "latest" is the highest
complete one, so a run killed mid-write resumes from the one before. Old checkpoints beyond the limit are removed.
Before a folder is renamed into place its files get the normal mode (safetensors writes them owner-only).
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from pathlib import Path

from ddpm_studio.engine.runtime.files import give_normal_modes
from ddpm_studio.training.loss_log import LOSS_LOG

CHECKPOINT = re.compile(r"^checkpoint-(\d{8})$")
STATE_FILE = "trainer_state.json"


def checkpoints_dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def complete_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    folder = checkpoints_dir(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for entry in folder.iterdir():
        match = CHECKPOINT.match(entry.name)
        if match and entry.is_dir() and (entry / STATE_FILE).is_file():
            found.append((int(match.group(1)), entry))
    return sorted(found)


def latest_checkpoint(output_dir: str | Path) -> tuple[int, Path] | None:
    found = complete_checkpoints(output_dir)
    return found[-1] if found else None


def remove_partials(output_dir: str | Path) -> None:
    folder = checkpoints_dir(output_dir)
    if folder.is_dir():
        for entry in folder.glob("*.partial"):
            shutil.rmtree(entry, ignore_errors=True)


def partial_path(output_dir: str | Path, step: int) -> Path:
    return checkpoints_dir(output_dir) / f"checkpoint-{step:08d}.partial"


def commit_checkpoint(partial: Path, step: int, state: dict, keep: int) -> Path:
    """Write the trainer state into ``partial``, give its files normal modes, rename it into place, prune old ones."""
    (partial / STATE_FILE).write_text(json.dumps({"step": step, **state}, indent=2), encoding="utf-8")
    give_normal_modes(partial)
    final = partial.with_name(f"checkpoint-{step:08d}")
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)
    output_dir = final.parent.parent
    for _, old in complete_checkpoints(output_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(checkpoint: Path) -> dict:
    return json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))


RUN_PARTS = ("checkpoints", "model", "guide", "lora", "samples", "train_config.json", LOSS_LOG)  # what a run writes


def describe_run(output_dir: str | Path) -> str:
    """What an earlier run left in ``output_dir``, in words ("checkpoints up to step 60 and an exported model"), or
    "" when there is none."""
    output = Path(output_dir).expanduser()
    found = []
    latest = latest_checkpoint(output)
    if latest is not None:
        found.append(f"checkpoints up to step {latest[0]}")
    if (output / "model" / "model_index.json").is_file():
        found.append("an exported model")
    if any((output / "lora").glob("*.safetensors")):
        found.append("an exported LoRA")
    return " and ".join(found)


def set_aside(output_dir: str | Path) -> Path:
    """Move an earlier run's files into ``output_dir/earlier-run-YYYYMMDD-HHMMSS/`` (``…-2``, ``…-3`` when that
    name is taken, as by a run set aside in the same second; nothing is deleted), so that a new run starts in an
    empty folder; returns where they went."""
    output = Path(output_dir).expanduser()
    stem = f"earlier-run-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    number = 1
    while True:
        aside = output / (stem if number == 1 else f"{stem}-{number}")
        try:
            aside.mkdir()
            break
        except FileExistsError:
            number += 1
    for name in RUN_PARTS:
        if (output / name).exists():
            (output / name).rename(aside / name)
    return aside


def swap_into_place(staging: Path, target: Path) -> None:
    """Replace folder ``target`` by ``staging`` (both in one parent), keeping the old one until the new one is in.

    The files in ``staging`` get the normal mode first (safetensors writes them owner-only).
    """
    give_normal_modes(staging)
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
