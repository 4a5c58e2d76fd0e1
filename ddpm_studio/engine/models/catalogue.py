"""Model references: resolve, inspect and list the models DDPM Studio opens — offline (pixel DDPMs load in
pixel_ddpm.py, the others in sampling/pipelines.py).

A reference is one of:
- ``bundled:NAME``: a pipeline folder under ``resources/models/NAME`` that ships with the app;
- a path to a local diffusers pipeline folder (with ``model_index.json``);
- a hub id (``org/name``) that is already in the local Hugging Face cache. Nothing is downloaded here;
- a single-file Stable Diffusion checkpoint (``.safetensors``; see ``single_file``).

Every failure is a ``ModelError`` whose message names the path and the problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.models.defaults import BUNDLED_PREFIX, read_defaults
from ddpm_studio.engine.models.families import BY_KEY, FAMILIES, LATENT_KINDS, PICKLE_SUFFIXES, family_of_folder
from ddpm_studio.engine.models.single_file import SingleFileError, is_checkpoint_file, read_checkpoint
from ddpm_studio.paths import bundled_models_dir

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# pipeline class -> (family, the panel that takes it), for the models outside the family table (models/families.py)
OTHER_PIPELINES: dict[str, tuple[str, str]] = {
    "DDPMPipeline": ("ddpm", "Generate"),
    "DDIMPipeline": ("ddpm", "Generate"),
    "PNDMPipeline": ("ddpm", "Generate"),
    "StableDiffusionUpscalePipeline": ("sd-x4-upscaler", "Upscale"),
    "LDMSuperResolutionPipeline": ("ldm-super-resolution", "Upscale"),
    "LDMPipeline": ("latent-unconditional", ""),
}
PIXEL_FAMILY = "ddpm"


MODE_NAMES = {"txt2img": "text-to-image", "img2img": "image-to-image", "inpaint": "inpainting", "instruct": "instruction editing",
              "outpaint": "outpainting",
              "upscale": "4× upscaling"}
UPSCALE_FAMILIES = {"sd-x4-upscaler", "ldm-super-resolution"}


@dataclass(frozen=True)
class ModelInfo:
    ref: str
    path: Path
    name: str
    class_name: str
    family: str
    panel: str
    modes: tuple[str, ...] = ()  # for latent families: what the UNet can do (txt2img, img2img, inpaint, instruct)
    in_channels: int = 0  # set for single-file checkpoints (the UNet's, read from the header)
    arch: str = ""  # single-file checkpoints: sd1, sd2 or sdxl
    about: str = ""  # where the model came from, when its folder says (a trained model: its base and step)
    context_dim: int = 0  # latent families: the width of the text embeddings the UNet attends to (768, 1024, 2048)

    prediction: str = ""  # single-file checkpoints: what the UNet predicts when a key of the file says
    flavour: str = ""  # what its denoiser's config or its model_index.json makes it in its family (Flux.1 schnell)
    split: bool = False  # a flow family's diffusion-model file: its text encoders (and VAE) may be other files
    upscale: int = 0  # a model upscaler's factor (ESRGAN, SwinIR, …: models/upscaler_files.py)

    @property
    def prediction_unknown(self) -> bool:
        """An SD 2.x or SDXL file may be an ε or a v model and need not say which: the user may have to choose."""
        family = BY_KEY.get(self.arch)
        return family is not None and family.asks_prediction and not self.prediction

    @property
    def single_file(self) -> bool:
        return self.path.is_file()

    @property
    def inpainting(self) -> bool:
        """An inpainting model (a 9-channel UNet): it sees the mask and the masked picture, so its seams blend."""
        return self.family.endswith("-inpaint")

    @property
    def label(self) -> str:
        return f"{self.name} (bundled)" if self.ref.startswith(BUNDLED_PREFIX) else self.name

    @property
    def description(self) -> str:
        """For a tooltip: where the model came from (when known) and where it is."""
        return f"{self.about}\n{self.path}" if self.about else str(self.path)


def resolve(ref: str) -> Path:
    """The local folder a reference points to. Never goes online."""
    ref = (ref or "").strip()
    if not ref:
        raise ModelError("No model given.")
    if ref.startswith(BUNDLED_PREFIX):
        name = ref[len(BUNDLED_PREFIX) :]
        path = bundled_models_dir() / name
        if not name or not path.is_dir():
            have = ", ".join(sorted(p.parent.name for p in bundled_models_dir().glob("*/model_index.json"))) or "none"
            raise ModelError(f"No bundled model named '{name}' in {bundled_models_dir()} (bundled models: {have}).")
        return path
    path = Path(ref).expanduser()
    if path.exists():
        if not path.is_dir() and not is_checkpoint_file(path):
            raise ModelError(f"{path} is a file but not a checkpoint (.safetensors); a pipeline is a folder that holds model_index.json.")
        return path.resolve()
    if HUB_ID.match(ref):
        return _hub_cache_path(ref)
    raise ModelError(f"Model folder not found: {path}")


def _hub_cache_path(repo_id: str) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError and friends
        raise ModelError(
            f"'{repo_id}' is not in the local Hugging Face cache, and DDPM Studio does not download "
            f"unless you ask ({type(exc).__name__})."
        ) from None


def read_json(path: Path) -> Any:
    """A pipeline's JSON file; a ModelError naming it when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} cannot be read: {exc}") from None


