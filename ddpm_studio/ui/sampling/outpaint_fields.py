"""The Outpaint rows of the Edit panel: how many pixels to grow the canvas by on each side, what the new area starts
as, and how far the seam is blended into the picture (``engine/sampling/outpaint.py``); shown in outpaint mode only, but for
the last, which inpainting shows as its mask blur (``engine/sampling/inpaint.py``)."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGridLayout, QLabel, QSpinBox, QWidget

from ddpm_studio.engine.jobs.checks import MAX_FEATHER, MAX_SIDE, OUTPAINT_FILLS
from ddpm_studio.ui.widgets.common import narrow_combo

SIDES = ("left", "right", "top", "bottom")
ARROWS = {"left": "←", "right": "→", "top": "↑", "bottom": "↓"}  # short labels: the settings column is narrow
FILL_LABELS = {"edge": "Edges", "noise": "Noise"}


class OutpaintFields:
    def __init__(self, form: QFormLayout) -> None:
        self.form = form
        self.sides = {side: QSpinBox(minimum=0, maximum=MAX_SIDE, singleStep=64, value=0) for side in SIDES}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for number, side in enumerate(SIDES):
            self.sides[side].setToolTip(f"Pixels added at the {side}")
            grid.addWidget(QLabel(ARROWS[side]), number // 2, (number % 2) * 2)
            grid.addWidget(self.sides[side], number // 2, (number % 2) * 2 + 1)
        self.size_label = QLabel("")
        grid.addWidget(self.size_label, 2, 0, 1, 4)
        self.extend_row = QWidget()
        self.extend_row.setLayout(grid)
        self.fill = narrow_combo(10)
        for key in OUTPAINT_FILLS:
            self.fill.addItem(FILL_LABELS[key], key)
        self.fill.setToolTip("What the new area starts as before it is painted: Edges, the picture's edge pixels "
                             "stretched outwards, or noise around its mean colour (an inpainting model at strength 1 "
                             "ignores it; a normal model, or a lower strength, keeps some of it)")
        self.feather = QSpinBox(minimum=0, maximum=MAX_FEATHER, value=32, suffix=" px")
        form.addRow("Extend", self.extend_row)
        form.addRow("Fill", self.fill)
        form.addRow("Seam", self.feather)
        self.picture_size: tuple[int, int] | None = None
        for box in self.sides.values():
            box.valueChanged.connect(self._update)

    def show(self, on: bool, mask_blur: bool = False) -> None:
        """The outpaint rows (``on``), or only the blend's width as inpainting's mask blur."""
        for row in (self.extend_row, self.fill):
            self.form.setRowVisible(row, on)
        self.form.setRowVisible(self.feather, on or mask_blur)
        label = self.form.labelForField(self.feather)
        if mask_blur and not on:
            label.setText("Mask blur")
            self.feather.setToolTip("How far around the painted mask the picture is repainted and blended into "
                                    "it; every pixel further out is kept exactly")
        else:
            label.setText("Seam")
            self.feather.setToolTip("How far into the picture the seam is repainted and blended; the rest of the "
                                    "picture is kept exactly")

    def set_picture_size(self, size: tuple[int, int] | None) -> None:
        self.picture_size = size
        self._update()

    def extend(self) -> tuple[int, int, int, int]:
        return tuple(self.sides[side].value() for side in SIDES)

    def _update(self, *_) -> None:
        if self.picture_size is None:
            self.size_label.setText("")
            return
        left, right, top, bottom = self.extend()
        width, height = self.picture_size
        self.size_label.setText(f"{width}×{height} → {width + left + right}×{height + top + bottom}")

    def values(self) -> dict:
        return dict(extend=self.extend(), outpaint_fill=self.fill.currentData(), feather=self.feather.value())

    def apply(self, job) -> None:
        for side, amount in zip(SIDES, job.extend):
            self.sides[side].setValue(amount)
        self.fill.setCurrentIndex(max(self.fill.findData(job.outpaint_fill), 0))
        self.feather.setValue(job.feather)
