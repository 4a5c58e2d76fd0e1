"""Tokenizers for text-encoder files, which hold weights only: a user's own folder first, then a copy in the local
Hugging Face cache, then the one that ships in ``resources/tokenizers/`` — so split files load offline with an
empty cache.

- ``clip``: CLIP's byte-pair vocabulary (``single_file.find_tokenizer``; tools/derive_clip_tokenizer.py);
- ``t5``: T5 v1.1's (google/t5-v1_1-xxl, Apache-2.0), ``tokenizer.json``;
- ``qwen3``: Qwen3's (Qwen/Qwen3-4B, Apache-2.0), ``tokenizer.json`` — shipped gzip-compressed (11 MB unpacked);
- ``qwen2.5-vl``: Qwen2.5-VL's (Qwen-Image's text encoder) from the HF cache, else the shipped Qwen3 one stands in
  (``STAND_INS``): the same byte-level BPE and the same added tokens up to id 151,664; Qwen3's four after them are
  taken out (``LAST_ADDED``), so it is Qwen2.5-VL's tokenizer (tests/test_qwenvl_tokenizer.py shows it). No package
  on PyPI carries Qwen2.5-VL's own files.

The shipped T5 and Qwen3 files are copied from InvokeAI's wheel by tools/derive_text_tokenizers.py; their licence
and the wheel's hash are in ``resources/licenses/T5-Qwen3-tokenizers-Apache-2.0.txt``. No network here.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from ddpm_studio.paths import resources_dir

# kind → hub repos (and subfolder) whose cached copy holds its tokenizer.json
CACHED = {
    "t5": (("google/t5-v1_1-xxl", ""), ("black-forest-labs/FLUX.1-dev", "tokenizer_2"),
           ("black-forest-labs/FLUX.1-schnell", "tokenizer_2"),
           ("stabilityai/stable-diffusion-3.5-large", "tokenizer_3"),
           ("stabilityai/stable-diffusion-3.5-medium", "tokenizer_3")),
    "qwen3": (("Qwen/Qwen3-4B", ""),),
    "qwen2.5-vl": (("Qwen/Qwen-Image", "tokenizer"), ("Qwen/Qwen2.5-VL-7B-Instruct", "")),
}
STAND_INS = {"qwen2.5-vl": "qwen3"}  # kind → the shipped tokenizer that gives its ids
# kind → its own last added token where its stand-in has more: Qwen2.5-VL's ends at <|file_sep|>, 151,664 (its
# tokenizer_config.json); Qwen3's four after it (<tool_response> … </think>) are left out, so a prompt holding those
# words is split as Qwen2.5-VL splits it
LAST_ADDED = {"qwen2.5-vl": 151664}
T5_CONTEXT = 512  # T5 v1.1's model_max_length (SD 3.5 reads 256 tokens of it, Flux-dev 512, schnell 256)


class TokenizerMissing(Exception):
    """No tokenizer of that kind is at hand; the message says where one may go."""


def shipped(kind: str) -> Path:
    """The folder of the ``kind`` tokenizer that ships with the app."""
    return resources_dir() / "tokenizers" / STAND_INS.get(kind, kind)


def _holds(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or (folder / "tokenizer.json.gz").is_file()


def _cached(kind: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    for repo, sub in CACHED.get(kind, ()):
        found = try_to_load_from_cache(repo, f"{sub}/tokenizer.json" if sub else "tokenizer.json")
        if isinstance(found, str):
            return Path(found).parent
    return None


def tokenizer_folder(kind: str, own: Path | None = None) -> Path:
    """Where the ``kind`` tokenizer comes from: ``own`` (a user's folder) when it holds one, the HF cache, or the
    shipped copy; ``TokenizerMissing`` naming the folders when none does."""
    if own is not None and _holds(own):
        return own
    cached = _cached(kind)
    if cached is not None:
        return cached
    if _holds(shipped(kind)):
        return shipped(kind)
    where = f"{own} or " if own is not None else ""
    raise TokenizerMissing(f"No {kind.upper()} tokenizer: none in {where}the Hugging Face cache, and the copy that "
                           f"ships with DDPM Studio is missing ({shipped(kind)}); reinstall DDPM Studio or copy a "
                           "tokenizer.json there.")


def load_tokenizer(kind: str, own: Path | None = None):
    """The ``kind`` (t5, qwen3, qwen2.5-vl) fast tokenizer from ``tokenizer_folder``."""
    return _load(str(tokenizer_folder(kind, own)), kind)


@lru_cache(maxsize=4)
def _load(folder: str, kind: str):
    from transformers import AutoTokenizer, T5TokenizerFast

    path = Path(folder)
    if not (path / "tokenizer.json").is_file():  # the shipped Qwen3 one: unpacked for the moment it is read
        with tempfile.TemporaryDirectory() as tmp:
            with gzip.open(path / "tokenizer.json.gz", "rb") as packed, open(Path(tmp) / "tokenizer.json", "wb") as out:
                shutil.copyfileobj(packed, out)
            for name in ("tokenizer_config.json", "special_tokens_map.json"):
                if (path / name).is_file():
                    shutil.copyfile(path / name, Path(tmp) / name)
            if kind in LAST_ADDED:
                _drop_added_after(Path(tmp), LAST_ADDED[kind])
            return AutoTokenizer.from_pretrained(tmp, local_files_only=True)
    if kind == "t5":
        return T5TokenizerFast.from_pretrained(folder, local_files_only=True, model_max_length=T5_CONTEXT)
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


def _drop_added_after(folder: Path, last: int) -> None:
    """The tokenizer files in ``folder`` without their added tokens past id ``last``."""
    import json

    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    data["added_tokens"] = [token for token in data["added_tokens"] if token["id"] <= last]
    (folder / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    if (folder / "tokenizer_config.json").is_file():
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        config["added_tokens_decoder"] = {key: value for key, value in config.get("added_tokens_decoder", {}).items()
                                          if int(key) <= last}
        (folder / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
