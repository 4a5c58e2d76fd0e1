"""The Redraw rows of the Upscale panel (tiled diffusion upscaling, ``engine/upscale/redraw.py``): on/off, the
Stable Diffusion model that redraws a model upscaler's result tile by tile with img2img, its denoising strength and
the tile size. Offered only after a model upscaler or Lanczos; the prompt, steps, scheduler and seed above are the
redraw's."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QSpinBox, QWidget

from ddpm_studio.engine.jobs.upscale_job import MAX_REDRAW_TILE, MIN_REDRAW_TILE
from ddpm_studio.ui.widgets.model_picker import ModelPicker


class RedrawFields(QObject):
    changed = Signal()

    def __init__(self, form: QFormLayout, settings) -> None:
        super().__init__()
        self.form = form
        self.enabled = QCheckBox("Redraw tile by tile")
        self.enabled.setToolTip("Ultimate SD Upscale's way: after the upscaler, redraw the picture tile by tile with "
                                "img2img of a Stable Diffusion model at a low strength, so it adds detail")
        self.model = ModelPicker(settings, lambda info: "img2img" in info.modes)
        self.model.setToolTip("The model that redraws the tiles (with the prompt, steps, scheduler and seed above)")
        self.strength = QDoubleSpinBox(minimum=0.01, maximum=1.0, value=0.3, singleStep=0.05, decimals=2)
        self.strength.setToolTip("Denoising strength of each tile's img2img: low keeps the picture, high invents")
        self.tile = QSpinBox(minimum=MIN_REDRAW_TILE, maximum=MAX_REDRAW_TILE, value=512, singleStep=64, suffix=" px")
        self.tile.setToolTip("Redraw tile side in output pixels; tiles overlap by an eighth and are blended")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for widget in (self.strength, self.tile):
            row.addWidget(widget)
        self.row = QWidget()
        self.row.setLayout(row)
        form.addRow("", self.enabled)
        form.addRow("Redraw with", self.model)
        form.addRow("Strength, tile", self.row)
        self.offered = True
        self.enabled.toggled.connect(self._toggled)
        self._update()

    def refresh(self, include_hf_cache: bool = False) -> None:
        self.model.refresh(include_hf_cache)

    def offer(self, on: bool) -> None:
        """Shown after a model upscaler or Lanczos only; hidden, it is off for the job."""
        self.offered = on
        self.form.setRowVisible(self.enabled, on)
        self._update()

    @property
    def on(self) -> bool:
        return self.offered and self.enabled.isChecked()

    def _toggled(self, *_) -> None:
        self._update()
        self.changed.emit()  # the panel's fields the redraw takes (prompt, steps, …) follow

    def _update(self) -> None:
        for widget in (self.model, self.row):
            self.form.setRowVisible(widget, self.on)

    def values(self) -> dict:
        if not self.on or not self.model.currentData():
            return {}
        return dict(redraw=self.model.currentData(), strength=round(self.strength.value(), 2),
                    redraw_tile=self.tile.value())

    def apply(self, job) -> None:
        self.enabled.setChecked(bool(job.redraw))
        if job.redraw:
            self.model.select(job.redraw)
            self.strength.setValue(job.strength)
            self.tile.setValue(job.redraw_tile)
