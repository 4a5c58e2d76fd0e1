"""The add-on files an artist already owns — LoRAs, textual-inversion embeddings, VAEs — found, named and described
from their safetensors headers alone (no weights read, no torch), so listing a folder of hundreds stays quick.

- A **LoRA** is named by its file name (as A1111's ``<lora:NAME:W>`` names it). Key layouts: kohya/A1111
  (``lora_unet_…``, ``lora_te_…``, SDXL ``lora_te1_…``/``lora_te2_…``; ``.lora_down``/``.lora_up``/``.alpha``),
  diffusers/peft (``unet.….lora_A``/``lora_B``), and LyCORIS' LoHa (``hada_w1_a`` …) and LoKr (``lokr_w1`` …).
  Which model family it is for is read from the width of what its cross-attention keys take in (the text embedding:
  768 SD 1.x, 1024 SD 2.x, 2048 SDXL), else from a second text encoder's keys, else from kohya's
  ``ss_base_model_version``. Trigger words: the tags of kohya's ``ss_tag_frequency``, most used first.
- An **embedding**'s token is its file name. Layouts: A1111 ``emb_params`` (older ``string_to_param``), diffusers
  ``learned_embeds`` (one tensor named by its token), SDXL ``clip_l`` + ``clip_g``.
- A **VAE** is a ``.safetensors`` file (LDM or diffusers keys) or a diffusers folder (``config.json`` + weights).

``.pt``/``.bin``/``.ckpt`` add-ons are pickle files: listed (marked) so the user sees them, loaded only where pickle
files are allowed, and then weights-only. Every failure is an ``AddonError`` naming the file.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ddpm_studio.engine.addons.lora_families import ALL_FLOW, flow_families
from ddpm_studio.engine.models.catalogue import ModelError
from ddpm_studio.engine.models.families import (
    ARCH_BY_CONTEXT,
    FAMILY_NAMES,
    KOHYA_BASE,
    PICKLE_SUFFIXES,
    family_of_text_widths,
)

SAFE = ".safetensors"
HEADER_LIMIT = 100 * 2**20  # a safetensors header larger than this is not one
LORA_MARKERS = (".lora_down.", ".lora_up.", ".lora_A.", ".lora_B.", ".hada_w1_a", ".lokr_w1", "lora.down.", "lora.up.")
MAX_TRIGGERS = 12
FLOW_KEYS = frozenset(ALL_FLOW)


class AddonError(ModelError):
    """An add-on file cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Header:
    shapes: dict[str, list[int]]
    metadata: dict[str, str]


