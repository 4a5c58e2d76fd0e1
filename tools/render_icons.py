"""Render the SVG app icon to the PNG sizes desktops and bundles ask for, in the hicolor theme layout.

    python tools/render_icons.py   # writes resources/icons/hicolor/NxN/apps/ddpm-studio.png
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication(sys.argv[:1])  # QPainter needs an application
    renderer = QSvgRenderer(str(ROOT / "resources" / "icons" / "ddpm-studio.svg"))
    if not renderer.isValid():
        print("the SVG icon cannot be read", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = ROOT / "resources" / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "ddpm-studio.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        image.save(str(target))
        print(target.relative_to(ROOT))
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
