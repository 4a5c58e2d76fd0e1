"""The Edit panel: change an image with a prompt — img2img (strength), inpaint (a painted mask, with any Stable
Diffusion model: an inpainting one is recommended in a line under the model; a flow model, SD 3.5, Flux.1, Chroma,
Z-Image, Qwen-Image or Klein, through its family's own pipeline), instruct (InstructPix2Pix with its image
guidance; Flux.1 Kontext, Flux.2 Klein and Qwen-Image-Edit, with a strip of reference pictures where the model reads
them: edit_instruct.py), outpaint. The image can be opened, dropped or pasted; pasted images and painted masks are saved under the
output folder so that every result's parameters point at real files."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.jobs.checks import EDIT_MODES, MAX_GUIDANCE, JobError
from ddpm_studio.engine.jobs.scheduler_table import LATENT_SCHEDULERS
from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.models.catalogue import MODE_NAMES, ModelInfo
from ddpm_studio.ui.addons.fields import AddonFields
from ddpm_studio.ui.canvas.mask_painter import MaskPainter
from ddpm_studio.ui.control.fields import ControlFields
from ddpm_studio.ui.prompts.fields import PromptFields
from ddpm_studio.ui.sampling.edit_family import EditFamilyRows
from ddpm_studio.ui.sampling.edit_instruct import EditInstructRows
from ddpm_studio.ui.sampling.outpaint_fields import OutpaintFields
from ddpm_studio.ui.sampling.panel import SamplingPanel
from ddpm_studio.ui.widgets.image_input import ImageInput, open_paste_row
from ddpm_studio.ui.widgets.images import store_image

INPAINT_HINT = "An inpainting model (…-inpainting) gives better seams"  # shown while a normal one inpaints


class EditPanel(ImageInput, EditFamilyRows, EditInstructRows, SamplingPanel):
    job_type = EditJob
    settings_key = "edit/last_job"
    default_batch = 1
    schedulers = LATENT_SCHEDULERS
    single_files = True
    image_title = "Image to edit"

    def accepts(self, info: ModelInfo) -> bool:
        return self.mode() in info.modes

    def refuse_reason(self, info: ModelInfo) -> str:
        return f"{info.path} cannot do {MODE_NAMES[self.mode()]}" + (f"; open it in the {info.panel} panel." if info.panel else ".")

    def mode(self) -> str:
        return self.mode_box.currentData() if hasattr(self, "mode_box") else "img2img"

    def add_fields(self, form: QFormLayout) -> None:
        self.image_path = ""
        self.mode_box = QComboBox()
        for mode in EDIT_MODES:
            self.mode_box.addItem({"img2img": "Image to image", "inpaint": "Inpaint (paint a mask)",
                                   "instruct": "Instruct (Kontext, Klein…)",
                                   "outpaint": "Outpaint"}[mode], mode)
        self.mode_box.setItemData(EDIT_MODES.index("instruct"), "An instruction edits the picture: Flux.1 Kontext, "
                                  "Flux.2 Klein and Qwen-Image-Edit (with reference pictures where the model reads "
                                  "them), or InstructPix2Pix", Qt.ItemDataRole.ToolTipRole)
        self.mode_box.currentIndexChanged.connect(self._mode_changed)
        form.insertRow(0, "Mode", self.mode_box)
        self.inpaint_hint = QLabel(INPAINT_HINT, wordWrap=True)
        self.inpaint_hint.setToolTip("This model inpaints as masked img2img: it repaints the mask from what is there, "
                                     "without seeing the picture around it. An inpainting model (a 9-channel UNet, "
                                     "usually named …-inpainting) sees the mask and the picture, so its edges blend.")
        form.insertRow(2, self.inpaint_hint)  # under the Model row: Mode, Model, this
        self.add_run_hint(form, 3)  # why this machine cannot run the chosen model (Qwen-Image-Edit: torchvision)
        self.hint_form = form
        self.prompts = PromptFields(form)
        self.prompts.true_cfg.valueChanged.connect(self.show_family_negative)  # Flux's True CFG brings the negative
        self.addons = AddonFields(form, self.settings, self.prompts.prompt, self.prompts.negative)
        self.strength = QDoubleSpinBox(minimum=0.01, maximum=1.0, value=0.75, singleStep=0.05, decimals=2)
        self.strength.setToolTip("How much to change: 0 keeps the image, 1 repaints it from noise")
        self.image_guidance = QDoubleSpinBox(minimum=0.0, maximum=MAX_GUIDANCE, value=1.5, singleStep=0.1, decimals=2)
        self.image_guidance.setToolTip("Instruct with InstructPix2Pix: how closely to keep the input image")
        form.addRow("Strength", self.strength)
        form.addRow("Image guidance", self.image_guidance)
        self.outpaint = OutpaintFields(form)
        self.control = ControlFields(form, self.settings, self)

    def control_size(self) -> tuple[int, int]:
        """The size a drawn control image is made at: the picture's (grown, when outpainting; 512² before there is
        one), so that the drawing lines up with what is made."""
        image = getattr(self, "painter", None) and self.painter.image
        if image is None:
            return 512, 512
        if self.mode() != "outpaint":
            return image.width(), image.height()
        left, right, top, bottom = self.outpaint.extend()
        return image.width() + left + right, image.height() + top + bottom

    def build_input(self) -> QWidget:
        self.painter = MaskPainter()
        self.painter.image_dropped.connect(self.load_image)
        self.brush_slider = QSlider(Qt.Orientation.Horizontal, minimum=2, maximum=128, value=self.painter.brush)
        self.brush_slider.valueChanged.connect(lambda v: setattr(self.painter, "brush", v))
        self.eraser = QToolButton(text="Eraser", checkable=True)
        self.eraser.toggled.connect(lambda on: setattr(self.painter, "erasing", on))
        tools = open_paste_row(self)
        tools.addStretch(1)
        brush_row, mask_row = QHBoxLayout(), QHBoxLayout()  # rows of their own: the input column is a third of the view
        self.mask_tools = [QLabel("Brush"), self.brush_slider, self.eraser]
        for widget in self.mask_tools:
            brush_row.addWidget(widget)
        for text, slot in (("Invert", self.painter.invert), ("Clear", self.painter.clear), ("Undo", self.painter.undo)):
            button = QToolButton(text=text)
            button.clicked.connect(slot)
            self.mask_tools.append(button)
            mask_row.addWidget(button)
        mask_row.addStretch(1)
        self.image_label = QLabel("No input image")
        self.image_label.setWordWrap(True)
        self.image_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long name
        # must not widen the window
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools)
        layout.addLayout(brush_row)
        layout.addLayout(mask_row)
        layout.addWidget(self.painter, 1)
        layout.addWidget(self.image_label)
        layout.addWidget(self.build_references())  # instruct: the pictures read after this one
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste_image)
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=self.painter.undo)
        self._mode_changed()
        return column

    def _mode_changed(self) -> None:
        mode = self.mode()
        self.strength.setEnabled(mode != "instruct")
        self.outpaint.show(mode == "outpaint", mask_blur=mode == "inpaint")
        takes_control = self._family is None or "controlnet" in self._family.addons  # a flow family's does not
        self.control.set_visible(mode != "instruct" and takes_control)
        if hasattr(self, "painter"):
            self.painter.painting_enabled = mode == "inpaint"
            for widget in self.mask_tools:
                widget.setVisible(mode == "inpaint")
            self.painter.update()
        if hasattr(self, "model_box"):
            self.refresh_models(include_hf_cache=self.ready)
        self._show_inpaint_hint()
        self.show_instruct()

    def _show_inpaint_hint(self) -> None:
        """The one-line recommendation of an inpainting model, while a normal one is chosen for inpainting."""
        info = self.current_model_info() if getattr(self, "model_infos", None) is not None else None
        family = self._family  # a flow family has no inpainting model: its own pipeline inpaints (flow_edit.py)
        normal = info is not None and not info.inpainting and (family is None or family.denoiser == "unet")
        self.hint_form.setRowVisible(self.inpaint_hint, self.mode() == "inpaint" and normal)

    # ---- the input image ----
    def show_input(self, image: QImage) -> None:
        self.painter.set_image(image)
        self.image_label.setText(f"{Path(self.image_path).name} ({image.width()}×{image.height()})")
        self.image_label.setToolTip(self.image_path)
        self.outpaint.set_picture_size((image.width(), image.height()))

    def show_missing(self, path: str) -> None:
        self.painter.clear_image()
        self.outpaint.set_picture_size(None)
        self.image_label.setText(f"Missing: {path}")
        self.image_label.setToolTip(path)

    def _store(self, image: QImage, folder: str, prefix: str) -> Path | None:
        try:
            return store_image(image, self.output_dir.text().strip(), folder, prefix, write=self.writing_files)
        except OSError as exc:
            raise JobError(str(exc)) from None

    # ---- the job ----
    def model_changed(self, info: ModelInfo | None) -> None:
        self.prompts.show_prediction(info is not None and info.prediction_unknown)
        self.addons.model_changed(info)
        self.offer_family(info)
        self._show_inpaint_hint()
        self.show_instruct()

    def job_fields(self) -> dict:
        mode = self.mode()
        if not self.image_path:
            raise JobError("Open, drop or paste the image to edit first.")
        mask = ""
        if mode == "inpaint":
            if not self.painter.has_mask():
                raise JobError("Paint the area to repaint on the image first (white = repaint).")
            stored = self._store(self.painter.mask, "masks", "mask")  # written for a run, not when settings are saved
            mask = str(stored) if stored is not None else ""
        return dict(mode=mode, image=self.image_path, mask=mask, strength=round(self.strength.value(), 3),
                    image_guidance_scale=round(self.image_guidance.value(), 3),
                    **(self.outpaint.values() if mode == "outpaint" else {}),
                    **(dict(feather=self.outpaint.feather.value()) if mode == "inpaint" else {}),
                    **(self.control.values() if mode != "instruct" else {}), **self.prompts.values(),
                    **self.addons.values(), **self.reference_values())

    def restore_problems(self, path: str, job) -> list[str]:
        return self.addons.restore_problems(path, job)

    def apply_fields(self, job: EditJob) -> list[str]:
        self.mode_box.setCurrentIndex(max(self.mode_box.findData(job.mode), 0))
        self.prompts.apply(job)
        self.strength.setValue(job.strength)
        self.image_guidance.setValue(job.image_guidance_scale)
        self.outpaint.apply(job)
        missing = self.control.apply(job) + self.addons.apply(job) + self.restore_image(job.image)
        missing += self.references.set_paths(job.references)
        if job.mask and self.image_path:
            if Path(job.mask).is_file() and not QImage(job.mask).isNull():
                self.painter.set_mask(QImage(job.mask))
            else:
                missing.append(f"the mask {job.mask} is not there any more; paint it again")
        return missing
