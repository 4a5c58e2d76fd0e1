"""The trajectory under the scrubber: the engine's rows (noise level, RMS change of x̂0 and x_t against the previous
kept step) on known arrays, thinned and preview-less runs; and the plot in a real window, following the scrubber and
scrubbing when clicked or dragged."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from ddpm_studio.engine.events import StepEvent, final_event
from ddpm_studio.engine.history import StepHistory
from ddpm_studio.engine.inspect import trajectory as trajectory_module
from ddpm_studio.engine.inspect.trajectory import TrajectoryCache, rms_change, trajectory
from tests.ui_runs import run_generate


def event(i: int, total: int = 10, x_t=None, x0=None, level: float | None = None) -> StepEvent:
    return StepEvent(index=i, total=total, timestep=float(1000 - 100 * i), elapsed=0.1 * i, x_t=x_t, x0=x0,
                     noise_level=level)


def filled(value: int, side: int = 4) -> np.ndarray:
    return np.full((1, side, side, 3), value, np.uint8)


# ---- the engine ----
def test_rms_change_is_in_0_to_1_units():
    assert rms_change(filled(0), filled(255)) == pytest.approx(1.0)
    assert rms_change(filled(51), filled(0)) == pytest.approx(0.2)
    half = filled(0)
    half[:, :2] = 255  # half the pixels black to white: √½
    assert rms_change(half, filled(0)) == pytest.approx(np.sqrt(0.5))
    assert rms_change(filled(7), filled(7)) == 0.0
    assert rms_change(filled(0), None) is None and rms_change(None, filled(0)) is None
    assert rms_change(filled(0, side=4), filled(0, side=8)) is None  # a full decode beside a latent preview


def test_rows_from_known_events():
    events = [event(0, x_t=filled(0), x0=filled(100), level=0.01),
              event(1, x_t=filled(51), x0=filled(100), level=0.5),
              event(2, x_t=filled(51), x0=filled(151), level=0.9)]
    rows = trajectory(events)
    assert [(r.index, r.timestep, r.noise_level) for r in rows] == [(0, 1000.0, 0.01), (1, 900.0, 0.5),
                                                                   (2, 800.0, 0.9)]
    assert rows[0].x0_change is None and rows[0].xt_change is None and rows[0].since is None  # nothing before it
    assert rows[1].xt_change == pytest.approx(0.2) and rows[1].x0_change == 0.0 and rows[1].since == 0
    assert rows[2].xt_change == 0.0 and rows[2].x0_change == pytest.approx(0.2)
    assert all(r.noise_kind == "alpha_bar" and not r.final for r in rows)
    assert trajectory([]) == []


def test_the_result_is_the_last_row():
    last = event(9, x_t=filled(40), x0=filled(60), level=0.99)
    rows = trajectory([last, final_event(last, filled(60))])
    assert rows[1].final and rows[1].index == 10 and rows[1].noise_level is None
    assert rows[1].x0_change == 0.0 and rows[1].xt_change == pytest.approx(20 / 255)


def test_missing_previews_leave_gaps_not_errors():
    events = [event(0, x_t=filled(0), x0=None), event(1, x_t=filled(51), x0=filled(9)),
              event(2, x_t=filled(51), x0=filled(9))]
    rows = trajectory(events)
    assert rows[1].x0_change is None and rows[1].xt_change == pytest.approx(0.2)  # no x̂0 the step before
    assert rows[2].x0_change == 0.0
    assert trajectory([event(0), event(1)])[1].x0_change is None  # no previews at all


def test_thinned_history_rows_sit_at_their_real_steps():
    frame = filled(0)
    history = StepHistory(budget_bytes=10 * 2 * frame.nbytes)
    for i in range(40):
        history.add(event(i, total=40, x_t=filled(i), x0=filled(2 * i), level=i / 40))
    frames = history.frames()
    rows = trajectory(frames)
    assert history.thinned and [r.index for r in rows] == [f.index for f in frames] != list(range(len(frames)))
    for previous, row in zip(frames, rows[1:]):  # each against the previous *kept* step, however far back
        gap = row.index - previous.index
        assert row.since == previous.index and row.xt_change == pytest.approx(gap / 255)
        assert row.x0_change == pytest.approx(2 * gap / 255) and row.noise_level == row.index / 40


def test_the_cache_computes_only_new_steps_and_follows_thinning(monkeypatch):
    calls = []
    real = trajectory_module.rms_change
    monkeypatch.setattr(trajectory_module, "rms_change", lambda a, b: (calls.append(1), real(a, b))[1])
    history, cache = StepHistory(budget_bytes=12 * 2 * filled(0).nbytes), TrajectoryCache()
    for i in range(30):
        stride = history._stride
        history.add(event(i, total=30, x_t=filled(3 * i), x0=filled(i)))
        before = len(calls)
        rows = cache.rows(history.frames())
        if history._stride == stride and i > 0:
            assert len(calls) - before == 2  # the newest step's two differences, no more
        assert rows == trajectory(history.frames())
    assert history.thinned
    cache.clear()
    assert cache.rows([]) == []


# ---- the plot in a window ----
@pytest.fixture()
def window(window_on, tiny_ddpm_dir):
    return window_on(tiny_ddpm_dir)


def at(plot, position: int) -> QPoint:
    return QPoint(round(plot.x_of(plot.rows[position].index)), round(plot.plot_area().center().y()))


def test_the_plot_has_a_point_per_kept_step_follows_the_scrubber_and_scrubs(window, qtbot):
    canvas = run_generate(window, qtbot)
    plot, history = canvas.trajectory, canvas._history
    assert plot.isVisible() and len(plot.rows) == len(history) == 9
    assert [r.index for r in plot.rows] == [f.index for f in history.frames()] == list(range(9))
    noise, x0, xt = plot.points("noise"), plot.points("x0"), plot.points("xt")
    assert len(noise) == len(x0) == len(xt) == 9
    assert all(p is not None for p in noise[:8]) and noise[8] is None  # ᾱ_t for each step; the result has none
    assert x0[0] is None and all(p is not None for p in x0[1:])  # a change needs a step before it
    xs = [p.x() for p in xt[1:]]
    assert xs == sorted(xs) and len(set(xs)) == 8
    assert plot.marker == 8  # on the result, where the scrubber ended
    assert {name for name, _text, _rect in plot.legend_items()} == {"noise", "x0", "xt"}
    assert plot.legend_items()[0][1].startswith("ᾱ_t")
    canvas.slider.setValue(3)
    assert plot.marker == 3
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=at(plot, 5))
    assert canvas.slider.value() == 5 and plot.marker == 5
    assert canvas.step_label.text().startswith("Step 6/8 · t=")
    qtbot.mousePress(plot, Qt.MouseButton.LeftButton, pos=at(plot, 6))
    qtbot.mouseMove(plot, at(plot, 1))
    qtbot.mouseRelease(plot, Qt.MouseButton.LeftButton, pos=at(plot, 1))
    assert canvas.slider.value() == 1 and plot.marker == 1
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=QPoint(plot.width() - 1, plot.height() // 2))
    assert canvas.slider.value() == 8 and canvas.step_label.text().startswith("x_0 — the result")


def test_the_marker_follows_a_live_run_and_a_thinned_history(window, qtbot):
    canvas = window.generate_panel.canvas
    history = StepHistory(budget_bytes=6 * 2 * filled(0).nbytes)
    canvas.start_run(history)
    for i in range(20):  # as the worker does: every step into the history, the newest to the canvas
        history.add(event(i, total=21, x_t=filled(5 * i), x0=filled(i), level=i / 21))
        canvas.show_step(history.frames()[-1])
        assert canvas.trajectory.marker == len(history) - 1  # following the newest step
    canvas.slider.setValue(1)  # looking back
    history.add(event(20, total=21, x_t=filled(0), x0=filled(0)))
    canvas.show_step(history.frames()[-1])
    assert canvas.trajectory.marker == canvas.slider.value() == 1
    frames = history.frames()
    canvas.finish_run("Done")
    plot = canvas.trajectory
    assert history.thinned and [r.index for r in plot.rows] == [f.index for f in frames]
    for frame, point in zip(frames[1:], plot.points("xt")[1:]):
        assert point.x() == pytest.approx(plot.x_of(frame.index))  # at its real step, not its place in the list
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=at(plot, 2))
    assert canvas.slider.value() == 2 and canvas.x_t_view.image() is not None


def test_a_run_without_previews_shows_a_note(window, qtbot):
    from ddpm_studio.ui.canvas.trajectory_plot import NO_PREVIEWS_NOTE

    canvas = window.generate_panel.canvas
    history = StepHistory()
    canvas.start_run(history)
    for i in range(5):
        history.add(event(i, total=5, level=0.2 * i))  # no previews: the history keeps nothing
        canvas.show_step(event(i, total=5, level=0.2 * i))
    canvas.finish_run("Done")
    plot = canvas.trajectory
    assert plot.rows == [] and plot.note == NO_PREVIEWS_NOTE and plot.legend_items() == []
    assert not plot.grab().isNull()
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=plot.rect().center())
    assert not canvas.slider.isEnabled()


@pytest.mark.parametrize("width", [220, 380, 620, 900])
def test_the_legend_fits_the_plot(qtbot, width):
    from ddpm_studio.ui.canvas.trajectory_plot import TrajectoryPlot

    plot = TrajectoryPlot()
    qtbot.addWidget(plot)
    plot.resize(width, 110)
    events = [event(i, x_t=filled(10 * i), x0=filled(3 * i), level=0.1 * i) for i in range(10)]
    plot.set_rows(trajectory(events), total=10)
    items = plot.legend_items()
    assert len(items) == 3 and all(rect.right() <= width and rect.left() >= 0 for _name, _text, rect in items)
    assert all(rect.width() >= plot.fontMetrics().horizontalAdvance(text) for _name, text, rect in items)
    if width >= 620:
        assert "max" in items[1][1]  # where there is room, the scale each change curve is divided by


@pytest.mark.parametrize(("kind", "symbol", "scale"), [("alpha_bar", "ᾱ_t", 1.0), ("flow", "σ_t", 1.0),
                                                       ("sigma", "σ_t", 14.6)])
def test_the_noise_curve_is_named_and_scaled_by_its_kind(qtbot, kind, symbol, scale):
    """ᾱ_t and a flow model's σ_t are drawn on their own 0 … 1 scale; a Karras-style σ_t by its largest value."""
    from ddpm_studio.ui.canvas.trajectory_plot import TrajectoryPlot
    from ddpm_studio.ui.series.race_plot import noise_share

    plot = TrajectoryPlot()
    qtbot.addWidget(plot)
    levels = {"alpha_bar": [0.01, 0.5], "flow": [0.9, 0.4], "sigma": [14.6, 3.0]}[kind]
    events = [StepEvent(index=i, total=2, timestep=900.0 - 400 * i, elapsed=0.0, x_t=filled(i), x0=filled(i),
                        noise_level=level, noise_kind=kind) for i, level in enumerate(levels)]
    plot.set_rows(trajectory(events), total=2)
    assert plot.noise_symbol() == symbol and plot.scale("noise") == scale
    assert ("(0 … 1)" in plot.legend_text("noise")) == (scale == 1.0)
    # the race plot's noise share: how much of x_t is noise, 0 … 1, the same number whatever the kind
    assert noise_share(0.5, "flow") == pytest.approx(noise_share(0.5, "alpha_bar")) == pytest.approx(0.5 ** 0.5)
