"""An input picture for a panel (Edit, Upscale): open, drop or paste it. Pasted pictures are saved under the output
folder, so a job's parameters always point at a real file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QPushButton

from ddpm_studio.ui.widgets.images import store_image

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"


def open_paste_row(owner) -> QHBoxLayout:
    """"Open image…" and "Paste" buttons wired to ``owner.choose_image`` and ``owner.paste_image``."""
    row = QHBoxLayout()
    for label, slot in (("Open image…", owner.choose_image), ("Paste", owner.paste_image)):
        button = QPushButton(label)
        button.clicked.connect(slot)
        row.addWidget(button)
    return row


class ImageInput:
    """Mixed into a SamplingPanel: sets ``image_path`` and calls ``show_input`` with the picture."""

    image_title = "Input image"
    image_path = ""

    def show_input(self, image: QImage) -> None:
        raise NotImplementedError

    def show_missing(self, path: str) -> None:
        """The input image ``path`` is gone: show that there is none, and which one is missing."""
        raise NotImplementedError

    def restore_image(self, path: str) -> list[str]:
        """A restored job's input image: opened if it is still there; else none, shown as missing (an edit never
        runs on the picture that happened to be open before)."""
        if not path:
            return []
        if Path(path).is_file() and self.load_image(path):
            return []
        self.image_path = ""
        self.show_missing(path)
        return [f"the input image {path} is not there any more"]

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.image_title, "", IMAGE_FILTER)
        if path:
            self.load_image(path)

    def load_image(self, path: str) -> bool:
        image = QImage(path)
        if image.isNull():
            self.show_error("Cannot open the image", f"{path} is not an image Qt can read.")
            return False
        self.image_path = str(Path(path).resolve())
        self.show_input(image)
        return True

    def paste_image(self) -> bool:
        image = QGuiApplication.clipboard().image()
        if image.isNull():
            self.status_message.emit("The clipboard holds no image")
            return False
        try:
            path = store_image(image, self.output_dir.text().strip(), "inputs", "paste")
        except OSError as exc:
            self.show_error("Cannot paste the image", str(exc))
            return False
        return self.load_image(str(path))
