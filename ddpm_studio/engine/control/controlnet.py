"""ControlNet (Zhang et al., ICCV 2023) for SD 1.x, 2.x and SDXL through diffusers' ControlNet pipelines: diffusers
ControlNet folders, or single ``.safetensors`` files as Civitai and the ControlNet repos ship them, loaded offline
with the config folder of their family from ``resources/configs/<family>/controlnet``. Several at once (diffusers'
MultiControlNetModel), each with a weight and the fraction of the run it acts in. The ControlNet pipeline is built
on the loaded model's own modules (nothing loaded twice; LoRAs and a chosen VAE as they are). A ControlNet of
another family than the model is refused in one line naming both. No Qt.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.models.catalogue import ModelError, check_weights_safe
from ddpm_studio.engine.models.families import ARCH_BY_CONTEXT, FAMILY_NAMES, PICKLE_SUFFIXES, family_of_info
from ddpm_studio.engine.runtime.offload import execution_device

XL_KEYS = ("add_embedding.", "label_emb.")  # SDXL's size conditioning, in diffusers' and the original layout


def family_words(xl: bool, context_dim: int) -> str:
    """"SDXL", "SD 1.x", or what a model of unknown size is: its text width."""
    arch = ARCH_BY_CONTEXT.get(context_dim)
    if arch is not None and (arch == "sdxl") == xl:
        return FAMILY_NAMES[arch]
    return f"{'an SDXL-type' if xl else 'an SD-type'} model with {context_dim}-wide text features"


def find_controlnet(ref: str, folders) -> Path:
    """A ControlNet file or folder, by path or by its name in the ControlNet folders."""
    path = Path(ref).expanduser()
    if path.exists():
        return path
    for folder in getattr(folders, "controlnets", []):
        for candidate in sorted(Path(folder).expanduser().glob("*")):
            if path.name in (candidate.name, candidate.stem):
                return candidate
    where = ", ".join(getattr(folders, "controlnets", [])) or "no ControlNet folder is set"
    raise ModelError(f"No ControlNet '{ref}' here ({where}).")


def single_file_arch(path: Path) -> str:
    """sd1, sd2 or sdxl, from a ControlNet file's header alone: its cross-attention width (768, 1024, 2048), else
    whether it has SDXL's size conditioning (its config then has to fit; a misfit is a load error)."""
    from ddpm_studio.engine.models.single_file import SingleFileError, read_shapes

    try:
        shapes = read_shapes(path)
    except SingleFileError as exc:
        raise ModelError(str(exc)) from None
    widths = {shape[1] for key, shape in shapes.items() if key.endswith("attn2.to_k.weight") and len(shape) == 2}
    if not widths:
        raise ModelError(f"{path} is not a ControlNet: it has no cross-attention layers.")
    xl = any(key.startswith(XL_KEYS) or f".{XL_KEYS[0]}" in key or f".{XL_KEYS[1]}" in key for key in shapes)
    return ARCH_BY_CONTEXT.get(max(widths)) or ("sdxl" if xl else "sd1")


def load_controlnet(path: Path, dtype, device, allow_pickle: bool = False):
    from diffusers import ControlNetModel

    from ddpm_studio.engine.errors import first_line

    try:
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ModelError(f"{path} is not a ControlNet folder (no config.json).")
            check_weights_safe(path, allow_pickle)
            model = ControlNetModel.from_pretrained(path, local_files_only=True, torch_dtype=dtype,
                                                    use_safetensors=None if allow_pickle else True)
        else:
            if path.suffix.lower() in PICKLE_SUFFIXES and not allow_pickle:
                raise ModelError(f"{path} is a pickle file, which can run code when loaded; allow pickle files in "
                                 "Preferences (then it is read weights-only) or use a .safetensors ControlNet.")
            from ddpm_studio.engine.models.single_file import configs_root

            config = configs_root() / single_file_arch(path) / "controlnet"
            model = ControlNetModel.from_single_file(str(path), config=str(config), local_files_only=True,
                                                     torch_dtype=dtype)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"The ControlNet {path} cannot be loaded: {first_line(exc, 200)}") from None
    return model.eval().requires_grad_(False).to(device)


def check_family(controlnet, path: Path, info) -> None:
    """The ControlNet must be made for the model's family: the same text width, SDXL's size conditioning or not."""
    xl_control = controlnet.config.get("addition_embed_type") == "text_time"
    width = int(controlnet.config.get("cross_attention_dim") or 0)
    xl_model = family_of_info(info).xl
    if xl_control != xl_model or (info.context_dim and width != info.context_dim):
        raise ModelError(f"The ControlNet {path.name} is for {family_words(xl_control, width)}; the model "
                         f"{info.name} is {family_words(xl_model, info.context_dim)}.")


def controlnets_for(loaded, job, folders, allow_pickle: bool) -> list:
    """The job's ControlNets, loaded once per file and kept with the model, each checked against its family."""
    pipe = loaded.pipe
    models = []
    for ref, *_ in job.controlnets:
        path = find_controlnet(ref, folders)
        key = (str(path.resolve()), path.stat().st_mtime)
        if key not in loaded.controlnets:
            loaded.controlnets[key] = load_controlnet(path, pipe.unet.dtype, execution_device(pipe.unet), allow_pickle)
        check_family(loaded.controlnets[key], path, loaded.info)
        models.append(loaded.controlnets[key])
    return models


def control_pipeline(loaded, mode: str, controlnets: list):
    """The ControlNet pipeline for ``mode`` on the loaded model's modules (its scheduler as set for this run)."""
    from diffusers.models.controlnets import MultiControlNetModel

    from ddpm_studio.engine.sampling.pipelines import pipeline_on

    control = controlnets[0] if len(controlnets) == 1 else MultiControlNetModel(controlnets)
    return pipeline_on(loaded, family_of_info(loaded.info).control_pipelines[mode], controlnet=control)


def control_arguments(job, mode: str, size: tuple[int, int]) -> dict:
    """The control images (preprocessed, resized to the picture's ``size``), weights and start/end fractions."""
    from PIL import Image

    from ddpm_studio.engine.control.preprocess import preprocess
    from ddpm_studio.engine.inputs import open_rgb
    from ddpm_studio.engine.jobs.control_fields import preprocessor_of

    images = [preprocess(open_rgb(path, "control image"), preprocessor_of(job, number), job.canny_thresholds)
              .resize(size, Image.Resampling.BILINEAR) for number, path in enumerate(job.control_images)]
    weights = [float(weight) for _, weight, _, _ in job.controlnets]
    single = len(images) == 1
    return {"image" if mode == "txt2img" else "control_image": images[0] if single else images,
            "controlnet_conditioning_scale": weights[0] if single else weights,
            "control_guidance_start": [float(unit[2]) for unit in job.controlnets],
            "control_guidance_end": [float(unit[3]) for unit in job.controlnets]}
