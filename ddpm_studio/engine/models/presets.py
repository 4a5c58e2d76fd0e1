"""Few-step presets: the steps, guidance and scheduler a step-distilled model or LoRA is made for, recognised from
its name (the file's or folder's, a hub id, a LoRA's kohya ``ss_output_name`` or ``modelspec.title``).

Choosing such a model (``defaults.recommended_settings``) or ticking such a LoRA (the Text to Image panel, the CLI's
``--lora``) sets them, as a model's family defaults are set. Each row says where its numbers come from: the model
cards of the releases (Hugging Face). A name's step count ("4step", "8steps") picks the step count of releases that
come in several (Lightning, Hyper-SD). Words that also mean something else ("lightning", "hyper", "turbo" on a LoRA)
count only beside a step count, so a LoRA of lightning bolts is left alone. No torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ddpm_studio.engine.jobs.checks import MAX_STEPS

_SD = ("sd1", "sd2", "sdxl")  # the UNet families, whose scheduler and schedule type a preset sets
STEPS = re.compile(r"(\d+)[-_ ]?steps?(?![a-z])")


@dataclass(frozen=True)
class Preset:
    key: str
    name: str  # said in the status line: "SDXL-Lightning"
    word: str  # the name's word that tells it
    settings: dict  # scheduler, schedule type, steps, guidance_scale (steps: when the name gives none)
    families: tuple[str, ...] = _SD
    needs_steps: bool = False  # the word counts only beside a step count in the name
    needs_steps_lora: bool = False  # … on a LoRA only
    cfg: dict = field(default_factory=dict)  # a "CFG" release's settings over them (Hyper-SD's CFG LoRAs)
    one_step: dict = field(default_factory=dict)  # the 1-step release's over them


PRESETS: tuple[Preset, ...] = (
    # tianweiy/DMD2's model card: the 4-step LoRA (dmd2_sdxl_4step_lora) with LCMScheduler, 4 steps, guidance 0
    # (the card passes timesteps 999, 749, 499, 249; LCMScheduler's own for 4 steps are 999, 759, 499, 259)
    Preset("dmd2", "DMD2", "dmd2", {"scheduler": "lcm", "schedule": "", "steps": 4, "guidance_scale": 0.0}),
    # ByteDance/SDXL-Lightning's model card: EulerDiscreteScheduler with timestep_spacing="trailing" (diffusers'
    # SGM uniform), guidance 0, as many steps as the checkpoint's name says (1, 2, 4, 8); its 1-step checkpoint is
    # an x0 predictor (prediction_type "sample"), which the app does not set
    Preset("lightning", "SDXL-Lightning", "lightning",
           {"scheduler": "euler", "schedule": "sgm_uniform", "steps": 4, "guidance_scale": 0.0}, needs_steps=True),
    # ByteDance/Hyper-SD's model card: the N-step LoRAs with DDIMScheduler, timestep_spacing="trailing", guidance 0;
    # the "CFG" LoRAs (Hyper-SDXL-8steps-CFG-lora, Hyper-SD15-12steps-CFG-lora) at guidance 5 (the card: 5–8);
    # the 1-step LoRA with TCDScheduler. Hyper-FLUX.1-dev-8steps-lora: 8 steps at guidance 3.5 (LoRA weight 0.125);
    # Hyper-SD3-8steps-CFG-lora: 8 steps at guidance 5 (weight 0.125)
    Preset("hyper", "Hyper-SD", "hyper",
           {"scheduler": "ddim", "schedule": "sgm_uniform", "steps": 8, "guidance_scale": 0.0},
           families=_SD + ("flux", "sd3"), needs_steps=True, cfg={"guidance_scale": 5.0},
           one_step={"scheduler": "tcd", "schedule": ""}),
    # h1t/TCD-SDXL-LoRA's model card: TCDScheduler, 4 steps, guidance 0 (eta 0.3, the app's TCD step)
    Preset("tcd", "TCD", "tcd", {"scheduler": "tcd", "schedule": "", "steps": 4, "guidance_scale": 0.0}),
    # latent-consistency/lcm-lora-sdxl and lcm-lora-sdv1-5's model cards: LCMScheduler, 4 steps, guidance 1 (off);
    # an LCM-distilled checkpoint (SimianLuo/LCM_Dreamshaper_v7) the same at 4 steps
    Preset("lcm", "LCM", "lcm", {"scheduler": "lcm", "schedule": "", "steps": 4, "guidance_scale": 1.0}),
    # stabilityai/sdxl-turbo's and sd-turbo's model cards: 1 step at guidance 0 (1 to 4 steps work); their scheduler
    # config is EulerAncestralDiscreteScheduler with timestep_spacing "trailing". stabilityai/stable-diffusion-3.5-
    # large-turbo's: 4 steps at guidance 0 (its own flow Euler)
    Preset("turbo", "Turbo", "turbo",
           {"scheduler": "euler-a", "schedule": "sgm_uniform", "steps": 1, "guidance_scale": 0.0},
           families=_SD + ("sd3",), needs_steps_lora=True),
)
_FLOW_STEPS = {("hyper", "flux"): {"steps": 8, "guidance_scale": 3.5},  # the flow releases' (model cards above)
               ("hyper", "sd3"): {"steps": 8, "guidance_scale": 5.0},
               ("turbo", "sd3"): {"steps": 4, "guidance_scale": 0.0}}


def find_preset(texts, family_key: str = "", lora: bool = False) -> dict:
    """The settings of the first preset whose word is in ``texts`` (names), for a model of the family
    ``family_key`` ("" when not known: the SD families' settings); {} when none is, or not for that family.
    ``preset`` names it, in words."""
    text = " ".join(t for t in texts if isinstance(t, str)).lower()
    words = set(re.split(r"[^a-z0-9]+", text))
    counted = STEPS.search(text)
    steps = int(counted.group(1)) if counted and 1 <= int(counted.group(1)) <= MAX_STEPS else None
    for preset in PRESETS:
        if preset.word not in words or (steps is None and (preset.needs_steps or (lora and preset.needs_steps_lora))):
            continue
        family = family_key or preset.families[0]
        if family not in preset.families:
            return {}
        if family not in _SD:  # a flow family keeps its own scheduler
            settings = dict(_FLOW_STEPS.get((preset.key, family), {}))
        else:
            settings = dict(preset.settings)
            settings.update(preset.cfg if "cfg" in words else {})
            settings.update(preset.one_step if steps == 1 else {})
        if steps is not None and (family in _SD or "steps" in settings):
            settings["steps"] = steps
        label = f"{preset.name} {steps}-step" if steps is not None else preset.name
        return {**settings, "preset": label}
    return {}


def preset_for_model(info) -> dict:
    """A step-distilled model's preset, from its file's or folder's name and its reference (a hub id)."""
    from ddpm_studio.engine.models.families import family_of_info

    family = family_of_info(info)
    path = Path(str(getattr(info, "path", "")))
    texts = (path.stem if path.suffix else path.name, str(getattr(info, "ref", "")), str(getattr(info, "name", "")))
    return find_preset(texts, family.key if family is not None else "")


def preset_for_lora(path: Path, family_key: str = "") -> dict:
    """A few-step LoRA's preset, from its file name and the names its safetensors header keeps."""
    return find_preset((Path(path).stem, *lora_names(Path(path))), family_key, lora=True)


NAME_KEYS = ("ss_output_name", "modelspec.title")  # kohya's output name; the model-spec title (ai-toolkit, kohya)


def lora_names(path: Path) -> list[str]:
    """The names a LoRA file's safetensors header keeps (its metadata); none for another file or a damaged one."""
    from ddpm_studio.engine.models.single_file import safetensors_header

    if path.suffix.lower() != ".safetensors":
        return []
    try:
        _, metadata = safetensors_header(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    return [str(metadata[key])[:200] for key in NAME_KEYS if isinstance(metadata.get(key), str)]
