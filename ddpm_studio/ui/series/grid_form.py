"""What a parameter grid varies (the Grid panel's settings column): the settings every cell shares
(``SeriesForm``) and up to three axes, X, Y and Z, each a parameter and its values — A1111's X/Y/Z plot. The axes
are parsed by ``engine.xyz_grid.parse_axis``, as ``ddpm-studio grid --x`` is; a LoRA of the user's that fits the
model can be an axis too (its weight)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLineEdit, QVBoxLayout, QWidget

from ddpm_studio.engine.addons.resources import list_loras
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.series.xyz_grid import Axis, parse_axis
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.series.form import SeriesForm
from ddpm_studio.ui.widgets.common import narrow_combo

AXES = ("X", "Y", "Z")
# the parameters a cell can vary, with an example of values; the prompt's first value is what the others replace
PIXEL_AXES = {"scheduler": "ddim, euler-a, dpm++2m", "steps": "10, 25, 50", "seed": "1, 2, 3",
              "autoguidance": "1, 1.5, 2"}
PROMPT_AXES = {"scheduler": "ddim, euler-a, dpm++2m", "steps": "10, 25, 50", "seed": "1, 2, 3",
               "guidance": "3, 7.5, 12", "clip_skip": "1, 2", "prompt": "cat, dog, fox"}
AXIS_TIPS = {"prompt": "Prompt S/R: the first value is a word of the prompt; each value in turn replaces it",
             "seed": "Every other cell uses the Seed row's seed", "clip_skip": "1 is the text encoder's last layer"}


class AxisRow(QWidget):
    """One axis: a parameter (or none) and its values, comma separated."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_box = narrow_combo(9)
        self.values_edit = QLineEdit()
        # the values under the parameter, the column's whole width: room for the example (ddim, euler-a, dpm++2m)
        row = QVBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        row.addWidget(self.name_box, 0, Qt.AlignmentFlag.AlignLeft)
        row.addWidget(self.values_edit)
        self.examples: dict[str, str] = {}
        self.name_box.currentIndexChanged.connect(self._name_changed)

    def set_names(self, examples: dict[str, str], loras: list[str]) -> None:
        """The parameters offered; the one chosen before stays chosen where it still exists."""
        current = self.name_box.currentData()
        self.examples = dict(examples, **{f"lora:{name}": "0, 0.5, 1" for name in loras})
        self.name_box.blockSignals(True)
        self.name_box.clear()
        self.name_box.addItem("—", "")
        for name in self.examples:
            self.name_box.addItem(f"LoRA {name[5:]}" if name.startswith("lora:") else name.replace("_", " "), name)
            self.name_box.setItemData(self.name_box.count() - 1, AXIS_TIPS.get(name, ""),
                                       Qt.ItemDataRole.ToolTipRole)
        self.name_box.setCurrentIndex(max(0, self.name_box.findData(current)))
        self.name_box.blockSignals(False)
        self._name_changed()

    def _name_changed(self, *_) -> None:
        name = self.name_box.currentData() or ""
        self.values_edit.setEnabled(bool(name))
        self.values_edit.setPlaceholderText(f"e.g. {self.examples[name]}" if name else "")
        self.values_edit.setToolTip(AXIS_TIPS.get(name, "Values separated by commas; quote one that has a comma"))

    def choose(self, name: str, values: str) -> None:
        self.name_box.setCurrentIndex(self.name_box.findData(name))
        self.values_edit.setText(values)

    def axis(self) -> Axis | None:
        name = self.name_box.currentData() or ""
        return parse_axis(f"{name}={self.values_edit.text()}") if name else None


class GridForm(SeriesForm):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(settings, "grid", parent)

    def varying_rows(self, rows: QFormLayout) -> None:
        self.axis_rows = [AxisRow() for _ in AXES]
        for label, row in zip(AXES, self.axis_rows):
            rows.addRow(label, row)
            row.name_box.currentIndexChanged.connect(self.mark_replaced)

    def mark_replaced(self, *_) -> None:
        """A row an axis sets is greyed out, its label's tooltip naming the axis: its own value is not used."""
        chosen = {row.name_box.currentData(): label for label, row in zip(AXES, self.axis_rows)}
        for widget, names in ((self.scheduler_box, ("scheduler",)), (self.steps, ("steps",)),
                              (self.seed_field, ("seed",)), (self.guidance, ("guidance", "autoguidance"))):
            axis = next((chosen[n] for n in names if n in chosen), None)
            widget.setEnabled(axis is None)
            self.rows.labelForField(widget).setToolTip(f"Set by the {axis} axis" if axis else "")

    def _model_changed(self, *_) -> None:
        super()._model_changed()
        info = self.current_model_info()
        family = family_of_info(info) if info is not None and not self.pixel else None
        loras = []
        if info is not None and not self.pixel and (family is None or "lora" in family.addons):
            found, _ = list_loras(self.settings.addon_folder_list("loras"))
            loras = sorted({lora.name for lora in found if lora.fits(info.context_dim, None, 0, family.key if family else "") is not False})
        examples = dict(PIXEL_AXES if self.pixel else PROMPT_AXES)
        if family is not None and family.schedulers:  # its own (SD 3.5's and Flux's flow solvers)
            examples["scheduler"] = ", ".join(family.schedulers[:3])
        if family is not None and not family.clip_skip:  # Flux's prompt goes through no CLIP layers to count back
            del examples["clip_skip"]
        for row in self.axis_rows:
            row.set_names(examples, loras)
        self.mark_replaced()

    def axes(self) -> list[Axis]:
        """The chosen axes in order (an empty row is skipped); a JobError that says what to fix."""
        axes = []
        for label, row in zip(AXES, self.axis_rows):
            try:
                axis = row.axis()
            except JobError as exc:
                raise JobError(f"The {label} axis: {exc}") from None
            if axis is not None and len(axes) < AXES.index(label):
                raise JobError(f"The {label} axis is set but the {AXES[len(axes)]} axis is not: fill them in order.")
            if axis is not None:
                axes.append(axis)
        if not axes:
            raise JobError("Choose a parameter and its values for the X axis (and Y or Z if you like).")
        return axes
