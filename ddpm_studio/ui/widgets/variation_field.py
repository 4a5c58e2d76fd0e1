"""The Variation row of Generate and Text to Image (A1111's "Variation seed" and "Variation strength"): a second
seed and how far each picture's starting noise is slerped towards that seed's (``engine/sampling/variation.py``). Strength 0
(the default) is off: the seed's own picture."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget

from ddpm_studio.engine.jobs.checks import MAX_SEED, JobError
from ddpm_studio.ui.widgets.icons import die_icon
from ddpm_studio.ui.widgets.seed_field import random_seed


class VariationField(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.seed = QLineEdit("0")
        self.seed.setToolTip(f"The variation seed, 0 … {MAX_SEED}; image i of a batch varies towards variation "
                             "seed + i")
        self.dice = QToolButton(icon=die_icon())
        self.dice.setToolTip("Roll a new variation seed")
        self.dice.clicked.connect(self.roll)
        self.strength = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2, value=0.0)
        self.strength.setSpecialValueText("off")
        self.strength.setToolTip("How far towards the variation seed's picture: 0 (off) is the seed's own, 1 the "
                                 "variation seed's; 0.1–0.3 gives near variations of a picture you like")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.seed, 1)
        row.addWidget(self.dice)
        row.addWidget(QLabel("strength"))
        row.addWidget(self.strength)

    def roll(self) -> None:
        self.seed.setText(str(random_seed()))

    def job_fields(self) -> dict:
        """The job's variation fields; nothing when off (the seed field is then not read)."""
        strength = round(self.strength.value(), 2)
        if not strength:
            return {}
        text = self.seed.text().strip()
        if not text.isdigit() or int(text) > MAX_SEED:
            raise JobError(f"The variation seed must be a whole number from 0 to {MAX_SEED}; got '{text}'.")
        return {"variation_seed": int(text), "variation_strength": strength}

    def apply(self, job) -> None:
        self.strength.setValue(job.variation_strength)
        if job.variation_strength:
            self.seed.setText(str(job.variation_seed))
