"""Styles: named prompt and negative-prompt texts applied to the user's prompt, read from A1111's ``styles.csv`` as
it is. Plain functions; no torch.

A1111's rules (``modules/styles.py``: ``StyleDatabase``, ``apply_styles_to_prompt``; its wiki "Features → Styles"):

- the file is CSV with a header row ``name,prompt,negative_prompt`` (quoted fields may hold commas and newlines);
  a row with no name is skipped;
- a style's text holding ``{prompt}`` has the user's prompt put there; any other is appended, joined with ", "
  (nothing added when either side is empty);
- several styles apply in the order chosen, each to the result of the one before; the negative prompt likewise.

The applied text is what the job holds, so the parameters record it and a restored image needs no styles file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import ModelError

PLACEHOLDER = "{prompt}"


class StyleError(ModelError):
    """A styles file cannot be read, or a style named is in none."""


@dataclass(frozen=True)
class Style:
    name: str
    prompt: str = ""
    negative_prompt: str = ""


def read_styles(path: str | Path) -> dict[str, Style]:
    """The styles of one ``styles.csv``, by name, in the file's order; a StyleError naming the file when it cannot be
    read."""
    path = Path(path).expanduser()
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:  # A1111 writes it as utf-8-sig
            rows = list(csv.DictReader(handle, skipinitialspace=True))
    except (OSError, UnicodeError, csv.Error) as exc:
        raise StyleError(f"The styles file {path} cannot be read: {exc}") from None
    if rows and "name" not in rows[0]:
        raise StyleError(f"The styles file {path} has no 'name' column: its first row must be "
                         "name,prompt,negative_prompt (A1111's styles.csv).")
    styles = {}
    for row in rows:
        name = (row.get("name") or "").strip()
        if name:
            styles[name] = Style(name, row.get("prompt") or "", row.get("negative_prompt") or "")
    return styles


def read_style_files(paths) -> tuple[dict[str, Style], list[str]]:
    """The styles of several files (a later file's style of the same name wins), and a line for each file that could
    not be read (skipped)."""
    styles: dict[str, Style] = {}
    problems = []
    for path in paths:
        try:
            styles.update(read_styles(path))
        except StyleError as exc:
            problems.append(str(exc))
    return styles, problems


def merge(style_text: str, prompt: str) -> str:
    """One style's text applied to ``prompt`` (A1111's ``merge_prompts``)."""
    if PLACEHOLDER in style_text:
        return style_text.replace(PLACEHOLDER, prompt)
    return ", ".join(part for part in (prompt.strip(), style_text.strip()) if part)


def apply_styles(prompt: str, negative: str, styles) -> tuple[str, str]:
    """``styles`` (Style objects, in order) applied to the prompt and the negative prompt."""
    for style in styles:
        prompt = merge(style.prompt, prompt)
        negative = merge(style.negative_prompt, negative)
    return prompt, negative


def chosen(available: dict[str, Style], names, files=()) -> list[Style]:
    """The styles named, in order; a StyleError naming an unknown one and the files read."""
    out = []
    for name in names:
        if name not in available:
            where = ", ".join(str(f) for f in files) or "no styles file (--styles FILE)"
            known = ", ".join(available) or "none"
            raise StyleError(f"No style named {name!r} in {where}; the styles there: {known}.")
        out.append(available[name])
    return out


def home_styles_file(root: str | Path) -> str:
    """An A1111 install's ``styles.csv`` (in its root), or "" when it has none."""
    path = Path(root).expanduser() / "styles.csv"
    return str(path) if path.is_file() else ""
