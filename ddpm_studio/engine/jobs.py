"""Job descriptions: one frozen dataclass per task, validated, round-tripping through a plain dict.

The dict form is what goes into a PNG's JSON metadata chunk and what "restore parameters" reads back.
No torch here: the GUI builds jobs before torch is imported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from ddpm_studio.engine.schedulers import SCHEDULERS

MAX_STEPS = 1000
MAX_BATCH = 64
MAX_SEED = 2**32 - 1


class JobError(ValueError):
    """A job's parameters are invalid; the message is meant for the user."""


@dataclass(frozen=True)
class GenerateJob:
    """Unconditional sampling from a pixel-space DDPM (UNet2DModel + scheduler)."""

    kind: ClassVar[str] = "generate"

    model: str
    scheduler: str = "dpm++2m"
    steps: int = 25
    seed: int = 0
    batch_size: int = 4
    preview_every: int = 1  # 0 = no previews, 1 = every step, k = every k-th step (the last step always)
    output_dir: str = ""  # empty: the caller decides where (or nothing is saved)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise JobError("No model chosen: pick a model (a bundled one, a folder, or a cached hub id).")
        if self.scheduler not in SCHEDULERS:
            names = ", ".join(SCHEDULERS)
            raise JobError(f"Unknown scheduler '{self.scheduler}'. Choose one of: {names}.")
        _check_int("steps", self.steps, 1, MAX_STEPS)
        _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("batch size", self.batch_size, 1, MAX_BATCH)
        _check_int("preview interval", self.preview_every, 0, MAX_STEPS)
        if not isinstance(self.output_dir, str):
            raise JobError("The output folder must be a path string.")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GenerateJob":
        if not isinstance(data, dict):
            raise JobError("Job data must be a mapping.")
        kind = data.get("kind", cls.kind)
        if kind != cls.kind:
            raise JobError(f"This is a '{kind}' job, not a '{cls.kind}' job.")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names - {"kind"})
        if unknown:
            raise JobError(f"Unknown job field(s): {', '.join(unknown)}.")
        return cls(**{k: v for k, v in data.items() if k in names})

    def replace(self, **changes: Any) -> "GenerateJob":
        return dataclasses.replace(self, **changes)


JOB_TYPES: dict[str, type] = {GenerateJob.kind: GenerateJob}


def job_from_dict(data: dict[str, Any]):
    """Build the right job type from its dict (the ``kind`` field picks the class)."""
    if not isinstance(data, dict) or "kind" not in data:
        raise JobError("Job data has no 'kind' field.")
    cls = JOB_TYPES.get(data["kind"])
    if cls is None:
        raise JobError(f"Unknown job kind '{data['kind']}'.")
    return cls.from_dict(data)


def _check_int(label: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobError(f"The {label} must be a whole number, not {value!r}.")
    if not low <= value <= high:
        raise JobError(f"The {label} must be between {low} and {high}; got {value}.")
