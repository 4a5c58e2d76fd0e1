"""Help → About: what this is, the versions it runs on (read from the installed packages, nothing imported), the
device the sampler found, and the licences — DDPM Studio's own and those of what ships inside it."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QTabWidget, QVBoxLayout

from ddpm_studio import __version__
from ddpm_studio.paths import resources_dir

PACKAGES = ("torch", "diffusers", "transformers", "accelerate", "safetensors", "huggingface_hub", "PySide6-Essentials",
            "qasync", "pillow", "numpy")


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def licences() -> dict[str, str]:
    """Title → text of every licence file in resources/licenses, with DDPM Studio's own first."""
    texts = {"DDPM Studio": "DDPM Studio is licensed under the Apache License 2.0.\n\n"
             "The bundled model emoji-32 was trained by DDPM Studio's own trainer on glyphs rendered from Noto Color "
             "Emoji, which is licensed under the SIL Open Font License 1.1 (next tab)."}
    folder = resources_dir() / "licenses"
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        texts[path.stem] = path.read_text(encoding="utf-8", errors="replace")
    return texts


class AboutDialog(QDialog):
    def __init__(self, device_label: str = "", parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About DDPM Studio")
        header = QLabel(f"<h2>DDPM Studio {__version__}</h2><p>Local image generation with diffusion models — "
                        "and a look at every denoising step.</p>"
                        f"<p>Sampler device: {device_label or 'starting…'}</p>")
        header.setTextFormat(Qt.TextFormat.RichText)
        header.setWordWrap(True)
        self.tabs = QTabWidget()
        table = "\n".join(f"{name:<22}{version}" for name, version in versions().items())
        self.tabs.addTab(_text(table), "Versions")
        for title, text in licences().items():
            self.tabs.addTab(_text(text), title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(620, 480)

    def tab_titles(self) -> list[str]:
        return [self.tabs.tabText(i) for i in range(self.tabs.count())]


def _text(content: str) -> QPlainTextEdit:
    view = QPlainTextEdit(content)
    view.setReadOnly(True)
    return view
