"""Words added to the end of a prompt box (a LoRA's trigger words, an embedding's name): only those it does not hold
yet, comma-separated, as one edit that Ctrl+Z takes back out."""

from __future__ import annotations

import re

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit


def has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


def append_words(edit: QPlainTextEdit, words) -> list[str]:
    """Add ``words`` the box does not have yet at its end; returns those added."""
    text = edit.toPlainText()
    new = [w for w in words if not has_word(text, w)]
    if not new:
        return []
    kept = text.rstrip()
    separator = "" if not kept else " " if kept.endswith(",") else ", "
    cursor = QTextCursor(edit.document())  # an edit, not a new text: Ctrl+Z takes the words back out
    cursor.setPosition(len(kept.encode("utf-16-le")) // 2)
    cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(separator + ", ".join(new))
    return new
