"""The short hashes A1111 writes into an image's parameters, so Civitai and sd-parsers can tell which files made it.

- ``Model hash``, ``VAE hash``: the first 10 hex digits of the SHA-256 of the whole file (A1111's "shorthash");
- ``Lora hashes``: the first 12 of the SHA-256 of a ``.safetensors`` file's tensor bytes, after its 8-byte header
  length and its header (kohya's ``addnet_hash_safetensors``, which A1111 uses, so editing a LoRA's metadata keeps
  its hash); a pickle LoRA: of the whole file;
- ``TI hashes``: the first 12 of the SHA-256 of the whole embedding file.

A checkpoint is gigabytes, so each hash is computed once and cached by path, size and modification time (in
``hashes.json`` under the cache folder); a changed file is hashed again. ``prefetch`` starts a checkpoint's hash on a
thread of its own when the model loads, so saving the first image rarely waits for it. No torch, no Qt.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from pathlib import Path

from ddpm_studio.engine.runtime.files import create_exclusive
from ddpm_studio.paths import cache_dir

BLOCK = 1 << 20
_lock = threading.Lock()
_running: dict[str, threading.Event] = {}  # hashes being computed now: the others wait for them


def _sha256(path: Path, skip_header: bool) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if skip_header:
            (size,) = struct.unpack("<Q", handle.read(8))
            handle.seek(8 + size)
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _cache_file() -> Path:
    return cache_dir() / "hashes.json"


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(data: dict) -> None:
    folder = _cache_file().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = create_exclusive(folder, ".hashes-", ".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, _cache_file())
    except OSError:
        pass  # a cache that cannot be written costs time, never a result


def full_hash(path: str | Path, addnet: bool = False) -> str:
    """The whole SHA-256 (hex) of ``path`` — with ``addnet``, of a safetensors file's bytes after its header."""
    path = Path(path).resolve()
    addnet = addnet and path.suffix.lower() == ".safetensors"
    stat = path.stat()
    key = f"{'addnet' if addnet else 'sha256'}:{path}"
    stamp = [stat.st_size, stat.st_mtime_ns]
    while True:
        with _lock:
            entry = _read_cache().get(key)
            if isinstance(entry, dict) and entry.get("stamp") == stamp and isinstance(entry.get("hash"), str):
                return entry["hash"]
            running = _running.get(key)
            if running is None:
                done = _running[key] = threading.Event()
                break
        running.wait()  # another thread is hashing this file: its result will be in the cache
    try:
        value = _sha256(path, addnet)
        with _lock:
            data = _read_cache()
            data[key] = {"stamp": stamp, "hash": value}
            _write_cache(data)
    finally:
        with _lock:
            del _running[key]
        done.set()
    return value


def prefetch(path: str | Path) -> None:
    """Start hashing ``path`` in the background (a file that cannot be read is left for later to report)."""
    def work() -> None:
        try:
            full_hash(path)
        except OSError:
            pass

    threading.Thread(target=work, name="hash " + Path(path).name, daemon=True).start()


def model_hash(path: str | Path) -> str:
    return full_hash(path)[:10]


def lora_hash(path: str | Path) -> str:
    return full_hash(path, addnet=True)[:12]


def embedding_hash(path: str | Path) -> str:
    return full_hash(path)[:12]
