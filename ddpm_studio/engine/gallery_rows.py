"""One gallery row from one PNG, read from the file alone: our own PNGs from the job in their JSON chunk, others
(A1111, Forge, SD.Next, and every tool that writes A1111's ``parameters`` text) from that text, parsed by
``metadata.parse_a1111``, ComfyUI's and InvokeAI's from their own chunks (``gallery_foreign.py``); a PNG with none
is still a row (path, size, time) so that nothing on disk is lost from the gallery. Only the chunks before the
pixels are read (where these tools write their text), not the pixels. No Qt, no torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from ddpm_studio.engine.metadata import JSON_KEY, PARAMETERS_KEY, parse_a1111
from ddpm_studio.engine.schedulers import SCHEDULERS

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
        with Image.open(path) as image:
            text = {str(k): str(v) for k, v in image.info.items() if isinstance(v, str)}
            return text, image.size
    except FileNotFoundError:
        raise RowError(f"{path}: no such file.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RowError(f"{path} is not a readable image: {exc}") from None


def row_from_png(path: str | Path) -> dict:
    path = Path(path)
    text, (width, height) = png_text(path)
    stat = path.stat()
    row = dict.fromkeys(COLUMNS)
    row.update(path=str(path.resolve()), size=stat.st_size, mtime=stat.st_mtime, created=stat.st_mtime,
               width=width, height=height, source="file", prompt="", negative="")
    if JSON_KEY in text:
        try:
            row.update(_ours(json.loads(text[JSON_KEY])))
            return row
        except (ValueError, TypeError, KeyError, AttributeError):
            pass  # damaged: fall back to the A1111 text, which we write too
    if PARAMETERS_KEY in text:
        row.update(_a1111(text[PARAMETERS_KEY]))
        return row
    from ddpm_studio.engine.gallery_foreign import foreign_row

    row.update(foreign_row(text) or {})  # ComfyUI's graph, InvokeAI's metadata
    return row


def _ours(payload: dict) -> dict:
    job = payload["job"]
    loras = ", ".join(f"{Path(str(name)).stem}:{weight:g}" for name, weight in job.get("loras") or ())
    return dict(source="ddpm-studio", kind=job.get("kind"), model=str(payload.get("model_name") or job.get("model")),
                prompt=str(job.get("prompt", "")), negative=str(job.get("negative_prompt", "")),
                seed=as_int(payload.get("seed", job.get("seed"))), scheduler=job.get("scheduler"),
                steps=as_int(job.get("steps")), guidance=as_float(job.get("guidance_scale")), loras=loras,
                device=str(payload.get("device", "")))


def _a1111(parameters: str) -> dict:
    fields = parse_a1111(parameters)
    sampler = fields.get("Sampler", "")
    if sampler.endswith(" Karras") and "Schedule type" not in fields:  # A1111 before 1.9: "DPM++ 2M Karras"
        sampler, fields["Schedule type"] = sampler.removesuffix(" Karras"), "Karras"
    scheduler = SAMPLER_KEYS.get((sampler, fields.get("Schedule type", "")), SAMPLER_KEYS.get((sampler, "")))
    return dict(source="a1111", kind="txt2img" if "Denoising strength" not in fields else "edit",
                model=fields.get("Model", ""), prompt=fields.get("prompt", ""),
                negative=fields.get("negative_prompt", ""),
                seed=as_int(fields.get("Seed")), scheduler=scheduler or sampler.lower() or None,
                steps=as_int(fields.get("Steps")), guidance=as_float(fields.get("CFG scale")),
                loras=fields.get("Lora hashes", ""), device=fields.get("Device", ""))


def as_int(value) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def as_float(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
