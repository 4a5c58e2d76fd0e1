"""The Generate panel: unconditional sampling from pixel-space DDPMs, with the live canvas and the gallery.

Its own rows are autoguidance (engine/sampling/guidance.py): a guide model — the model's recommended one, or any other model
in the list, such as an earlier export of your own training run — and how far to steer away from it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout

from ddpm_studio.engine.jobs.checks import MAX_AUTOGUIDANCE, MIN_AUTOGUIDANCE
from ddpm_studio.engine.jobs.scheduler_table import PIXEL_SCHEDULERS
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.models.catalogue import PIXEL_FAMILY, ModelError, ModelInfo, resolve
from ddpm_studio.engine.models.defaults import read_defaults
from ddpm_studio.ui.sampling.panel import SamplingPanel
from ddpm_studio.ui.widgets.common import narrow_combo

GUIDE_TIP = (
    "Autoguidance: steer each step away from a weaker version of this model (smaller, or trained for less time), "
    "where both go wrong the same way. Cleaner, more definite pictures without losing variety. The guide runs at every "
    "step too, so a run takes longer (1.5× for the bundled model's)."
)
SCALE_TIP = (
    "Autoguidance scale: 1 is the model alone; 2 steps twice as far from the guide's prediction as the model does; "
    "too high oversaturates"
)


class GeneratePanel(SamplingPanel):
    job_type = GenerateJob
    variations = True
    settings_key = "generate/last_job"
    schedulers = PIXEL_SCHEDULERS

    def accepts(self, info: ModelInfo) -> bool:
        return info.family == PIXEL_FAMILY

    def add_fields(self, form: QFormLayout) -> None:
        self.guide_box = narrow_combo(14)
        self.guide_box.setToolTip(GUIDE_TIP)
        self.guidance = QDoubleSpinBox(minimum=MIN_AUTOGUIDANCE, maximum=MAX_AUTOGUIDANCE, value=1.0, singleStep=0.25,
                                       decimals=2)
        self.guidance.setToolTip(SCALE_TIP)
        self.recommended_guide = ""  # the selected model's own guide, from its ddpm_studio.json
        self.restored_guide = ""  # a restored job's guide that is not in the model list: kept as a choice
        self.guide_box.currentIndexChanged.connect(self._guide_changed)
        form.addRow("Guide", self.guide_box)
        form.addRow("Guide scale", self.guidance)
        self.fill_guides()

    def fill_guides(self, keep: str | None = None, add_missing: bool = False) -> None:
        """None, the model's recommended guide, then every other model in the list. ``keep`` (default: the current
        choice) stays selected if it is listed, else None is; ``add_missing`` lists it anyway (a restored job's)."""
        keep = self.guide_box.currentData() if keep is None else keep
        model = self.model_box.currentData()
        self.guide_box.blockSignals(True)
        self.guide_box.clear()
        self.guide_box.addItem("None", "")
        if self.recommended_guide:
            self.guide_box.addItem("Its own guide (recommended)", self.recommended_guide)
            self.guide_box.setItemData(1, self.recommended_guide, Qt.ItemDataRole.ToolTipRole)
        for ref, info in getattr(self, "model_infos", {}).items():  # not there yet while the form is being built
            if ref != model:
                self.guide_box.addItem(info.label, ref)
        if keep and add_missing and self.guide_box.findData(keep) < 0:
            self.restored_guide = keep
        if self.restored_guide and self.guide_box.findData(self.restored_guide) < 0:
            self.guide_box.addItem(self.restored_guide, self.restored_guide)
        self.guide_box.setCurrentIndex(max(0, self.guide_box.findData(keep or "")))
        self.guide_box.blockSignals(False)
        self._guide_changed()

    def _guide_changed(self, *_) -> None:
        self.guidance.setEnabled(bool(self.guide_box.currentData()))

    def model_changed(self, info: ModelInfo | None) -> None:
        """Re-list the guides for the model now chosen; during a re-listing of the models, once it is over."""
        if self._refreshing:  # the list is emptied and filled again: the guide chosen must outlive that
            return
        self.recommended_guide = read_defaults(info.path, info.ref).get("guide_model", "") if info is not None else ""
        self.fill_guides()

    def refresh_models(self, include_hf_cache: bool = False) -> None:
        super().refresh_models(include_hf_cache)
        self.model_changed(self.current_model_info())

    def apply_defaults(self, info: ModelInfo, defaults: dict) -> list[str]:
        """A model with a guide of its own brings it and its scale; the current choice stays for one without."""
        self.recommended_guide = defaults.get("guide_model", "")
        if not self.recommended_guide:
            return []
        self.fill_guides(keep=self.recommended_guide)
        self.guidance.setValue(defaults["guidance_scale"])
        return [f"autoguidance {defaults['guidance_scale']:g} with its own guide"]

    def job_fields(self) -> dict:
        guide = self.guide_box.currentData() or ""
        return dict(guide_model=guide, guidance_scale=round(self.guidance.value(), 2) if guide else 1.0)

    def apply_fields(self, job: GenerateJob) -> list[str]:
        """A restored guide that is no listed model stays a choice if it is a model folder here (an earlier export of
        a training run); one that is not here is reported, and the guide is None."""
        guide = job.guide_model if job.guided else ""
        missing = []
        if guide and self.guide_box.findData(guide) < 0 and guide != self.recommended_guide and not _is_pipeline(guide):
            missing.append(f"the guide model '{guide}' is not here; the guide is None")
            guide = ""
        self.fill_guides(keep=guide, add_missing=True)
        self.guidance.setValue(job.guidance_scale if guide else 1.0)
        return missing


def _is_pipeline(ref: str) -> bool:
    try:
        return (resolve(ref) / "model_index.json").is_file()
    except ModelError:
        return False
