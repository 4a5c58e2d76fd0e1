"""The Schedule type row beside a panel's scheduler (A1111 1.9's "Schedule type", ComfyUI's KSampler scheduler):
it lists the types the chosen scheduler takes (jobs/schedule_types.py) and hides when it takes none."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFormLayout

from ddpm_studio.engine.jobs.schedule_types import AUTOMATIC, SCHEDULE_TYPES, schedules_of
from ddpm_studio.ui.widgets.common import narrow_combo


class ScheduleBox:
    def __init__(self, form: QFormLayout, scheduler_box: QComboBox, characters: int = 16) -> None:
        self.form, self.scheduler_box = form, scheduler_box
        self.box = narrow_combo(characters)
        self.box.setToolTip("How the steps' noise levels are spaced (A1111's Schedule type): Automatic is the "
                            "model's own")
        self.flow = False  # the chosen model is a flow-matching one: the schedulers' flow forms
        self.wanted = AUTOMATIC  # the type last chosen (or set): chosen again whenever the scheduler takes it
        form.addRow("Schedule type", self.box)
        self.box.activated.connect(lambda *_: setattr(self, "wanted", self.box.currentData() or AUTOMATIC))
        scheduler_box.currentIndexChanged.connect(lambda *_: self.refill())
        self.refill()

    def refill(self, flow: bool | None = None) -> None:
        """List the types the chosen scheduler takes (the wanted one chosen when listed, else Automatic)."""
        if flow is not None:
            self.flow = flow
        keys = schedules_of(self.scheduler_box.currentData() or "", self.flow)
        if [self.box.itemData(i) for i in range(self.box.count())] != list(keys):
            blocked = self.box.blockSignals(True)
            self.box.clear()
            for key in keys:
                self.box.addItem(SCHEDULE_TYPES[key].label, key)
                self.box.setItemData(self.box.count() - 1, SCHEDULE_TYPES[key].note, Qt.ItemDataRole.ToolTipRole)
            self.box.blockSignals(blocked)
        self.box.setCurrentIndex(max(self.box.findData(self.wanted), 0))
        self.form.setRowVisible(self.box, len(keys) > 1)

    def value(self) -> str:
        """The job's ``schedule``: "" (automatic) when the row is hidden."""
        data = self.box.currentData()
        return data if isinstance(data, str) and self.box.count() > 1 else AUTOMATIC

    def set(self, key: str) -> bool:
        """Choose ``key`` (now, or when a scheduler that takes it is chosen); False when the one now does not."""
        self.wanted = key
        index = self.box.findData(key)
        self.box.setCurrentIndex(max(index, 0))
        return index >= 0
