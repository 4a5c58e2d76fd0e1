"""Text to Image and Edit panels under pytest-qt, on tiny random Stable Diffusion pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication, QImage

from ddpm_studio.ui.core.settings import Settings
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def sd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd-models")
    for kind in ("txt2img", "inpaint", "instruct"):
        save_tiny_sd(root / kind, kind)
    return root


@pytest.fixture()
def window(window_on, sd_root):
    return window_on(sd_root)


def models(panel):
    return [panel.model_box.itemText(i) for i in range(panel.model_box.count())]


def run(qtbot, window, panel):
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    return done.args[1]


def test_text_to_image_panel(window, qtbot, tmp_path):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    assert models(panel) == ["txt2img"]  # the inpaint and instruct models are not offered here
    assert not {"txt2img", "inpaint", "instruct"} & set(models(window.generate_panel))
    panel.prompts.prompt.setPlainText("a lighthouse at dusk")
    panel.prompts.negative.setPlainText("fog")
    panel.width_box.setValue(48)
    panel.height_box.setValue(32)
    panel.steps.setValue(4)
    panel.random_seed.setChecked(False)
    panel.seed.setText("9")
    shown = []
    original = panel.canvas.show_step
    panel.canvas.show_step = lambda event: (shown.append(event), original(event))
    result = run(qtbot, window, panel)
    assert result.images.shape == (1, 32, 48, 3) and shown and shown[-1].x0 is not None
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    path = panel.gallery.paths()[0]
    with Image.open(path) as image:
        assert image.size == (48, 32)
        assert image.text["parameters"].startswith("a lighthouse at dusk\nNegative prompt: fog\nSteps: 4")
    assert window.generate_panel.canvas.step_label.text() == "No run yet"  # events went to the panel that asked

    panel.prompts.prompt.setPlainText("something else")
    assert window.restore_from_png(path)
    assert window.tabs.currentWidget() is panel and panel.prompts.prompt.toPlainText() == "a lighthouse at dusk"


def test_inpaint_model_offered_to_text_to_image_is_explained(window, sd_root):
    panel = window.text2image_panel
    panel.add_model_folder(str(sd_root / "inpaint"))
    text = panel.error_box.text()
    assert str(sd_root / "inpaint") in text and "StableDiffusionInpaintPipeline" in text and "Edit (inpaint) panel" in text
    panel.error_box.close()


def _photo(tmp_path) -> str:
    rng = np.random.default_rng(1)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_edit_panel_img2img_inpaint_instruct(window, qtbot, tmp_path):
    panel = window.edit_panel
    window.tabs.setCurrentWidget(panel)
    panel.steps.setValue(2)
    panel.prompts.prompt.setPlainText("make it autumn")
    assert panel.load_image(_photo(tmp_path))

    assert models(panel) == ["txt2img"]
    panel.strength.setValue(1.0)
    assert run(qtbot, window, panel).images.shape == (1, 40, 48, 3)

    panel.mode_box.setCurrentIndex(panel.mode_box.findData("inpaint"))
    assert sorted(models(panel)) == ["inpaint", "txt2img"]  # any SD model inpaints; the instruct one does not
    panel.generate()  # no mask yet: a clear message, nothing queued
    assert "Paint the area to repaint" in panel.error_box.text()
    panel.error_box.close()
    rect = panel.painter.image_rect()
    start = rect.center() - QPoint(rect.width() // 4, 0)
    qtbot.mousePress(panel.painter, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(panel.painter, rect.center())
    qtbot.mouseRelease(panel.painter, Qt.MouseButton.LeftButton, pos=rect.center())
    assert panel.painter.has_mask()
    masks = Path(panel.output_dir.text()).expanduser() / "masks"
    panel.save_settings()  # the settings keep the form, but a mask is written only when a run uses it
    assert not list(masks.glob("*.png")) and window.settings.get_json(panel.settings_key, {})["mask"] == ""
    result = run(qtbot, window, panel)
    assert result.images.shape == (1, 40, 48, 3)
    job = result.job
    assert job.mode == "inpaint" and Image.open(job.mask).size == (48, 40)
    assert np.asarray(Image.open(job.mask).convert("L")).max() == 255
    panel.save_settings()  # now the run's mask is kept for next time, and not written again
    assert window.settings.get_json(panel.settings_key, {})["mask"] == job.mask
    assert [str(p) for p in masks.glob("*.png")] == [job.mask]

    panel.mode_box.setCurrentIndex(panel.mode_box.findData("instruct"))
    assert models(panel) == ["instruct"] and not panel.strength.isEnabled()
    assert run(qtbot, window, panel).images.shape == (1, 40, 48, 3)


def test_mask_tools(window, qtbot, tmp_path):
    painter = window.edit_panel.painter
    window.edit_panel.load_image(_photo(tmp_path))
    painter.paint_stroke(QPointF(5, 5), QPointF(20, 5))
    painted = painter.mask_array().copy()
    assert painted.any() and not painted.all()
    painter.invert()
    assert np.array_equal(painter.mask_array(), 255 - painted)
    painter.undo()
    assert np.array_equal(painter.mask_array(), painted)
    painter.clear()
    assert not painter.has_mask()
    painter.undo()
    assert np.array_equal(painter.mask_array(), painted)


def test_paste_and_drop_an_image(window, qtbot, tmp_path):
    panel = window.edit_panel
    QGuiApplication.clipboard().setImage(QImage(_photo(tmp_path)))
    assert panel.paste_image()
    assert panel.image_path.startswith(str(tmp_path / "out" / "inputs"))
    other = tmp_path / "other.png"
    Image.new("RGB", (24, 16), (1, 2, 3)).save(other)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    panel.painter.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    assert panel.image_path == str(other) and panel.painter.image.width() == 24


def test_prediction_row_for_sd2_single_files(make_window, qtbot, tmp_path, sd_root, monkeypatch):
    """An SD 2.x file does not say whether it is an ε or a v model: its panels offer the choice, other models do not;
    the run reports what auto decided."""
    from tests.ldm_checkpoint import save_config_folder, save_single_file
    from tests.tiny_sd import save_tiny_sd2

    folder = save_tiny_sd2(tmp_path / "sd2-folder")
    (tmp_path / "checkpoints").mkdir()
    checkpoint = save_single_file(folder, tmp_path / "checkpoints" / "tiny-sd2.safetensors", open_clip=True)
    save_config_folder(folder, tmp_path / "configs" / "sd2")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(tmp_path / "configs"))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(sd_root))
    settings.add_model_folder(str(tmp_path / "checkpoints"))
    window = make_window(settings)
    for panel in (window.text2image_panel, window.edit_panel):
        form, combo = panel.prompts.form, panel.prompts.prediction
        assert panel.select_model(str(checkpoint)) and form.isRowVisible(combo)
        combo.setCurrentIndex(combo.findData("v_prediction"))
        assert panel.prompts.values()["prediction_type"] == "v_prediction"
        assert panel.select_model(str(sd_root / "txt2img"))
        assert not form.isRowVisible(combo) and panel.prompts.values()["prediction_type"] == "auto"

    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.select_model(str(checkpoint))
    panel.prompts.prediction.setCurrentIndex(panel.prompts.prediction.findData("auto"))
    panel.prompts.prompt.setPlainText("a harbour")
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.steps.setValue(2)
    result = run(qtbot, window, panel)
    assert result.job.prediction_type == "auto" and result.note.startswith("SD 2.x checkpoint")
    qtbot.waitUntil(lambda: "SD 2.x checkpoint" in window.statusBar().currentMessage(), timeout=10000)


def test_adding_a_folder_counts_every_model_in_it(window, tmp_path, sd_root, tiny_ddpm_dir):
    """A folder of several kinds: the message counts them all and says which panels the others went to (it said
    "Added 1 model(s)" for a folder of 7)."""
    import shutil

    mixed = tmp_path / "mixed"
    shutil.copytree(sd_root, mixed)
    shutil.copytree(tiny_ddpm_dir, mixed / "tiny-ddpm")
    said = []
    window.generate_panel.status_message.connect(said.append)
    window.generate_panel.add_model_folder(str(mixed))
    assert said[-1] == (f"Added 4 models from {mixed}: 1 for this panel, 1 for the Edit (inpaint) panel, "
                        "1 for the Edit (instruct) panel, 1 for the Text to Image panel")
    only_sd = tmp_path / "only-sd"
    shutil.copytree(sd_root, only_sd)
    window.generate_panel.add_model_folder(str(only_sd))
    box = window.generate_panel.error_box
    assert box.text() == (f"{only_sd} holds 1 for the Edit (inpaint) panel, 1 for the Edit (instruct) panel, "
                          "1 for the Text to Image panel.")
    box.close()


def test_clip_skip_in_the_prompt_panels_and_not_in_upscale(window):
    for panel in (window.text2image_panel, window.edit_panel):
        form = panel.prompts.form
        assert form.isRowVisible(panel.prompts.clip_skip)
        panel.prompts.clip_skip.setValue(2)
        assert panel.prompts.values()["clip_skip"] == 2
    t2i = window.text2image_panel
    assert t2i.current_job().clip_skip == 2
    t2i.apply_job(t2i.current_job().replace(clip_skip=3))
    assert t2i.prompts.clip_skip.value() == 3
    upscale = window.upscale_panel.prompts
    assert not upscale.form.isRowVisible(upscale.clip_skip) and upscale.values()["clip_skip"] == 1
