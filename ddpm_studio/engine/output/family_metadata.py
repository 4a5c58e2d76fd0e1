"""The A1111/Forge parameters a model's family writes its own way (its row in models/families.py): its guidance under
the name Forge gives it — ``CFG scale``, or for a guidance distilled into the model (Flux.1) ``CFG scale: 1,
Distilled CFG Scale: 3.5``, as Forge writes it (modules/processing.py, create_infotext; its CFG scale is a true CFG
pass's, 1 when none ran) — and a flow-matching
scheduler's ``Shift`` where the model's scheduler config fixes one (SD 3.5's 3.0; Forge Neo writes it under that name).
A shift that follows the picture's size (Flux's dynamic shifting) is not written: the config's own is not the one used.
"""

from __future__ import annotations

from ddpm_studio.engine.jobs.types import PromptJob
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.sampling.schedulers import fixed_shift

CFG = "CFG scale"  # A1111's name for classifier-free guidance


def family_fields(info, job, scheduler_config: dict | None) -> dict:
    """``{"guidance": [(key, value)…]}`` for ``metadata.a1111_parameters`` (in place of ``CFG scale``); empty for a
    model outside the family table (a pixel DDPM) or a job without classifier-free guidance."""
    if getattr(info, "upscale", 0):  # a model upscaler (ESRGAN, …): named as A1111's Extras tab names its upscaler
        return {"after": [("Postprocess upscaler", info.name), ("Postprocess upscale by", info.upscale)]}
    family = family_of_info(info) if info is not None else None
    if family is None or not isinstance(job, PromptJob):  # a GenerateJob's guidance_scale is autoguidance's
        return {}
    if family.guidance_field == CFG:
        guidance = [(CFG, job.guidance_scale)]
    else:  # the model's own guidance has its own name; CFG scale is a true CFG pass's (1: none ran)
        guidance = [(CFG, f"{getattr(job, 'true_cfg_scale', 1.0):g}"), (family.guidance_field, job.guidance_scale)]
    shift = fixed_shift(scheduler_config or {})
    fields = {"guidance": guidance + ([("Shift", f"{shift:g}")] if shift is not None else [])}
    if getattr(job, "mode", "") == "instruct" and family.denoiser == "transformer":  # image CFG is InstructPix2Pix's
        fields["drop"] = ("Image CFG scale",)
    return fields
