"""The Train panel end to end under pytest-qt: scan, train, live loss and samples, the model lands in Generate."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from ddpm_studio.training import loss_log
from ddpm_studio.ui.core.settings import Settings
from tests.folders import hostile_folder, shapes_folder, solid_folder


@pytest.fixture()
def window(make_window, tmp_path):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    return make_window(settings)


def configure(panel, data, out, steps=20):
    panel.folder.setText(str(data))
    panel.output.setText(str(out))
    panel.base_box.setCurrentIndex(panel.base_box.findData("scratch:tiny"))
    panel.resolution.setValue(16)
    panel.batch.setValue(4)
    panel.steps.setValue(steps)
    panel.lr.setValue(2e-3)
    panel.sample_every.setValue(10)
    panel.checkpoint_every.setValue(10)


def test_train_panel_trains_and_the_model_appears_in_generate(window, qtbot, tmp_path):
    panel = window.train_panel
    window.tabs.setCurrentWidget(panel)
    data, good, bad = hostile_folder(tmp_path / "pictures")
    configure(panel, data, tmp_path / "trained")
    panel.sample_scheduler.setCurrentIndex(panel.sample_scheduler.findData("unipc"))
    panel.sample_steps.setValue(6)

    panel.scan_folder(str(data))
    qtbot.waitUntil(lambda: panel.thumbnails.count() == len(good), timeout=30000)
    assert f"{len(good)} usable image(s)" in panel.scan_label.text()
    for name in bad:
        assert name in panel.bad_files.toPlainText()

    before = (window.generate_panel.scheduler_box.currentData(), window.generate_panel.steps.value())
    assert not panel.use_button.isVisible()
    window.resize(1100, 560)  # a short window: the settings column scrolls, the button at its foot is out of view
    with qtbot.waitSignal(panel.model_exported, timeout=120000) as exported:
        qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
        assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    # scrolled into view, whole
    qtbot.waitUntil(lambda: panel.use_button.visibleRegion().boundingRect() == panel.use_button.rect(), timeout=10000)

    assert len(panel.loss_plot.raw) >= 2
    assert panel.last_sample is not None and panel.last_sample.step == 20
    assert panel.sample_label.text() == "Samples at step 20 (EMA weights, autoguidance 2)"  # past the guide's step
    assert not panel.sample_view.image().isNull()
    assert panel.progress.value() == 20 and "Finished at step 20" in panel.progress_label.text()
    model_dir = exported.args[0]
    generate = window.generate_panel
    # listed in Generate under its run's name, with where it came from, but not chosen there unasked
    index = generate.model_box.findData(model_dir)
    assert index >= 0 and generate.model_box.itemText(index) == "trained"
    tooltip = generate.model_box.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert "trained from scratch (tiny UNet)" in tooltip and "step 20 of 20" in tooltip and model_dir in tooltip
    assert generate.model_box.currentData() == "bundled:emoji-32"
    assert (generate.scheduler_box.currentData(), generate.steps.value()) == before
    assert panel.use_button.isVisible()
    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)  # asked for: now it is chosen
    assert window.tabs.currentWidget() is generate and generate.model_box.currentData() == model_dir
    # with the sampler its grids were drawn with, which the trained model recommends
    assert (generate.scheduler_box.currentData(), generate.steps.value()) == ("unipc", 6)
    # and its autoguidance guide, the copy kept at 1/16 of the run (the panel keeps one unless told not to)
    assert panel.guide.isChecked() and panel.current_config().guide_step == 1
    assert generate.guide_box.currentText() == "Its own guide (recommended)" and generate.guidance.value() == 2.0
    # and it samples at once
    generate.steps.setValue(3)
    generate.batch.setValue(1)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as finished:
        generate.generate()
    assert finished.args[1].images.shape == (1, 16, 16, 3) and finished.args[1].job.guided


def said_with_state(panel) -> list:
    """Every progress message of the panel, with whether Start took a click when it was shown."""
    said = []
    show = panel.progress_label.setText
    panel.progress_label.setText = lambda text: (said.append((text, panel.start_button.isEnabled())), show(text))
    return said


def test_pause_resume_and_stop(window, qtbot, tmp_path):
    panel = window.train_panel
    said = said_with_state(panel)
    configure(panel, shapes_folder(tmp_path / "shapes"), tmp_path / "trained", steps=100000)
    panel.sample_every.setValue(100000)
    panel.checkpoint_every.setValue(100000)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.loss_plot.raw) >= 1, timeout=60000)
    assert panel.training_precision in ("fp32", "bf16")  # what auto chose, on the step line; the timings in its tip
    assert f"img/s · {panel.training_precision}" in panel.progress_label.text()
    assert panel.progress_label.toolTip().startswith("Mixed precision auto: ")
    panel.toggle_pause()
    assert panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: "Paused at step" in panel.progress_label.text(), timeout=60000)
    paused_at = panel.progress.value()
    with qtbot.waitSignal(panel.model_exported, timeout=60000):  # Export now works while paused
        panel.export_now()
    qtbot.wait(300)
    assert panel.progress.value() == paused_at and panel.trainer.control.paused
    panel.toggle_pause()
    with qtbot.waitSignal(panel.model_exported, timeout=60000):
        panel.stop()
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    assert "Stopped at step" in panel.progress_label.text()
    assert (tmp_path / "trained" / "model" / "model_index.json").is_file()
    # the end is said when Start works again, not while the training thread is still winding down
    assert [enabled for text, enabled in said if text.startswith("Stopped at step")] == [True]


def test_bad_settings_are_an_error_dialog(window, tmp_path):
    panel = window.train_panel
    panel.folder.setText("")
    panel.output.setText("")
    panel.start()
    assert panel.error_box is not None and "training folder" in panel.error_box.text()
    assert panel.trainer is None
    panel.error_box.close()


def test_folder_without_images_fails_cleanly(window, qtbot, tmp_path):
    panel = window.train_panel
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_text("not an image")
    configure(panel, empty, tmp_path / "trained")
    said = said_with_state(panel)
    panel.start()
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    assert "No usable image" in panel.error_box.text()
    assert said[-1] == ("Training stopped with an error", True)


def test_after_a_restart_the_restored_folder_is_scanned(make_window, qtbot, tmp_path):
    """The Train tab remembers its image folder, and shows its thumbnails and bad-file report as if just chosen."""
    data, good, bad = hostile_folder(tmp_path / "pictures")
    settings = Settings(tmp_path / "settings.ini")
    first = make_window(settings)
    configure(first.train_panel, data, tmp_path / "trained")
    first.train_panel.start()  # saves the settings it starts with; stopped at once
    first.train_panel.stop()
    qtbot.waitUntil(lambda: first.train_panel.trainer is None, timeout=60000)
    first.close()

    panel = make_window(Settings(tmp_path / "settings.ini")).train_panel
    assert panel.folder.text() == str(data)
    qtbot.waitUntil(lambda: panel.thumbnails.count() == len(good), timeout=30000)
    assert f"{len(good)} usable image(s)" in panel.scan_label.text()
    assert all(name in panel.bad_files.toPlainText() for name in bad)


def test_a_folder_typed_in_is_scanned_when_training_starts(window, qtbot, tmp_path):
    data, good, bad = hostile_folder(tmp_path / "pictures")
    panel = window.train_panel
    configure(panel, data, tmp_path / "trained")  # set as text: no editingFinished, no scan yet
    assert panel.thumbnails.count() == 0
    panel.start()
    panel.stop()
    qtbot.waitUntil(lambda: panel.trainer is None and panel.thumbnails.count() == len(good), timeout=60000)
    assert all(name in panel.bad_files.toPlainText() for name in bad)


def test_a_second_run_into_the_same_folder_asks_first(window, qtbot, tmp_path):
    """Start again on a folder that holds a run: resume it, or start a new one with the old files moved aside —
    never overwritten unasked."""
    panel = window.train_panel
    out = tmp_path / "trained"
    configure(panel, shapes_folder(tmp_path / "shapes"), out, steps=4)
    panel.checkpoint_every.setValue(2)
    assert panel.current_config().lr_warmup_steps == 0  # never longer than a tenth of the run
    panel.start()
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    first_model = (out / "model" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()

    panel.start()
    box = panel.error_box
    assert panel.trainer is None and "already holds checkpoints up to step 4 and an exported model" in box.text()
    next(b for b in box.buttons() if b.text() == "Start a new run").click()
    qtbot.waitUntil(lambda: panel.trainer is None and "Finished" in panel.progress_label.text(), timeout=60000)
    earlier = next(out.glob("earlier-run-*"))
    assert (earlier / "model" / "unet" / "diffusion_pytorch_model.safetensors").read_bytes() == first_model
    assert (earlier / "checkpoints").is_dir() and (out / "model" / "model_index.json").is_file()

    panel.steps.setValue(6)
    panel.start()
    next(b for b in panel.error_box.buttons() if b.text() == "Resume it").click()
    qtbot.waitUntil(lambda: panel.trainer is None and "Finished at step 6" in panel.progress_label.text(),
                    timeout=60000)
    assert [step for step in panel.loss_plot.steps if step > 4][0] == 5  # it went on from step 4
    assert panel.loss_plot.steps[0] <= 2 and panel.loss_plot.steps == sorted(panel.loss_plot.steps)  # the whole run
    assert [step for step, _ in loss_log.read(out)] == panel.loss_plot.steps  # as its run folder's log has it
    assert len(list(out.glob("earlier-run-*"))) == 1  # resuming moved nothing


def test_other_pictures_get_their_own_run_and_a_different_run_is_not_resumed_unasked(window, qtbot, tmp_path,
                                                                                      monkeypatch):
    """Choosing other pictures moves the output folder to trained/<their folder> (it stayed at the first folder's,
    and Start then offered to resume that run on the new pictures, Enter doing it); an output folder set by hand
    stays; resuming a run made from other pictures says so, with "Start a new run" as the default."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    trained = tmp_path / "home" / "ddpm-studio" / "trained"
    panel = window.train_panel
    first, second = shapes_folder(tmp_path / "cats"), solid_folder(tmp_path / "dogs", count=4)
    configure(panel, first, "", steps=2)
    panel.scan_folder(str(first))  # as when chosen in the folder dialog
    assert panel.output.text() == str(trained / "cats")
    panel.start()
    qtbot.waitUntil(lambda: panel.trainer is None and "Finished" in panel.progress_label.text(), timeout=60000)

    panel.folder.setText(str(second))
    panel.scan_folder(str(second))
    assert panel.output.text() == str(trained / "dogs")

    panel.output.setText(str(trained / "cats"))  # set by hand: it stays when the pictures change
    panel.folder.setText(str(tmp_path / "elsewhere"))
    panel.scan_folder(str(tmp_path / "elsewhere"))
    assert panel.output.text() == str(trained / "cats")

    panel.folder.setText(str(second))
    panel.resume_box.setChecked(True)  # even asked to resume, a run of other pictures is not resumed unasked
    panel.start()
    box = panel.error_box
    assert panel.trainer is None and box.windowTitle() == "This folder holds a different run"
    assert f"its pictures were {first}, these are {second}" in box.text()
    assert box.defaultButton().text() == "Start a new run"
    assert "Resume it anyway" in [b.text() for b in box.buttons()]
    qtbot.keyClick(box, Qt.Key.Key_Return)  # Enter: a new run; the earlier one set aside
    qtbot.waitUntil(lambda: panel.trainer is None and "Finished" in panel.progress_label.text(), timeout=60000)
    earlier = next((trained / "cats").glob("earlier-run-*"))
    assert json.loads((earlier / "train_config.json").read_text(encoding="utf-8"))["data_dir"] == str(first)
    assert json.loads((trained / "cats" / "train_config.json").read_text(encoding="utf-8"))["data_dir"] == str(second)
    assert [step for step, _ in loss_log.read(trained / "cats")][0] == 1  # its own loss history, from step 1


