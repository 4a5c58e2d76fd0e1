"""A race: one x_T, several runs of a sampling job that differ in one parameter, compared step by step
(``engine/series/race.py`` runs it). No torch, no Qt."""

from __future__ import annotations

from dataclasses import dataclass

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.schedule_types import scheduler_fields
from ddpm_studio.engine.jobs.types import Job

RACE_FIELDS = {"scheduler": str, "steps": int, "guidance_scale": float}  # what a race's lanes may differ in
MAX_LANES = 8


@dataclass(frozen=True)
class RaceJob:
    """One x_T, several runs that differ in one parameter (``field``: scheduler, steps or guidance scale), compared
    step by step: each lane is an ordinary job (``lanes``), run on its own, so its image is that of a separate run."""

    base: Job
    field: str
    values: tuple

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if not isinstance(self.base, Job):
            raise JobError("A race starts from a sampling job.")
        if self.field not in RACE_FIELDS:
            raise JobError(f"A race's lanes differ in one of: {', '.join(RACE_FIELDS)}; not '{self.field}'.")
        if not 2 <= len(self.values) <= MAX_LANES:
            raise JobError(f"A race needs 2 to {MAX_LANES} lanes; got {len(self.values)}.")
        if len(set(self.values)) != len(self.values):
            raise JobError(f"A race's lanes must differ: {', '.join(map(str, self.values))} repeats one.")
        if self.base.batch_size != 1:
            raise JobError("A race compares one picture per lane: set the batch size to 1.")
        self.lanes()  # each lane is a valid job, or the race is not

    def lanes(self) -> list[Job]:
        if self.field == "scheduler":  # a lane's schedule type: its combined name's, else the base's where it fits
            return [self.base.replace(**scheduler_fields(value, self.base.schedule)) for value in self.values]
        return [self.base.replace(**{self.field: value}) for value in self.values]

    def label(self, value) -> str:
        """A lane's name, also its file name: the scheduler itself, else ``steps-25`` or ``guidance-7.5``."""
        if self.field == "scheduler":
            return str(value)
        return f"{self.field.split('_')[0]}-{value:g}"
