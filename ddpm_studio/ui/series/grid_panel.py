"""The Grid panel: A1111's X/Y/Z plot, plus steps. Up to three job parameters on axes (``GridForm``); every cell is
an ordinary run (``SeriesPanel`` queues them one after another), saved as a normal PNG with its normal metadata into
a new folder per grid, and the labelled sheet ``grid.png`` beside them names the axes in its own metadata
(``engine.xyz_grid``, as ``ddpm-studio grid`` writes it). The cells stand as a grid; the scrubber steps every cell
together, by fraction of its run. Cancel stops within one step and removes the cells already written."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal

from ddpm_studio.engine.series.xyz_grid import Cell, GridResult, cell_jobs, save_sheet
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.core.worker import SamplerClient, SamplerThread
from ddpm_studio.ui.series.grid_cells import GridCells
from ddpm_studio.ui.series.grid_form import GridForm
from ddpm_studio.ui.series.panel import SeriesPanel, new_series_folder


class GridPanel(SeriesPanel):
    grid_finished = Signal(object)  # the GridResult; None when the grid was cancelled or failed
    kind = "grid"
    run_text = "Run the grid"

    def __init__(self, sampler: SamplerThread, client: SamplerClient, settings: Settings, parent=None) -> None:
        self.sheet_path: Path | None = None
        super().__init__(sampler, client, settings, GridForm(settings), GridCells(), [], parent)
        self.result: GridResult | None = None  # the last finished grid
        self.cells_view = self.view
        self.open_button.setToolTip("The folder with this grid's sheet and its cells")
        self.show_fraction(self.slider.value())
        self._update_buttons()

    def series(self):
        base, axes = self.form.base_job(), self.form.axes()
        cells = cell_jobs(base, axes)  # every cell checked before anything runs
        self.folder = new_series_folder(self.settings.panel_output_dir(self.kind), self.kind)
        self.grid = GridResult(base=base, axes=axes)
        self.coords = [coords for coords, _ in cells]
        return [(" · ".join(a.label(a.values[i]) for a, i in zip(axes, coords)),
                 job.replace(output_dir=str(self.folder))) for coords, job in cells]

    def series_started(self, labels) -> None:
        self.result = self.sheet_path = None
        self.cells_view.set_grid(self.grid.axes, self.coords)
        self.status.setText(f"{len(labels)} cells from seed {self.grid.base.seed} queued, into {self.folder}…")

    def lane_started(self, number: int) -> None:
        self.status.setText(f"Cell {number + 1} of {len(self.coords)} from seed {self.grid.base.seed}, into "
                            f"{self.folder}…")

    def series_finished(self) -> None:
        self.grid.cells = [Cell(coords=c, job=lane.job, result=lane.result)
                           for c, lane in zip(self.coords, self.finished)]
        try:
            self.sheet_path = save_sheet(self.grid, self.folder)
        except OSError as exc:
            self.show_error("Could not save the grid", f"Could not write the sheet into {self.folder}: {exc}")
        self.result = self.grid
        seconds = sum(lane.result.seconds for lane in self.finished)
        where = self.sheet_path or self.folder
        self.status.setText(f"Done — {len(self.finished)} cells in {seconds:.1f} s, saved with the sheet in {where}. "
                            "Scrub to see every cell at the same fraction of its run.")
        self.status_message.emit(f"Grid saved: {where}")
        self._update_buttons()
        self.grid_finished.emit(self.result)

    def series_dropped(self, why, dropped) -> None:
        """A cancelled or failed grid leaves no files: the cells already saved go, and their folder if empty."""
        for lane in dropped:
            for path in lane.result.saved_paths:
                Path(path).unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            pass  # not there (nothing was saved) or holds something else
        self.result = None
        self.grid_finished.emit(None)