def test_a_run_the_trainer_refuses_is_said_in_the_panels_words(window, qtbot, tmp_path):
    """The trainer's typed refusals (a run of the other kind; a new run over an earlier one) reach the user in the
    panel's terms, never as a command-line flag."""
    panel = window.train_panel
    out = tmp_path / "lora-run"
    (out / "checkpoints" / "checkpoint-00000002").mkdir(parents=True)
    (out / "checkpoints" / "checkpoint-00000002" / "trainer_state.json").write_text('{"step": 2}', encoding="utf-8")
    (out / "train_config.json").write_text('{"trainer": "lora", "data_dir": "x", "resolution": 32}',
                                           encoding="utf-8")
    configure(panel, shapes_folder(tmp_path / "shapes"), out, steps=2)
    panel.launch(panel.current_config(), resume=True)  # what "Resume it" would do
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    message = panel.error_box.text()
    assert message == (f"{out} holds a Stable Diffusion LoRA run. To resume it, choose Stable Diffusion LoRA under "
                       "Train first; or choose another output folder.")
    panel.error_box.close()
    panel.launch(panel.current_config(), resume=False)
    qtbot.waitUntil(lambda: panel.trainer is None, timeout=60000)
    assert "already holds a training run (checkpoints up to step 2). Press Start training again" in \
        panel.error_box.text() and "--" not in panel.error_box.text()
