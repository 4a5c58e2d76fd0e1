"""What the Race and Grid panels share: a series of ordinary jobs queued on the sampler thread one after another
(``SamplerClient.run_series``: each image is that of a separate run), each run's steps kept from its StepHistory as
a ``race.Lane``, and one scrubber that shows every finished run at the same fraction of its run
(``race_export.at_fraction``: a 25-step and a 50-step run line up at 50 %). Cancel stops the running job within a
step and drops the whole series; so does a failure. A subclass gives the form (a ``SeriesForm``), the view
(``set_lanes``, ``set_state``, ``show_event``, ``clear_lane``, ``shown``), the jobs, and what a finished or dropped
series leaves."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import Job
from ddpm_studio.engine.series.race import Lane
from ddpm_studio.engine.series.race_export import at_fraction
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.tasks import report_crash
from ddpm_studio.ui.core.worker import SamplerClient, SamplerThread, SeriesHandle
from ddpm_studio.ui.widgets.common import error_dialog, form_and_view

SCRUB_STEPS = 1000  # the scrubber's positions: fractions of the run in tenths of a percent


def new_series_folder(parent: str | Path, kind: str) -> Path:
    """A folder of its own for one series' files: ``<kind>-<date>-<time>`` (``-2``… if taken)."""
    base = Path(parent).expanduser() / time.strftime(f"{kind}-%Y%m%d-%H%M%S")
    folder, number = base, 1
    while folder.exists():
        number += 1
        folder = base.with_name(f"{base.name}-{number}")
    return folder


