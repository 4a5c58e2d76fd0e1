"""A1111's prompt syntax: emphasis by brackets and weights, escapes, and BREAK. Plain functions; no torch.

The rules are those of AUTOMATIC1111's stable-diffusion-webui (``modules/prompt_parser.py``,
``parse_prompt_attention``, and its documentation page "Features → Attention/emphasis"), so that a prompt written
there means the same here:

1. ``(text)`` multiplies the attention paid to ``text`` by 1.1; brackets nest, so ``((text))`` is 1.1² = 1.21.
2. ``[text]`` divides it by 1.1.
3. ``(text:1.5)`` multiplies it by the number given instead (any decimal, signed: ``(text:-0.5)`` too).
4. ``\\(``, ``\\)``, ``\\[``, ``\\]`` and ``\\\\`` are the characters themselves; any other backslash is kept as it is.
5. A bracket left open applies to the rest of the prompt: ``(unbalanced`` is ``unbalanced`` at 1.1.
6. A closing bracket with no opening one, a ``:`` outside ``(…:weight)``, and ``(text:weight)`` with no ``(`` open
   are plain text.
7. ``BREAK`` — the word in capitals, on its own — ends the current 75-token chunk: what follows starts a new one.
   (Also inside brackets, where A1111 would read it as the word "BREAK": an A1111 quirk not kept.)
8. Neighbouring pieces of the same weight are joined, and an empty prompt is one empty piece at weight 1.
   Brackets nest as deep as written (no recursion here): 5,000 ``(`` give a weight of 1.1^5000 ≈ 9e206, which
   ``check_weights`` refuses in words: above ``MAX_WEIGHT`` the text embeddings overflow into NaN (a black image).
9. ``<lora:NAME:WEIGHT>`` (A1111's extra-network tag, ``modules/extra_networks.py``; ``<lyco:…>`` is the LyCORIS
   extension's spelling of the same) names a LoRA by its file name and a weight, 1 when left out (``<lora:NAME>``).
   The tags are taken out of the prompt before anything else here, so the text encoder never sees them; the text
   around a tag stays as it was. A1111's further fields (``:unet_weight``, ``te=…``) and other networks
   (``<hypernet:…>``) are refused with a message rather than ignored.

How the pieces become text-encoder input (75-token chunks, their weights, the mean restored) is in
``prompt_encoding``; prompt editing (``[a:b:0.5]``, ``[a|b]``) is ``prompts/editing.py``, which gives each step
its text before these rules read it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

ROUND, SQUARE = 1.1, 1 / 1.1  # rules 1 and 2
ESCAPES = {"\\(": "(", "\\)": ")", "\\[": "[", "\\]": "]", "\\\\": "\\"}  # rule 4
WEIGHT = re.compile(r":\s*([+-]?[.\d]+)\s*\)")  # rule 3: the end of "(text:1.5)"
BREAK_WORD = re.compile(r"\s*\bBREAK\b\s*")  # rule 7
SYNTAX = re.compile(r"[()\[\]\\]|\bBREAK\b")  # a prompt without any of these is plain text


EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")  # rule 9, A1111's pattern
LORA_KINDS = ("lora", "lyco")


MAX_WEIGHT = 1000.0  # |emphasis| beyond this (1.1^73: 73 nested brackets) overflows half-precision embeddings


class PromptSyntaxError(ValueError):
    """A prompt asks for something written in a way that cannot be followed; the message says what."""


@dataclass(frozen=True)
class LoraTag:
    name: str
    weight: float = 1.0


def lora_tags(prompt: str) -> tuple[str, list[LoraTag]]:
    """The prompt without its ``<lora:…>`` tags, and the tags in the order written (rule 9)."""
    tags: list[LoraTag] = []

    def take(match: re.Match) -> str:
        kind, fields = match.group(1).lower(), [f.strip() for f in match.group(2).split(":")]
        if kind not in LORA_KINDS:
            raise PromptSyntaxError(f"The prompt names a '{kind}' network ({match.group(0)}); DDPM Studio uses LoRAs "
                                    "(<lora:NAME:WEIGHT>) and embeddings (their file name as a word).")
        if not fields[0] or len(fields) > 2 or (len(fields) == 2 and not _is_number(fields[1])):
            raise PromptSyntaxError(f"{match.group(0)} in the prompt: write a LoRA as <lora:NAME> or "
                                    "<lora:NAME:WEIGHT>, the weight a number such as 0.8.")
        tags.append(LoraTag(fields[0], float(fields[1]) if len(fields) == 2 else 1.0))
        return ""

    return EXTRA_NETWORK.sub(take, prompt), tags


def lora_tag_spans(prompt: str) -> list[tuple[int, int, LoraTag]]:
    """Where the prompt's well-formed ``<lora:…>`` tags stand: (start, end, tag), in the order written. Tags that
    ``lora_tags`` would refuse are left out (a panel follows the prompt as it is typed; the run says what is wrong)."""
    spans = []
    for match in EXTRA_NETWORK.finditer(prompt):
        fields = [f.strip() for f in match.group(2).split(":")]
        if match.group(1).lower() in LORA_KINDS and fields[0] and len(fields) <= 2 and (
                len(fields) == 1 or _is_number(fields[1])):
            spans.append((match.start(), match.end(), LoraTag(fields[0], float(fields[1]) if len(fields) == 2 else 1.0)))
    return spans


@dataclass
class Piece:
    """A run of prompt text and its attention weight; ``is_break`` marks a BREAK (its text is empty)."""

    text: str
    weight: float = 1.0
    is_break: bool = False


def has_syntax(prompt: str) -> bool:
    """Whether ``prompt`` uses any of the rules above (a prompt that does not is plain text, weight 1)."""
    return bool(SYNTAX.search(prompt))


def parse(prompt: str) -> list[Piece]:
    """The prompt as pieces of text, each with its weight, and BREAK markers (rules 1–8)."""
    pieces: list[Piece] = []
    round_open: list[int] = []  # where each open "(" began, as an index into pieces
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for piece in pieces[start:]:
            piece.weight *= factor

    i = 0
    while i < len(prompt):
        two = prompt[i : i + 2]
        char = prompt[i]
        weight = WEIGHT.match(prompt, i) if char == ":" and round_open else None
        if weight is not None and not _is_number(weight.group(1)):  # "(a:1.2.3)": the ":" is text (rule 6)
            weight = None
        if two in ESCAPES:
            pieces.append(Piece(ESCAPES[two]))
            i += 2
        elif char == "(":
            round_open.append(len(pieces))
            i += 1
        elif char == "[":
            square_open.append(len(pieces))
            i += 1
        elif weight is not None:
            scale(round_open.pop(), float(weight.group(1)))
            i = weight.end()
        elif char == ")" and round_open:
            scale(round_open.pop(), ROUND)
            i += 1
        elif char == "]" and square_open:
            scale(square_open.pop(), SQUARE)
            i += 1
        else:
            end = i + 1
            while end < len(prompt) and prompt[end] not in "\\()[]:":
                end += 1
            pieces.append(Piece(prompt[i:end]))  # plain text at weight 1: brackets closed later scale it
            i = end
    for start in round_open:  # rule 5
        scale(start, ROUND)
    for start in square_open:
        scale(start, SQUARE)
    return _joined(_broken(pieces))


def plain_text(prompt: str) -> str:
    """The words of ``prompt`` without its syntax (rules 1–8): brackets and weights dropped, escapes read, BREAK a
    space — what a family that takes no weights (SD 3.5) is given."""
    text = "".join(" " if piece.is_break else piece.text for piece in parse(prompt))
    return " ".join(text.split())


def heaviest(*prompts: str) -> Piece | None:
    """The piece of ``prompts`` whose weight is furthest from 1 (by its size), or None when all weigh 1."""
    pieces = [p for prompt in prompts for p in parse(prompt) if not p.is_break and p.weight != 1.0]
    return max(pieces, key=lambda p: abs(math.log(max(abs(p.weight), 1e-300))), default=None)


def check_weights(prompt: str, label: str = "prompt") -> None:
    """A PromptSyntaxError, in words, when a piece of ``prompt`` weighs more than ``MAX_WEIGHT`` (or is not a
    number): its text embeddings would overflow into NaN, a black image."""
    for piece in parse(prompt):
        if not piece.is_break and not abs(piece.weight) <= MAX_WEIGHT:
            text = " ".join(piece.text.split())
            text = text if len(text) <= 40 else text[:39] + "…"
            raise PromptSyntaxError(
                f"The {label} gives '{text}' a weight of {piece.weight:.3g}; above {MAX_WEIGHT:g} its text "
                "embeddings overflow into NaN (a black image): use fewer brackets (each '(' multiplies by 1.1), or a "
                "weight such as (word:1.5).")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _broken(pieces: list[Piece]) -> list[Piece]:
    """Each BREAK inside a piece's text made a marker of its own (rule 7)."""
    out: list[Piece] = []
    for piece in pieces:
        parts = BREAK_WORD.split(piece.text)
        for n, part in enumerate(parts):
            if n:
                out.append(Piece("", -1.0, is_break=True))
            if part:
                out.append(Piece(part, piece.weight))
    return out


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Neighbours of the same weight as one piece; never an empty list (rule 8)."""
    out: list[Piece] = []
    for piece in pieces:
        if out and not piece.is_break and not out[-1].is_break and out[-1].weight == piece.weight:
            out[-1] = Piece(out[-1].text + piece.text, piece.weight)
        else:
            out.append(piece)
    return out or [Piece("", 1.0)]
