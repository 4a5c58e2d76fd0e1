"""PNG metadata: an A1111-style ``parameters`` text chunk for other tools, and a JSON chunk for round-trips.

The ``parameters`` layout (as read by A1111, sd-parsers, sd-prompt-reader and image hosts):

    <prompt>
    Negative prompt: <negative prompt>
    Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, Model: name, ...

Prompt lines are left out when empty (unconditional models have none). Values holding ',', ':' or a newline
are JSON-quoted. The chunks' keys, and the ``parameters`` text read back into fields, are in ``engine/png/chunks.py``.
No torch here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import PngImagePlugin

from ddpm_studio import __version__
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.schedule_types import a1111_names
from ddpm_studio.engine.jobs.reading import job_from_dict
from ddpm_studio.engine.jobs.types import PromptJob
from ddpm_studio.engine.png.chunks import JSON_KEY, PARAMETERS_KEY
from ddpm_studio.engine.png.reading import UnreadablePng, load_json, read_text


class MetadataError(ValueError):
    """A PNG carries no usable DDPM Studio metadata; the message names the file."""


def _quote(value: Any) -> str:
    text = str(value)
    if any(c in text for c in ",:\n"):
        return json.dumps(text)
    return text


def a1111_parameters(job, *, seed: int, width: int, height: int, model_name: str, device: str,
                     extra: dict | None = None) -> str:
    """The A1111 ``parameters`` text for one image of ``job``; ``extra`` (``addon_metadata.addon_fields``) adds the
    files' names and hashes, and the prompt as A1111 would write it (every LoRA as a tag), and
    (``family_metadata.family_fields``) the guidance and shift as the model's family names them."""
    extra = extra or {}
    sampler, schedule = a1111_names(job.scheduler, job.schedule)  # A1111 1.9's "DPM++ 2M" with "Karras"
    fields: list[tuple[str, Any]] = [("Steps", job.steps), ("Sampler", sampler)]
    if schedule:
        fields.append(("Schedule type", schedule))
    if isinstance(job, PromptJob):  # classifier-free guidance; a GenerateJob's guidance_scale is autoguidance's
        # the family's own names (family_metadata.py: Flux's Distilled CFG Scale, a flow scheduler's Shift)
        fields += extra.get("guidance") or [("CFG scale", job.guidance_scale)]
    fields += [
        ("Seed", seed),
        *([("Variation seed", seed - job.seed + job.variation_seed),
           ("Variation seed strength", job.variation_strength)] if job.variation_strength else []),
        ("Size", f"{job.width}x{job.height}" if getattr(job, "hires", False) else f"{width}x{height}"),  # A1111's:
        *extra.get("before", []),  # a hires fix's first pass
        ("Model", model_name),
        *(field for field in job.a1111_fields() if field[0] not in extra.get("drop", ())),  # what the family lacks
        *extra.get("after", []),
        ("Device", device),
        ("Version", f"ddpm-studio {__version__}"),
    ]
    line = ", ".join(f"{key}: {_quote(value)}" for key, value in fields)
    lines = []
    prompt = extra.get("prompt", getattr(job, "prompt", ""))
    if prompt:
        lines.append(prompt)
    negative = extra.get("negative", getattr(job, "negative_prompt", ""))
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(line)
    return "\n".join(lines)


def png_info(job, *, index: int, width: int, height: int, model_name: str, device: str,
             extra: dict | None = None) -> PngImagePlugin.PngInfo:
    """Both chunks for image ``index`` of ``job``'s batch (its own seed is job.seed + index)."""
    info = PngImagePlugin.PngInfo()
    seed = job.seed + index
    resolved = (extra or {}).get("prompts")
    if resolved:  # a wildcard prompt: this image's text in the parameters; the job (the JSON) keeps the template
        prompt, negative = resolved[index]
        extra = {**extra, "prompt": prompt, "negative": negative}
    info.add_itxt(PARAMETERS_KEY, a1111_parameters(job, seed=seed, width=width, height=height, model_name=model_name,
                                                   device=device, extra=extra))
    payload = {"job": job.to_dict(), "index": index, "seed": seed, "device": device, "model_name": model_name,
               "version": __version__}
    if resolved:
        payload["resolved"] = {"prompt": resolved[index][0], "negative_prompt": resolved[index][1]}
    if extra and extra.get("files"):
        payload["files"] = extra["files"]  # the add-ons' names, for restoring (addons/resources.missing_files)
    info.add_itxt(JSON_KEY, json.dumps(payload, sort_keys=True))
    return info


def read_png_text(path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, str]:
    """The PNG's text chunks (``png.reading.read_text``: ``keys`` found before the pixels spare decoding them)."""
    try:
        return read_text(path, keys)[0]
    except UnreadablePng as exc:
        raise MetadataError(str(exc)) from None


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON payload DDPM Studio stored in ``path`` (job, index, seed, device, model name)."""
    text = read_png_text(path, (JSON_KEY,))
    raw = text.get(JSON_KEY)
    if raw is None:
        raise MetadataError(f"{path} carries no DDPM Studio parameters.")
    try:
        payload = load_json(raw, path, "the DDPM Studio parameters")
    except UnreadablePng as exc:
        raise MetadataError(str(exc)) from None
    if not isinstance(payload, dict) or "job" not in payload:
        raise MetadataError(f"{path}: the DDPM Studio parameters have no job.")
    return payload


def read_job(path: str | Path, own_seed: bool = False):
    """Turn one of our PNGs back into the job that made it; with ``own_seed``, the job whose first image is this one
    (image i of a batch was made from the job's seed + i): what restoring the parameters of one result means."""
    payload = read_metadata(path)
    try:
        job = job_from_dict(payload["job"])
        seed = payload.get("seed")
        if own_seed and isinstance(seed, int) and not isinstance(seed, bool) and seed != job.seed:
            job = job.replace(seed=seed, variation_seed=job.variation_seed + seed - job.seed)  # both moved by i
        return job
    except (JobError, TypeError) as exc:
        raise MetadataError(f"{path}: the stored job is not valid here: {exc}") from None
