"""The gallery's search text: words (all of them, in the prompt or the negative prompt; ``"red fox"`` as a phrase;
``fox*`` as a prefix), and ``key:value`` filters — ``seed:123``, ``model:dream`` (part of the model's name),
``sampler:dpm++2m`` (or A1111's name), ``kind:txt2img``, ``since:2026-11-01``, ``until:2026-11-30``,
``stars:3`` (at least) and ``tag:portrait``. No Qt.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta

KEYS = ("seed", "model", "sampler", "kind", "since", "until", "stars", "tag")


class QueryError(ValueError):
    """The search text cannot be read; the message says which part and why."""


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    seed: int | None = None
    model: str = ""
    sampler: str = ""
    kind: str = ""
    since: float | None = None  # seconds since the epoch
    until: float | None = None
    stars: int = 0
    tag: str = ""

    def match_text(self) -> str:
        """The words as an FTS5 query: each quoted (so punctuation is text), a trailing * kept as a prefix search."""
        parts = []
        for word in self.words:
            prefix = word.endswith("*")
            core = word.rstrip("*").replace('"', '""')
            if core:
                parts.append(f'"{core}"' + ("*" if prefix else ""))
        return " ".join(parts)


def day(text: str, end: bool = False) -> float:
    try:
        moment = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise QueryError(f"'{text}' is not a date; write it as 2026-11-30.") from None
    return (moment + timedelta(days=1) if end else moment).timestamp()


def parse_query(text: str) -> Query:
    try:
        parts = shlex.split(text)
    except ValueError:
        raise QueryError(f"The search '{text}' has an unclosed quote.") from None
    query = Query()
    for part in parts:
        key, colon, value = part.partition(":")
        if not colon or key.lower() not in KEYS or not value:
            query.words.append(part)  # a quoted "red fox" stays one phrase
            continue
        key = key.lower()
        if key in ("seed", "stars"):
            if not value.isdigit():
                raise QueryError(f"{key}: takes a whole number; got '{value}'.")
            setattr(query, key, int(value))
        elif key == "since":
            query.since = day(value)
        elif key == "until":
            query.until = day(value, end=True)
        else:
            setattr(query, key, value)
    return query
