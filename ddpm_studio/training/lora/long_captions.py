"""Captions longer than the text encoder reads (CLIP: 77 tokens) are cut there, as Stable Diffusion pipelines cut
any prompt. The run says so once, in one line naming the file, and diffusers is kept from printing the cut-off text
into the log at every encoding (a 1 MB caption file made a 1 MB log), transformers from its warning about the
length. No Qt."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

from ddpm_studio.training.lora.captions import sidecar

# the log lines that quote or count a cut prompt: diffusers' (with the whole cut-off text) and transformers'
CUT_NOTICES = ("The following part of your input was truncated", "Token indices sequence length is longer")
TOKENIZER_LOGGER = "transformers.tokenization_utils_base"


def too_long(tokenizer, text: str) -> bool:
    """Whether ``text`` has more tokens than ``tokenizer`` takes (its start and end tokens counted)."""
    limit = int(getattr(tokenizer, "model_max_length", 0) or 0)
    if not 0 < limit < 100_000:  # a tokenizer that sets no real limit cuts nothing
        return False
    if len(text) > 64 * limit:  # no token is that long: no need to read all of a huge caption
        return True
    return len(tokenizer(text, truncation=True, max_length=limit + 1).input_ids) > limit


def long_caption_note(tokenizer, items) -> str:
    """One line naming the caption file (or the caption template) whose text is cut at the tokenizer's limit, and
    how many more are; "" when none is. ``items`` have ``.path`` (the picture) and ``.caption``."""
    where = []
    for item in items:
        if too_long(tokenizer, item.caption):
            text_file = sidecar(Path(item.path))
            where.append(str(text_file) if text_file.is_file() else "the caption template")
    where = list(dict.fromkeys(where))
    if not where:
        return ""
    more = f" (and {len(where) - 1} more caption(s))" if len(where) > 1 else ""
    return (f"Captions are cut at the {tokenizer.model_max_length} tokens the text encoder reads: {where[0]} is "
            f"longer{more}.")


class _DropCutNotices(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(CUT_NOTICES))


@contextmanager
def quiet_cuts(pipe):
    """While encoding prompts with ``pipe``: the log lines that quote or count a cut prompt are dropped (only
    those, only from ``pipe``'s own modules and the tokenizer's)."""
    names = {cls.__module__ for cls in type(pipe).__mro__ if cls.__module__.startswith("diffusers.")}
    loggers = [logging.getLogger(name) for name in sorted(names | {TOKENIZER_LOGGER})]
    drop = _DropCutNotices()
    for logger in loggers:
        logger.addFilter(drop)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(drop)
