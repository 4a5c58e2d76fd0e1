"""The Race panel: one x_T, lanes that differ in one thing (schedulers, step counts or guidance scales), compared step
by step (``engine.jobs.RaceJob``). Each lane is its ordinary job run by ``SeriesPanel`` one after another, so its
image is that of a separate run. The lanes stand side by side, scrubbed together by fraction of the run; the plot
under them shows when each lane's picture was decided. A finished race is saved at once, as ``ddpm-studio race``
writes it, into a folder of its own (``race-<date>-<time>`` in the panel's output folder; each lane's PNG goes into
the gallery); Export… writes a copy wherever the user says, a new folder included. Cancel drops the race."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QPushButton

from ddpm_studio.engine.series.race import RaceResult
from ddpm_studio.engine.series.race_export import export_race
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.worker import SamplerClient, SamplerThread
from ddpm_studio.ui.series.panel import SCRUB_STEPS, SeriesPanel, new_series_folder
from ddpm_studio.ui.series.race_form import RaceForm
from ddpm_studio.ui.series.race_lanes import LanesView
from ddpm_studio.ui.series.race_plot import RacePlot


class RacePanel(SeriesPanel):
    race_finished = Signal(object)  # the RaceResult; None when the race was cancelled or failed
    kind = "race"
    run_text = "Run the race"

    def __init__(self, sampler: SamplerThread, client: SamplerClient, settings: Settings, parent=None) -> None:
        self.result: RaceResult | None = None  # the last finished race
        self.race = None
        self.plot = RacePlot()
        super().__init__(sampler, client, settings, RaceForm(settings), LanesView(), [self.plot], parent)
        self.lanes_view = self.view
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("A copy of the race in another folder (a new one if you type its name): each "
                                      "lane's image, the race as GIF and WebP, a contact sheet and a table")
        self.export_button.clicked.connect(self.choose_export)
        self.buttons.addWidget(self.export_button)
        self.plot.fraction_chosen.connect(lambda f: self.slider.setValue(round(f * SCRUB_STEPS)))
        self.show_fraction(self.slider.value())
        self._update_buttons()

    def run_race(self):
        return self.run_series()

    def series(self):
        self.race = self.form.current_race()
        return [(self.race.label(v), job) for v, job in zip(self.race.values, self.race.lanes())]

    def series_started(self, labels) -> None:
        super().series_started(labels)
        self.result = None
        self.plot.clear()
        self.status.setText(f"Racing {len(labels)} lanes from seed {self.race.base.seed}…")

    def lane_finished(self) -> None:
        self.plot.set_lanes(self.finished)

    def series_finished(self) -> None:
        self.result = RaceResult(race=self.race, lanes=list(self.finished))
        seconds = sum(lane.result.seconds for lane in self.finished)
        folder = new_series_folder(self.settings.panel_output_dir(self.kind), self.kind)
        saved = self.write(folder, "Could not save the race") is not None
        self.folder = folder if saved else None
        where = f", saved in {folder}" if saved else " (not saved)"
        self.status.setText(f"Done — {len(self.finished)} lanes from seed {self.race.base.seed} in {seconds:.1f} s"
                            f"{where}. Scrub to compare them at the same fraction of their runs.")
        if saved:
            self.status_message.emit(f"Race saved: {folder}")
        self._update_buttons()
        self.race_finished.emit(self.result)

    def series_dropped(self, why, dropped) -> None:
        self.result = None
        self.plot.clear()
        self.race_finished.emit(None)

    def fraction_shown(self, fraction: float) -> None:
        self.plot.set_marker(fraction)

    def _update_buttons(self) -> None:
        super()._update_buttons()
        self.export_button.setEnabled(self.result is not None)

    # ---- export ----
    def choose_export(self) -> dict | None:
        if self.result is None:
            return None
        name = f"{self.folder.name if self.folder else self.kind}-copy"
        start = Path(self.settings.panel_output_dir(self.kind)).expanduser() / name
        # a save dialog, not a folder chooser: a typed name that is not there yet is the new folder to write
        folder, _ = QFileDialog.getSaveFileName(self, "Export the race into a folder (a new one: type its name)",
                                                str(start), "", "",
                                                QFileDialog.Option.DontConfirmOverwrite | QFileDialog.Option.ShowDirsOnly)
        return self.export(folder) if folder else None

    def write(self, folder: str | Path, failure: str) -> dict | None:
        engine = self.sampler.engine
        device = engine.device.label if engine is not None else self.result.lanes[0].result.device
        try:
            return export_race(folder, self.result, device)
        except OSError as exc:
            self.show_error(failure, f"Could not write into {folder}: {exc}")
            return None

    def export(self, folder: str) -> dict | None:
        written = self.write(folder, "Could not export the race")
        if written is None:
            return None
        self.status_message.emit(f"Exported the race to {Path(folder)}: each lane's image, race.gif, race.webp, "
                                 "contact-sheet.png and race.csv")
        return written
