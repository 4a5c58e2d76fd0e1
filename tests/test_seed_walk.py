"""Seed walks (engine/series/seed_walk.py): frames along the slerp through two or more seeds, every seed a frame of its own
where the count allows; ``generate --seed-walk 3,9,12 --frames N --out DIR`` writes the frames as normal PNGs and
the animations; the results strip's "Seed walk…" runs one in the panel, and Cancel keeps nothing of it.
The Variation row of the panels is here too."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from ddpm_studio.cli import main
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.series.seed_walk import parse_seeds, walk_points


def test_the_walk_passes_through_every_seed():
    assert walk_points([3, 9, 12], 5) == [(3, 0, 0.0), (3, 9, 0.5), (9, 0, 0.0), (9, 12, 0.5), (12, 0, 0.0)]
    points = walk_points([3, 9], 4)
    assert points[0] == (3, 0, 0.0) and points[-1] == (9, 0, 0.0)
    assert [p[2] for p in points[1:-1]] == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    with pytest.raises(JobError, match="two or more seeds"):
        parse_seeds("3")
    with pytest.raises(JobError, match="nowhere"):
        parse_seeds("5, 5")
    with pytest.raises(JobError, match="needs 3 … 1000 frames"):
        walk_points([1, 2, 3], 2)


def test_cli_seed_walk_writes_frames_with_metadata_and_the_animations(tiny_ddpm_dir, tmp_path, capsys):
    out = tmp_path / "walk"
    common = ["generate", "--model", str(tiny_ddpm_dir), "--scheduler", "ddim", "--steps", "3"]
    assert main(common + ["--seed-walk", "3,9,12", "--frames", "5", "--out", str(out)]) == 0
    frames = sorted((out / "frames").glob("*.png"))
    assert [p.name for p in frames] == ["00000-3.png", "00001-3.png", "00002-9.png", "00003-9.png", "00004-12.png"]
    middle = read_job(frames[1])
    assert (middle.seed, middle.variation_seed, middle.variation_strength) == (3, 9, 0.5)
    with Image.open(out / "seed-walk.gif") as gif, Image.open(out / "seed-walk.webp") as webp:
        assert gif.n_frames == 5 and webp.n_frames == 5
    assert main(common + ["--seed", "9", "--batch", "1", "--out", str(tmp_path / "nine")]) == 0
    nine = next((tmp_path / "nine").glob("*.png"))
    assert np.array_equal(np.asarray(Image.open(nine)), np.asarray(Image.open(frames[2])))  # a seed's own frame
    assert str(out / "seed-walk.gif") in capsys.readouterr().out


@pytest.fixture()
def window(window_on, tiny_ddpm_dir):
    return window_on(tiny_ddpm_dir.parent)


def _generate(window, qtbot, panel, seed: int) -> str:
    panel.seed_field.keep(seed)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() > 0 and panel.gallery.paths()[0] in done.args[1].saved_paths,
                    timeout=10000)
    return done.args[1].saved_paths[0]


def _ready(panel, steps: int = 3):
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("ddim"))
    panel.steps.setValue(steps)
    panel.batch.setValue(1)


def test_the_variation_row_varies_the_picture_and_is_restored(window, qtbot):
    panel = window.generate_panel
    _ready(panel)
    nine = _generate(window, qtbot, panel, 9)
    panel.variation.seed.setText("9")
    panel.variation.strength.setValue(1.0)
    varied = _generate(window, qtbot, panel, 3)
    assert np.array_equal(np.asarray(Image.open(varied)), np.asarray(Image.open(nine)))
    panel.variation.strength.setValue(0.0)
    panel.variation.seed.setText("0")
    assert panel.restore_from_png(varied)
    assert panel.variation.seed.text() == "9" and panel.variation.strength.value() == 1.0
    assert (panel.current_job().variation_seed, panel.current_job().variation_strength) == (9, 1.0)


def _walk_dialog(window, qtbot, panel, frames: int):
    _ready(panel)
    first, second = _generate(window, qtbot, panel, 3), _generate(window, qtbot, panel, 9)
    panel.gallery.selectAll()
    item = panel.gallery.item(0)
    assert panel.gallery.walk_paths(item) == [second, first]  # left to right: the newest first
    panel.gallery.seed_walk_requested.emit([first, second])
    dialog = panel.walk_dialog
    assert dialog.seeds.text() == "3, 9"
    dialog.frames.setValue(frames)
    return dialog


def test_a_seed_walk_from_the_results_strip(window, qtbot):
    panel = window.generate_panel
    dialog = _walk_dialog(window, qtbot, panel, 3)
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: panel.walk_task.done(), timeout=60000)
    written = panel.walk.written
    assert written is not None and len(written["frames"]) == 3 and written["gif"].is_file()
    assert read_job(written["frames"][1]).variation_strength == 0.5
    assert "Seed walk done" in panel.canvas.step_label.text()


def test_cancel_keeps_nothing_of_a_seed_walk(window, qtbot):
    panel = window.generate_panel
    dialog = _walk_dialog(window, qtbot, panel, 3)
    started = panel.on_job_started

    def cancel_at_the_second_frame(job, history):  # a frame saved, the next one running: Cancel now
        started(job, history)
        if job.variation_strength == 0.5:
            assert len(list((panel.walk.folder / "frames").glob("*.png"))) == 1
            panel.cancel_button.click()

    panel.on_job_started = cancel_at_the_second_frame
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: panel.walk_task.done(), timeout=60000)
    assert panel.walk_task.result() is None and panel.walk.written is None
    assert not panel.walk.folder.exists()  # not even its empty folders
    assert "nothing saved" in panel.canvas.step_label.text()
    qtbot.waitUntil(lambda: not window.sampler.busy, timeout=30000)
