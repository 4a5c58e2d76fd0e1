"""A1111's prompt editing and alternation: which text the model reads at each step. Plain functions; no torch.

The rules are those of AUTOMATIC1111's stable-diffusion-webui (``modules/prompt_parser.py``: its grammar
``schedule_parser``, ``get_learned_conditioning_prompt_schedules`` and its doctests, and ``reconstruct_cond_batch``
with the step counter of ``modules/sd_samplers_cfg_denoiser.py``; the wiki page "Features → Prompt editing"), so
that a prompt written there switches at the same step here:

1. ``[from:to:when]`` reads ``from`` until the step ``when``, then ``to``. Steps are counted from 0 (A1111's
   counter): step ``i`` reads ``from`` while ``i <= when``, so ``[a:b:5]`` reads ``a`` at steps 0–5 (six model
   calls) and ``b`` from step 6 — A1111's wiki: "after step 5 it switches".
2. ``when`` below 1 is a fraction of the run's steps: ``when × steps``, rounded down (``int``); at or above 1 a step
   number, rounded down too. Either way at most the run's steps. A signed number, ``.5``, ``5.`` and ``1e1`` are
   numbers (Lark's ``SIGNED_NUMBER``); whitespace may stand before it, not after it.
3. ``[to:when]`` is ``[:to:when]``: nothing, then ``to``. ``[from::when]`` is ``from``, then nothing.
4. ``[a|b|c]`` alternates every step. A1111's schedule gives schedule point ``t`` (1 … steps) option
   ``(t − 1) mod 3``, and its counter, from 0, reads point 1 at steps 0 and 1: so step 0 reads ``a`` and step
   ``i ≥ 1`` option ``(i − 1) mod 3`` — ``a, a, b, c, a, …`` (the first option twice, as A1111 runs it).
5. They nest: ``from``, ``to`` and every option are prompts themselves (``a[b:[c:d:2]:1]e`` reads ``abe``, then
   ``ace``, then ``ade``); emphasis brackets inside them are kept as written — ``(word:1.2)``, ``[word]`` — for the
   weights' parser (``syntax.py``) to read in each step's text.
6. Text is any character but ``\\ [ ] ( ) : |``; a backslash and the character after it are text (an escape, kept as
   written for the weights' parser). Whitespace is kept as written, around the brackets too.
7. Outside every bracket a run of ``[ ] ( ) :`` that makes no construct is text (``a [unbalanced`` is that text at
   every step). A ``|`` outside an alternation, or a lone backslash at the end, makes the whole prompt unparseable:
   then it is read as written at every step (A1111's parse error does the same). One A1111 doctest,
   ``a [{b|d{:.5] c``, marked there "not handling this right now", reads so here too.
8. A step past the schedule's last one (a sampler that makes more model calls than steps) reads the last text
   (A1111 would read the first: ``reconstruct_cond_batch``'s default index).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLAIN = re.compile(r"(?:[^\\\[\]():|]|\\.)+", re.S)  # rule 6
STRAY = re.compile(r"[\[\]():]+")  # rule 7
NUMBER = re.compile(r"\s*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))\]")  # rule 2, then "]"
MARKS = re.compile(r"[\[|]")  # a prompt with neither has no editing


@dataclass(frozen=True)
class Scheduled:
    before: tuple  # the parts read until ``when`` (empty for ``[to:when]``)
    after: tuple
    when: float  # as written; ``step_of`` makes it a step


@dataclass(frozen=True)
class Alternate:
    options: tuple  # each a tuple of parts


Part = str | Scheduled | Alternate


def parse_editing(prompt: str) -> tuple | None:
    """The prompt as parts — text, ``Scheduled`` and ``Alternate`` — or None where it cannot be parsed (rule 7)."""
    parts: list = []
    i = 0
    while i < len(prompt):
        parsed = _prompt(prompt, i)
        if parsed is not None and parsed[1] > i:
            parts.extend(parsed[0])
            i = parsed[1]
            continue
        stray = STRAY.match(prompt, i)
        if stray is None:
            return None
        parts.append(prompt[i])  # one at a time: a construct may start at the next bracket
        i += 1
    return _merged(parts)


def has_editing(prompt: str) -> bool:
    """Whether ``prompt`` uses prompt editing or alternation (a prompt without either reads the same every step)."""
    if not MARKS.search(prompt):
        return False
    parts = parse_editing(prompt)
    return parts is not None and any(not isinstance(p, str) for p in parts)


def step_of(when: float, steps: int) -> int:
    """The last step that reads ``from`` (rule 2)."""
    return min(steps, int(when * steps if when < 1 else when))


def schedule(prompt: str, steps: int) -> list[tuple[int, str]]:
    """A1111's prompt schedule: (the last step that reads it, the text), in order; ``[(steps, prompt)]`` for a
    prompt without editing. For "a [b:3]" at 10 steps: [(3, "a "), (10, "a b")]."""
    parts = parse_editing(prompt)
    if parts is None:
        return [(steps, prompt)]
    ends = {steps}
    _collect(parts, steps, ends)
    return [(end, _text(parts, end, steps)) for end in sorted(ends)]


def text_at(plan: list[tuple[int, str]], index: int) -> str:
    """The text a schedule (``schedule``) gives the 0-based step ``index`` (rules 1 and 8)."""
    for end, text in plan:
        if index <= end:
            return text
    return plan[-1][1]


def texts_per_step(prompt: str, steps: int) -> list[str]:
    """The text each of the run's ``steps`` steps reads."""
    plan = schedule(prompt, steps)
    return [text_at(plan, i) for i in range(steps)]


