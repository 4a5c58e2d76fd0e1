"""The Race panel: one x_T, lanes that differ in one thing (schedulers, step counts or guidance scales), compared step
by step (``engine.jobs.RaceJob``). Each lane is its ordinary job, queued on the sampler thread one after another, so
its image is that of a separate run; the panel keeps each lane's steps from the run's StepHistory. The lanes stand side
by side; one scrubber steps them together by fraction of the run (``race_export.at_fraction``: a 25-step and a
50-step lane line up at 50 %), and the plot under them shows when each lane's picture was decided. Cancel stops the
running lane within a step and drops the race; Export writes it as ``ddpm-studio race`` does."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from ddpm_studio.engine.jobs import JobError, RaceJob
from ddpm_studio.engine.race import Lane, RaceResult
from ddpm_studio.engine.race_export import at_fraction, export_race
from ddpm_studio.ui.race_form import RaceForm
from ddpm_studio.ui.race_lanes import LanesView
from ddpm_studio.ui.race_plot import RacePlot
from ddpm_studio.ui.sampling_panel import _report_crash
from ddpm_studio.ui.settings import Settings
from ddpm_studio.ui.widgets import error_dialog, form_and_view
from ddpm_studio.ui.worker import JobFailed, SamplerClient, SamplerThread

SCRUB_STEPS = 1000  # the scrubber's positions: fractions of the run in tenths of a percent


class RacePanel(QWidget):
    status_message = Signal(str)
    race_finished = Signal(object)  # the RaceResult; None when the race was cancelled or failed

    def __init__(self, sampler: SamplerThread, client: SamplerClient, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.sampler, self.client, self.settings = sampler, client, settings
        self.ready = False
        self.error_box = None
        self.result: RaceResult | None = None  # the last finished race
        self.finished: list[Lane] = []  # the lanes of the race on screen that have run
        self.running = False
        self._stopping = False
        self._pending: asyncio.Future | None = None  # the running (or queued) lane's job
        self._lane = 0
        self._history = None

        self.form = RaceForm(settings)

        self.run_button = QPushButton("Loading torch…")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(self.run_race)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Each lane's image, the race as GIF and WebP, a contact sheet and a table")
        self.export_button.clicked.connect(self.choose_export)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.export_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.form)
        left.addWidget(self.run_button)
        left.addLayout(buttons)
        left.addWidget(self.status)

        self.lanes_view = LanesView()
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=SCRUB_STEPS, value=SCRUB_STEPS)
        self.slider.setToolTip("Every lane at the same fraction of its run; the right end is their results")
        self.slider.valueChanged.connect(self.show_fraction)
        self.scrub_label = QLabel("")
        self.scrub_label.setMinimumWidth(self.scrub_label.fontMetrics().horizontalAdvance("100 %: the results") + 8)
        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.scrub_label)
        self.plot = RacePlot()
        self.plot.fraction_chosen.connect(lambda f: self.slider.setValue(round(f * SCRUB_STEPS)))
        right = QVBoxLayout()
        right.addWidget(self.lanes_view, 1)
        right.addLayout(scrub)
        right.addWidget(self.plot)
        QVBoxLayout(self).addWidget(form_and_view(left, right, 340))

        self.show_fraction(self.slider.value())
        self._update_buttons()

    def refresh_models(self, include_hf_cache: bool | None = None) -> None:
        self.form.refresh_models(self.ready if include_hf_cache is None else include_hf_cache)
        self._update_buttons()

    # ---- running ----
    def set_backend_ready(self, device_label: str) -> None:
        self.ready = True
        self.refresh_models(include_hf_cache=True)

    def run_race(self) -> asyncio.Task | None:
        """Queue the race's first lane; each next lane is queued when the one before has finished."""
        if not self.ready or self.running:
            return None
        self.form.seed_field.before_run()
        try:
            race = self.form.current_race()
        except JobError as exc:
            self.show_error("Check the race", str(exc))
            return None
        self.settings.set_random_seed("race", self.form.seed_field.random.isChecked())
        self.running, self._stopping, self.result, self.finished = True, False, None, []
        self.lanes_view.set_lanes([race.label(v) for v in race.values])
        self.plot.clear()
        self.slider.setValue(SCRUB_STEPS)
        self.status.setText(f"Racing {len(race.values)} lanes from seed {race.base.seed}…")
        self._update_buttons()
        task = asyncio.ensure_future(self._run(race))
        task.add_done_callback(_report_crash)
        return task

    async def _run(self, race: RaceJob) -> None:
        labels = [race.label(v) for v in race.values]
        for number, job in enumerate(race.lanes()):
            self._lane = number
            self.lanes_view.set_state(number, "queued")
            self._pending = self.client.submit(job, owner=self)
            try:
                result = await self._pending
            except JobFailed as exc:
                self._drop(f"Lane {labels[number]} failed — nothing kept")
                self.show_error("The race failed", str(exc))
                return
            finally:
                self._pending = None
            if result is None or result.cancelled or self._stopping:
                self._drop("Cancelled — nothing kept")
                return
            steps = [dataclasses.replace(e, lane=number) for e in self._history.frames()]
            self.finished.append(Lane(label=labels[number], job=job, result=result, steps=steps))
            self.plot.set_lanes(self.finished)
            self.show_fraction(self.slider.value())
        self.result = RaceResult(race=race, lanes=list(self.finished))
        self.running = False
        seconds = sum(lane.result.seconds for lane in self.finished)
        self.status.setText(f"Done — {len(self.finished)} lanes from seed {race.base.seed} in {seconds:.1f} s. "
                            "Scrub to compare them at the same fraction of their runs.")
        self._update_buttons()
        self.race_finished.emit(self.result)

    def _drop(self, why: str) -> None:
        """Nothing of a cancelled or failed race stays: no lane is shown as finished, nothing can be exported."""
        self.running, self.finished, self.result = False, [], None
        for number in range(len(self.lanes_view.shown)):
            self.lanes_view.clear_lane(number, why)
        self.plot.clear()
        self.status.setText(why)
        self.status_message.emit(f"Race: {why}")
        self._update_buttons()
        self.race_finished.emit(None)

    def cancel(self) -> None:
        """Stop the running lane within a step (only this panel's job) and drop the race."""
        if not self.running:
            return
        self._stopping = True
        self.status.setText("Cancelling…")
        if self._pending is not None:
            self.client.cancel(self._pending)

    def on_job_started(self, job, history) -> None:
        """A lane's job started on the sampler thread (called by the SamplerClient): its steps go into ``history``."""
        self._history = history
        self.lanes_view.set_state(self._lane, "running")

    def on_step(self, event) -> None:
        self.lanes_view.show_event(self._lane, event, prefix="running · ")

    def _update_buttons(self) -> None:
        has_model = self.form.model_box.count() > 0
        self.run_button.setEnabled(self.ready and has_model and not self.running)
        self.run_button.setText("Loading torch…" if not self.ready else "Run the race" if has_model
                                else "Add a model folder first")
        self.cancel_button.setEnabled(self.running)
        self.export_button.setEnabled(self.result is not None)

    # ---- scrubbing and export ----
    def show_fraction(self, value: int) -> None:
        """Every finished lane at ``value`` / SCRUB_STEPS of its run, the plot's marker there too."""
        fraction = value / SCRUB_STEPS
        self.scrub_label.setText("100 %: the results" if value >= SCRUB_STEPS else f"{100 * fraction:.0f} % of the run")
        self.plot.set_marker(fraction)
        for number, lane in enumerate(self.finished):
            self.lanes_view.show_event(number, at_fraction(lane, fraction))

    def shown_events(self) -> list:
        """The step event each lane shows now (None where it shows none)."""
        return list(self.lanes_view.shown)

    def choose_export(self) -> dict | None:
        if self.result is None:
            return None
        folder = QFileDialog.getExistingDirectory(self, "Export the race into a folder",
                                                  self.settings.panel_output_dir("race"))
        return self.export(folder) if folder else None

    def export(self, folder: str) -> dict | None:
        engine = self.sampler.engine
        device = engine.device.label if engine is not None else self.result.lanes[0].result.device
        try:
            written = export_race(folder, self.result, device)
        except OSError as exc:
            self.show_error("Could not export the race", f"Could not write into {folder}: {exc}")
            return None
        self.settings.set_panel_output_dir("race", folder)
        self.status_message.emit(f"Exported the race to {Path(folder)}: each lane's image, race.gif, race.webp, "
                                 "contact-sheet.png and race.csv")
        return written

    def show_error(self, title: str, message: str) -> None:
        self.status_message.emit(message)
        self.error_box = error_dialog(self, title, message)