def read_model_index(path: Path) -> dict[str, Any]:
    index = path / "model_index.json"
    if not index.is_file():
        raise ModelError(f"{path} is not a diffusers pipeline folder: model_index.json is missing.")
    data = read_json(index)
    if not isinstance(data, dict):
        raise ModelError(f"{index} does not describe a pipeline (expected a JSON object).")
    return data


def inspect_model(ref: str, allow_pickle: bool = False) -> ModelInfo:
    """Resolve ``ref`` and tell which family it is, from ``model_index.json`` (or a checkpoint's header) alone."""
    path = resolve(ref)
    if path.is_file():
        return _known_single_file(ref, path, allow_pickle)
    index = read_model_index(path)
    class_name = str(index.get("_class_name", ""))
    family, panel = OTHER_PIPELINES.get(class_name, ("", ""))
    if not family and _component_class(index, "unet") == "UNet2DModel" and "scheduler" in index:
        family, panel = PIXEL_FAMILY, "Generate"
    modes: tuple[str, ...] = ("upscale",) if family in UPSCALE_FAMILIES else ()
    context_dim, flavour = 0, ""
    first = next((row for row in FAMILIES if class_name in row.folder_classes), None)
    if first is not None:  # a latent family: its variant by its denoiser (the rows of one class share theirs)
        config = _denoiser_config(path, first)
        channels, context_dim = _denoiser_shape(config, first)
        row = family_of_folder(class_name, context_dim)
        flavour = row.flavour_of(config, index)
        variant = row.variant_of_folder(class_name, channels)
        if variant is None:  # a UNet the family has no variant for: what its class says, and no modes
            named = row.variant_named(row.folder_classes[class_name])
            family, panel = (named.kind, named.panel) if named is not None else (row.variants[0].kind, "")
        else:
            family, panel, modes = variant.kind, variant.panel, variant.modes
    card = read_defaults(path)
    return ModelInfo(ref=ref, path=path, name=display_name(ref, path, card.get("name", "")), class_name=class_name,
                     family=family, panel=panel, modes=modes, about=card.get("about", ""), context_dim=context_dim,
                     flavour=flavour)


_SINGLE_FILES: dict[tuple, ModelInfo | str] = {}  # (ref, path, mtime, size, allow_pickle) → its info, or the error
_SINGLE_FILES_KEPT = 4096


def _known_single_file(ref: str, path: Path, allow_pickle: bool) -> ModelInfo:
    """``_inspect_single_file``, once per file as it is now: every panel lists the model folders, and an SDXL
    checkpoint's header (2 500 tensors) takes about 17 ms to read and parse, so an A1111 folder of a hundred was read
    a thousand times as the window opened. A file that changes (its time or size) is read again."""
    stat = path.stat()
    key = (ref, str(path), stat.st_mtime_ns, stat.st_size, allow_pickle)
    known = _SINGLE_FILES.get(key)
    if known is None:
        try:
            known = _inspect_single_file(ref, path, allow_pickle)
        except ModelError as exc:
            known = str(exc)
        if len(_SINGLE_FILES) >= _SINGLE_FILES_KEPT:
            _SINGLE_FILES.clear()
        _SINGLE_FILES[key] = known
    if isinstance(known, str):
        raise ModelError(known)
    return known


