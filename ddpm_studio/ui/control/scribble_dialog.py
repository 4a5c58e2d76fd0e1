"""Draw a control image in the app: the Edit panel's mask brush on a white page, in black ink, at the picture's
size (brush size, eraser, undo, clear). The drawing is dark strokes on white; the scribble preprocessor turns it
into the white-on-black lines scribble ControlNets take."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QSlider, QToolButton, QVBoxLayout

from ddpm_studio.ui.canvas.mask_painter import MaskPainter


class ScribbleDialog(QDialog):
    def __init__(self, size: tuple[int, int], parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Draw a control image")
        page = QImage(size[0], size[1], QImage.Format.Format_RGB32)
        page.fill(QColor(255, 255, 255))
        self.painter = MaskPainter()
        self.painter.ink, self.painter.ink_opacity = QColor(0, 0, 0), 1.0
        self.painter.set_image(page)
        self.painter.brush = max(3, min(size) // 64)
        self.painter.setMinimumSize(384, 384)
        brush = QSlider(Qt.Orientation.Horizontal, minimum=1, maximum=64, value=self.painter.brush)
        brush.valueChanged.connect(lambda value: setattr(self.painter, "brush", value))
        eraser = QToolButton(text="Eraser", checkable=True)
        eraser.toggled.connect(lambda on: setattr(self.painter, "erasing", on))
        tools = QHBoxLayout()
        tools.addWidget(QLabel("Brush"))
        tools.addWidget(brush, 1)
        tools.addWidget(eraser)
        for text, slot in (("Undo", self.painter.undo), ("Clear", self.painter.clear)):
            button = QToolButton(text=text)
            button.clicked.connect(slot)
            tools.addWidget(button)
        QShortcut(QKeySequence.StandardKey.Undo, self, activated=self.painter.undo)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Use this drawing")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(tools)
        layout.addWidget(self.painter, 1)
        layout.addWidget(buttons)
        self.resize(520, 580)

    def drawing(self) -> QImage:
        """Black strokes on a white page (RGB)."""
        ink = self.painter.mask.copy()
        ink.invertPixels()
        return ink.convertToFormat(QImage.Format.Format_RGB32)