def read_header(path: Path) -> Header:
    """The tensor shapes and the metadata of a ``.safetensors`` file, from its header only; a file shorter than its
    header says (an unfinished download or copy) is an AddonError too."""
    try:
        with open(path, "rb") as handle:
            size_bytes = handle.read(8)
            if len(size_bytes) != 8:
                raise AddonError(f"{path} is empty or cut short: not a safetensors file.")
            (size,) = struct.unpack("<Q", size_bytes)
            if size > HEADER_LIMIT:
                raise AddonError(f"{path} is not a safetensors file (its header would be {size} bytes).")
            text = handle.read(size)
            if len(text) < size:
                raise AddonError(f"{path} is cut short inside its header (an unfinished download or copy?).")
            raw = json.loads(text)
            file_size = handle.seek(0, 2)
    except OSError as exc:
        raise AddonError(f"{path} cannot be read: {exc.strerror or exc}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AddonError(f"{path} is not a safetensors file (its header is not readable).") from None
    if not isinstance(raw, dict):
        raise AddonError(f"{path} is not a safetensors file.")
    metadata = raw.pop("__metadata__", None) or {}
    shapes = {k: list(v.get("shape", [])) for k, v in raw.items() if isinstance(v, dict)}
    ends = [v["data_offsets"][1] for v in raw.values() if isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
            and len(v["data_offsets"]) == 2 and isinstance(v["data_offsets"][1], int)]
    needed = 8 + size + max(ends, default=0)
    if needed > file_size:
        raise AddonError(f"{path} is cut short: its header promises {needed:,} bytes, the file holds {file_size:,} "
                         "(an unfinished download or copy?).")
    return Header(shapes=shapes, metadata={str(k): str(v) for k, v in metadata.items()})


@dataclass(frozen=True)
class LoraFile:
    name: str
    path: Path
    arch: str = ""  # sd1, sd2, sdxl, or "" when the file does not tell
    context_dim: int = 0  # what its cross-attention layers take in; 0 when it has none
    text_dim: int = 0  # the width of the (first) text encoder it changes; 0 when it changes none
    network: str = "LoRA"  # LoRA, LoHa or LoKr
    triggers: tuple[str, ...] = ()
    pickled: bool = False
    flow: tuple[str, ...] = ()  # the flow families its keys may be for (lora_families.py); () an SD LoRA or unknown

    @property
    def family(self) -> str:
        if self.flow:
            return " or ".join(FAMILY_NAMES[key] for key in self.flow)
        return family_name(self.arch, self.context_dim)

    def fits(self, context_dim: int, xl: bool | None = None, text_dim: int = 0, arch: str = "") -> bool | None:
        """Whether this LoRA is for a model whose UNet attends to ``context_dim``-wide text embeddings (``xl``: the
        model has SDXL's two text encoders; ``text_dim``: its first text encoder's width), or (``arch``: the model's
        family key) a flow model of that family; None when neither tells."""
        if self.flow:  # a flow transformer's LoRA: the model's family key tells (an SD model's too)
            return arch in self.flow if arch else (False if xl is not None else None)
        if arch in FLOW_KEYS:  # an SD LoRA on a flow model; one whose family is unknown: the run decides
            return False if (self.arch or self.context_dim or self.text_dim) else None
        if self.context_dim and context_dim:
            return self.context_dim == context_dim and not (self.text_dim and text_dim and self.text_dim != text_dim)
        if self.text_dim and text_dim:
            return self.text_dim == text_dim
        if self.arch and xl is not None:
            return (self.arch == "sdxl") == xl
        return None


@dataclass(frozen=True)
class EmbeddingFile:
    name: str  # the token the prompt uses
    path: Path
    dims: tuple[int, ...] = ()  # one width per text encoder it holds vectors for (SDXL: clip_l, clip_g)
    vectors: int = 0
    pickled: bool = False

    @property
    def family(self) -> str:
        family = family_of_text_widths(self.dims)
        return family.name if family is not None else ""

    @property
    def made_for(self) -> str:
        """What it is made for, in words: its family, else the width of its text encoder(s)."""
        return self.family or f"a text encoder {' and '.join(map(str, self.dims))} wide"

    def fits(self, context_dim: int, xl: bool | None = None) -> bool | None:
        """Whether the vectors fit a model whose UNet attends to ``context_dim``-wide text embeddings (SDXL's 2048
        are its two encoders' 768 + 1280, one width per encoder here); None when neither tells."""
        if self.dims and context_dim:
            return sum(self.dims) == context_dim
        if self.dims and xl is not None:
            return (len(self.dims) == 2) == xl
        return None


@dataclass(frozen=True)
class UnreadableFile:
    """An add-on file in a folder that cannot be used; ``reason`` is one sentence that names it and says why."""

    path: Path
    reason: str
    tag: str = "unreadable"  # the reason in a word or two, for a list's tag

    @property
    def name(self) -> str:
        """The word (a LoRA's tag name, an embedding's token) the file would have given."""
        return self.path.stem

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class VaeFile:
    name: str
    path: Path


def family_name(arch: str, context_dim: int = 0) -> str:
    if arch in FAMILY_NAMES:
        return FAMILY_NAMES[arch]
    return f"a model with {context_dim}-wide text embeddings" if context_dim else "an unknown family"


def model_family(context_dim: int) -> str:
    """How a loaded model's family is named, from its UNet's ``cross_attention_dim``."""
    return family_name(ARCH_BY_CONTEXT.get(context_dim, ""), context_dim)


def _files(folders, suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        root = Path(folder).expanduser()
        candidates = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in candidates:
            if path.suffix.lower() in suffixes and path.is_file() and path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(path)
    return found


def lora_file(path: Path) -> LoraFile:
    """What a LoRA file is, read from its header; an AddonError if it holds no LoRA."""
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return LoraFile(name=path.stem, path=path, pickled=True)
    header = read_header(path)
    keys = header.shapes
    if not any(marker in key for key in keys for marker in LORA_MARKERS):
        raise AddonError(f"{path} holds no LoRA weights (no lora_down/lora_up, lora_A/lora_B, LoHa or LoKr keys).")
    network = "LoHa" if any(".hada_" in k for k in keys) else "LoKr" if any(".lokr_" in k for k in keys) else "LoRA"
    flow = flow_families(keys)
    if flow:  # a flow transformer's LoRA: its family is told by its layers' names (lora_families.py)
        return LoraFile(name=path.stem, path=path, arch=flow[0] if len(flow) == 1 else "", network=network,
                        triggers=trigger_words(header.metadata), flow=flow)
    context = text = 0
    for key, shape in keys.items():
        down = any(m in key for m in (".lora_down.", ".lora_A.", "lora.down."))
        if down and len(shape) == 2:
            if not context and "attn2" in key and ("to_k" in key or "to_v" in key):
                context = shape[1]
            if not text and _is_text_key(key) and not _is_second_text_key(key) and "q_proj" in key:
                text = shape[1]
    arch = ARCH_BY_CONTEXT.get(context, "")
    if not arch and any(_is_second_text_key(k) for k in keys):
        arch = "sdxl"
    if not arch:
        arch = KOHYA_BASE.get(header.metadata.get("ss_base_model_version", ""), "")
    return LoraFile(name=path.stem, path=path, arch=arch, context_dim=context, text_dim=text, network=network,
                    triggers=trigger_words(header.metadata))


def _is_text_key(key: str) -> bool:
    return key.startswith(("lora_te", "text_encoder"))


def _is_second_text_key(key: str) -> bool:
    return key.startswith(("lora_te2_", "text_encoder_2."))


def trigger_words(metadata: dict[str, str]) -> tuple[str, ...]:
    """The trigger phrase the file names (``modelspec.trigger_phrase``, comma separated), then the tags of kohya's
    ``ss_tag_frequency`` (training folder → tag → count), most used first."""
    named = [w.strip() for w in str(metadata.get("modelspec.trigger_phrase", "")).split(",") if w.strip()]
    try:
        folders = json.loads(metadata.get("ss_tag_frequency", "") or "{}")
    except json.JSONDecodeError:
        return tuple(named[:MAX_TRIGGERS])
    counts: dict[str, int] = {}
    for tags in folders.values() if isinstance(folders, dict) else ():
        for tag, count in tags.items() if isinstance(tags, dict) else ():
            tag = str(tag).strip()
            if tag and isinstance(count, (int, float)):
                counts[tag] = counts.get(tag, 0) + int(count)
    ranked = named + [t for t in sorted(counts, key=lambda t: (-counts[t], t)) if t not in named]
    return tuple(ranked[:MAX_TRIGGERS])


def list_loras(folders) -> tuple[list[LoraFile], list[UnreadableFile]]:
    """The LoRAs in ``folders`` (searched through their subfolders), and each file skipped, with why."""
    found, skipped = [], []
    for path in _files(folders, (SAFE, *PICKLE_SUFFIXES)):
        try:
            found.append(lora_file(path))
        except AddonError as exc:
            skipped.append(UnreadableFile(path, str(exc)))
    return found, skipped


def find_lora(ref: str, folders) -> Path:
    """A LoRA by path, or by name (its file name without the suffix, as prompt tags give it) in ``folders``."""
    path = Path(ref).expanduser()
    if path.is_file():
        return path
    name = path.stem if path.suffix.lower() in (SAFE, *PICKLE_SUFFIXES) else path.name
    candidates = _files(folders, (SAFE, *PICKLE_SUFFIXES))  # the folders walked once; the exact name first, then any case
    matches = [p for p in candidates if p.stem == name] or [p for p in candidates if p.stem.lower() == name.lower()]
    if not matches:
        where = ", ".join(str(f) for f in folders) or "no LoRA folder is set"
        raise AddonError(f"No LoRA named '{name}' ({where}).")
    return sorted(matches, key=lambda p: (p.suffix.lower() != SAFE, str(p)))[0]  # a safetensors file before a pickle


def embedding_file(path: Path) -> EmbeddingFile:
    path = Path(path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return EmbeddingFile(name=path.stem, path=path, pickled=True)
    shapes = read_header(path).shapes
    if "clip_l" in shapes and "clip_g" in shapes:
        dims = (shapes["clip_l"][-1], shapes["clip_g"][-1])
        vectors = shapes["clip_l"][0] if len(shapes["clip_l"]) == 2 else 1
    else:
        vectors_key = "emb_params" if "emb_params" in shapes else next(
            (k for k in shapes if k.startswith("string_to_param")), None)
        if vectors_key is None and len(shapes) == 1:  # diffusers' learned_embeds: {token: vector(s)}
            vectors_key = next(iter(shapes))
        if vectors_key is None or not shapes[vectors_key]:
            raise AddonError(f"{path} is not a textual-inversion embedding (no emb_params, string_to_param, "
                             "clip_l/clip_g, or single learned vector).")
        shape = shapes[vectors_key]
        dims, vectors = (shape[-1],), shape[0] if len(shape) == 2 else 1
    return EmbeddingFile(name=path.stem, path=path, dims=dims, vectors=vectors)


def list_embeddings(folders) -> tuple[list[EmbeddingFile], list[UnreadableFile]]:
    """The embeddings in ``folders`` (searched through their subfolders), and each file skipped, with why: one that
    cannot be read, holds no embedding, or repeats a name found first."""
    found, skipped = [], []
    names: set[str] = set()
    for path in _files(folders, (SAFE, *PICKLE_SUFFIXES)):
        try:
            embedding = embedding_file(path)
        except AddonError as exc:
            skipped.append(UnreadableFile(path, str(exc)))
            continue
        if embedding.name in names:
            skipped.append(UnreadableFile(path, f"{path}: an embedding named '{embedding.name}' was found first; "
                                                "this one is not used.", tag="name taken"))
            continue
        names.add(embedding.name)
        found.append(embedding)
    return found, skipped


def list_vaes(folders) -> list[VaeFile]:
    """``.safetensors`` VAE files and diffusers VAE folders (``config.json`` naming AutoencoderKL) in ``folders``; a
    VAE folder's own weights file is that folder, not a VAE of its own."""
    vae_folders: list[Path] = []
    for folder in folders:
        root = Path(folder).expanduser()
        if root.is_dir():
            vae_folders += [c.parent for c in [root / "config.json", *sorted(root.glob("*/config.json"))]
                            if _is_vae_folder(c.parent)]
    inside = {f.resolve() for f in vae_folders}
    files = [VaeFile(p.stem, p) for p in _files(folders, (SAFE,)) if p.parent.resolve() not in inside]
    return files + [VaeFile(f.name, f) for f in vae_folders]


def _is_vae_folder(folder: Path) -> bool:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("_class_name") == "AutoencoderKL"


@dataclass
class AddonFolders:
    """Where the engine looks for add-ons named by name (prompt tags, restored images, the CLI)."""

    loras: list[str] = field(default_factory=list)
    embeddings: list[str] = field(default_factory=list)
    vaes: list[str] = field(default_factory=list)
    controlnets: list[str] = field(default_factory=list)
    wildcards: list[str] = field(default_factory=list)  # folders of name.txt files for __name__ (prompts/wildcards.py)


def missing_files(payload: dict, folders: AddonFolders) -> list[tuple[str, str]]:
    """For restoring an image: (``"lora"`` or ``"embedding"``, name) for each LoRA or embedding it was made with that
    is not in ``folders``; ``payload`` is ``output/metadata.read_metadata``'s."""
    files = payload.get("files") if isinstance(payload.get("files"), dict) else {}
    missing = []
    for name in files.get("loras", []):
        try:
            find_lora(str(name), folders.loras)
        except AddonError:
            missing.append(("lora", str(name)))
    have = {e.name.lower() for e in list_embeddings(folders.embeddings)[0]}
    missing += [("embedding", str(name)) for name in files.get("embeddings", []) if str(name).lower() not in have]
    return missing
