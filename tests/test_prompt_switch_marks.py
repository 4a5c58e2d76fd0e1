"""The scrubber and the trajectory plot mark where prompt editing switched the prompt (StepEvent.prompt_switch)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.history import StepHistory


def _events(switch_at: int | None) -> list[StepEvent]:
    return [StepEvent(index=i, total=10, timestep=float(900 - 100 * i), elapsed=0.1 * (i + 1), noise_level=0.1 * i,
                      x_t=np.full((1, 8, 8, 3), 20 * i, np.uint8), x0=np.full((1, 8, 8, 3), 9 * i, np.uint8),
                      prompt_switch="a blue dog walks" if i == switch_at else "") for i in range(10)]


def _canvas(qtbot, events):
    from ddpm_studio.ui.canvas.step_canvas import StepCanvas

    canvas = StepCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(640, 480)
    history = StepHistory()
    canvas.start_run(history)
    for event in events:
        history.add(event)
        canvas.show_step(event)
    return canvas


def test_the_plot_marks_the_switch_and_the_scrubbed_step_names_it(qtbot):
    canvas = _canvas(qtbot, _events(switch_at=6))
    plot = canvas.trajectory
    assert plot.switches == [(6, "a blue dog walks")]
    assert "prompt → a blue dog walks" in plot.row_text(6) and "prompt" not in plot.row_text(5)
    canvas.slider.setValue(6)
    assert "prompt → a blue dog walks" in canvas.step_label.text()
    canvas.slider.setValue(3)
    assert "prompt" not in canvas.step_label.text()
    marked = plot.grab().toImage()
    plain = _canvas(qtbot, _events(switch_at=None)).trajectory
    assert plain.switches == []
    plain.set_marker(plot.marker)
    assert plain.grab().toImage() != marked  # the dotted line and its label are drawn


def test_a_switch_at_a_step_whose_pictures_are_not_kept_is_still_marked(qtbot):
    events = [e if e.index % 3 == 0 else dataclasses.replace(e, x_t=None, x0=None) for e in _events(switch_at=7)]
    canvas = _canvas(qtbot, events)
    assert canvas.trajectory.switches == [(7, "a blue dog walks")]
    canvas.start_run(StepHistory())
    assert canvas.trajectory.switches == []  # a new run starts unmarked
