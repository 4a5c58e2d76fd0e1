"""Words added to the end of a prompt box (a LoRA's trigger words, an embedding's name): only those it does not hold
yet, comma-separated, as one edit that Ctrl+Z takes back out; and a part of it replaced or taken out (a LoRA's tag)."""

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
    cursor.setPosition(_qt_position(kept, len(kept)))
    cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(separator + ", ".join(new))
    return new


def replace_span(edit: QPlainTextEdit, start: int, end: int, text: str) -> None:
    """Replace the box's characters ``start:end`` (Python string indices) with ``text``, as one edit Ctrl+Z takes back."""
    whole = edit.toPlainText()
    cursor = QTextCursor(edit.document())
    cursor.setPosition(_qt_position(whole, start))
    cursor.setPosition(_qt_position(whole, end), QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(text)


def remove_span(edit: QPlainTextEdit, start: int, end: int) -> None:
    """Take ``start:end`` out of the box, with the comma and spaces that joined it to the text before (or after)."""
    whole = edit.toPlainText()
    before = whole[:start].rstrip()
    after = whole[end:]
    if before.endswith(","):
        start = len(before) - 1
    elif not before:
        start, end = 0, end + len(after) - len(after.lstrip(" ,"))
    replace_span(edit, start, end, "")


def _qt_position(text: str, index: int) -> int:
    """A Python string index as a position in a Qt document (UTF-16 code units)."""
    return len(text[:index].encode("utf-16-le")) // 2
