"""The Upscale panel: super-resolution with a model upscaler (ESRGAN, SwinIR, DAT, …: 2×, 4× or 8×, one pass a tile;
then, if asked, redrawn tile by tile with img2img: ``redraw_fields.py``) or Lanczos,
the SD x4 upscaler (prompt, noise level) or LDM 4×, tile by tile for large pictures, with a before/after slider
against a classic Lanczos upscale at the same factor."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from ddpm_studio.engine.jobs.scheduler_table import LATENT_SCHEDULERS
from ddpm_studio.engine.jobs.types import JobError
from ddpm_studio.engine.jobs.upscale_job import (
    MAX_NOISE_LEVEL,
    MAX_TILE,
    MIN_TILE,
    UPSCALE_FACTOR,
    UpscaleJob,
    upscale_input_problem,
)
from ddpm_studio.engine.models.catalogue import ModelInfo
from ddpm_studio.engine.upscale.lanczos import LANCZOS, lanczos_info  # Lanczos 4×, no model (no torch)
from ddpm_studio.ui.canvas.compare_view import CompareView
from ddpm_studio.ui.prompts.fields import PromptFields
from ddpm_studio.ui.sampling.panel import SamplingPanel
from ddpm_studio.ui.sampling.redraw_fields import RedrawFields
from ddpm_studio.ui.widgets.image_input import ImageInput, open_paste_row
from ddpm_studio.ui.widgets.images import to_qimage
from ddpm_studio.ui.widgets.notes import FieldNote




class UpscalePanel(ImageInput, SamplingPanel):
    job_type = UpscaleJob
    settings_key = "upscale/last_job"
    default_batch = 1
    schedulers = LATENT_SCHEDULERS
    image_title = "Image to upscale"
    input_share = 0.4  # more than a third: the before/after view is where the result is looked at

    def accepts(self, info: ModelInfo) -> bool:
        return "upscale" in info.modes

    def refuse_reason(self, info: ModelInfo) -> str:
        return f"{info.path} holds {info.class_name or 'an unknown pipeline'}, not an upscaler" + (
            f"; open it in the {info.panel} panel." if info.panel else ".")

    def add_fields(self, form: QFormLayout) -> None:
        self.image_path = ""
        self.prompts = PromptFields(form, clip_skip=False, placeholder="What the picture shows, so the upscaler adds "
                                    "fitting detail: a lighthouse on a cliff at dusk")
        self.prompts.guidance.setValue(9.0)
        self.noise_level = QSpinBox(minimum=0, maximum=MAX_NOISE_LEVEL, value=20)
        self.noise_level.setToolTip("SD x4: noise added to the input first — more lets the model invent more detail")
        self.tile = QSpinBox(minimum=MIN_TILE - 32, maximum=MAX_TILE, value=0, singleStep=32)
        self.tile.setSpecialValueText("automatic")
        self.tile.setSuffix(" px")
        self.tile.setToolTip("Tile side in input pixels: large pictures are upscaled tile by tile to fit in memory")
        self.overlap = QSpinBox(minimum=0, maximum=MAX_TILE // 2, value=16, suffix=" px")
        self.overlap.setToolTip("How far neighbouring tiles overlap; their seam is blended across it")
        form.addRow("Noise level", self.noise_level)
        form.addRow("Tile", self.tile)
        form.addRow("Tile overlap", self.overlap)
        self.tile.valueChanged.connect(self._tile_changed)
        self.redraw = RedrawFields(form, self.settings)  # after a model upscaler: img2img tile by tile
        self.redraw.changed.connect(self._model_changed)

    def build_input(self) -> QWidget:
        self.compare = CompareView()
        self.compare.image_dropped.connect(self.load_image)
        row = open_paste_row(self)
        row.addStretch(1)
        self.image_label = QLabel("No input image")
        self.image_label.setWordWrap(True)
        self.input_note = FieldNote()  # a picture the upscalers cannot take, said when it is opened
        self.input_problem: str | None = None
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.compare, 1)
        layout.addWidget(self.image_label)
        layout.addWidget(self.input_note)
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste_image)
        self.batch.setMaximum(1)
        self.form.setRowVisible(self.batch, False)  # one picture per run
        self.model_box.leading = (("Lanczos (4×, no model)", LANCZOS),)  # before the models; chosen when none is
        self.model_box.currentIndexChanged.connect(self._model_changed)
        return column

    def _tile_changed(self, value: int) -> None:
        if 0 < value < MIN_TILE:  # the spin box steps 0 → 32: there is nothing between "automatic" and the minimum
            self.tile.setValue(MIN_TILE)

    def _model_changed(self) -> None:
        """LDM 4× takes no prompt and no noise level, a model upscaler (ESRGAN, …) no steps or seed either: say so
        by disabling them."""
        info = self._chosen()
        model_upscaler = info is not None and bool(info.upscale)
        if hasattr(self, "redraw"):
            self.redraw.offer(model_upscaler)
        redrawn = model_upscaler and self.redraw.on  # the redraw takes the prompt, steps, scheduler and seed
        text_guided = info is None or info.family == "sd-x4-upscaler" or redrawn
        for widget in (self.prompts.prompt, self.prompts.negative, self.prompts.guidance):
            widget.setEnabled(text_guided)
        self.noise_level.setEnabled(info is None or info.family == "sd-x4-upscaler")
        stepped = not model_upscaler or redrawn
        for widget in (self.scheduler_box, self.schedule.box, self.steps, self.seed):
            widget.setEnabled(stepped)
        if self.image_path and getattr(self, "input_size", None):
            self._say_size(*self.input_size)

    def _chosen(self) -> ModelInfo | None:
        ref = self.model_box.currentData()
        if ref == LANCZOS:
            return lanczos_info()
        return getattr(self, "model_infos", {}).get(ref)

    def factor(self) -> int:
        """The chosen upscaler's factor: a model upscaler's own (2, 4, 8), the diffusion upscalers' 4."""
        info = self._chosen()
        return info.upscale if info is not None and info.upscale else UPSCALE_FACTOR

    def refresh_models(self, include_hf_cache: bool = False) -> None:
        if hasattr(self, "redraw"):
            self.redraw.refresh(include_hf_cache)
        super().refresh_models(include_hf_cache)
        if hasattr(self, "compare"):
            self._model_changed()

    # ---- the input image ----
    def show_input(self, image: QImage) -> None:
        self.compare.show_single(image)
        self.input_size = (image.width(), image.height())
        problem = self._say_size(*self.input_size)
        self._set_input_problem(f"This picture is too small: {problem}." if problem else None)

    def _say_size(self, width: int, height: int) -> str | None:
        problem = upscale_input_problem(width, height)
        s = self.factor()
        result = "" if problem else f" → {width * s}×{height * s}"
        self.image_label.setText(f"{Path(self.image_path).name} ({width}×{height}{result})")
        self.image_label.setToolTip(self.image_path)
        return problem

    def show_missing(self, path: str) -> None:
        self.compare.show_single(None)
        self.image_label.setText(f"Missing: {path}")
        self.image_label.setToolTip(path)
        self._set_input_problem(None)

    def _set_input_problem(self, problem: str | None) -> None:
        self.input_problem = problem
        if problem:
            self.input_note.warn(problem)
        else:
            self.input_note.clear_note()
        self.check_fields()

    def field_problems(self) -> list[str]:
        problem = getattr(self, "input_problem", None)
        return [problem] if problem else []

    # ---- the job ----
    def job_fields(self) -> dict:
        if not self.image_path:
            raise JobError("Open, drop or paste the image to upscale first.")
        return dict(image=self.image_path, noise_level=self.noise_level.value(), tile=self.tile.value(),
                    overlap=self.overlap.value(), **self.prompts.values(), **self.redraw.values())

    def apply_fields(self, job: UpscaleJob) -> list[str]:
        self.prompts.apply(job)
        self.noise_level.setValue(job.noise_level)
        self.tile.setValue(job.tile)
        self.overlap.setValue(job.overlap)
        self.redraw.apply(job)
        return self.restore_image(job.image)

    def on_result(self, result) -> None:
        if result.reference is not None and result.images is not None:
            info = self._chosen() if result.job.model == LANCZOS else self.model_infos.get(result.job.model)
            after = info.name if info is not None and info.upscale else "Diffusion"  # a model upscaler: its name
            self.compare.show_pair(to_qimage(result.reference), to_qimage(result.images[0]), ("Lanczos", after))
            if result.tiles > 1:
                self.status_message.emit(f"Upscaled in {result.tiles} tiles; drag the divider to compare with Lanczos")
