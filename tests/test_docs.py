"""The README stays short and the manual in docs/ stays whole: every relative link resolves, and every page is
reachable from the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
README_LIMIT = 12 * 1024  # a newcomer reads it in two minutes
NOT_LINKED_FROM_README = {"architecture.md"}  # need not be linked (the README links it from Development all the same)

# [text](target) and ![alt](target); the text may wrap over lines, the target may carry a "title".
_LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", re.S)
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")


def _targets(markdown: Path) -> list[str]:
    text = _FENCE.sub("", markdown.read_text(encoding="utf-8"))  # a link-like string in code is not a link
    text = _INLINE_CODE.sub("", text)
    return _LINK.findall(text)


def _local(target: str) -> str | None:
    """The file part of a relative link, or None for web links, mail links and pure #anchors."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I) or target.startswith("#"):
        return None
    return target.split("#", 1)[0].split("?", 1)[0]


def _pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def test_readme_is_short():
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes, over {README_LIMIT}: move detail into docs/"


@pytest.mark.parametrize("markdown", [README, *_pages()], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(markdown: Path):
    broken = [t for t in _targets(markdown) if (f := _local(t)) and not (markdown.parent / f).exists()]
    assert not broken, f"{markdown.relative_to(ROOT)} links to files that do not exist: {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / f).resolve() for t in _targets(README) if (f := _local(t))}
    orphans = [p.name for p in _pages() if p.name not in NOT_LINKED_FROM_README and p.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link: {orphans}"


def test_every_screenshot_is_shown_somewhere():
    shown = {(m.parent / f).resolve() for m in [README, *_pages()] for t in _targets(m) if (f := _local(t))}
    unshown = [p.name for p in sorted(DOCS.glob("*.png")) if p.resolve() not in shown]
    assert not unshown, f"pictures in docs/ that no page shows: {unshown}"
