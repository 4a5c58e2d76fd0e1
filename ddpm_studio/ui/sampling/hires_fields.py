"""The Hires fix rows of Text to Image (A1111's "Hires. fix"): on/off, the factor and the upscaler, then the second
pass's denoising strength and steps (``engine/upscale/hires_fix.py``). The size rows stay the first pass's; the result is
that size × the factor, shown beside the factor — and under it, in the warning colour, why the job would refuse it
(larger than a model takes, or no larger than the first pass), so Generate waits until it is changed."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QSpinBox, QWidget

from ddpm_studio.engine.jobs.checks import MAX_HIRES_SCALE, MAX_STEPS, MIN_HIRES_SCALE
from ddpm_studio.engine.jobs.sizes import hires_problem, hires_size
from ddpm_studio.engine.jobs.types import HIRES_UPSCALERS
from ddpm_studio.ui.widgets.common import narrow_combo
from ddpm_studio.ui.widgets.notes import FieldNote

UPSCALER_LABELS = {"latent": "Latent", "lanczos": "Lanczos"}
UPSCALER_TIP = ("Latent: enlarge the first pass's latents (fast, no decode between the passes; needs a strength "
                "of about 0.5 or more to fill in detail). Lanczos: decode, enlarge the picture, encode again (keeps "
                "the first pass closer at low strengths). The Upscale panel's upscalers are listed too: model "
                "upscalers (ESRGAN, SwinIR, DAT, …: A1111's usual choice, one pass a tile) and the 4× diffusion "
                "upscalers (slower: 20 steps of their own, tile by tile)")


class HiresFields(QObject):
    changed = Signal()  # on, off, the factor or the size changed: what the job would say about it may have too

    def __init__(self, form: QFormLayout, size_boxes) -> None:
        super().__init__()
        self.size_boxes = size_boxes
        self.enabled = QCheckBox("Hires fix")
        self.enabled.setToolTip("Render at the size above, enlarge, then img2img at the large size: detail without "
                                "the doubled subjects a direct large render gives (A1111's two passes)")
        self.scale = QDoubleSpinBox(minimum=MIN_HIRES_SCALE + 0.05, maximum=MAX_HIRES_SCALE, value=2.0, singleStep=0.25,
                                    decimals=2, prefix="× ")  # × 1 would be no hires fix: the box above says on or off
        self.upscaler = narrow_combo(8)
        for key in HIRES_UPSCALERS:
            self.upscaler.addItem(UPSCALER_LABELS[key], key)
        self.upscaler.setToolTip(UPSCALER_TIP)
        self.result = QLabel("")
        first = QHBoxLayout()
        first.setContentsMargins(0, 0, 0, 0)
        for widget in (self.enabled, self.scale, self.result):
            first.addWidget(widget)
        first.addStretch(1)
        self.strength = QDoubleSpinBox(minimum=0.01, maximum=1.0, value=0.5, singleStep=0.05, decimals=2)
        self.strength.setToolTip("The second pass's denoising strength: how much of the enlarged picture is redrawn")
        self.steps = QSpinBox(minimum=0, maximum=MAX_STEPS, value=0)
        self.steps.setSpecialValueText("same")
        self.steps.setToolTip("The second pass's steps, of which strength × steps run (same: the Steps above)")
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        for widget in (self.strength, QLabel("steps"), self.steps):
            second.addWidget(widget)
        self.pass_row = _wrapped(second)
        self.form = form
        self.note = FieldNote()
        self.first_row = _wrapped(first)
        self.offered = True  # whether the chosen model's family takes a hires fix
        form.addRow("", self.first_row)
        form.addRow("", self.note)
        form.addRow("Upscaler", self.upscaler)
        form.addRow("Hires strength", self.pass_row)
        self.enabled.toggled.connect(self._update)
        self.scale.valueChanged.connect(self._update)
        for box in size_boxes:
            box.valueChanged.connect(self._update)
        self._update()

    def set_upscalers(self, infos) -> None:
        """Latent and Lanczos, then the upscalers the Upscale panel lists (``ModelInfo``s): model upscalers with
        their own factor, diffusion upscalers 4×."""
        keep = self.upscaler.currentData()
        while self.upscaler.count() > len(HIRES_UPSCALERS):
            self.upscaler.removeItem(self.upscaler.count() - 1)
        for info in infos:
            self.upscaler.addItem(f"{info.name} ({info.upscale or 4}×)", info.ref)
        self.choose_upscaler(keep)

    def choose_upscaler(self, ref: str) -> None:
        index = self.upscaler.findData(ref)
        if index < 0:  # a restored job's upscaler that is not listed here: shown by its reference, the run says more
            self.upscaler.addItem(ref, ref)
            index = self.upscaler.count() - 1
        self.upscaler.setCurrentIndex(index)

    def offer(self, on: bool) -> None:
        """Show the hires fix only for a model whose family takes one; hidden, it is off for the job."""
        self.offered = on
        self.form.setRowVisible(self.first_row, on)
        self._update()

    def _update(self, *_) -> None:
        on = self.enabled.isChecked() and self.offered
        self.scale.setEnabled(on)
        for row in (self.upscaler, self.pass_row):  # the second pass's rows only while it is on
            self.form.setRowVisible(row, on)
        width, height = hires_size(*self._first_pass(), self.scale.value())
        self.result.setText(f"→ {width}×{height}" if on else "")
        problem = self.problem()
        if problem:
            self.note.warn(problem)
        else:
            self.note.clear_note()
        self.form.setRowVisible(self.note, bool(problem))
        self.changed.emit()

    def _first_pass(self) -> tuple[int, int]:
        width, height = (box.value() for box in self.size_boxes)
        return width, height

    def problem(self) -> str | None:
        """Why the job would refuse this hires fix, in a sentence; None when it is off or fine."""
        if not self.enabled.isChecked() or not self.offered:
            return None
        return hires_problem(*self._first_pass(), round(self.scale.value(), 2))

    def values(self) -> dict:
        if not self.enabled.isChecked() or not self.offered:
            return {}
        return dict(hires_scale=round(self.scale.value(), 2), hires_upscaler=self.upscaler.currentData(),
                    hires_strength=round(self.strength.value(), 2), hires_steps=self.steps.value())

    def apply(self, job) -> None:
        self.enabled.setChecked(job.hires)
        if job.hires:
            self.scale.setValue(job.hires_scale)
            self.choose_upscaler(job.hires_upscaler)
            self.strength.setValue(job.hires_strength)
            self.steps.setValue(job.hires_steps)


def _wrapped(layout) -> QWidget:
    widget = QWidget()
    widget.setLayout(layout)
    return widget
