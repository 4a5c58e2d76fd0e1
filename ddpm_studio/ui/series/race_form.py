"""What a race compares (the Race panel's settings column): the settings the lanes share (``SeriesForm``) and what
the lanes differ in — schedulers (check boxes), step counts or guidance scales (a list of values).
``current_race`` builds the ``RaceJob``."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QFormLayout, QGridLayout, QLineEdit, QWidget

from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.race import RaceJob
from ddpm_studio.engine.jobs.scheduler_table import SCHEDULERS
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.series.form import SeriesForm
from ddpm_studio.ui.widgets.common import narrow_combo

FIELDS = {"scheduler": "Schedulers", "steps": "Steps", "guidance_scale": "Guidance"}  # what the lanes differ in
PLACEHOLDERS = {"steps": "e.g. 10, 25, 50", "guidance_scale": "e.g. 3, 7.5, 12"}
DEFAULT_LANES = ("ddim", "dpm++2m", "euler-a")


class RaceForm(SeriesForm):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(settings, "race", parent)
        self.field_box.currentIndexChanged.connect(self._field_changed)
        self._field_changed()

    def varying_rows(self, rows: QFormLayout) -> None:
        self.field_box = narrow_combo(10)
        for key, label in FIELDS.items():
            self.field_box.addItem(label, key)
        self.checks_widget = QWidget()
        self.checks_grid = QGridLayout(self.checks_widget)
        self.checks_grid.setContentsMargins(0, 0, 0, 0)
        self.checks: dict[str, QCheckBox] = {}
        self.values_edit = QLineEdit()
        rows.addRow("Lanes differ in", self.field_box)
        rows.addRow(self.checks_widget)  # the whole column's width: two columns of scheduler names
        rows.addRow("Lanes", self.values_edit)

    def set_schedulers(self, names) -> None:
        """The scheduler check boxes for this kind of model; those checked before stay checked where they exist."""
        checked = self.checked_schedulers() or list(DEFAULT_LANES)
        super().set_schedulers(names)
        for box in self.checks.values():
            self.checks_grid.removeWidget(box)
            box.setParent(None)  # gone now, not at the next turn of the event loop
            box.deleteLater()
        self.checks = {}
        for i, name in enumerate(names):
            box = QCheckBox(SCHEDULERS[name].label)
            box.setToolTip(SCHEDULERS[name].note)
            box.setChecked(name in checked)
            self.checks_grid.addWidget(box, i // 2, i % 2)
            self.checks[name] = box

    def checked_schedulers(self) -> list[str]:
        return [name for name, box in self.checks.items() if box.isChecked()]

    def _field_changed(self, *_) -> None:
        """The rows show what the lanes differ in (check boxes, or a list of values) instead of its single value."""
        field = self.field_box.currentData()
        self.rows.setRowVisible(self.checks_widget, field == "scheduler")
        self.rows.setRowVisible(self.values_edit, field != "scheduler")
        self.values_edit.setPlaceholderText(PLACEHOLDERS.get(field, ""))
        for name, widget in (("scheduler", self.scheduler_box), ("steps", self.steps),
                             ("guidance_scale", self.guidance)):
            self.rows.setRowVisible(widget, name != field)

    # ---- the race ----
    def lane_values(self, field: str) -> tuple:
        if field == "scheduler":
            return tuple(self.checked_schedulers())
        kind, what = (int, "whole numbers") if field == "steps" else (float, "numbers")
        text = self.values_edit.text()
        try:
            return tuple(kind(v.strip()) for v in text.replace(";", ",").split(",") if v.strip())
        except ValueError:
            raise JobError(f"The lanes' {FIELDS[field].lower()} must be {what} separated by commas, "
                           f"{PLACEHOLDERS[field]}; got '{text}'.") from None

    def current_race(self) -> RaceJob:
        field = self.field_box.currentData()
        return RaceJob(base=self.base_job(), field=field, values=self.lane_values(field))
