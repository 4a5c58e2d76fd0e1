"""A job from the dict its PNG or queue file keeps: the ``kind`` field picks the class."""

from __future__ import annotations

from typing import Any

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import EditJob, GenerateJob, Job, Text2ImageJob
from ddpm_studio.engine.jobs.upscale_job import UpscaleJob

JOB_TYPES: dict[str, type[Job]] = {cls.kind: cls for cls in (GenerateJob, Text2ImageJob, EditJob, UpscaleJob)}


def job_from_dict(data: dict[str, Any]) -> Job:
    """Build the right job type from its dict (the ``kind`` field picks the class)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise JobError("Job data has no 'kind' field.")
    cls = JOB_TYPES.get(data["kind"])
    if cls is None:
        raise JobError(f"Unknown job kind '{data['kind']}'.")
    return cls.from_dict(data)
