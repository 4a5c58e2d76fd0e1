"""A seed walk from the results strip (Generate and Text to Image): pick one or more results, say which seeds to walk
through and how many frames, and every frame runs as an ordinary job on the sampler thread (live previews as
usual), saved into its own folder; then the animations. Cancel stops the running frame within a step and removes
the frames written so far (``engine/series/seed_walk.py``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox

from ddpm_studio.engine.jobs.checks import MAX_STEPS, JobError
from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.engine.output.metadata import MetadataError, read_job
from ddpm_studio.engine.series.runner import discard
from ddpm_studio.engine.series.seed_walk import MAX_FRAMES, is_ancestral, parse_seeds, save_walk, walk_jobs
from ddpm_studio.ui.core.worker import SeriesHandle
from ddpm_studio.ui.widgets.common import scheduler_combo


class SeedWalkDialog(QDialog):
    """The seeds (those of the chosen results, first to last), the frames, and the scheduler and steps of a walk
    (the first result's, to change: a deterministic scheduler walks smoothly)."""

    def __init__(self, seeds: list[int], base, schedulers, varied: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Seed walk")
        self.seeds = QLineEdit(", ".join(map(str, seeds)))
        self.seeds.setToolTip("Two or more seeds, separated by commas: the walk passes through each in order")
        self.frames = QSpinBox(minimum=2, maximum=MAX_FRAMES, value=24)
        self.fps = QDoubleSpinBox(minimum=1.0, maximum=60.0, value=12.0, decimals=0)
        self.scheduler = scheduler_combo(14, schedulers)
        self.scheduler.setCurrentIndex(max(self.scheduler.findData(base.scheduler), 0))
        self.schedule = base.schedule  # the first result's schedule type, kept where the walk's scheduler takes it
        self.steps = QSpinBox(minimum=1, maximum=MAX_STEPS, value=base.steps)
        form = QFormLayout(self)
        form.addRow("Seeds", self.seeds)
        form.addRow("Frames", self.frames)
        form.addRow("Frames per second", self.fps)
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Steps", self.steps)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.varied = varied
        self.scheduler.currentIndexChanged.connect(self._update_note)
        self._update_note()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Walk")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _update_note(self, *_) -> None:
        notes = []
        name = self.scheduler.currentData()
        if is_ancestral(name):
            notes.append(f"{SCHEDULERS[name].label} adds new noise at every step from each stretch's first seed, so "
                         "the walk jumps where a stretch ends; DDIM, DPM++ 2M or Euler walk smoothly.")
        if self.varied:
            notes.append("The frames start from each seed's own picture: the variation of the result is not kept.")
        self.note.setText(" ".join(notes))
        self.note.setVisible(bool(notes))

    def chosen(self) -> tuple[list[int], int, float]:
        """(seeds, frames, fps); a JobError that says what to fix."""
        seeds = parse_seeds(self.seeds.text())
        if self.frames.value() < len(seeds):
            raise JobError(f"A walk through {len(seeds)} seeds needs at least {len(seeds)} frames.")
        return seeds, self.frames.value(), self.fps.value()

    def settings(self) -> dict:
        from ddpm_studio.engine.jobs.schedule_types import COMBINED, schedules_of

        name = self.scheduler.currentData()
        takes = name not in COMBINED and (self.schedule in schedules_of(name) or
                                          self.schedule in schedules_of(name, flow=True))
        return {"scheduler": name, "schedule": self.schedule if takes else "", "steps": self.steps.value()}


def walk_base(panel, paths: list[str]):
    """The job of the first chosen result (its own seed) and the seeds of all of them, in order."""
    jobs = []
    for path in paths:
        try:
            job = read_job(path, own_seed=True)
        except MetadataError as exc:
            raise JobError(str(exc)) from None
        if not isinstance(job, panel.job_type):
            raise JobError(f"{Path(path).name} was made by another panel ({job.kind}).")
        jobs.append(job)
    seeds = [job.seed for job in jobs]
    if len(seeds) == 1:
        seeds.append(seeds[0] + 1)
    varied = any(job.variation_strength for job in jobs)
    return jobs[0].replace(variation_seed=0, variation_strength=0.0), seeds, varied


def walk_folder(output_dir: str, seeds: list[int]) -> Path:
    """A new folder under the panel's output folder, named after the seeds."""
    from ddpm_studio.paths import default_output_dir

    base = Path(output_dir or default_output_dir()).expanduser() / f"seed-walk-{'-'.join(map(str, seeds))}"
    folder, number = base, 1
    while folder.exists():
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return folder


class SeedWalk:
    """One walk: each frame queued on the sampler thread after the one before has ended (``SamplerClient.run_series``),
    shown live in the panel's canvas; the animations written at the end. ``stop`` (the panel's Cancel) stops the
    frame that runs within a step, or the one that waits before it starts, and nothing of the walk is kept."""

    def __init__(self, panel, base, seeds: list[int], frames: int, fps: float, folder: Path) -> None:
        self.panel, self.seeds, self.fps, self.folder = panel, seeds, fps, folder
        self.jobs = walk_jobs(base, seeds, frames, str(folder / "frames"))
        self.written: dict | None = None  # frames, gif and webp once done
        self._series = SeriesHandle()

    def discard(self, saved: list[str]) -> None:
        """Nothing of a walk that did not finish stays: its frames, then its folders if they are empty."""
        discard(saved)
        for folder in (self.folder / "frames", self.folder):
            try:
                folder.rmdir()
            except OSError:
                pass  # not there, or something else is in it

    def stop(self) -> None:
        self._series.stop()

    async def run(self) -> dict | None:
        """What was written, or None when cancelled or failed."""
        panel, total = self.panel, len(self.jobs)
        end = await panel.client.run_series(
            self.jobs, owner=panel, handle=self._series,
            on_queued=lambda number, job: panel.status_message.emit(f"Seed walk: frame {number + 1} of {total}"))
        if end.failure is not None:
            self.discard(end.saved_paths)
            panel.canvas.fail_run()
            panel.show_error("Seed walk failed", str(end.failure))
            return None
        if end.cancelled:
            self.discard(end.saved_paths)
            panel.canvas.finish_run(f"Seed walk cancelled at frame {end.last + 1} of {total} — nothing saved")
            panel.status_message.emit("Seed walk cancelled — its frames were removed")
            return None
        written = save_walk(self.folder, [result.images[0] for result in end.results], self.fps)
        panel.canvas.finish_run(f"Seed walk done — {total} frames through seeds "
                                f"{', '.join(map(str, self.seeds))}")
        panel.status_message.emit(f"Seed walk: {total} frames, {written['gif'].name} and "
                                  f"{written['webp'].name} written to {self.folder}")
        self.written = {"frames": end.saved_paths, **written}
        return self.written


def start_seed_walk(panel, paths: list[str]) -> SeedWalkDialog | None:
    """The results strip's "Seed walk…": ask, then walk (kept as ``panel.walk`` and its task as
    ``panel.walk_task``)."""
    try:
        base, seeds, varied = walk_base(panel, paths)
    except JobError as exc:
        panel.show_error("Cannot make a seed walk", str(exc))
        return None
    dialog = SeedWalkDialog(seeds, base, panel.schedulers, varied, panel)
    dialog.accepted.connect(lambda: _walk(panel, dialog, base))
    dialog.open()
    panel.walk_dialog = dialog
    return dialog


def _walk(panel, dialog: SeedWalkDialog, base) -> None:
    import asyncio

    from ddpm_studio.ui.core.tasks import report_crash

    try:
        seeds, frames, fps = dialog.chosen()
    except JobError as exc:
        panel.show_error("Check the seed walk", str(exc))
        return
    try:
        panel.walk = SeedWalk(panel, base.replace(preview_every=1, **dialog.settings()), seeds, frames, fps,
                              walk_folder(panel.output_dir.text().strip(), seeds))
    except JobError as exc:
        panel.show_error("Check the seed walk", str(exc))
        return
    panel.walk_task = asyncio.ensure_future(panel.walk.run())
    panel.walk_task.add_done_callback(report_crash)
