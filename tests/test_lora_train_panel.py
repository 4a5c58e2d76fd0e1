"""The Train panel's Stable Diffusion LoRA mode under pytest-qt: its rows, the folder's buckets and caption notes,
captions edited and saved as .txt, a run with validation pictures, and the LoRA in Text to Image's list at once."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.folders import captioned_folder, shapes_folder
from tests.tiny_sd import save_tiny_sd


@pytest.fixture()
def window(window_on, tmp_path):
    return window_on(save_tiny_sd(tmp_path / "models" / "tiny-sd").parent)


def test_a_lora_run_from_the_train_panel_lands_in_text_to_image(window, qtbot, tmp_path):
    panel = window.train_panel
    window.tabs.setCurrentWidget(panel)
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    form, fields = panel.form, panel.lora_fields
    assert form.isRowVisible(fields.base_box) and form.isRowVisible(fields.trigger)
    assert not form.isRowVisible(panel.base_box) and not form.isRowVisible(panel.guide)
    assert fields.base_box.findText("tiny-sd") >= 0 and panel.resolution.value() == 512 and panel.batch.value() == 1

    data = captioned_folder(tmp_path / "pictures")
    (data / "nothing.txt").write_text("an orphan", encoding="utf-8")
    fields.trigger.setText("zqx")
    panel.resolution.setValue(32)
    panel.folder.setText(str(data))
    panel.scan_folder(str(data))
    qtbot.waitUntil(lambda: panel.thumbnails.count() == 4, timeout=30000)
    assert "4 usable image(s)" in panel.scan_label.text() and "2 buckets" in panel.scan_label.text()
    assert "nothing.txt: a caption file without an image" in panel.bad_files.toPlainText()

    view = panel.data_view
    assert view.caption_row.isVisibleTo(panel)
    first = next(panel.thumbnails.item(i) for i in range(4) if panel.thumbnails.item(i).toolTip().endswith("-1.png"))
    view.show_caption(first)
    assert view.caption_edit.toPlainText() == "red stripes, shiny, flat"
    other = next(panel.thumbnails.item(i) for i in range(4) if panel.thumbnails.item(i).toolTip().endswith("-2.png"))
    view.show_caption(other)
    assert view.caption_edit.toPlainText() == "" and "a photo of zqx" in view.caption_edit.placeholderText()
    view.caption_edit.setPlainText("blue stripes")
    qtbot.mouseClick(view.save_caption_button, Qt.MouseButton.LeftButton)
    assert (data / "stripes-2.txt").read_text(encoding="utf-8") == "blue stripes\n"

    panel.output.setText(str(tmp_path / "runs" / "stripes"))
    panel.steps.setValue(3)
    panel.lr.setValue(5e-3)
    panel.sample_every.setValue(3)
    panel.checkpoint_every.setValue(3)
    with qtbot.waitSignal(panel.lora_exported, timeout=120000) as exported:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    path = exported.args[0]
    assert path == str(tmp_path / "runs" / "stripes" / "lora" / "stripes.safetensors")
    assert panel.sample_label.text().startswith("Validation at step 3: 'a photo of zqx', seed 0: without the LoRA")
    assert panel.last_sample.image.shape == (32, 72, 3) and not panel.sample_view.image().isNull()
    assert "Finished at step 3" in panel.progress_label.text()

    loras = window.text2image_panel.addons.loras
    assert path in loras.loras  # listed at once
    assert panel.use_button.isVisible() and panel.use_button.text() == "Use it in Text to Image"
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    text2image = window.text2image_panel
    assert window.tabs.currentWidget() is text2image and text2image.model_box.currentText() == "tiny-sd"
    assert loras.values() == ((path, 0.8),)

    panel.kind_box.setCurrentIndex(panel.kind_box.findData("ddpm"))  # nothing of the LoRA run stays
    assert panel.sample_view.image() is None and panel.last_sample is None and not panel.use_button.isVisibleTo(panel)
    assert panel.loss_plot.raw == [] and panel.progress_label.text() == ""
    assert panel.output.text() != str(tmp_path / "runs" / "stripes") and panel.form.isRowVisible(panel.guide)


def test_the_panel_remembers_each_trainers_settings(window, qtbot, tmp_path):
    panel = window.train_panel
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    panel.lora_fields.trigger.setText("zqx")
    panel.lora_fields.rank.setValue(16)
    options = panel.lora_fields.options
    assert not options.min_snr.isVisibleTo(panel)  # folded away until asked for
    options.dropout.setValue(0.1)
    options.shuffle.setChecked(True)
    options.keep.setValue(1)
    options.min_snr.setValue(5.0)
    panel.folder.setText(str(captioned_folder(tmp_path / "pictures")))
    panel.output.setText(str(tmp_path / "run"))
    config = panel.current_config()
    assert (config.trainer, config.rank, config.trigger, config.base_model.endswith("tiny-sd")) == ("lora", 16, "zqx",
                                                                                                  True)
    assert (config.caption_dropout, config.shuffle_tags, config.keep_tags, config.min_snr_gamma) == (0.1, True, 1, 5.0)
    panel.settings.set_json("train/last_lora_config", config.to_dict())
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("ddpm"))
    assert panel.current_config().__class__.__name__ == "TrainConfig" and panel.form.isRowVisible(panel.base_box)
    panel.lora_fields.rank.setValue(4)
    options.min_snr.setValue(0.0)
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    assert panel.lora_fields.rank.value() == 16 and panel.lora_fields.trigger.text() == "zqx"
    assert options.toggle.isChecked() and options.min_snr.isVisibleTo(panel) and options.min_snr.value() == 5.0
    panel.lora_fields.base_box.clear()
    with pytest.raises(ValueError, match="choose a Text to Image model"):
        panel.current_config()


def test_captions_are_checked_before_a_run_and_edits_are_not_lost(window, qtbot, tmp_path):
    panel = window.train_panel
    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    data = captioned_folder(tmp_path / "pictures")
    panel.resolution.setValue(32)
    panel.folder.setText(str(data))
    panel.output.setText(str(tmp_path / "run"))
    panel.scan_folder(str(data))
    qtbot.waitUntil(lambda: panel.thumbnails.count() == 4, timeout=30000)
    panel.start()  # three pictures have no caption file and there is no trigger word for their template
    assert panel.trainer is None and "3 picture(s) have no caption" in panel.error_box.text()
    assert "needs a trigger word" in panel.error_box.text()
    panel.error_box.close()

    view = panel.data_view
    items = {panel.thumbnails.item(i).toolTip().rsplit("-", 1)[-1]: panel.thumbnails.item(i) for i in range(4)}
    view.show_caption(items["0.png"])
    assert "set a trigger word" in view.caption_edit.placeholderText()
    view.caption_edit.setPlainText("a wide red picture")
    view.show_caption(items["3.png"])  # another picture: the edit is saved, not dropped
    assert (data / "stripes-0.txt").read_text(encoding="utf-8") == "a wide red picture\n"
    assert items["3.png"].isSelected() and not items["0.png"].isSelected()
    panel.lora_fields.trigger.setText("zqx")
    assert "'a photo of zqx'" in view.caption_edit.placeholderText()  # follows the trigger word


def test_a_lora_on_other_pictures_does_not_go_on_with_a_pixel_ddpm_run(window, qtbot, tmp_path, monkeypatch):
    """Pixel DDPM on one folder, then LoRA on another: the output folder follows the new pictures (it stayed at the
    first folder's, and Start offered to resume that run); a folder that holds the other kind's run is not offered
    for resuming at all, and "Start a new run" is the default."""
    from ddpm_studio.training.ddpm.config import TrainConfig

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    trained = tmp_path / "home" / "ddpm-studio" / "trained"
    panel = window.train_panel
    pixels = shapes_folder(tmp_path / "pixels")
    panel.folder.setText(str(pixels))
    panel.scan_folder(str(pixels))
    assert panel.output.text() == str(trained / "pixels")
    run = trained / "pixels"
    (run / "checkpoints" / "checkpoint-00000010").mkdir(parents=True)  # a pixel DDPM run there, at step 10
    (run / "checkpoints" / "checkpoint-00000010" / "trainer_state.json").write_text('{"step": 10}', encoding="utf-8")
    TrainConfig(data_dir=str(pixels), output_dir=str(run), preset="tiny").save(run / "train_config.json")

    panel.kind_box.setCurrentIndex(panel.kind_box.findData("lora"))
    panel.lora_fields.trigger.setText("zqx")
    stripes = captioned_folder(tmp_path / "stripes")
    panel.folder.setText(str(stripes))
    panel.scan_folder(str(stripes))
    assert panel.output.text() == str(trained / "stripes")

    panel.output.setText(str(run))  # into the DDPM run's folder, by hand
    panel.start()
    box = panel.error_box
    assert panel.trainer is None and box.windowTitle() == "This folder holds another kind of run"
    assert "it trained a pixel DDPM, this is a Stable Diffusion LoRA" in box.text()
    assert f"its pictures were {pixels}, these are {stripes}" in box.text()
    assert not [b.text() for b in box.buttons() if "Resume" in b.text()]
    assert box.defaultButton().text() == "Start a new run"
    box.reject()
    assert panel.trainer is None and not list(run.glob("earlier-run-*"))  # cancelled: nothing moved


def test_a_note_about_the_data_is_listed_with_the_files_and_said_once(window, qtbot):
    from ddpm_studio.training.events import TrainEvent

    panel = window.train_panel
    said = []
    panel.status_message.connect(said.append)
    note = "Captions are cut at the 77 tokens the text encoder reads: /pictures/cat.txt is longer."
    panel._on_event(TrainEvent("note", message=note))
    assert panel.bad_files.toPlainText().splitlines()[-1] == note and said == [note]