def _inspect_single_file(ref: str, path: Path, allow_pickle: bool) -> ModelInfo:
    split = _split_file(ref, path, allow_pickle)
    if split is not None:
        return split
    try:
        facts = read_checkpoint(path, allow_pickle)
    except SingleFileError as exc:
        from ddpm_studio.engine.models.upscaler_files import upscaler_fields

        upscaler = upscaler_fields(path)  # no Stable Diffusion checkpoint: maybe an ESRGAN-family file (weights-only)
        if upscaler is not None:
            return ModelInfo(ref=ref, path=path, **upscaler)
        raise ModelError(str(exc)) from None
    arch, channels = facts.arch, facts.channels
    row = BY_KEY[arch]
    variant = row.variant(channels)
    if variant is None:
        raise ModelError(f"{path} is a {row.name} checkpoint with a {channels}-channel UNet, which DDPM Studio "
                         "does not know how to use.")
    return ModelInfo(ref=ref, path=path, name=path.stem, class_name=f"single-file {row.name}", family=variant.kind,
                     panel=variant.panel, modes=variant.modes, in_channels=channels, arch=arch,
                     context_dim=row.context_dim, prediction=facts.prediction)


def _split_file(ref: str, path: Path, allow_pickle: bool) -> ModelInfo | None:
    """A flow family's diffusion-model file (engine/models/split_files.py), or None when ``path`` is none."""
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.split_files import read_split

    try:
        facts = read_split(path, read_shapes(path, allow_pickle))
    except SingleFileError:
        return None  # read_checkpoint says what is wrong with it
    if facts is None:
        return None
    from ddpm_studio.engine.models.single_file import configs_root

    row = BY_KEY[facts.family]
    variant = row.variants[0]
    folder = configs_root() / facts.config  # its config's (Flux.1 schnell), or its index's (Klein's is_distilled)
    index = read_json(folder / "model_index.json") if (folder / "model_index.json").is_file() else {}
    flavour = row.flavour_of(_denoiser_config(folder, row), index if isinstance(index, dict) else {})
    from ddpm_studio.engine.models.storage.quantized import storage_of

    stored = storage_of(path)  # float8 or GGUF: said where the model is
    return ModelInfo(ref=ref, path=path, name=path.stem,
                     class_name=f"{row.name} diffusion model ({facts.config}{', ' + stored if stored else ''})",
                     family=variant.kind, panel=variant.panel, modes=variant.modes, in_channels=variant.channels,
                     arch=row.key, context_dim=row.context_dim, split=True, flavour=flavour,
                     about=f"Weights stored as {stored}: kept so in memory, each layer computed in the precision of "
                           "the Preferences" if stored else "")


