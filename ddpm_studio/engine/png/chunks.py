"""The text chunks a PNG of ours carries, by key, and A1111's ``parameters`` text read back into its fields: what
saving writes (``engine/output/metadata.py``) and what the gallery and restoring read. Plain text; no Qt, no torch.

The ``parameters`` text is the prompt, a ``Negative prompt:`` line, and a last line of ``key: value`` pairs, values
holding ',', ':' or a newline JSON-quoted (the layout ``metadata.a1111_parameters`` writes, and A1111 and the tools
that follow it).
"""

from __future__ import annotations

import json

PARAMETERS_KEY = "parameters"  # A1111's text, which other tools read
JSON_KEY = "ddpm_studio"  # our JSON payload: the job, for round-trips
# where a picture's guidance scale is: Forge writes Flux's (distilled) guidance as "Distilled CFG Scale" beside a
# "CFG scale: 1" that says no classifier-free pass ran (modules/processing.py, create_infotext); others "CFG scale"
GUIDANCE_KEYS = ("Distilled CFG Scale", "CFG scale")


def guidance_text(fields: dict[str, str]) -> str | None:
    """The guidance scale of parsed ``parameters`` (``parse_a1111``), as written; None when it has none."""
    return next((fields[key] for key in GUIDANCE_KEYS if key in fields), None)


def parse_a1111(text: str) -> dict[str, str]:
    """Parse an A1111 ``parameters`` text into {'prompt', 'negative_prompt', key: value, ...}."""
    lines = text.strip().split("\n")
    result: dict[str, str] = {"prompt": "", "negative_prompt": ""}
    last = lines[-1] if lines else ""
    pairs = _split_params(last)
    if len(pairs) >= 3:
        lines = lines[:-1]
        result.update(pairs)
    prompt_lines, negative_lines, target = [], [], None
    for line in lines:
        if line.startswith("Negative prompt:"):
            target = negative_lines
            line = line[len("Negative prompt:") :].strip()
        (target if target is not None else prompt_lines).append(line)
    result["prompt"] = "\n".join(prompt_lines).strip()
    result["negative_prompt"] = "\n".join(negative_lines).strip()
    return result


def _split_params(line: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    i, n = 0, len(line)
    while i < n:
        colon = line.find(":", i)
        if colon < 0:
            break
        key = line[i:colon].strip()
        j = colon + 1
        while j < n and line[j] == " ":
            j += 1
        quoted = None
        if j < n and line[j] == '"':
            try:
                quoted, j = json.JSONDecoder().raw_decode(line, j)
            except ValueError:  # a stray or unclosed quote: the text as it is, up to the next comma
                quoted = None
        if quoted is not None:
            value = quoted
        else:
            end = line.find(",", j)
            end = n if end < 0 else end
            value = line[j:end].strip()
            j = end
        pairs[key] = str(value)
        comma = line.find(",", j)
        i = n if comma < 0 else comma + 1
    return pairs
