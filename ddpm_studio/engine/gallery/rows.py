"""One gallery row from one PNG, read from the file alone: our own PNGs from the job in their JSON chunk, others
(A1111, Forge, SD.Next, and every tool that writes A1111's ``parameters`` text) from that text, parsed by
``png/chunks.py``'s ``parse_a1111``, ComfyUI's and InvokeAI's from their own chunks (``foreign.py``); a PNG with none
is still a row (path, size, time) so that nothing on disk is lost from the gallery. Only the chunks before the
pixels are read (where these tools write their text), not the pixels. No Qt, no torch.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.gallery.values import MAX_SQLITE_INT, as_float, as_int
from ddpm_studio.engine.jobs.schedule_types import combined_name, from_a1111
from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.engine.png.chunks import JSON_KEY, PARAMETERS_KEY, guidance_text, parse_a1111
from ddpm_studio.engine.png.reading import UnreadablePng, load_json, read_text

COLUMNS = ("path", "size", "mtime", "source", "kind", "model", "prompt", "negative", "seed", "scheduler", "steps",
           "guidance", "loras", "width", "height", "device", "created")
SAMPLER_KEYS = {}  # A1111's "Sampler" (and "Schedule type") → our scheduler name
for _key, _spec in SCHEDULERS.items():
    SAMPLER_KEYS.setdefault((_spec.a1111_sampler, _spec.a1111_schedule or ""), _key)


class RowError(Exception):
    """The file is not a readable image; the message names it."""


def png_text(path: Path) -> tuple[dict[str, str], tuple[int, int]]:
    """The text chunks before the image data, and the size, without decoding the pixels."""
    try:
        return read_text(path, after_pixels=False)
    except UnreadablePng as exc:
        raise RowError(str(exc)) from None


def row_from_png(path: str | Path, problems: list[str] | None = None) -> dict:
    """The index row of the PNG at ``path``; a value that cannot be read or stored is left out, and said in
    ``problems`` (one sentence naming the file each)."""
    path = Path(path)
    problems = [] if problems is None else problems
    text, (width, height) = png_text(path)
    try:
        stat = path.stat()
        resolved = str(path.resolve())
    except (OSError, RuntimeError) as exc:  # gone since it was opened; a link loop met on the way
        raise RowError(f"{path} could not be read: {exc}") from None
    row = dict.fromkeys(COLUMNS)
    row.update(path=resolved, size=stat.st_size, mtime=stat.st_mtime, created=stat.st_mtime,
               width=width, height=height, source="file", prompt="", negative="")
    if JSON_KEY in text:
        try:
            row.update(_ours(load_json(text[JSON_KEY], path, "its DDPM Studio parameters"), path, problems))
            return row
        except UnreadablePng as exc:
            problems.append(f"{str(exc)[:-1]}; indexed without them.")
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # damaged: fall back to the A1111 text, which we write too
    if PARAMETERS_KEY in text:
        row.update(_a1111(text[PARAMETERS_KEY], path, problems))
        return row
    from ddpm_studio.engine.gallery.foreign import foreign_row

    row.update(foreign_row(text, path, problems) or {})  # ComfyUI's graph, InvokeAI's metadata
    return row


def _ours(payload: dict, path: Path, problems: list[str]) -> dict:
    job = payload["job"]
    loras = ", ".join(f"{Path(str(name)).stem}:{weight:g}" for name, weight in job.get("loras") or ())
    shown = payload.get("resolved") if isinstance(payload.get("resolved"), dict) else job  # a wildcard prompt: as
    # this image resolved it, what a search for its words should find (the job keeps the template)
    return dict(source="ddpm-studio", kind=job.get("kind"), model=str(payload.get("model_name") or job.get("model")),
                prompt=str(shown.get("prompt", "")), negative=str(shown.get("negative_prompt", "")),
                seed=seed_value(payload.get("seed", job.get("seed")), path, problems),
                scheduler=_with_schedule(job.get("scheduler"), job.get("schedule")),
                steps=as_int(job.get("steps")), guidance=as_float(job.get("guidance_scale")), loras=loras,
                device=str(payload.get("device", "")))


def _a1111(parameters: str, path: Path, problems: list[str]) -> dict:
    fields = parse_a1111(parameters)
    sampler = fields.get("Sampler", "")
    if sampler.endswith(" Karras") and "Schedule type" not in fields:  # A1111 before 1.9: "DPM++ 2M Karras"
        sampler, fields["Schedule type"] = sampler.removesuffix(" Karras"), "Karras"
    pair = from_a1111(sampler, fields.get("Schedule type", ""))  # A1111 1.9's sampler and schedule type
    scheduler = combined_name(*pair) if pair else None
    return dict(source="a1111", kind="txt2img" if "Denoising strength" not in fields else "edit",
                model=fields.get("Model", ""), prompt=fields.get("prompt", ""),
                negative=fields.get("negative_prompt", ""),
                seed=seed_value(fields.get("Seed"), path, problems), scheduler=scheduler or sampler.lower() or None,
                steps=as_int(fields.get("Steps")), guidance=as_float(guidance_text(fields)),
                loras=fields.get("Lora hashes", ""), device=fields.get("Device", ""))


def _with_schedule(scheduler, schedule) -> str | None:
    """One name for a job's scheduler and schedule type (``euler-karras``), as the sampler column keeps them."""
    if isinstance(scheduler, str) and isinstance(schedule, str) and schedule:
        return combined_name(scheduler, schedule)
    return scheduler


def seed_value(value, path: Path, problems: list[str]) -> int | None:
    """The seed for the index; one beyond what SQLite stores (A1111 takes any digits) is left out, and said."""
    seed = as_int(value)
    if seed is None and value is not None and not isinstance(value, bool):
        try:
            int(value)
        except (TypeError, ValueError, OverflowError):
            return None  # not a number at all: nothing to say
        shown = str(value) if len(str(value)) <= 40 else f"{str(value)[:37]}…"
        problems.append(f"{path}: its seed {shown} is larger than the gallery index stores (up to {MAX_SQLITE_INT}); "
                        "the picture is indexed without it.")
    return seed