def _denoiser_config(path: Path, row) -> dict:
    """A pipeline folder's denoiser's config (in the folder the family's row names); {} where unreadable."""
    try:
        config = json.loads((path / row.denoiser / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _denoiser_shape(config: dict, row) -> tuple[int, int]:
    """(input channels, context width) of a pipeline folder's denoiser (a UNet's cross-attention width, an SD3
    transformer's joint attention width), from its config as the family's row names them; 0 where unreadable."""
    try:
        if not config:
            return 0, 0
        return int(config.get(row.channels_key, row.latent_channels)), int(config.get(row.context_key) or 0)
    except (ValueError, TypeError):
        return 0, 0


def require_mode(info: ModelInfo, mode: str) -> None:
    """A latent model must be able to do ``mode``: an inpainting UNet is never loaded as a text-to-image one."""
    if mode == "upscale" and "upscale" not in info.modes:
        where = f"; open it in the {info.panel} panel" if info.panel else ""
        raise ModelError(f"{info.path} holds {info.class_name or 'an unknown pipeline'}, not a 4× upscaler{where}.")
    if info.family not in LATENT_KINDS and mode != "upscale":
        what = info.class_name or "an unknown pipeline"
        where = f"; open it in the {info.panel} panel" if info.panel else ""
        raise ModelError(f"{info.path} holds {what}, not a Stable Diffusion model{where}.")
    if mode not in info.modes:
        can = " or ".join(MODE_NAMES[m] for m in info.modes) or "nothing DDPM Studio knows"
        raise ModelError(
            f"{info.path} is a {info.family} model whose UNet is made for {can}; it cannot do {MODE_NAMES[mode]}. "
            f"Open it in the {info.panel} panel."
        )


def display_name(ref: str, path: Path, own_name: str = "") -> str:
    """A bundled model's name, a hub id, else the name its folder gives itself in ddpm_studio.json (a trained model:
    its run's), else the folder's name."""
    if ref.startswith(BUNDLED_PREFIX):
        return ref[len(BUNDLED_PREFIX) :]
    if HUB_ID.match(ref) and not Path(ref).exists():
        return ref
    return own_name or path.name


def check_weights_safe(folder: Path, allow_pickle: bool) -> None:
    """Refuse a component folder whose only weights are pickle files (they can run code when loaded)."""
    if allow_pickle or not folder.is_dir():
        return
    if any(folder.glob("*.safetensors")):
        return
    pickles = [p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        raise ModelError(
            f"{pickles[0]} is a pickle file, which can run arbitrary code when loaded; DDPM Studio only loads "
            "safetensors unless you allow pickle files in the settings."
        )


def _component_class(index: dict[str, Any], name: str) -> str:
    entry = index.get(name)
    if isinstance(entry, (list, tuple)) and len(entry) == 2:
        return str(entry[1])
    return ""


def _pipeline_folders(root: Path, single_files: bool = False) -> list[Path]:
    """``root`` itself if it is a pipeline, else its direct subfolders that are (and its .safetensors checkpoints)."""
    if (root / "model_index.json").is_file() or (single_files and is_checkpoint_file(root)):
        return [root]
    if not root.is_dir():
        return []
    found = sorted(p.parent for p in root.glob("*/model_index.json"))
    files = [p for p in root.iterdir() if p.suffix.lower() in (".safetensors", ".gguf", ".pth", ".pt") and p.is_file()]
    return found + (sorted(files) if single_files else [])  # .pth and .pt: model upscalers (read weights-only)


def list_models(user_folders: list[str] = (), include_hf_cache: bool = False, accept=None,
                allow_pickle: bool = False) -> list[ModelInfo]:
    """Models that ``accept(info)`` takes (default: pixel-space DDPMs) from the bundled folder, the user's folders
    and (optionally) the HF cache.

    Unreadable entries are skipped: a listing must never fail because one folder is broken.
    """
    refs: list[str] = [BUNDLED_PREFIX + p.name for p in _pipeline_folders(bundled_models_dir()) if p != bundled_models_dir()]
    for folder in user_folders:
        refs.extend(str(p.resolve()) for p in _pipeline_folders(Path(folder).expanduser(), single_files=True))
    if include_hf_cache:
        refs.extend(_hf_cache_pipelines())
    found: list[ModelInfo] = []
    seen: set[Path] = set()
    for ref in refs:
        try:
            info = inspect_model(ref, allow_pickle)
        except ModelError:
            continue
        if info.path in seen or not (accept(info) if accept else info.family == PIXEL_FAMILY):
            continue
        seen.add(info.path)
        found.append(info)
    return found


def folder_models(folder: str, allow_pickle: bool = False) -> list[ModelInfo]:
    """Every usable model in ``folder`` (a pipeline, a checkpoint, or a folder of them), of any family."""
    found = list_models([folder], accept=lambda info: True, allow_pickle=allow_pickle)
    return [info for info in found if not info.ref.startswith(BUNDLED_PREFIX)]


def panels_of(infos: list[ModelInfo]) -> str:
    """Which panels take these models, counted: "4 for the Text to Image panel, 2 for the Edit (inpaint) panel"."""
    counts: dict[str, int] = {}
    for info in infos:
        counts[info.panel] = counts.get(info.panel, 0) + 1
    return ", ".join(f"{n} for the {panel} panel" if panel else f"{n} that no panel takes" for panel, n in counts.items())


def _hf_cache_pipelines() -> list[str]:
    try:
        import huggingface_hub.constants
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir(huggingface_hub.constants.HF_HUB_CACHE)  # read now: its own default is fixed at import
    except Exception:
        return []
    ids = []
    for repo in cache.repos:
        if repo.repo_type == "model" and any((r.snapshot_path / "model_index.json").is_file() for r in repo.revisions):
            ids.append(repo.repo_id)
    return sorted(ids)
