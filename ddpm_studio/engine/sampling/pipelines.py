"""Loading a latent model's diffusers pipeline for a mode, and building others on its modules.

The family table (``models/families.py``) names the pipeline each model runs for a mode; ``load_pipeline`` loads it from a diffusers folder or a
single checkpoint file (offline, safetensors unless pickle files are allowed), applies the memory options and the
optional TAESD preview decoder; ``pipeline_on`` builds another pipeline (img2img for a hires fix, a ControlNet one)
on the loaded modules. ``latent.py`` runs jobs on what this loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ddpm_studio.engine.errors import first_line
from ddpm_studio.engine.models.catalogue import (
    ModelError,
    ModelInfo,
    check_weights_safe,
    inspect_model,
    read_model_index,
    require_mode,
)
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.runtime.memory import apply_memory_options
from ddpm_studio.engine.runtime.options import MemoryOptions
from ddpm_studio.engine.sampling.flow_edit import fit_pipeline
from ddpm_studio.engine.sampling.instruct import check_can_run
from ddpm_studio.engine.sampling.latent_preview import LatentToRGB


@dataclass
class LoadedPipeline:
    info: ModelInfo
    mode: str
    pipe: object
    to_rgb: LatentToRGB
    scheduler_config: dict  # the model's own, kept: each run builds its scheduler from it afresh
    taesd: object = None  # an AutoencoderTiny for x0 previews at full resolution, when the user has one
    note: str = ""  # what the user should know about how it was loaded (an SD 2.x file's prediction type)
    addons: object = None  # adapters.PipelineAddons, made at the first job that may use LoRAs or embeddings
    vae_slot: object = None  # vae.VaeSlot, made at the first job that names a VAE
    hires_pipe: object = None  # the img2img pipeline on these components, for a hires fix's second pass
    controlnets: dict = field(default_factory=dict)  # (path, mtime) → a loaded ControlNetModel (controlnet.py)
    hires_upscaler: tuple | None = None  # (reference, LoadedUpscaler): a hires fix's diffusion upscaler


def pipeline_on(loaded: LoadedPipeline, class_name: str, **extra):
    """Another diffusers pipeline (img2img for a hires fix's second pass, a ControlNet one) built on the loaded
    model's own modules: nothing loaded twice, LoRAs, embeddings and a chosen VAE as they are. Built from the
    components rather than with ``from_pipe``, which casts every module to one dtype and would undo a VAE kept in
    fp32."""
    import inspect

    import diffusers

    cls = getattr(diffusers, class_name)
    accepted = inspect.signature(cls.__init__).parameters
    parts = {name: module for name, module in loaded.pipe.components.items() if name in accepted}
    options = {key: loaded.pipe.config[key] for key in ("requires_safety_checker", "force_zeros_for_empty_prompt")
               if key in accepted and key in loaded.pipe.config}
    pipe = cls(**parts, **options, **extra)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_pipeline(ref: str, mode: str, device, dtype, allow_pickle: bool = False,
                  memory: MemoryOptions = MemoryOptions(), taesd: str = "", text_encoders=(), vae: str = ""
                  ) -> LoadedPipeline:
    """The pipeline for ``mode``; ``text_encoders`` and ``vae`` are the files a flow family's diffusion-model file
    is paired with (models/split_files.py), unused for any other model."""
    info = inspect_model(ref, allow_pickle)
    require_mode(info, mode)
    check_can_run(info)  # Qwen-Image-Edit without torchvision: said by name before anything loads
    family = family_of_info(info)
    pipeline_class = family.pipeline(info.family, mode)
    note = ""
    try:
        if info.split:
            from ddpm_studio.engine.models.single_file import read_shapes
            from ddpm_studio.engine.models.split_files import load_split, read_split

            facts = read_split(info.path, read_shapes(info.path, allow_pickle))
            pipe, note = load_split(info.path, facts, pipeline_class, dtype, text_encoders, vae)
        elif info.single_file:
            pipe, note = _load_single_file(info, pipeline_class, dtype, allow_pickle)
        else:
            pipe, note = _load_folder(info, family, pipeline_class, dtype, allow_pickle)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"Could not load the pipeline in {info.path}: {first_line(exc)}") from None
    pipe = fit_pipeline(pipe)  # ChromaInpaintPipeline reads a config key Chroma's transformer lacks
    note = "; ".join(filter(None, (note, apply_memory_options(pipe, memory, device))))
    pipe.set_progress_bar_config(disable=True)
    tiny = load_taesd(taesd, family.taesd_repo, device, dtype) if taesd else None
    return LoadedPipeline(info=info, mode=mode, pipe=pipe, to_rgb=LatentToRGB.for_vae(pipe.vae),
                          scheduler_config=own_scheduler_config(pipe.scheduler), taesd=tiny, note=note)


def own_scheduler_config(scheduler) -> dict:
    """A loaded scheduler's config with its class's name, as its folder's file has it: whether it is a flow one."""
    return {**dict(scheduler.config), "_class_name": type(scheduler).__name__}


def load_taesd(where: str, repo: str, device, dtype):
    """TAESD (AutoencoderTiny) from a folder, or with ``auto`` the family's ``repo`` from the HF cache if it is
    there (else None: linear previews). A folder the user named that cannot be loaded is an error, not a silent
    fallback."""
    from diffusers import AutoencoderTiny

    if where == "auto":
        from huggingface_hub import snapshot_download

        try:
            where = snapshot_download(repo, local_files_only=True)
        except Exception:
            return None
    try:
        tiny = AutoencoderTiny.from_pretrained(where, local_files_only=True, use_safetensors=True, dtype=dtype)
    except Exception as exc:
        raise ModelError(f"The TAESD preview decoder in {where} cannot be loaded ({first_line(exc, 200)}); "
                         "pick another folder or turn TAESD off in Preferences.") from None
    return tiny.eval().requires_grad_(False).to(device)


def _load_folder(info: ModelInfo, family, pipeline_class: str, dtype, allow_pickle: bool) -> tuple[object, str]:
    """The folder's pipeline, and a note: the parts its family may do without that it left out (SD3's T5, as
    ComfyUI allows), and that its prompts are plain text where its family takes no A1111 weights."""
    import diffusers

    for component in info.path.iterdir():
        check_weights_safe(component, allow_pickle)
    extra = {}
    entries = read_model_index(info.path)
    if "safety_checker" in entries:  # a local tool for artists, like A1111 and ComfyUI: no NSFW filter model
        extra.update(safety_checker=None, requires_safety_checker=False)
    left_out = [part for part in family.optional_parts
                if not (info.path / part).is_dir() or not any(entries.get(part) or ())]
    extra.update({part: None for part in left_out})
    pipe = getattr(diffusers, pipeline_class).from_pretrained(
        info.path, dtype=dtype, local_files_only=True, use_safetensors=None if allow_pickle else True, **extra)
    notes = []
    if left_out:
        what = sorted({family.optional_parts[part] for part in left_out})
        notes.append(f"{' and '.join(what)} left out: the prompt is read by the other text encoders only")
    if not family.prompt_weights:
        notes.append(f"{family.name} takes the prompt as plain text: A1111 weights, brackets and BREAK are not applied")
    return pipe, "; ".join(notes)


def _load_single_file(info: ModelInfo, pipeline_class: str, dtype, allow_pickle: bool) -> tuple[object, str]:
    from ddpm_studio.engine.models.single_file import SingleFileError, load_single_file

    try:
        return load_single_file(info.path, pipeline_class, info.in_channels, dtype, allow_pickle)
    except SingleFileError as exc:
        raise ModelError(str(exc)) from None
