"""The gallery's search text: words (all of them, in the prompt or the negative prompt; ``"red fox"`` as a phrase;
``fox*`` as a prefix; ``-fox`` for none with it), and ``key:value`` filters — ``seed:123``, ``model:dream`` (part
of the model's name), ``sampler:dpm++2m`` (or A1111's name), ``steps:30``, ``kind:txt2img``, ``since:2026-11-01``,
``until:2026-11-30``, ``stars:3`` (at least) and ``tag:portrait`` (a whole tag). An apostrophe is a letter
(``artist's``); a quote left open runs to the end. No Qt.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta

KEYS = ("seed", "model", "sampler", "steps", "kind", "since", "until", "stars", "tag")


class QueryError(ValueError):
    """The search text cannot be read; the message says which part and why."""


@dataclass
class Query:
    words: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # -word
    seed: int | None = None
    steps: int | None = None
    model: str = ""
    sampler: str = ""
    kind: str = ""
    since: float | None = None  # seconds since the epoch
    until: float | None = None
    stars: int = 0
    tag: str = ""

    def match_text(self, words: list[str] | None = None) -> str:
        """The words as an FTS5 query: each quoted (so punctuation is text), a trailing * kept as a prefix search."""
        parts = []
        for word in self.words if words is None else words:
            prefix = word.endswith("*")
            core = word.rstrip("*").replace('"', '""')
            if core:
                parts.append(f'"{core}"' + ("*" if prefix else ""))
        return " ".join(parts)

    def excluded_text(self) -> str:
        """The -words as one FTS5 query matching any of them."""
        return " OR ".join(self.match_text([word]) for word in self.excluded if self.match_text([word]))


def day(text: str, end: bool = False) -> float:
    try:
        moment = datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        raise QueryError(f"'{text}' is not a date; write it as 2026-11-30.") from None
    return (moment + timedelta(days=1) if end else moment).timestamp()


def split_words(text: str) -> list[str]:
    """Words and "quoted phrases"; an apostrophe is part of a word, an unclosed quote runs to the end."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: the rest is the phrase
        head, _, tail = text.rpartition('"')
        return split_words(head) + ([tail.strip()] if tail.strip() else [])


def parse_query(text: str) -> Query:
    query = Query()
    for part in split_words(text):
        key, colon, value = part.partition(":")
        if not colon or key.lower() not in KEYS or not value:
            if part.startswith("-") and len(part) > 1:
                query.excluded.append(part[1:])
            else:
                query.words.append(part)  # a quoted "red fox" stays one phrase
            continue
        key = key.lower()
        if key in ("seed", "stars", "steps"):
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
