"""What a new user sees at common window sizes: no text clipped or missing, and the pictures big enough to look at."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from ddpm_studio.ui.core.settings import Settings
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


def test_the_rate_and_eta_are_shown_beside_the_step(window):
    """The step label gives way to the rate, never the other way round (the rate was squeezed to 0 px)."""
    import numpy as np

    from ddpm_studio.engine.events import StepEvent
    from ddpm_studio.engine.history import StepHistory

    window.resize(1024, 768)
    for panel in (window.generate_panel, window.edit_panel):
        show_tab(window, window.tabs.indexOf(panel))
        canvas = panel.canvas
        canvas.start_run(StepHistory())
        frame = np.zeros((1, 8, 8, 3), np.uint8)
        canvas.show_step(StepEvent(index=13, total=1000, timestep=986.0, elapsed=2.0, x_t=frame, x0=frame,
                                   noise_level=5.24e-05))
        QApplication.processEvents()
        rate = canvas.rate_label
        assert rate.text().startswith("7.0 it/s · ETA")
        assert canvas.progress.text().startswith("step 15/1000 running")  # the step the model is on now
        assert rate.width() >= rate.fontMetrics().horizontalAdvance(rate.text()), type(panel).__name__
        assert clipped_texts(canvas) == []


def test_the_divider_between_picture_and_canvas_is_remembered(make_window, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    first = make_window(settings)
    first.resize(1100, 720)
    show_tab(first, first.tabs.indexOf(first.edit_panel))
    first.edit_panel.views.setSizes([500, 200])
    wanted = first.edit_panel.views.sizes()
    first.close()
    second = make_window(Settings(tmp_path / "settings.ini"))
    second.resize(1100, 720)
    show_tab(second, second.tabs.indexOf(second.edit_panel))
    sizes = second.edit_panel.views.sizes()
    assert sizes[0] > sizes[1] and abs(sizes[0] / sum(sizes) - wanted[0] / sum(wanted)) < 0.05


@pytest.mark.parametrize("size", [(1024, 768), (1280, 800)])
def test_every_grid_axis_shows_its_whole_example(window, size):
    """The values box's hint (e.g. ddim, euler-a, dpm++2m) is read whole, whichever parameter the axis varies."""
    window.resize(*size)
    show_tab(window, window.tabs.indexOf(window.grid_panel))
    row = window.grid_panel.form.axis_rows[0]
    clipped = []
    for index in range(1, row.name_box.count()):
        row.name_box.setCurrentIndex(index)
        QApplication.processEvents()
        clipped += clipped_texts(row)
    assert row.name_box.count() > 2 and clipped == []
