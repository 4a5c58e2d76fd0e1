"""How the small drawn widgets place what they draw: the schedule plot's axis and t marker, the loss plot's points
inside its frame, the compare view's label backings, and the About dialog's version table."""

from __future__ import annotations

from importlib import metadata

import pytest
from PySide6.QtGui import QColor, QImage

from ddpm_studio.engine.inspect.forward import named_schedule


@pytest.fixture()
def schedule_plot(qtbot):
    from ddpm_studio.ui.explorer.schedule_plot import SchedulePlot

    plot = SchedulePlot()
    qtbot.addWidget(plot)
    plot.resize(480, 196)
    plot.set_curves(named_schedule("linear").curves())
    return plot


def differs(image: QImage, x: int, y: int, colour: QColor) -> bool:
    return image.pixelColor(x, y).rgb() != colour.rgb()


def test_schedule_plot_axis_runs_from_0_to_T_minus_1(schedule_plot):
    area = schedule_plot.plot_area()
    assert schedule_plot.end_labels() == ("t = 0", "t = 999")
    assert schedule_plot.x_of(0) == pytest.approx(area.left())
    assert schedule_plot.x_of(999) == pytest.approx(area.right())
    assert schedule_plot.x_of(499.5) == pytest.approx(area.center().x())


@pytest.mark.parametrize("t", [0, 1, 250, 500, 998, 999])
def test_schedule_plot_writes_t_above_its_marker_inside_the_widget(schedule_plot, t):
    schedule_plot.set_t(t)
    rect, area = schedule_plot.marker_label_rect(), schedule_plot.plot_area()
    assert rect.bottom() <= area.top() and rect.top() >= 0  # above the plot area, not in the axis row under it
    assert rect.left() >= 0 and rect.right() <= schedule_plot.width()
    assert rect.width() >= schedule_plot.fontMetrics().horizontalAdvance(f"t = {t}")
    x, half = schedule_plot.x_of(t), rect.width() / 2
    if 0 <= x - half and x + half <= schedule_plot.width():
        assert rect.center().x() == pytest.approx(x)  # centred on the marker where it fits
    else:
        assert rect.left() <= x <= rect.right()  # pushed in at an end, still over the marker


def test_schedule_plot_draws_t_at_the_marker_and_nothing_mid_axis(schedule_plot):
    schedule_plot.set_t(250)
    image = schedule_plot.grab().toImage()
    base = schedule_plot.palette().base().color()
    rect, area = schedule_plot.marker_label_rect(), schedule_plot.plot_area()
    label = [(x, y) for x in range(int(rect.left()), int(rect.right()))
             for y in range(int(rect.top()), int(rect.bottom()))]
    assert any(differs(image, x, y, base) for x, y in label)
    middle = range(int(area.center().x()) - 40, int(area.center().x()) + 40)  # where "t = 250" used to be written
    under = range(int(area.bottom()) + 2, schedule_plot.height())
    assert not any(differs(image, x, y, base) for x in middle for y in under)


@pytest.fixture()
def loss_plot(qtbot):
    from ddpm_studio.ui.train.loss_plot import LossPlot

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(420, 200)
    return plot


def strictly_inside(point, rect, margin: float = 2.0) -> bool:
    """Inside the rectangle and at least ``margin`` from its lines (the raw points are drawn 3 px wide)."""
    return (rect.left() + margin <= point.x() <= rect.right() - margin
            and rect.top() + margin <= point.y() <= rect.bottom() - margin)


def test_loss_plot_draws_its_first_last_and_extreme_points_inside_the_frame(loss_plot):
    losses = [0.9, 1.2, 0.5, 0.05, 0.3, 0.08]
    for step, loss in enumerate(losses):
        loss_plot.add(step * 10, loss)
    frame = loss_plot.frame_rect()
    for step, loss in [(0, 0.9), (50, 0.08), (10, 1.2), (30, 0.05)]:  # first, last, highest, lowest
        assert strictly_inside(loss_plot.point(step, loss), frame), (step, loss)
    assert loss_plot.point(0, 0.9).x() < loss_plot.point(50, 0.08).x()
    assert loss_plot.point(10, 1.2).y() < loss_plot.point(30, 0.05).y()  # higher loss, higher up


def test_loss_plot_keeps_a_single_point_inside_the_frame(loss_plot):
    loss_plot.add(7, 0.25)
    assert strictly_inside(loss_plot.point(7, 0.25), loss_plot.frame_rect())


