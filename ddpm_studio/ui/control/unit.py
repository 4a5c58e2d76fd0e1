"""One ControlNet of a prompt panel: which ControlNet (those in the ControlNet folders, or a file or folder added),
its weight and the part of the run it acts in, the control image (opened, pasted, or drawn in the app) and its
preprocessor, with a preview of the control image the ControlNet will see."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
)

from ddpm_studio.engine.control.preprocess import preprocess
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.control_fields import MAX_CONTROL_WEIGHT, PREPROCESSORS
from ddpm_studio.ui.widgets.common import narrow_combo
from ddpm_studio.ui.widgets.images import store_image

PREVIEW = 80
PREPROCESS_LABELS = {"none": "As it is", "canny": "Canny edges", "scribble": "Scribble", "invert": "Invert"}


def list_controlnets(folders: list[str]) -> list[Path]:
    """ControlNets in the folders: .safetensors files, and diffusers folders (a config.json)."""
    found = []
    for folder in folders:
        for entry in sorted(Path(folder).expanduser().glob("*")):
            if entry.suffix == ".safetensors" or (entry / "config.json").is_file():
                found.append(entry)
    return found


class ControlUnit(QGroupBox):
    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, number: int, panel, parent=None) -> None:
        super().__init__(f"ControlNet {number}", parent)
        self.panel = panel
        self.image_path = ""
        self.model = narrow_combo(10)
        self.model.setToolTip("A ControlNet from your ControlNet folders, or one added with …")
        self.model.setPlaceholderText("None found: add one with …")
        add = QToolButton(text="…")
        menu = QMenu(add)
        menu.addAction("A .safetensors file…", self.choose_file)
        menu.addAction("A diffusers folder…", self.choose_folder)
        add.setMenu(menu)
        add.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        remove = QToolButton(text="✕")
        remove.setToolTip("Remove this ControlNet")
        remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.weight = QDoubleSpinBox(minimum=0.0, maximum=MAX_CONTROL_WEIGHT, value=1.0, singleStep=0.05, decimals=2)
        self.weight.setToolTip("How strongly it steers (0: not at all, the model's own picture)")
        self.start = QDoubleSpinBox(minimum=0.0, maximum=1.0, value=0.0, singleStep=0.05, decimals=2)
        self.end = QDoubleSpinBox(minimum=0.0, maximum=1.0, value=1.0, singleStep=0.05, decimals=2)
        for box, when in ((self.start, "starts"), (self.end, "stops")):
            box.setToolTip(f"The fraction of the run at which it {when} steering")
        self.preprocess = narrow_combo(8)
        for key in PREPROCESSORS:
            self.preprocess.addItem(PREPROCESS_LABELS[key], key)
        self.preprocess.setToolTip("Made in the app from the picture: Canny edges (thresholds below), Scribble (dark "
                                   "strokes become white lines), Invert; As it is for a map made elsewhere (depth, "
                                   "pose)")
        self.preprocess.currentIndexChanged.connect(self.update_preview)
        self.preview = QLabel("No control image")
        self.preview.setFixedSize(PREVIEW, PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setFrameShape(QLabel.Shape.StyledPanel)
        image_buttons = QHBoxLayout()
        image_buttons.setSpacing(2)
        for text, slot in (("Open…", self.choose_image), ("Paste", self.paste_image), ("Draw…", self.draw)):
            button = QToolButton(text=text)
            button.clicked.connect(slot)
            image_buttons.addWidget(button)
        grid = QGridLayout(self)
        grid.setContentsMargins(6, 4, 6, 6)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(add)
        model_row.addWidget(remove)
        grid.addLayout(model_row, 0, 0, 1, 2)
        numbers = QHBoxLayout()
        for label, box in (("weight", self.weight), ("from", self.start), ("to", self.end)):
            numbers.addWidget(QLabel(label))
            numbers.addWidget(box)
        numbers.addStretch(1)
        grid.addLayout(numbers, 1, 0, 1, 2)
        grid.addWidget(self.preview, 2, 0, 2, 1)
        grid.addLayout(image_buttons, 2, 1)
        grid.addWidget(self.preprocess, 3, 1)
        grid.setColumnStretch(1, 1)
        self.dialog = None

    # ---- the ControlNet ----
    def fill_models(self, paths: list[Path]) -> None:
        keep = self.model.currentData()
        self.model.clear()
        for path in paths:
            self.model.addItem(path.stem if path.is_file() else path.name, str(path))
        if keep:
            self.choose_model(keep)
        elif self.model.count():
            self.model.setCurrentIndex(0)  # with a placeholder set, Qt would leave none chosen

    def choose_model(self, ref: str) -> None:
        index = self.model.findData(ref)
        if index < 0:
            self.model.addItem(Path(ref).stem if ref.endswith(".safetensors") else Path(ref).name, ref)
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A ControlNet file", "", "ControlNet (*.safetensors)")
        if path:
            self.choose_model(path)

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A diffusers ControlNet folder")
        if path:
            self.choose_model(path)

    # ---- the control image ----
    def set_image(self, path: str) -> bool:
        if QImage(path).isNull():
            self.panel.show_error("Cannot open the control image", f"{path} is not an image Qt can read.")
            return False
        self.image_path = str(Path(path).resolve())
        self.update_preview()
        return True

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A control image", "", "Images (*.png *.jpg *.jpeg *.webp *.bmp)")
        if path:
            self.set_image(path)

    def _store(self, image: QImage, prefix: str) -> str | None:
        try:
            return str(store_image(image, self.panel.output_dir.text().strip(), "control", prefix))
        except OSError as exc:
            self.panel.show_error("Cannot keep the control image", str(exc))
            return None

    def paste_image(self) -> bool:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.panel.status_message.emit("The clipboard holds no image")
            return False
        path = self._store(image, "paste")
        return path is not None and self.set_image(path)

    def draw(self):
        """A white page of the picture's size to draw on; the drawing becomes the control image (Scribble)."""
        from ddpm_studio.ui.control.scribble_dialog import ScribbleDialog

        self.dialog = ScribbleDialog(self.panel.control_size(), self)
        self.dialog.accepted.connect(lambda: self.use_drawing(self.dialog.drawing()))
        self.dialog.open()
        return self.dialog

    def use_drawing(self, drawing: QImage) -> None:
        path = self._store(drawing, "scribble")
        if path is not None:
            self.preprocess.setCurrentIndex(self.preprocess.findData("scribble"))
            self.set_image(path)

    def update_preview(self, *_) -> None:
        if not self.image_path:
            return
        try:
            with Image.open(self.image_path) as picture:
                shown = preprocess(picture, self.preprocess.currentData(), self.panel.control.thresholds())
        except OSError as exc:
            self.preview.setText(f"Cannot read it: {exc}")
            return
        shown.thumbnail((PREVIEW, PREVIEW))
        data = shown.convert("RGB").tobytes()
        image = QImage(data, shown.width, shown.height, shown.width * 3, QImage.Format.Format_RGB888).copy()
        self.preview.setPixmap(QPixmap.fromImage(image))
        self.preview.setToolTip(self.image_path)
        self.changed.emit()

    # ---- the job ----
    def values(self, number: int) -> tuple[tuple[str, float, float, float], str, str]:
        if not self.model.currentData():
            raise JobError(f"ControlNet {number}: choose a ControlNet (add its file or folder with …).")
        if not self.image_path:
            raise JobError(f"ControlNet {number}: open, paste or draw its control image.")
        unit = (self.model.currentData(), round(self.weight.value(), 2), round(self.start.value(), 2),
                round(self.end.value(), 2))
        return unit, self.image_path, self.preprocess.currentData()

    def apply(self, unit, image: str, preprocessor: str) -> list[str]:
        ref, weight, start, end = unit
        self.choose_model(ref)
        self.weight.setValue(weight)
        self.start.setValue(start)
        self.end.setValue(end)
        self.preprocess.setCurrentIndex(max(self.preprocess.findData(preprocessor), 0))
        missing = [] if Path(ref).exists() else [f"the ControlNet {ref} is not there any more"]
        if Path(image).is_file():
            self.set_image(image)
        else:
            missing.append(f"the control image {image} is not there any more")
        return missing