class SeriesPanel(QWidget):
    status_message = Signal(str)
    kind = "series"  # the settings key of the panel's random-seed choice and output folder
    run_text = "Run"

    def __init__(self, sampler: SamplerThread, client: SamplerClient, settings: Settings, form, view,
                 below: list[QWidget], parent=None) -> None:
        super().__init__(parent)
        self.sampler, self.client, self.settings = sampler, client, settings
        self.form, self.view = form, view
        self.ready = False
        self.error_box = None
        self.finished: list[Lane] = []  # the runs of the series on screen that have finished
        self.running = False
        self._series = SeriesHandle()  # stops the series that runs
        self._lane = 0
        self._history = None
        self.folder: Path | None = None  # where the series on screen is saved
        self.result = None  # the last finished series (a subclass's result)

        self.run_button = QPushButton("Loading torch…")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_series)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip(f"The folder this {self.kind} was saved in")
        self.open_button.clicked.connect(self.open_folder)
        self.buttons = QHBoxLayout()
        self.buttons.addWidget(self.cancel_button)
        self.buttons.addWidget(self.open_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.form)
        left.addWidget(self.run_button)
        left.addLayout(self.buttons)
        left.addWidget(self.status)

        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=SCRUB_STEPS, value=SCRUB_STEPS)
        self.slider.setToolTip("Every run at the same fraction of its steps; the right end is their results")
        self.slider.valueChanged.connect(self.show_fraction)
        self.scrub_label = QLabel("")
        self.scrub_label.setMinimumWidth(self.scrub_label.fontMetrics().horizontalAdvance("100 %: the results") + 8)
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.scrub_label)
        right = QVBoxLayout()
        right.addWidget(self.view, 1)
        right.addLayout(scrub)
        for widget in below:
            right.addWidget(widget)
        QVBoxLayout(self).addWidget(form_and_view(left, right, 340))

    # ---- what a subclass gives ----
    def series(self) -> list[tuple[str, Job]]:
        """(label, job) per run, in order; a JobError that says what to fix."""
        raise NotImplementedError

    def series_started(self, labels: list[str]) -> None:
        self.view.set_lanes(labels)

    def lane_started(self, number: int) -> None:
        """Run ``number`` began on the sampler thread."""

    def lane_finished(self) -> None:
        """``self.finished`` has one more run."""

    def series_finished(self) -> None:
        """Every run finished (``self.finished``)."""

    def series_dropped(self, why: str, dropped: list[Lane]) -> None:
        """The series was cancelled or failed; ``dropped`` are the runs it had finished (``self.finished`` is
        already empty)."""

    # ---- running ----
    def refresh_models(self, include_hf_cache: bool | None = None) -> None:
        self.form.refresh_models(self.ready if include_hf_cache is None else include_hf_cache)
        self._update_buttons()

    def set_backend_ready(self, device_label: str) -> None:
        self.ready = True
        self.refresh_models(include_hf_cache=True)

    def run_series(self) -> asyncio.Task | None:
        """Run the series (``SamplerClient.run_series``: each run queued when the one before has finished)."""
        if not self.ready or self.running:
            return None
        self.form.seed_field.before_run()
        try:
            runs = self.series()
        except JobError as exc:
            self.show_error("Check the settings", str(exc))
            return None
        self.settings.set_random_seed(self.kind, self.form.seed_field.random.isChecked())
        self.running, self._series, self.finished = True, SeriesHandle(), []
        self.series_started([label for label, _ in runs])
        self.slider.setValue(SCRUB_STEPS)
        self._update_buttons()
        task = asyncio.ensure_future(self._run(runs))
        task.add_done_callback(report_crash)
        return task

    async def _run(self, runs: list[tuple[str, Job]]) -> None:
        end = await self.client.run_series([job for _, job in runs], owner=self, handle=self._series,
                                           on_queued=self._queued, on_result=lambda n, r: self._lane_done(runs, n, r))
        if end.failure is not None:
            self._drop(f"{runs[end.last][0]} failed — nothing kept")
            self.show_error("The run failed", str(end.failure))
        elif end.cancelled:
            for number in range(len(self.finished), len(end.results)):  # it finished just as Cancel came: it goes too
                label, job = runs[number]
                self.finished.append(Lane(label=label, job=job, result=end.results[number]))
            self._drop("Cancelled — nothing kept")
        else:
            self.running = False
            self.series_finished()
            self._update_buttons()

    def _queued(self, number: int, job) -> None:
        self._lane = number
        self.view.set_state(number, "queued")

    def _lane_done(self, runs: list[tuple[str, Job]], number: int, result) -> None:
        label, job = runs[number]
        steps = [dataclasses.replace(e, lane=number) for e in self._history.frames()]
        self.finished.append(Lane(label=label, job=job, result=result, steps=steps))
        self.lane_finished()
        self.show_fraction(self.slider.value())

    def _drop(self, why: str) -> None:
        """Nothing of a cancelled or failed series stays: no run is shown as finished, nothing can be exported."""
        dropped, self.running, self.finished = self.finished, False, []
        for number in range(len(self.view.shown)):
            self.view.clear_lane(number, why)
        self.status.setText(why)
        self.status_message.emit(why)
        self.series_dropped(why, dropped)
        self._update_buttons()

    def cancel(self) -> None:
        """Stop the running job within a step (only this panel's) and drop the series."""
        if not self.running:
            return
        self.status.setText("Cancelling…")
        self._series.stop()

    def on_job_started(self, job, history) -> None:
        """A job started on the sampler thread (called by the SamplerClient): its steps go into ``history``."""
        self._history = history
        self.view.set_state(self._lane, "running")
        self.lane_started(self._lane)

    def on_step(self, event) -> None:
        self.view.show_event(self._lane, event, prefix="running · ")

    def _update_buttons(self) -> None:
        has_model = self.form.model_box.count() > 0
        self.run_button.setEnabled(self.ready and has_model and not self.running)
        self.run_button.setText("Loading torch…" if not self.ready else self.run_text if has_model
                                else "Add a model folder first")
        self.cancel_button.setEnabled(self.running)
        self.open_button.setEnabled(self.result is not None and self.folder is not None)

    def open_folder(self) -> None:
        if self.result is not None and self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    # ---- scrubbing ----
    def show_fraction(self, value: int) -> None:
        """Every finished run at ``value`` / SCRUB_STEPS of its steps."""
        fraction = value / SCRUB_STEPS
        self.scrub_label.setText("100 %: the results" if value >= SCRUB_STEPS else f"{100 * fraction:.0f} % of the run")
        for number, lane in enumerate(self.finished):
            if lane.steps:
                self.view.show_event(number, at_fraction(lane, fraction))
        self.fraction_shown(fraction)

    def fraction_shown(self, fraction: float) -> None:
        """A subclass's other views follow the scrubber here."""

    def shown_events(self) -> list:
        """The step event each run shows now (None where it shows none)."""
        return list(self.view.shown)

    def show_error(self, title: str, message: str) -> None:
        self.status_message.emit(message)
        self.error_box = error_dialog(self, title, message)
