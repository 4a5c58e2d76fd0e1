"""Finding the pictures under a folder the gallery scans: every PNG, hidden files left out, symbolic links to folders
not followed, and each link that loops or leads nowhere, and each folder that cannot be listed, named with why
(``index.GalleryIndex.add_folder`` reports them). No Qt.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def pictures(root: Path, skipped: list[tuple[str, str]]) -> list[Path]:
    """The PNGs under ``root``, sorted; symbolic links to folders are not followed. A link that loops (to itself, or
    to a folder it is in), a link to nothing and a folder that cannot be listed are added to ``skipped`` as (file,
    why)."""
    files = []

    def unlisted(error: OSError) -> None:
        skipped.append((str(error.filename), f"{error.filename}: the folder could not be read "
                                             f"({error.strerror or error}); its pictures are left out."))

    for folder, subfolders, names in os.walk(root, onerror=unlisted):
        here = Path(folder)
        for name in sorted(subfolders):
            link = here / name
            if link.is_symlink() and _loops(link):
                skipped.append((str(link), f"{link} is a symbolic link to a folder it is in "
                                           f"({os.readlink(link)}); not followed."))
        for name in names:
            path = here / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                loops, why = _bad_link(path)
                if loops or (why and path.suffix.lower() == ".png"):
                    skipped.append((str(path), why))
                if why:
                    continue
            if path.suffix.lower() == ".png" and path.is_file():
                files.append(path)
    return sorted(files)


def _bad_link(path: Path) -> tuple[bool, str | None]:
    """Whether a symbolic link loops, and why it leads nowhere (it loops, or its target is missing) in a sentence;
    (False, None) when it leads to a file or folder."""
    try:
        path.stat()
        return False, None
    except OSError as exc:
        target = os.readlink(path)
        if exc.errno == errno.ELOOP:
            return True, f"{path} is a symbolic link that loops back on itself (→ {target})."
        return False, f"{path} is a symbolic link to {target}, which is not there ({exc.strerror})."


def _loops(link: Path) -> bool:
    """Whether a link to a folder leads back to a folder it is in (followed, it would never end)."""
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return target == link.parent.resolve() or target in link.parent.resolve().parents
