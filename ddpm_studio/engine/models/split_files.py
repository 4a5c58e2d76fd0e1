"""Flow-family models from the files artists keep (ComfyUI's layout): a diffusion-model file, text-encoder files
and a VAE file — or a checkpoint holding the model and its VAE (Stability's ``sd3.5_medium.safetensors``), or an
all-in-one file with its text encoders inside, used as it is.

A diffusion-model file is known by its keys (its family's ``split`` row, models/families.py), read from the
safetensors header alone; its config folder (``resources/configs/<name>``, e.g. ``sd3.5-medium``) is picked by a
key too. Its text encoders are matched to the parts of its pipeline by kind and width (text_files.py; the widths are
its config folder's); whatever it needs and was not given is named in the error. The transformer and the VAE load
with diffusers' ``from_single_file(config=<that folder>, local_files_only=True)``, the encoders are built from the
folder's configs with their files' weights, the tokenizers come from tokenizers.py — nothing is fetched. The VAE
loads as the class the folder's model_index.json names (vae_files.py: Flux.2's by a conversion of our own, a
Wan-style one, Qwen-Image's, through wan_vae.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import ModelError, first_line
from ddpm_studio.engine.models.families import BY_KEY, Family, TextPart, family_of_split_file
from ddpm_studio.engine.models.text_files import KINDS, TextEncoderFile, encoders_in

DIFFUSION_PREFIX = "model.diffusion_model."  # ComfyUI's and Stability's checkpoints; BFL's files have none
VAE_KEY = "decoder.conv_in.weight"  # its input channels are the VAE's latent channels
VAE_PREFIXES = ("first_stage_model.", "vae.", "")  # inside a checkpoint (Stability's, ComfyUI's), or a file alone


@dataclass(frozen=True)
class SplitFacts:
    """What a diffusion-model file's header says: its family, the config folder it loads through, whether its VAE is
    inside (and its prefix) and which text encoders are inside (an all-in-one file)."""

    family: str
    config: str
    vae_inside: bool
    text_inside: tuple[TextEncoderFile, ...] = ()


def read_split(path: Path, shapes: dict[str, tuple[int, ...]]) -> SplitFacts | None:
    """The facts of a flow family's diffusion-model file, or None when ``shapes`` (its header) is no such file."""
    own = {key.removeprefix(DIFFUSION_PREFIX) for key in shapes}
    family = family_of_split_file(own)
    if family is None:
        return None
    vae_inside = any(key.startswith(("first_stage_model.", "vae.")) and key.endswith(VAE_KEY) for key in shapes)
    return SplitFacts(family.key, family.split.config_for(own), vae_inside, tuple(encoders_in(path, shapes)))


def vae_channels(path: Path, shapes: dict[str, tuple[int, ...]], wan: bool = False) -> int:
    """The latent channels of a VAE file (or of the VAE inside a checkpoint); 0 when it holds none. ``wan``: of a
    Wan-style VAE (Qwen-Image's, wan_vae.py) instead of an AutoencoderKL."""
    if wan:
        from ddpm_studio.engine.models.wan_vae import wan_channels

        return wan_channels(shapes, VAE_PREFIXES)
    for prefix in VAE_PREFIXES:
        shape = shapes.get(prefix + VAE_KEY)
        if shape and len(shape) == 4:
            return int(shape[1])
    return 0


