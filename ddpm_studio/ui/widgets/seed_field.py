"""The seed row of a sampling panel: the seed, a die that rolls a new one, and Random — a new seed for every run,
as A1111's −1, InvokeAI and ComfyUI do by default. Typing a seed (or reusing a result's) turns Random off."""

from __future__ import annotations

import random

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLineEdit, QToolButton, QWidget

from ddpm_studio.engine.jobs.checks import MAX_BATCH, MAX_SEED
from ddpm_studio.ui.widgets.icons import die_icon


def random_seed() -> int:
    """A new seed such that every image of the largest batch still has a valid one (image i uses seed + i)."""
    return random.randrange(MAX_SEED + 2 - MAX_BATCH)


class SeedField(QWidget):
    def __init__(self, random_on: bool, parent=None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit("0")
        self.edit.setToolTip(f"0 … {MAX_SEED}; image i of a batch uses seed + i")
        self.random = QCheckBox("Random")
        self.random.setToolTip("A new seed for every run (A1111's −1). The seed each image used is in its name, "
                               "under it in the results and in its parameters. Typing a seed turns this off.")
        self.random.setChecked(random_on)
        self.edit.textEdited.connect(lambda _text: self.random.setChecked(False))  # a seed typed in is meant
        self.dice = QToolButton(icon=die_icon())
        self.dice.setToolTip("Roll a new seed now")
        self.dice.clicked.connect(self.roll)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.dice)
        row.addWidget(self.random)

    def roll(self) -> None:
        self.edit.setText(str(random_seed()))

    def before_run(self) -> None:
        """With Random on, a new seed for this run, shown in the field: a run's seed is never a secret."""
        if self.random.isChecked():
            self.roll()

    def keep(self, seed: int) -> None:
        """Use ``seed`` from now on (a restored image's, or "reuse this seed" on a result): Random goes off."""
        self.random.setChecked(False)
        self.edit.setText(str(seed))