def _prompt(s: str, i: int) -> tuple[list, int] | None:
    """A prompt (grammar rule ``prompt``: text, emphasis, editing, alternation) from ``i``: (parts, end). It ends
    before ``: | ] )`` or a bracket that makes no construct; None only where nothing could be read at all."""
    parts: list = []
    while i < len(s):
        plain = PLAIN.match(s, i)
        if plain is not None:
            parts.append(plain.group(0))
            i = plain.end()
            continue
        inner = _bracketed(s, i) if s[i] in "[(" else None
        if inner is None:
            break
        parts.extend(inner[0])
        i = inner[1]
    return parts, i


def _bracketed(s: str, i: int) -> tuple[list, int] | None:
    """An emphasis, a scheduled edit or an alternation starting at ``s[i]`` (``[`` or ``(``)."""
    if s[i] == "(":  # (prompt) or (prompt:prompt), kept as written
        first, j = _prompt(s, i + 1)
        if j < len(s) and s[j] == ")":
            return ["(", *first, ")"], j + 1
        if j < len(s) and s[j] == ":":
            second, k = _prompt(s, j + 1)
            if k < len(s) and s[k] == ")":
                return ["(", *first, ":", *second, ")"], k + 1
        return None
    first, j = _prompt(s, i + 1)
    if j >= len(s):
        return None
    if s[j] == "]":  # [prompt]: emphasis, kept as written
        return ["[", *first, "]"], j + 1
    if s[j] == "|":  # rule 4
        options = [tuple(_merged(first))]
        while j < len(s) and s[j] == "|":
            option, j = _prompt(s, j + 1)
            options.append(tuple(_merged(option)))
        return ([Alternate(tuple(options))], j + 1) if j < len(s) and s[j] == "]" else None
    if s[j] != ":":
        return None
    number = NUMBER.match(s, j + 1)
    if number is not None:  # [to:when] (rule 3)
        return [Scheduled((), tuple(_merged(first)), float(number.group(1)))], number.end()
    second, k = _prompt(s, j + 1)
    if k < len(s) and s[k] == ":":
        number = NUMBER.match(s, k + 1)
        if number is not None:
            return [Scheduled(tuple(_merged(first)), tuple(_merged(second)), float(number.group(1)))], number.end()
    return None


def _merged(parts: list) -> list:
    out: list = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        elif part != "":
            out.append(part)
    return out


def _collect(parts, steps: int, ends: set) -> None:
    """Every step at which some part changes, in every branch (A1111 counts unreached ones too)."""
    for part in parts:
        if isinstance(part, Scheduled):
            ends.add(step_of(part.when, steps))
            _collect(part.before, steps, ends)
            _collect(part.after, steps, ends)
        elif isinstance(part, Alternate):
            ends.update(range(1, steps + 1))
            for option in part.options:
                _collect(option, steps, ends)


def _text(parts, end: int, steps: int) -> str:
    """The text read at the schedule point ``end``: A1111's ``at_step``, whose alternation counts from 1."""
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, Scheduled):
            out.append(_text(part.before if end <= step_of(part.when, steps) else part.after, end, steps))
        else:
            out.append(_text(part.options[(end - 1) % len(part.options)], end, steps))
    return "".join(out)