def part_widths(family: Family, config: Path) -> dict[str, int]:
    """Each text part's width, from its config in the config folder (hidden_size, or T5's d_model)."""
    widths = {}
    for part in family.split.text_encoders:
        if not (config / part.folder / "config.json").is_file():  # a folder without it (a test's): nothing fits
            widths[part.folder] = 0
            continue
        try:
            data = json.loads((config / part.folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{config / part.folder / 'config.json'} cannot be read: {exc}") from None
        widths[part.folder] = int(data.get("hidden_size") or data.get("d_model") or 0)
    return widths


def assign(family: Family, config: Path, facts: SplitFacts, files: list[TextEncoderFile]) -> dict[str, TextEncoderFile]:
    """Text part → the encoder that fills it: those inside the model's file, then the files given, each by kind and
    width. A file that fits no part is an error naming it and what the family takes."""
    widths = part_widths(family, config)
    chosen: dict[str, TextEncoderFile] = {}

    def place(found: TextEncoderFile) -> bool:
        part = next((p for p in family.split.text_encoders if p.folder not in chosen and p.kind == found.kind
                     and widths[p.folder] == found.width), None)
        if part is not None:
            chosen[part.folder] = found
        return part is not None

    for found in facts.text_inside:
        place(found)
    for found in files:
        if not place(found):
            takes = ", ".join(f"{p.name} ({p.kind}, {widths[p.folder]} wide)" for p in family.split.text_encoders)
            raise ModelError(f"{found.path.name} holds a {found.label}, which {family.name} models do not take "
                             f"(it takes {takes}), or its place is taken by another file.")
    return chosen


def missing_parts(family: Family, config: Path, chosen: dict, vae: bool) -> list[str]:
    """What the model still lacks (required parts only), each in words that say which file to add."""
    widths = part_widths(family, config)
    lacking = [f"its {part.name} text encoder (a {part.words[0]} file, {widths[part.folder]} wide)"
               for part in family.split.text_encoders if not part.optional and part.folder not in chosen]
    if not vae:
        lacking.append(f"a VAE ({vae_latent_channels(config)} latent channels)")
    return lacking


def vae_latent_channels(config: Path) -> int:
    data = json.loads((config / "vae" / "config.json").read_text(encoding="utf-8"))
    return int(data.get("latent_channels") or data["z_dim"])  # z_dim: a Wan-style VAE's (AutoencoderKLQwenImage)


def wan_vae(config: Path) -> bool:
    """Whether the config folder's VAE is Wan-style (a 3-D causal VAE: Qwen-Image's), not an AutoencoderKL."""
    return "z_dim" in json.loads((config / "vae" / "config.json").read_text(encoding="utf-8"))


def missing_message(path: Path, family: Family, lacking: list[str]) -> str:
    return (f"{path.name} ({family.name} diffusion model) needs {' and '.join(lacking)}: name them with "
            "--text-encoder FILE and --vae FILE, or keep them in the models home's models/text_encoders (or "
            "models/clip) and models/vae folders.")


def text_files(paths) -> list[TextEncoderFile]:
    """The encoders in the text-encoder files named (each file must hold one)."""
    from ddpm_studio.engine.models.single_file import SingleFileError, read_shapes

    found = []
    for path in paths:
        path = Path(path).expanduser()
        try:
            shapes = read_shapes(path)
        except SingleFileError as exc:
            raise ModelError(str(exc)) from None
        encoders = encoders_in(path, shapes)
        if not encoders:
            raise ModelError(f"{path} holds no text encoder DDPM Studio knows ({', '.join(KINDS)} in the layout "
                             "ComfyUI keeps them).")
        found.extend(encoders)
    return found


def check_vae(path: Path, family: Family, config: Path) -> None:
    from ddpm_studio.engine.models.single_file import SingleFileError, read_shapes

    try:
        shapes = read_shapes(path)
    except SingleFileError as exc:
        raise ModelError(str(exc)) from None
    wan = wan_vae(config)
    channels = vae_channels(path, shapes, wan)
    wanted = vae_latent_channels(config)
    if channels != wanted:
        what = f"a {channels}-channel VAE" if channels else f"no{' Wan-style' if wan else ''} VAE"
        raise ModelError(f"{path} holds {what}; {family.name} models need a {wanted}-channel"
                         f"{' Wan-style' if wan else ''} one.")


def load_split(path: Path, facts: SplitFacts, pipeline_class: str, dtype, text_encoders=(), vae: str = ""):
    """(the ``pipeline_class`` pipeline from a diffusion-model file and the text-encoder and VAE files named,
    offline; a note for the user)."""
    import diffusers

    from ddpm_studio.engine.models.single_file import SingleFileError, config_folder
    from ddpm_studio.engine.models.vae_files import load_vae

    family = BY_KEY[facts.family]
    try:
        config = config_folder(facts.config)
    except SingleFileError as exc:
        raise ModelError(str(exc)) from None
    chosen = assign(family, config, facts, text_files(text_encoders))
    vae_path = Path(vae).expanduser() if vae else None
    if vae_path is not None:
        check_vae(vae_path, family, config)
    lacking = missing_parts(family, config, chosen, vae_path is not None or facts.vae_inside)
    if lacking:
        raise ModelError(missing_message(path, family, lacking))
    index = json.loads((config / "model_index.json").read_text(encoding="utf-8"))
    parts: dict = {}
    try:
        from ddpm_studio.engine.models.storage.quantized import load_denoiser  # float8, GGUF: kept as stored

        parts[family.denoiser], stored = load_denoiser(index[family.denoiser][1], path, config, family.denoiser, dtype,
                                                       plain_source=_denoiser_source)
        parts["vae"] = load_vae(index["vae"][1], vae_path or path, config, dtype)  # the class its folder names
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"Could not load {path.name} as {family.name} diffusion model: {first_line(exc)}") from None
    parts["scheduler"] = getattr(diffusers, index["scheduler"][1]).from_pretrained(config, subfolder="scheduler")
    notes = [stored] if stored else []
    for part in family.split.text_encoders:
        found = chosen.get(part.folder)
        if found is None:  # an optional part left out
            parts[part.folder] = parts[part.tokenizer] = None
            notes.append(f"{part.name} left out: the prompt is read by the other text encoders only")
            continue
        from ddpm_studio.engine.models.text_files import load_text_encoder

        parts[part.folder] = load_text_encoder(index[part.folder][1], config / part.folder, found, dtype)
        from ddpm_studio.engine.models.storage.quantized import storage_words, text_storage

        if text_storage(found.path, found.prefix):  # float8 or GGUF (its file, or its part of the model's)
            notes.append(f"{part.name}: {storage_words(text_storage(found.path, found.prefix), dtype)}")
        parts[part.tokenizer] = _tokenizer(part, config)
    if not family.prompt_weights:
        notes.append(f"{family.name} takes the prompt as plain text: A1111 weights, brackets and BREAK are not applied")
    return _pipeline(getattr(diffusers, pipeline_class), parts, index), "; ".join(notes)


def _pipeline(cls, parts: dict, index: dict):
    """The pipeline of ``parts``, with the settings its folder's model_index.json gives it beside its parts (Flux.2
    Klein's is_distilled), as ``from_pretrained`` would."""
    import inspect

    takes = inspect.signature(cls.__init__).parameters
    settings = {key: value for key, value in index.items()
                if key in takes and key not in parts and not isinstance(value, list)}
    return cls(**parts, **settings)


def _denoiser_source(path: Path):
    """What diffusers reads the diffusion model from: the file, or, when its keys are behind ComfyUI's
    ``model.diffusion_model.`` (which not every diffusers conversion takes off: Flux.2's keeps it), its tensors
    without it (those of a VAE or text encoders beside them left out)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        prefixed = any(key.startswith(DIFFUSION_PREFIX) for key in f.keys())
    if not prefixed:
        return str(path)
    from ddpm_studio.engine.models.text_files import read_tensors

    return read_tensors(path, DIFFUSION_PREFIX)


def _tokenizer(part: TextPart, config: Path):
    from ddpm_studio.engine.models.single_file import CLIP_CONTEXT, SingleFileError, find_tokenizer
    from ddpm_studio.engine.models.tokenizers import TokenizerMissing, load_tokenizer

    try:
        if part.kind != "clip":
            return load_tokenizer(part.kind, config / part.tokenizer)
        from transformers import CLIPTokenizer

        where = find_tokenizer(config, part.tokenizer)
        stand_in = where != str(config / part.tokenizer) and part.pad_token
        tokenizer = CLIPTokenizer.from_pretrained(where, local_files_only=True,
                                                  **({"pad_token": part.pad_token} if stand_in else {}))
    except (SingleFileError, TokenizerMissing) as exc:
        raise ModelError(str(exc)) from None
    if tokenizer.model_max_length > CLIP_CONTEXT:
        tokenizer.model_max_length = CLIP_CONTEXT
    return tokenizer
