"""Seeds as artists expect them: a new random seed for every run unless told otherwise (A1111's −1), the seed of
each image shown with it, and "reuse this seed" on a result — in every sampling panel."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.ui.canvas.results_strip import SEED_ROLE
from ddpm_studio.ui.core.settings import Settings
from tests.tiny_sd import save_tiny_sd
from tests.tiny_upscalers import save_tiny_x4


@pytest.fixture(scope="module")
def model_root(tmp_path_factory):
    from tests.tiny_models import save_tiny_ddpm

    root = tmp_path_factory.mktemp("seed-models")
    save_tiny_ddpm(root / "tiny-ddpm")
    save_tiny_sd(root / "tiny-sd", "txt2img")
    save_tiny_x4(root / "tiny-x4")
    return root


@pytest.fixture()
def window(window_on, model_root):
    return window_on(model_root)


def generate(window, qtbot, panel):
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.gallery.count() > 0 and panel.gallery.paths()[0] in done.args[1].saved_paths,
                    timeout=10000)
    return done.args[1]


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Made alone or inside a batch from one seed: the same picture, to one level of rounding (batched convolutions
    may add up in another order; tests/test_sampling.py allows the same)."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def test_generate_twice_gives_two_seeds_each_shown_and_reusable(window, qtbot):
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.steps.setValue(2)
    panel.batch.setValue(2)
    assert panel.random_seed.isChecked()  # the default, as in A1111, InvokeAI and ComfyUI
    first, second = generate(window, qtbot, panel), generate(window, qtbot, panel)
    assert first.job.seed != second.job.seed
    assert panel.seed.text() == str(second.job.seed)  # the field shows the seed the last run used
    assert not np.array_equal(pixels(first.saved_paths[0]), pixels(second.saved_paths[0]))
    assert f"seeds {second.job.seed}–{second.job.seed + 1}" in panel.canvas.step_label.text()
    # each result carries its own seed (image i of a batch: seed + i), under its thumbnail
    items = {panel.gallery.item(i).data(SEED_ROLE): panel.gallery.item(i) for i in range(panel.gallery.count())}
    assert set(items) == {first.job.seed, first.job.seed + 1, second.job.seed, second.job.seed + 1}
    assert items[first.job.seed + 1].text() == f"seed {first.job.seed + 1}"
    assert items[first.job.seed].toolTip().startswith(f"tiny-ddpm, seed {first.job.seed}\n")
    newest = [panel.gallery.item(i).data(SEED_ROLE) for i in range(2)]
    assert newest == [second.job.seed, second.job.seed + 1]  # the newest batch first, in its own order

    # reuse the seed of one image: Random goes off, and the next run makes that image again
    item = items[first.job.seed + 1]
    panel.gallery.reuse_seed_requested.emit(item.data(SEED_ROLE))
    assert not panel.random_seed.isChecked() and panel.seed.text() == str(first.job.seed + 1)
    panel.batch.setValue(1)
    again = generate(window, qtbot, panel)
    assert same_picture(pixels(again.saved_paths[0]), pixels(first.saved_paths[1]))
    third = generate(window, qtbot, panel)
    assert third.job.seed == again.job.seed  # kept while Random is off


def test_typing_a_seed_turns_random_off_and_the_choice_is_remembered(make_window, window, qtbot, tmp_path):
    panel = window.text2image_panel
    panel.seed.clear()
    qtbot.keyClicks(panel.seed, "1234")
    assert not panel.random_seed.isChecked()
    window.close()
    assert not Settings(tmp_path / "settings.ini").random_seed("txt2img")
    assert Settings(tmp_path / "settings.ini").random_seed("generate")
    reopened = make_window(Settings(tmp_path / "settings.ini"))
    assert not reopened.text2image_panel.random_seed.isChecked() and reopened.generate_panel.random_seed.isChecked()
    assert reopened.text2image_panel.seed.text() == "1234"


def test_every_sampling_panel_draws_a_new_seed_per_run(window, tmp_path, monkeypatch):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(photo)
    assert window.edit_panel.load_image(str(photo)) and window.upscale_panel.load_image(str(photo))
    for panel in (window.generate_panel, window.text2image_panel, window.edit_panel, window.upscale_panel):
        assert panel.model_box.count() > 0, type(panel).__name__
        submitted = []
        monkeypatch.setattr(panel, "submit", submitted.append)
        panel.generate()
        panel.generate()
        assert len(submitted) == 2 and submitted[0].seed != submitted[1].seed, type(panel).__name__


def test_a_restored_image_keeps_its_seed(window, qtbot, tmp_path):
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.steps.setValue(2)
    panel.batch.setValue(1)
    made = generate(window, qtbot, panel)
    panel.randomise_seed()
    assert window.restore_from_png(made.saved_paths[0])
    assert not panel.random_seed.isChecked() and panel.current_job().seed == made.job.seed
    assert read_job(made.saved_paths[0]).seed == made.job.seed


def test_restoring_one_image_of_a_batch_restores_its_own_seed(window, qtbot):
    panel = window.generate_panel
    panel.model_box.setCurrentIndex(panel.model_box.findText("tiny-ddpm"))
    panel.steps.setValue(2)
    panel.batch.setValue(3)
    made = generate(window, qtbot, panel)
    third = sorted(made.saved_paths)[2]
    assert panel.restore_from_png(third)
    assert panel.current_job().seed == made.job.seed + 2 and panel.current_job().batch_size == 3
    panel.batch.setValue(1)
    again = generate(window, qtbot, panel)
    assert same_picture(pixels(again.saved_paths[0]), pixels(third))  # the same picture again
