"""The Text to Image panel: Stable Diffusion family models, a prompt, and the same live canvas."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFormLayout

from ddpm_studio.engine.jobs.schedule_types import without_combined
from ddpm_studio.engine.jobs.scheduler_table import LATENT_SCHEDULERS
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import ModelInfo
from ddpm_studio.ui.addons.fields import AddonFields
from ddpm_studio.ui.control.fields import ControlFields
from ddpm_studio.ui.prompts.fields import PromptFields
from ddpm_studio.ui.prompts.styles_row import StylesRow
from ddpm_studio.ui.sampling.hires_fields import HiresFields
from ddpm_studio.ui.sampling.panel import SamplingPanel
from ddpm_studio.ui.sampling.split_fields import SplitFields
from ddpm_studio.ui.widgets.common import fill_schedulers, fit_family_size, fit_to_family
from ddpm_studio.ui.widgets.size_fields import SizeFields


class Text2ImagePanel(SamplingPanel):
    job_type = Text2ImageJob
    variations = True
    settings_key = "txt2img/last_job"
    default_batch = 1
    schedulers = LATENT_SCHEDULERS
    single_files = True

    def accepts(self, info: ModelInfo) -> bool:
        return "txt2img" in info.modes

    def add_fields(self, form: QFormLayout) -> None:
        self.prompts = PromptFields(form)
        self._family, self._flavour = None, ""  # the chosen model's row (models/families.py) and its flavour
        self.prompts.true_cfg.valueChanged.connect(self._show_negative)
        self.split = SplitFields(form, self.settings)
        self.split.changed.connect(self.check_fields)
        self.addons = AddonFields(form, self.settings, self.prompts.prompt, self.prompts.negative)
        self.styles = StylesRow(form, self.settings, self.prompts.prompt, self.prompts.negative)
        self.size = SizeFields(form)
        self.width_box, self.height_box = self.size.width_box, self.size.height_box
        self.hires = HiresFields(form, (self.width_box, self.height_box))
        self.hires.changed.connect(self.check_fields)
        self.control = ControlFields(form, self.settings, self)
        self._restoring = False  # a job's LoRAs are being put back: their presets are not applied over it
        self.addons.loras.list.itemChanged.connect(self._lora_chosen)

    def _lora_chosen(self, item) -> None:
        """A few-step LoRA just ticked (Lightning, Hyper-SD, DMD2, LCM, TCD: models/presets.py) sets its steps,
        guidance and scheduler, as choosing a model sets the model's."""
        from PySide6.QtCore import Qt

        from ddpm_studio.engine.models.presets import preset_for_lora

        if self._restoring or item.checkState() != Qt.CheckState.Checked:
            return
        preset = preset_for_lora(Path(item.data(Qt.ItemDataRole.UserRole)),
                                 self._family.key if self._family is not None else "")
        applied = self.put_settings(self.current_model_info(), preset) if preset else []
        if applied:
            self.status_message.emit(f"{item.text()}: its settings, {', '.join(applied)}")

    def field_problems(self) -> list[str]:
        problems = [self.hires.problem() if hasattr(self, "hires") else None,
                    self.split.problem() if hasattr(self, "split") else None]
        return [problem for problem in problems if problem]

    def control_size(self) -> tuple[int, int]:
        """The size a drawn control image is made at: the picture's (the first pass's with a hires fix)."""
        return self.width_box.value(), self.height_box.value()

    def refresh_models(self, include_hf_cache: bool = False) -> None:
        super().refresh_models(include_hf_cache)
        from ddpm_studio.engine.models.catalogue import list_models

        self.hires.set_upscalers(list_models(self.settings.model_folders, include_hf_cache=include_hf_cache,
                                             accept=lambda info: "upscale" in info.modes,
                                             allow_pickle=self.settings.allow_pickle))

    def model_changed(self, info: ModelInfo | None) -> None:
        self.prompts.show_prediction(info is not None and info.prediction_unknown)
        self.addons.model_changed(info)
        self.split.model_changed(info)
        fit_family_size(info, self.width_box, self.height_box)
        self.offer_addons(info)

    def offer_addons(self, info: ModelInfo | None) -> None:
        """Show what the chosen model's family takes (its row in models/families.py) and hide the rest: the flow
        families take LoRAs (the list greys another family's) but no embeddings, VAE, ControlNet or attention maps
        yet (the attention maps' row says so; all but Klein the hires fix), Flux a negative prompt only through its True CFG row, none but SD 3.5 a clip
        skip, and they sample with their own schedulers."""
        from ddpm_studio.engine.models.families import ADDONS, family_of_info

        family = family_of_info(info) if info is not None else None
        self._family, self._flavour = family, (info.flavour if info is not None else "")
        kinds = family.addons if family is not None else ADDONS
        fill_schedulers(self.scheduler_box, without_combined(family.schedulers if family is not None and
                                                             family.schedulers else self.schedulers))  # a flow model's
        self.schedule.refill(flow=family is not None and bool(family.schedulers))  # … and their schedule types
        self._fit_guidance(family, self._flavour, info)
        self.addons.offer(kinds)
        self.hires.offer("hires" in kinds)
        self.control.set_visible("controlnet" in kinds)
        self.prompts.show_attention_maps("attention" in kinds, family.name if family is not None else "")
        self.prompts.show_true_cfg(family is not None and family.true_cfg)
        self.prompts.show_clip_skip(family is None or family.clip_skip)
        self._show_negative()

    def _show_negative(self, *_) -> None:
        """The Negative row shows where the family uses it: always (not in a step-distilled Klein), or (Flux) with a
        true CFG scale above 1."""
        family = self._family
        true_cfg = self.prompts.true_cfg.value() if self.form.isRowVisible(self.prompts.true_cfg) else 1.0
        self.prompts.show_negative(family is None or family.uses_negative(true_cfg, self._flavour),
                                   family.cfg_above if family is not None else 1.0)

    def _fit_guidance(self, family, flavour: str = "", info: ModelInfo | None = None) -> None:
        """The guidance scale becomes the family's own (its flavour's: Flux.1 schnell's 0) when it is still another
        family's (SD 3.5's 3.5 after SD's 7.5, and back): a scale the user chose stays."""
        from ddpm_studio.engine.models.families import FAMILIES

        standard = Text2ImageJob.guidance_scale  # SD's, the job's default
        own = family.defaults_for(flavour).get("guidance_scale", standard) if family is not None else standard
        if info is not None:  # a few-step model's own (SDXL-Turbo's 0: models/presets.py)
            from ddpm_studio.engine.models.presets import preset_for_model

            own = preset_for_model(info).get("guidance_scale", own)
        every = [defaults.get("guidance_scale", standard) for row in FAMILIES for defaults in row.every_defaults()]
        fit_to_family((self.prompts.guidance,), own, every)

    def apply_defaults(self, info: ModelInfo, defaults: dict) -> list[str]:
        """A newly chosen model's family brings its guidance scale (SD 3.5's is lower than SD's)."""
        if "guidance_scale" not in defaults:
            return []
        self.prompts.guidance.setValue(defaults["guidance_scale"])
        return [f"guidance {defaults['guidance_scale']:g}"]

    def job_fields(self) -> dict:
        fields = dict(width=self.width_box.value(), height=self.height_box.value(), **self.hires.values(),
                      **self.control.values(), **self.prompts.values(),
                      **{**self.addons.values(), **self.split.values()})  # a diffusion model's VAE file: its own
        if hasattr(self, "styles"):  # the ticked styles applied: the job (and so the parameters) holds that text
            prompt, negative = self.styles.applied(fields["prompt"], fields["negative_prompt"])
            shown = self.form.isRowVisible(self.prompts.negative)  # a family with no negative prompt gets none
            fields.update(prompt=prompt, negative_prompt=negative if shown else fields["negative_prompt"])
        return fields

    def restore_problems(self, path: str, job) -> list[str]:
        return self.addons.restore_problems(path, job)

    def apply_fields(self, job: Text2ImageJob) -> list[str]:
        self.prompts.apply(job)
        if hasattr(self, "styles"):
            self.styles.untick_all()  # a job's prompt is already styled
        self.width_box.setValue(job.width)
        self.height_box.setValue(job.height)
        self.hires.apply(job)
        self._restoring = True
        try:
            return self.control.apply(job) + self.addons.apply(job) + self.split.apply(job)
        finally:
            self._restoring = False