def test_compare_view_labels_sit_on_a_dark_backing(qtbot):
    from ddpm_studio.ui.canvas.compare_view import CompareView

    view = CompareView()
    qtbot.addWidget(view)
    view.resize(480, 360)
    white = QImage(192, 192, QImage.Format.Format_RGB32)
    white.fill(QColor(255, 255, 255))
    view.show_pair(white, white.copy())
    image = view.grab().toImage()
    for label, rect in zip(view.labels, view.label_rects()):
        assert rect.width() >= view.fontMetrics().horizontalAdvance(label)  # sized to its text
        assert rect.width() < view.image_rect().width() / 2  # not a bar across the picture
        inner = rect.adjusted(3, 3, -3, -3)
        pixels = [image.pixelColor(x, y) for x in range(int(inner.left()), int(inner.right()))
                  for y in range(int(inner.top()), int(inner.bottom()))]
        dark = sum(max(p.red(), p.green(), p.blue()) < 128 for p in pixels)
        assert dark > len(pixels) / 2, label  # white text on a dark backing, not on the white picture
        below = image.pixelColor(int(rect.center().x()), int(rect.bottom()) + 4)
        assert below.rgb() == QColor(255, 255, 255).rgb()  # the picture itself is untouched past the backing


def test_about_shows_the_versions_as_a_two_column_table(qtbot):
    from ddpm_studio.ui.dialogs.about import AboutDialog

    dialog = AboutDialog("cpu")
    qtbot.addWidget(dialog)
    assert dialog.tab_titles()[:2] == ["Versions", "DDPM Studio"]
    table = dialog.tabs.widget(0)
    assert table is dialog.versions_table and table.columnCount() == 2
    assert [table.horizontalHeaderItem(c).text() for c in range(2)] == ["Package", "Version"]
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["torch"] == metadata.version("torch") and rows["numpy"] == metadata.version("numpy")
    assert list(rows)[0] == "Python"
    assert f"diffusers\t{metadata.version('diffusers')}" in dialog.versions_text().splitlines()
    dialog.copy_versions()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == dialog.versions_text()


def test_the_loss_plots_end_label_makes_room_for_the_first(qapp):
    from ddpm_studio.ui.train.loss_plot import LossPlot

    plot = LossPlot()
    for step, loss in ((3, 1.2), (10, 1.15), (18, 1.0824)):
        plot.add(step, loss)
    metrics = plot.fontMetrics()
    wide, narrow = plot.last_label(1000), plot.last_label(150)
    assert "smoothed" in wide and "smoothed" not in narrow and "loss 1.0824" in narrow
    assert metrics.horizontalAdvance(plot.last_label(60)) <= 60


def test_the_loss_plot_has_grid_lines_at_round_losses_and_smooths_without_lagging(loss_plot):
    import math

    from ddpm_studio.ui.train.loss_plot import LABEL_GAP, log_ticks

    assert log_ticks(math.log10(0.05), math.log10(1.2)) == [0.1, 0.2, 0.5, 1.0]
    assert log_ticks(-4, 1) == [0.001, 0.01, 0.1, 1.0]  # too many 1-2-5s: the decades only
    assert log_ticks(math.log10(1.05), math.log10(1.25)) == [1.1, 1.2]  # a LoRA's narrow range: tenths
    assert log_ticks(-6, 6, most=3) == [1e-05, 0.1, 1000.0]  # even the decades too many: every fourth
    assert log_ticks(math.log10(0.3), math.log10(0.9)) == [0.4, 0.5, 0.6, 0.7, 0.8]
    for step in range(1, 13):
        loss_plot.add(step, 0.45 * 0.75 ** step)
    grid = loss_plot.grid_losses()
    assert grid and all(0.45 * 0.75 ** 12 < v < 0.45 * 0.75 for v in grid)
    ys = [loss_plot.point(1, v).y() for v in [loss_plot.raw[-1], *grid, loss_plot.raw[0]]]
    assert all(a - b >= LABEL_GAP for a, b in zip(ys, ys[1:]))  # labels never overlap, nor the end ones
    image = loss_plot.grab().toImage()
    background = image.pixelColor(int(loss_plot.data_rect().center().x()), int(loss_plot.data_rect().top()) + 2)
    y = round(loss_plot.point(1, grid[0]).y())
    assert any(image.pixelColor(x, y) != background for x in range(int(loss_plot.data_rect().left()),
                                                                     int(loss_plot.data_rect().right())))
    # the smoothed line starts at the first loss and is not held there: debiased, its second point is near the
    # mean of the first two (a plain moving average from the first loss would still be at 0.975 of it)
    assert loss_plot.smooth[0] == pytest.approx(loss_plot.raw[0])
    assert loss_plot.smooth[1] < 0.9 * loss_plot.raw[0]
