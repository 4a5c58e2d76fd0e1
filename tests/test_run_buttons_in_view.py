"""Generate and Cancel stay in sight at a common laptop size however long the settings column is, and the column
widens when there is room — real windows."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QSplitter, QWidget

from ddpm_studio.ui.core.settings import Settings
from tests.tiny_addons import save_embedding


@pytest.fixture()
def window(make_window, tmp_path):
    for name in ("a", "b", "c", "d", "e"):  # listed: the column grows long when the lists are opened
        save_embedding(tmp_path / "embeddings" / f"{name}-look.safetensors", (768,))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_own_folder("embeddings", str(tmp_path / "embeddings"))
    return make_window(settings)


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()


def shown_whole(widget: QWidget) -> bool:
    """Whether all of ``widget`` is in sight: inside the window and inside every scroll area's viewport it is in."""
    window = widget.window()
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    if not window.rect().contains(rect):
        return False
    ancestor = widget.parentWidget()
    while ancestor is not None and ancestor is not window:
        if isinstance(ancestor, QAbstractScrollArea):
            viewport = ancestor.viewport()
            if not viewport.rect().contains(QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size())):
                return False
        ancestor = ancestor.parentWidget()
    return True


@pytest.mark.parametrize("name", ["text2image_panel", "edit_panel"])
def test_generate_and_cancel_are_in_sight_at_1280_by_800(window, name):
    window.resize(1280, 800)
    panel = getattr(window, name)
    window.tabs.setCurrentWidget(panel)
    panel.addons.embeddings.toggle.click()  # a longer column than a new user's
    settle()
    for button in (panel.generate_button, panel.cancel_button):
        assert button.isVisible() and shown_whole(button), button.text()
    scroll_bar = next(a for a in panel.findChildren(QAbstractScrollArea) if a.isVisible()
                      and a.isAncestorOf(panel.prompts.prompt)).verticalScrollBar()
    scroll_bar.setValue(scroll_bar.maximum())  # scrolled to the column's end: still in sight
    settle()
    assert shown_whole(panel.generate_button) and shown_whole(panel.cancel_button)


def test_the_settings_column_widens_with_the_window_and_by_its_divider(window):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    window.resize(1024, 768)
    settle()
    narrow = panel.prompts.prompt.width()
    window.resize(1600, 900)
    settle()
    assert panel.prompts.prompt.width() > narrow + 100  # the prompt gets some of the room, not only the canvas
    total = sum(panel.findChild(QSplitter).sizes())
    panel.findChild(QSplitter).setSizes([700, total - 700])  # the divider dragged to the right
    settle()
    assert panel.findChild(QSplitter).widget(0).width() >= 690
