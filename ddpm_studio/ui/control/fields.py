"""The ControlNet rows of Text to Image and Edit: "Add ControlNet" adds a unit (``control_unit.py``), up to four at
once, and the canny thresholds (shared by the units that use canny edges) show while one does."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from ddpm_studio.engine.jobs.control_fields import MAX_CONTROLNETS
from ddpm_studio.ui.control.unit import ControlUnit, list_controlnets

CONTROL_TIP = ("Steer the layout with a picture: edges, a scribble, a depth or pose map (ControlNet). Add one, pick "
               "its ControlNet (from your ControlNet folders or a file), and open, paste or draw its control image")


class ControlFields:
    def __init__(self, form: QFormLayout, settings, panel) -> None:
        self.settings, self.panel, self.form = settings, panel, form
        self.units: list[ControlUnit] = []
        self.add_button = QPushButton("Add ControlNet")
        self.add_button.setToolTip(CONTROL_TIP)
        self.add_button.clicked.connect(self.add_unit)
        self.low = QSpinBox(minimum=0, maximum=255, value=100)
        self.high = QSpinBox(minimum=0, maximum=255, value=200)
        for box in (self.low, self.high):
            box.setToolTip("Canny edges: a gradient above high starts an edge, one above low continues it")
            box.valueChanged.connect(self._thresholds_changed)
        thresholds = QHBoxLayout()
        thresholds.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("low"), self.low, QLabel("high"), self.high):
            thresholds.addWidget(widget)
        self.threshold_row = QWidget()
        self.threshold_row.setLayout(thresholds)
        self.column = QVBoxLayout()
        self.column.setContentsMargins(0, 0, 0, 0)
        self.column.addWidget(self.add_button)
        self.section = QWidget()
        self.section.setLayout(self.column)
        form.addRow(self.section)  # the whole width of the column: a unit's rows need it
        form.addRow("Canny", self.threshold_row)
        self._update()

    def thresholds(self) -> tuple[int, int]:
        return self.low.value(), self.high.value()

    def add_unit(self) -> ControlUnit | None:
        if len(self.units) >= MAX_CONTROLNETS:
            return None
        unit = ControlUnit(len(self.units) + 1, self.panel)
        unit.fill_models(list_controlnets(self.settings.addon_folder_list("controlnets")))
        unit.remove_requested.connect(self.remove_unit)
        unit.preprocess.currentIndexChanged.connect(self._update)
        self.units.append(unit)
        self.column.insertWidget(len(self.units) - 1, unit)
        self._update()
        return unit

    def remove_unit(self, unit: ControlUnit) -> None:
        self.units.remove(unit)
        unit.setParent(None)
        unit.deleteLater()
        for number, left in enumerate(self.units, 1):
            left.setTitle(f"ControlNet {number}")
        self._update()

    def clear(self) -> None:
        for unit in list(self.units):
            self.remove_unit(unit)

    def refresh(self) -> None:
        """The ControlNet folders may have changed (a models home chosen): list them again in every unit."""
        found = list_controlnets(self.settings.addon_folder_list("controlnets"))
        for unit in self.units:
            unit.fill_models(found)

    def set_visible(self, on: bool) -> None:
        self.form.setRowVisible(self.section, on)
        self._update(visible=on)

    def _thresholds_changed(self, *_) -> None:
        for unit in self.units:
            if unit.preprocess.currentData() == "canny":
                unit.update_preview()

    def _update(self, *_args, visible: bool | None = None) -> None:
        shown = self.form.isRowVisible(self.section) if visible is None else visible
        canny = any(unit.preprocess.currentData() == "canny" for unit in self.units)
        self.form.setRowVisible(self.threshold_row, shown and canny)
        self.add_button.setEnabled(len(self.units) < MAX_CONTROLNETS)
        self.add_button.setText("Add ControlNet" if not self.units else "Add another ControlNet")

    def values(self) -> dict:
        if not self.units or not self.form.isRowVisible(self.section):  # none, or not for this model or mode
            return {}
        chosen = [unit.values(number) for number, unit in enumerate(self.units, 1)]
        return dict(controlnets=tuple(c[0] for c in chosen), control_images=tuple(c[1] for c in chosen),
                    control_preprocess=tuple(c[2] for c in chosen), canny_thresholds=self.thresholds())

    def apply(self, job) -> list[str]:
        self.clear()
        self.low.setValue(job.canny_thresholds[0])
        self.high.setValue(job.canny_thresholds[1])
        missing = []
        from ddpm_studio.engine.jobs.control_fields import preprocessor_of

        for number, (unit, image) in enumerate(zip(job.controlnets, job.control_images)):
            added = self.add_unit()
            if added is not None:
                missing += added.apply(unit, image, preprocessor_of(job, number))
        return missing
