"""Single-file checkpoints: one ``.safetensors`` in the original (CompVis/LDM) layout, as A1111 and CivitAI share them.

Such a file holds weights but no configs. diffusers' ``from_single_file`` needs a config folder and, when it has none
or is given a hub id, goes online to fetch one. We never let it: every load passes a local folder from
``resources/configs/<family>`` (configs only, a few KB, written from the published model configs) and
``local_files_only=True``. The family is read from the tensor names and shapes in the file's header alone (key names
and their meaning as in diffusers' single_file_utils), so listing a folder of checkpoints never reads gigabytes.
An SD 2.x file leaves one thing open, whether its UNet predicts ε or v: ``prediction`` settles it.

The CLIP tokenizer (vocab.json + merges.txt, or one tokenizer.json) is not part of a checkpoint. It is taken from the
config folder if a user put it there, else from the local Hugging Face cache, else from the copy that ships in
``resources/tokenizers/clip`` (CLIP's own vocabulary, MIT licence, derived by ``tools/derive_clip_tokenizer.py``), so a
checkpoint loads offline with an empty cache; ComfyUI ships these files for the same reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ddpm_studio.engine.errors import first_line
from ddpm_studio.engine.models.families import BY_KEY, FAMILY_NAMES, family_of_checkpoint
from ddpm_studio.paths import resources_dir

SAFE_SUFFIXES = (".safetensors",)
GGUF_SUFFIXES = (".gguf",)  # diffusion-model files only (models/storage/gguf_files.py)
PICKLE_FILE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
UPSCALER_KEY = "model.diffusion_model.input_blocks.10.0.skip_connection.bias"
VAE_PREFIXES = ("first_stage_model.", "vae.")
# hub repos whose cached copy holds the CLIP tokenizer (SD 1.x, 2.x and SDXL share its vocabulary), and the subfolder
TOKENIZER_REPOS = (
    ("openai/clip-vit-large-patch14", ""),
    ("stable-diffusion-v1-5/stable-diffusion-v1-5", "tokenizer"),
    ("runwayml/stable-diffusion-v1-5", "tokenizer"),
    ("CompVis/stable-diffusion-v1-4", "tokenizer"),
    ("stabilityai/stable-diffusion-xl-base-1.0", "tokenizer"),
    ("stabilityai/stable-diffusion-2-1", "tokenizer"),
)
CLIP_CONTEXT = 77  # tokens CLIP's text encoder reads
TOKENIZER_DOWNLOAD = "openai/clip-vit-large-patch14"  # what to download when no tokenizer is at hand


class SingleFileError(Exception):
    """The file cannot be used; the message names it and says why."""


def configs_root() -> Path:
    """Config folders per family; ``DDPM_STUDIO_CONFIGS`` points elsewhere (tests use tiny ones)."""
    override = os.environ.get("DDPM_STUDIO_CONFIGS")
    return Path(override) if override else resources_dir() / "configs"


def is_checkpoint_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SAFE_SUFFIXES + GGUF_SUFFIXES + PICKLE_FILE_SUFFIXES


def is_pickle(path: Path) -> bool:
    return path.suffix.lower() in PICKLE_FILE_SUFFIXES


def safetensors_header(path: Path) -> tuple[dict, dict]:
    """(tensor name → its header entry: dtype, shape, offsets; the header's ``__metadata__``) of a safetensors file,
    from its header alone; OSError, or ValueError for a file whose header is not one."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 2 <= size <= 100_000_000:
            raise ValueError("the header length is implausible")
        header = json.loads(f.read(size))
    if not isinstance(header, dict):
        raise ValueError("its header is not a table")
    meta = header.pop("__metadata__", None)
    return {k: v for k, v in header.items() if isinstance(v, dict)}, meta if isinstance(meta, dict) else {}


def read_shapes(path: Path, allow_pickle: bool = False) -> dict[str, tuple[int, ...]]:
    """Tensor name → shape, from the safetensors header (or a GGUF file's; no weights read)."""
    if path.suffix.lower() in GGUF_SUFFIXES:
        from ddpm_studio.engine.errors import ModelError
        from ddpm_studio.engine.models.storage.gguf_files import gguf_shapes

        if not path.is_file():
            raise SingleFileError(f"Checkpoint not found: {path}")
        try:
            return gguf_shapes(path)
        except ModelError as exc:
            raise SingleFileError(str(exc)) from None
    if is_pickle(path):
        if not allow_pickle:
            raise SingleFileError(
                f"{path} is a pickle checkpoint, which can run arbitrary code when loaded; DDPM Studio only loads "
                "safetensors unless you allow pickle files in the settings."
            )
        import torch

        try:
            state = torch.load(path, map_location="meta", weights_only=True)
        except Exception as exc:
            raise SingleFileError(f"{path} cannot be read as a checkpoint: {first_line(exc, 200)}") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else {}
        return {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    try:
        header, _ = safetensors_header(path)
    except FileNotFoundError:
        raise SingleFileError(f"Checkpoint not found: {path}") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SingleFileError(f"{path} is not a readable safetensors file: {exc}") from None
    return {k: tuple(v.get("shape", ())) for k, v in header.items()}


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint's header tells: its family (sd1, sd2, sdxl: the name of its config folder), its UNet's input
    channels, and what the UNet predicts and whether with zero terminal SNR when its keys say so."""

    arch: str
    channels: int
    prediction: str = ""  # epsilon / v_prediction when a key says; "" when the file does not tell
    prediction_key: str = ""  # the key that said it
    zero_snr: bool = False


def detect(path: Path, allow_pickle: bool = False) -> tuple[str, int]:
    """(architecture: sd1, sd2 or sdxl, the name of its config folder; UNet input channels) of a checkpoint; errors
    say which kinds are not supported."""
    facts = read_checkpoint(path, allow_pickle)
    return facts.arch, facts.channels


def read_checkpoint(path: Path, allow_pickle: bool = False) -> CheckpointFacts:
    """The facts of a checkpoint's header (``CheckpointFacts``); errors say which kinds are not supported."""
    shapes = read_shapes(path, allow_pickle)
    if UNET_IN not in shapes:
        raise SingleFileError(
            f"{path} does not hold a Stable Diffusion UNet in the original layout (no {UNET_IN}); "
            "it may be a LoRA, an embedding or a VAE on its own."
        )
    family = family_of_checkpoint(shapes)  # by the keys only its family holds (models/families.py)
    if UPSCALER_KEY in shapes:
        raise SingleFileError(f"{path} is an upscaler checkpoint; open its diffusers folder in the Upscale panel.")
    text = all(any(k.startswith(prefix) for k in shapes) for prefix in family.text_prefixes)
    if not any(k.startswith(VAE_PREFIXES) for k in shapes) or not text:
        raise SingleFileError(f"{path} holds a UNet without its VAE or text encoder(s); DDPM Studio needs a full checkpoint.")
    key = next((key for key in family.prediction_keys if key in shapes), "")
    return CheckpointFacts(family.key, int(shapes[UNET_IN][1]), family.prediction_keys.get(key, ""), key,
                           bool(family.zero_snr_key) and family.zero_snr_key in shapes)


def config_folder(family: str) -> Path:
    folder = configs_root() / family
    if not (folder / "model_index.json").is_file():
        # without a local config diffusers would download one: refuse instead
        raise SingleFileError(f"The config folder for {family} checkpoints is missing ({folder}); reinstall DDPM Studio.")
    return folder


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())


def find_tokenizer(config: Path, name: str = "tokenizer") -> str:
    """A local folder holding the CLIP tokenizer: the config folder's own ``name``/ if a user put one there, else a
    cached hub copy, else the one that ships with the app."""
    if _has_tokenizer(config / name):
        return str(config / name)
    if _has_tokenizer(config / "tokenizer"):
        return str(config / "tokenizer")
    from huggingface_hub import try_to_load_from_cache

    for repo, sub in TOKENIZER_REPOS:
        prefix = f"{sub}/" if sub else ""
        vocab = try_to_load_from_cache(repo, f"{prefix}vocab.json")
        merges = try_to_load_from_cache(repo, f"{prefix}merges.txt")
        if isinstance(vocab, str) and isinstance(merges, str):
            return str(Path(vocab).parent)
    if _has_tokenizer(shipped_tokenizer()):
        return str(shipped_tokenizer())
    own = config / "tokenizer"
    raise SingleFileError(
        "A single-file checkpoint does not contain the CLIP tokenizer, none was found in the Hugging Face cache, and "
        f"the copy that ships with DDPM Studio is missing ({shipped_tokenizer()}): reinstall DDPM Studio, download it "
        f"once (File → Download from the Hub: {TOKENIZER_DOWNLOAD}, about 1.7 MB) or copy vocab.json and merges.txt "
        f"into {own}."
    )


def shipped_tokenizer() -> Path:
    """The CLIP tokenizer that ships with the app (vocab.json, merges.txt; see tools/derive_clip_tokenizer.py)."""
    return resources_dir() / "tokenizers" / "clip"


def load_single_file(path: Path, pipeline_class: str, in_channels: int, dtype, allow_pickle: bool = False):
    """(the diffusers pipeline ``pipeline_class`` built from one checkpoint, offline; a note for the user: for SD 2.x,
    which prediction type it was given and why)."""
    import diffusers
    from transformers import CLIPTokenizer

    facts = read_checkpoint(path, allow_pickle)
    arch = facts.arch
    config = config_folder(arch)
    open_clip = {"pad_token": "!"} if arch == "sd2" else {}  # SD 2.x: OpenCLIP, CLIP's vocabulary padded with "!"
    parts = {"tokenizer": CLIPTokenizer.from_pretrained(find_tokenizer(config), local_files_only=True, **open_clip)}
    if arch == "sdxl":
        second = find_tokenizer(config, "tokenizer_2")
        # the same vocabulary; SDXL's own second tokenizer pads with "!" (id 0), as OpenCLIP did: say so when it is
        # stood in for by the first one
        pad = {} if second == str(config / "tokenizer_2") else {"pad_token": "!"}
        parts["tokenizer_2"] = CLIPTokenizer.from_pretrained(second, local_files_only=True, **pad)
    else:
        parts["safety_checker"] = None
    for tokenizer in (parts["tokenizer"], parts.get("tokenizer_2")):
        if tokenizer is not None and tokenizer.model_max_length > CLIP_CONTEXT:  # a folder without tokenizer_config
            tokenizer.model_max_length = CLIP_CONTEXT
    common = dict(config=str(config), local_files_only=True, torch_dtype=dtype)
    parts["unet"] = diffusers.UNet2DConditionModel.from_single_file(str(path), subfolder="unet", in_channels=in_channels, **common)
    pipe = getattr(diffusers, pipeline_class).from_single_file(str(path), **parts, **common)
    from ddpm_studio.engine.models.prediction import checkpoint_prediction, describe

    found = checkpoint_prediction(path, facts, pipe.unet)
    said = []
    if found is not None:
        kind, how = found
        pipe.scheduler.register_to_config(prediction_type=kind)
        said.append(describe(kind, how))
    if facts.zero_snr:  # zero terminal SNR: the betas rescaled so the last step is pure noise, its steps trailing
        pipe.scheduler.register_to_config(rescale_betas_zero_snr=True, timestep_spacing="trailing")
        said.append(f"zero terminal SNR (its {BY_KEY[arch].zero_snr_key} key)")
    note = f"{FAMILY_NAMES[arch]} checkpoint, {', '.join(said)}" if said else ""
    return pipe, note
