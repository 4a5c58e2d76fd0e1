"""The Size row of Text to Image: width × height as the model takes them. What is typed is kept and snapped to the
nearest side the job allows (``engine/jobs/types.py``: a multiple of SIDE_STEP from MIN_SIDE to MAX_SIDE) when the field is
left or a run starts — never silently put back to what it was; a note under the row says what it becomes while it is
typed, and what it became after."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QSpinBox, QVBoxLayout

from ddpm_studio.engine.jobs.checks import MAX_SIDE, MIN_SIDE, SIDE_STEP
from ddpm_studio.engine.jobs.sizes import side_problem, snap_side
from ddpm_studio.ui.widgets.notes import FieldNote


class SideBox(QSpinBox):
    """A side in pixels: any number may be typed; leaving the field (or a run starting) takes the nearest allowed
    side, and says so (``snapped``: what was typed, what it became)."""

    snapped = Signal(int, int)

    def __init__(self, value: int = 512) -> None:
        super().__init__(minimum=MIN_SIDE, maximum=MAX_SIDE, value=value, singleStep=64)
        self.setToolTip(f"{MIN_SIDE} to {MAX_SIDE} px, a multiple of {SIDE_STEP}: another number becomes the nearest "
                        "of those")

    def validate(self, text: str, pos: int):
        digits = text.strip()
        if not digits:
            return QValidator.State.Intermediate, text, pos
        if not digits.isdigit() or len(digits) > len(str(MAX_SIDE)) + 1:
            return QValidator.State.Invalid, text, pos
        state = QValidator.State.Intermediate if side_problem(int(digits)) else QValidator.State.Acceptable
        return state, text, pos

    def fixup(self, text: str) -> str:
        """What is typed, as the nearest side the model takes (Qt's own correction would go to the minimum)."""
        digits = text.strip()
        if not digits.isdigit():
            return text
        typed, snapped = int(digits), snap_side(int(digits))
        if typed != snapped:
            self.snapped.emit(typed, snapped)
        return str(snapped)

    def typed(self) -> int | None:
        """The number in the box while it is not yet a side the model takes; None when there is none."""
        digits = self.lineEdit().text().strip()
        return int(digits) if digits.isdigit() and side_problem(int(digits)) else None


class SizeFields:
    """Width × height, with a note under them."""

    def __init__(self, form: QFormLayout, width: int = 512, height: int = 512) -> None:
        self.width_box, self.height_box = SideBox(width), SideBox(height)
        self.note = FieldNote()
        row = QHBoxLayout()
        row.addWidget(self.width_box)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_box)
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addLayout(row)
        column.addWidget(self.note)
        form.addRow("Size", column)
        for box, name in ((self.width_box, "Width"), (self.height_box, "Height")):
            box.lineEdit().textEdited.connect(lambda _text, b=box, n=name: self._edited(b, n))
            box.snapped.connect(lambda typed, value, n=name: self.note.remark(f"{n} {typed} → {value}: "
                                                                             f"{side_problem(typed)}"))

    def _edited(self, box: SideBox, name: str) -> None:
        """While a number the model does not take is typed, say what it will become."""
        typed = box.typed()
        if typed is None:
            self.note.clear_note()
        else:
            self.note.warn(f"{name} {typed} → {snap_side(typed)}: {side_problem(typed)}")

    def values(self) -> tuple[int, int]:
        return self.width_box.value(), self.height_box.value()
