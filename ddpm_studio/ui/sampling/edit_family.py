"""The Edit panel's rows for the chosen model's family (its row in models/families.py), as the Text to Image panel
shows them: the add-ons it takes (a flow family's: none but what its row names), its schedulers (a flow family's
edits run with Euler: sampling/flow_edit.py), the negative prompt, True CFG and clip skip where it uses them, and its
guidance scale when the scale is still another family's."""

from __future__ import annotations

from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.models.catalogue import ModelInfo
from ddpm_studio.ui.widgets.common import fill_schedulers, fit_to_family


class EditFamilyRows:
    """Mixed into the Edit panel (which has ``prompts``, ``addons``, ``control``, ``scheduler_box``, ``form`` and
    ``mode()``)."""

    _family = None  # the chosen model's row
    _flavour = ""

    def offer_family(self, info: ModelInfo | None) -> None:
        from ddpm_studio.engine.models.families import ADDONS, family_of_info
        from ddpm_studio.engine.sampling.flow_edit import edit_schedulers

        family = family_of_info(info) if info is not None else None
        self._family, self._flavour = family, (info.flavour if info is not None else "")
        kinds = family.addons if family is not None else ADDONS
        if hasattr(self, "scheduler_box"):
            fill_schedulers(self.scheduler_box, edit_schedulers(family) or self.schedulers)
        self.addons.offer(kinds)
        self.control.set_visible("controlnet" in kinds and self.mode() != "instruct")
        # a flow family's instruction editing runs the picture's tokens beside the references': no maps for it yet
        joint_instruct = family is not None and family.denoiser == "transformer" and self.mode() == "instruct"
        self.prompts.show_attention_maps("attention" in kinds and not joint_instruct,
                                         family.name if family is not None else "")
        self.prompts.show_true_cfg(family is not None and family.true_cfg)
        self.prompts.show_clip_skip(family is None or family.clip_skip)
        self.show_family_negative()

    def show_family_negative(self, *_) -> None:
        """The Negative row where the family uses it (Flux's with a true CFG scale above 1)."""
        family = self._family
        true_cfg = self.prompts.true_cfg.value() if self.prompts.form.isRowVisible(self.prompts.true_cfg) else 1.0
        self.prompts.show_negative(family is None or family.uses_negative(true_cfg, self._flavour),
                                   family.cfg_above if family is not None else 1.0)

    def apply_defaults(self, info: ModelInfo, defaults: dict) -> list[str]:
        """A newly chosen model's family brings its guidance scale when the scale is still another family's."""
        from ddpm_studio.engine.models.families import FAMILIES

        if "guidance_scale" not in defaults:
            return []
        standard = EditJob.guidance_scale
        every = [d.get("guidance_scale", standard) for row in FAMILIES for d in row.every_defaults()]
        before = self.prompts.guidance.value()
        fit_to_family((self.prompts.guidance,), defaults["guidance_scale"], every)
        return [f"guidance {defaults['guidance_scale']:g}"] if self.prompts.guidance.value() != before else []
