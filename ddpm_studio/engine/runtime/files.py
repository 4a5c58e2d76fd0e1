"""Files with the mode a plain ``open(path, "w")`` gives them: 0666 less the umask (or what the folder's ACL allows).

``tempfile.mkstemp`` creates its files readable by their owner only (0600), and so does safetensors' ``save_file``,
which diffusers' ``save_pretrained`` and accelerate's ``save_state`` use. ``create_exclusive`` opens a new temp file
the normal way; ``give_normal_modes`` widens what libraries wrote into a staging folder before it is renamed into place.
No ``os.umask`` calls: the umask is process-wide, and reading it means setting it, which races with other threads.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

NAME_TRIES = 100
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def create_exclusive(folder: str | Path, prefix: str, suffix: str) -> tuple[int, Path]:
    """A new file ``prefix<random>suffix`` in ``folder``, open for writing: (descriptor, path).

    ``O_EXCL`` makes it a file nobody else has (an existing name is never opened); mode 0666 lets the kernel apply the
    umask, as for any normally created file.
    """
    folder = Path(folder)
    for _ in range(NAME_TRIES):
        path = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(path, _FLAGS, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"No free temporary file name in {folder} after {NAME_TRIES} tries.")


def normal_mode(folder: str | Path) -> int:
    """The permission bits a file newly created in ``folder`` gets, learnt from a probe file made there and removed."""
    fd, probe = create_exclusive(folder, ".mode-probe-", "")
    try:
        os.close(fd)
        return stat.S_IMODE(os.stat(probe).st_mode)
    finally:
        probe.unlink(missing_ok=True)


def give_normal_modes(folder: str | Path) -> None:
    """Give every regular file under ``folder`` that lacks some of the normal mode's bits those bits.

    A file already as open keeps its mode, extra bits (an executable's) are kept, and symbolic links are neither
    changed nor followed.
    """
    mode = normal_mode(folder)
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            info = os.lstat(path)
            current = stat.S_IMODE(info.st_mode)
            if stat.S_ISREG(info.st_mode) and current & mode != mode:
                os.chmod(path, current | mode)
