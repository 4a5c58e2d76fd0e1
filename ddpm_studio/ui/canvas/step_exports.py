"""What the step canvas's Export menu writes: the kinds (animated GIF or WebP, a contact sheet, a folder of frames),
the name an export dialog suggests, and the files written from the run's kept steps (``engine/output/step_export.py``
draws them). No widgets here: the canvas asks where, this writes."""

from __future__ import annotations

from pathlib import Path

EXPORTS = {  # kind: (menu entry, file suffix, file dialog filter); "frames" is a folder
    "gif": ("Animated GIF…", ".gif", "GIF (*.gif)"),
    "webp": ("Animated WebP…", ".webp", "WebP (*.webp)"),
    "sheet": ("Contact sheet (PNG)…", ".png", "PNG (*.png)"),
    "frames": ("Folder of frames…", "", ""),
}


def free_name(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``… : the first that does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def with_suffix(target: str, kind: str) -> str:
    """``target`` with the file suffix that ``kind`` implies, added when the name has another one or none."""
    suffix = EXPORTS[kind][1]
    return target if not suffix or target.lower().endswith(suffix) else target + suffix


def suggested_path(folder: str, name: str, kind: str) -> str:
    """Where an export dialog starts: ``folder`` (the panel's output folder) when it exists, never the working
    directory, and ``name`` (from the run) with what ``kind`` adds."""
    place = Path(folder).expanduser()
    if not folder or not place.is_dir():
        place = Path.home()
    return str(place / (name + ("-frames" if kind == "frames" else EXPORTS[kind][1])))


def write_steps(kind: str, target: str, events: list, view: str) -> str:
    """Write ``events`` (the kept steps) as ``kind`` to ``target``, with the suffix the kind implies added if the
    name lacks it; ``view`` is ``step_export``'s: "both" (x_t and the predicted x0) or "change". Returns what was
    written."""
    from PIL import Image

    from ddpm_studio.engine.output import step_export

    target = with_suffix(target, kind)
    if kind == "sheet":
        Image.fromarray(step_export.contact_sheet(events, view="x0")).save(target, format="PNG")
    elif kind == "frames":
        step_export.save_frames(target, step_export.frames(events, view), events)
    else:
        save = step_export.save_gif if kind == "gif" else step_export.save_webp
        save(target, step_export.frames(events, view))
    return target
