"""The Generate panel: unconditional sampling from pixel-space DDPMs, with the live canvas and the gallery."""

from __future__ import annotations

from ddpm_studio.engine.jobs import GenerateJob
from ddpm_studio.engine.models import PIXEL_FAMILY, ModelInfo
from ddpm_studio.engine.schedulers import PIXEL_SCHEDULERS
from ddpm_studio.ui.sampling_panel import SamplingPanel


class GeneratePanel(SamplingPanel):
    job_type = GenerateJob
    settings_key = "generate/last_job"
    schedulers = PIXEL_SCHEDULERS

    def accepts(self, info: ModelInfo) -> bool:
        return info.family == PIXEL_FAMILY
