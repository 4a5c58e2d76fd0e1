"""Pairing a flow family's diffusion-model file with the text encoders and VAE its family needs, from a models home's
folders (ComfyUI's ``models/text_encoders``, ``models/clip``, ``models/vae``), as ComfyUI users pick them by hand.

Each text part of the family (``split.text_encoders`` in models/families.py) takes a file of its kind and width (a
CLIP-L 768 wide, a CLIP-G 1280, a T5-XXL 4096 — the widths of its config folder); among those that fit, the one
the user chose before (``remembered``: part → path; "" for an optional part the user left out) wins, then one whose
name holds ComfyUI's name for it (``clip_l``, ``t5xxl``), then the first by name. The VAE likewise, by its latent channels and the family's
``vae_words`` (Flux's ``ae.safetensors``); a checkpoint with its VAE inside needs none, and text encoders inside an
all-in-one file are used as they are. What cannot be found is named in ``missing``. Headers only are read, each
file once while it is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.models.families import BY_KEY, FAMILIES
from ddpm_studio.engine.models.split_files import (
    SplitFacts,
    missing_parts,
    part_widths,
    read_split,
    vae_channels,
    vae_latent_channels,
    wan_vae,
)
from ddpm_studio.engine.models.text_files import TextEncoderFile, encoders_in

VAE_PART = "vae"  # the remembered choice's key for the VAE


@dataclass(frozen=True)
class Pairing:
    """A diffusion-model file and the files it runs with; ``missing`` says what none of the folders had."""

    model: Path
    family: str
    text_encoders: tuple[str, ...] = ()
    vae: str = ""
    missing: tuple[str, ...] = ()
    chosen: tuple[tuple[str, str], ...] = ()  # (part: text_encoder…/vae, path): what to remember
    options: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (part, its name, every file that fits it)

    @property
    def complete(self) -> bool:
        return not self.missing


_HEADERS: dict[tuple, dict] = {}


def _shapes(path: Path) -> dict:
    from ddpm_studio.engine.models.single_file import SingleFileError, read_shapes

    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _HEADERS:
        try:
            _HEADERS[key] = read_shapes(path)
        except SingleFileError:
            _HEADERS[key] = {}
    return _HEADERS[key]


def _files(folders) -> list[Path]:
    return sorted({p for folder in folders for pattern in ("*.safetensors", "*.gguf")  # GGUF: T5 encoders
                   for p in Path(folder).expanduser().rglob(pattern) if p.is_file()})


def split_facts(model: Path) -> SplitFacts:
    facts = read_split(model, _shapes(model))
    if facts is None:
        paired = ", ".join(family.name for family in FAMILIES if family.split)
        raise ModelError(f"{model} is not a diffusion-model file of a family DDPM Studio pairs ({paired}).")
    return facts


def _pick(candidates: list[Path], remembered: str, words: tuple[str, ...]) -> Path | None:
    if remembered and Path(remembered) in candidates:
        return Path(remembered)
    named = [p for p in candidates if any(word in p.name.lower() for word in words)]
    plain = [p for p in named if "fp8" not in p.name.lower() and p.suffix != ".gguf"]  # bf16/fp16 first, then fp8/GGUF
    return (plain or named or candidates or [None])[0]


def pair(model: Path, text_folders=(), vae_folders=(), remembered: dict | None = None) -> Pairing:
    """``model`` paired from the folders; what is missing named, nothing raised for it."""
    from ddpm_studio.engine.models.single_file import SingleFileError, config_folder

    remembered = remembered or {}
    model = Path(model).expanduser().resolve()
    facts = split_facts(model)
    family = BY_KEY[facts.family]
    try:
        config = config_folder(facts.config)
    except SingleFileError as exc:
        raise ModelError(str(exc)) from None
    widths = part_widths(family, config)
    found_in: dict[Path, list[TextEncoderFile]] = {p: encoders_in(p, _shapes(p)) for p in _files(text_folders)}
    chosen: dict[str, TextEncoderFile] = {}
    inside_parts: dict[str, None] = {}
    taken: set[Path] = set()
    options: list[tuple[str, str, tuple[str, ...]]] = []
    for part in family.split.text_encoders:
        if any(f.kind == part.kind and f.width == widths[part.folder] for f in facts.text_inside):
            inside_parts[part.folder] = None  # inside the model's own file
            continue
        fitting = [p for p, encoders in found_in.items()
                   if any(e.kind == part.kind and e.width == widths[part.folder] for e in encoders)]
        options.append((part.folder, part.name, tuple(str(p) for p in fitting)))
        if part.optional and remembered.get(part.folder) == "":  # the user chose none (SD 3.5 without its T5)
            continue
        fits = [p for p in fitting if p not in taken]
        pick = _pick(fits, remembered.get(part.folder, ""), part.words)
        if pick is not None:
            chosen[part.folder] = next(e for e in found_in[pick] if e.kind == part.kind)
            taken.add(pick)
    vae = ""
    if not facts.vae_inside:
        channels, wan = vae_latent_channels(config), wan_vae(config)
        fits = [p for p in _files(vae_folders) if vae_channels(p, _shapes(p), wan) == channels and p not in found_in]
        options.append((VAE_PART, "VAE", tuple(str(p) for p in fits)))
        pick = _pick(fits, remembered.get(VAE_PART, ""), family.split.vae_words)
        vae = str(pick) if pick is not None else ""
    lacking = missing_parts(family, config, {**inside_parts, **chosen}, bool(vae) or facts.vae_inside)
    memory = tuple((part, str(found.path)) for part, found in chosen.items()) + (((VAE_PART, vae),) if vae else ())
    return Pairing(model=model, family=family.key, text_encoders=tuple(str(f.path) for f in chosen.values()), vae=vae,
                   missing=tuple(lacking), chosen=memory, options=tuple(options))


def pair_beside(model: Path, text_folders=(), vae_folders=(), remembered: dict | None = None) -> Pairing:
    """``pair`` from the folders given and those of the ComfyUI folder ``model`` lies in, if it does (the panels')."""
    from ddpm_studio.engine.models.home import home_above

    above = home_above(Path(model))
    return pair(model, [*text_folders, *(above.text_encoders if above else ())],
                [*vae_folders, *(above.vaes if above else ())], remembered)


def lacking_words(model: Path, family: str, lacking) -> str:
    """What a diffusion-model file lacks, for the panels (the CLI's names its flags: split_files.missing_message)."""
    return (f"{Path(model).name} ({BY_KEY[family].name} diffusion model) needs {' and '.join(lacking)}: put them in "
            "the models home's models/text_encoders and models/vae.")


def pair_in_home(model: Path, home, remembered: dict | None = None) -> Pairing:
    """``pair`` from a models home's (``home.ModelsHome``) text-encoder and VAE folders."""
    return pair(model, home.text_encoders, home.vaes, remembered)
