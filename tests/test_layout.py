"""What a new user sees at common window sizes: no text clipped or missing, and the pictures big enough to look at."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from ddpm_studio.ui.settings import Settings
from tests.ui_fit import clipped_texts


@pytest.fixture()
def window(make_window, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    return make_window(settings)


def show_tab(window, index: int) -> None:
    window.tabs.setCurrentIndex(index)
    for _ in range(3):
        QApplication.processEvents()


@pytest.mark.parametrize("size", [(1024, 768), (1100, 720)])
def test_every_visible_text_fits_its_widget(window, size):
    """Labels, buttons, check boxes, every entry of every combo box and placeholders, on every tab."""
    window.resize(*size)
    clipped = []
    for index in range(window.tabs.count()):
        show_tab(window, index)
        clipped += [f"{window.tabs.tabText(index)}: {line}" for line in clipped_texts(window.tabs.currentWidget())]
    assert clipped == []


def test_the_seed_button_draws_without_an_emoji_font(window):
    for panel in window.sampling_panels:
        assert panel.dice_button.text() == "" and not panel.dice_button.icon().isNull()
        assert not panel.dice_button.icon().pixmap(16, 16).toImage().isNull()


@pytest.mark.parametrize("name", ["edit_panel", "upscale_panel"])
def test_edit_and_upscale_give_the_pictures_room(window, name):
    """At the default window size the input picture and the step previews are each big enough to look at (they were
    about 95 px tall, stacked under one another)."""
    window.resize(1100, 720)
    panel = getattr(window, name)
    show_tab(window, window.tabs.indexOf(panel))
    picture = panel.painter if name == "edit_panel" else panel.compare
    for view in (picture, panel.canvas.x_t_view, panel.canvas.x0_view):
        assert min(view.width(), view.height()) >= 150, (type(view).__name__, view.width(), view.height())


def test_the_window_still_fits_a_small_screen_with_the_mask_tools_shown(window):
    edit = window.edit_panel
    edit.mode_box.setCurrentIndex(edit.mode_box.findData("inpaint"))
    show_tab(window, window.tabs.indexOf(edit))
    assert all(tool.isVisible() for tool in edit.mask_tools)
    assert window.minimumSizeHint().width() <= 800  # a 1024×768 laptop, as the window's first-launch test says
