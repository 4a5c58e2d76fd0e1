"""Preferences (device, precision, memory savers, pickle policy), single-file checkpoints in the GUI, and
out-of-memory handling — under pytest-qt on tiny Stable Diffusion models."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from ddpm_studio.ui.core.settings import Settings
from tests.ldm_checkpoint import save_config_folder, save_single_file
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def sd(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefs")
    folder = save_tiny_sd(root / "models" / "tiny-sd", "txt2img")
    save_config_folder(folder, root / "configs" / "sd1")
    (root / "files").mkdir()
    return dict(folder=folder, file=save_single_file(folder, root / "files" / "my-checkpoint.safetensors"),
                configs=root / "configs", models=root / "models")


@pytest.fixture()
def window(make_window, tmp_path, sd, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd["configs"]))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(sd["models"]))
    return make_window(settings)


def run(qtbot, window, panel):
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    return done.args[1]


def small_job(panel, prompt="a kite"):
    panel.prompts.prompt.setPlainText(prompt)
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.steps.setValue(2)


def test_single_file_checkpoint_added_and_used_from_the_gui(window, qtbot, sd):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.add_model_folder(str(sd["file"]))
    assert panel.model_box.currentText() == "my-checkpoint"
    small_job(panel)
    result = run(qtbot, window, panel)
    assert result.images.shape == (1, 32, 32, 3) and result.model_name == "my-checkpoint"
    # and it is remembered, and offered to the Edit panel (img2img) too
    assert str(sd["file"]) in window.settings.model_folders
    window.refresh_all_models()
    edit = window.edit_panel
    assert "my-checkpoint" in [edit.model_box.itemText(i) for i in range(edit.model_box.count())]


def test_preferences_show_the_added_model_folders_and_remove_one(window, qtbot, sd):
    panel = window.text2image_panel
    panel.add_model_folder(str(sd["file"]))
    names = lambda: [panel.model_box.itemText(i) for i in range(panel.model_box.count())]  # noqa: E731
    assert {"tiny-sd", "my-checkpoint"} <= set(names())
    dialog = window.open_preferences()
    listed = dialog.files_page.model_folders
    assert listed.folders() == [str(sd["models"]), str(sd["file"])]
    listed.list.item(0).setSelected(True)
    remove = next(b for b in listed.findChildren(QToolButton) if b.text() == "Remove")
    qtbot.mouseClick(remove, Qt.MouseButton.LeftButton)
    dialog.accept()
    assert window.settings.user_model_folders == [str(sd["file"])]
    assert names() == ["my-checkpoint"]  # the removed folder's model is no longer listed; nothing was deleted
    assert sd["folder"].is_dir()


def test_preferences_rebuild_the_engine_with_memory_savers(window, qtbot):
    dialog = window.open_preferences()
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cpu"))
    dialog.precision_box.setCurrentIndex(dialog.precision_box.findData("fp32"))
    dialog.attention_slicing.setChecked(True)
    dialog.vae_tiling.setChecked(True)
    dialog.preview_box.setCurrentIndex(dialog.preview_box.findData("auto"))
    with qtbot.waitSignal(window.sampler.backend_ready, timeout=30000):
        dialog.accept()
    saved = Settings(window.settings.path).engine_options  # on disk, for the next launch
    assert saved["device"] == "cpu" and saved["memory"].attention_slicing and saved["memory"].vae_tiling
    assert saved["taesd"] == "auto" and window.sampler.engine.taesd == "auto"
    assert window.sampler.engine.memory.attention_slicing

    panel = window.text2image_panel
    small_job(panel)
    run(qtbot, window, panel)
    pipe = window.sampler.engine._model.pipe
    assert pipe.vae.use_tiling
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"SlicedAttnProcessor"}


def test_out_of_memory_gives_advice_frees_the_model_and_the_next_run_works(window, qtbot, monkeypatch):
    import torch

    import ddpm_studio.engine.sampling.stages as stages

    real = stages.run_prompt_job
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(*args, **kwargs)

    monkeypatch.setattr(stages, "run_prompt_job", fails_once)
    panel = window.text2image_panel
    small_job(panel)
    with qtbot.waitSignal(window.sampler.job_failed, timeout=120000) as failed:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    failure = failed.args[1]  # what failed travels as data: its kind, the message, a remedy
    assert failure.kind == "out-of-memory" and failure.remedy == ""
    message = failure.message
    assert "ran out of memory" in message and "attention slicing" in message and "smaller batch" in message
    qtbot.waitUntil(lambda: panel.error_box is not None and "out of memory" in panel.error_box.text())
    assert window.sampler.engine._model is None  # freed
    result = run(qtbot, window, panel)
    assert result.images.shape == (1, 32, 32, 3)


def _nan_output(_module, _inputs, output):  # what an overflowing layer gives
    return output.new_full(output.shape, float("nan"))


@pytest.fixture()
def bf16_window(make_window, tmp_path, sd, monkeypatch):
    """The window with the sampler in bfloat16 (a half precision this CPU runs)."""
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(sd["configs"]))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(sd["models"]))
    options = settings.engine_options
    settings.set_engine_options(**{**options, "precision": "bf16"})
    return make_window(settings)


def test_black_image_from_a_half_precision_vae_offers_the_vae_fp32_fix_and_runs_again(bf16_window, qtbot):
    window = bf16_window
    panel = window.text2image_panel
    small_job(panel)
    run(qtbot, window, panel)  # loads the model
    pipe = window.sampler.engine._model.pipe
    pipe.vae.decoder.conv_out.register_forward_hook(_nan_output)  # the fp16 VAE overflow, in bf16 here
    with qtbot.waitSignal(window.sampler.job_failed, timeout=120000) as failed:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert failed.args[1].remedy == "vae-fp32" and failed.args[1].kind == "non-finite"  # data, beside the message
    qtbot.waitUntil(lambda: getattr(panel, "fix_button", None) is not None and panel.error_box.isVisible())
    assert "NaN" in panel.error_box.text() and "bfloat16" in panel.error_box.text()
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        panel.fix_button.click()
    assert done.args[1].images.shape == (1, 32, 32, 3)  # the engine was rebuilt: a fresh VAE, in fp32
    assert Settings(window.settings.path).engine_options["memory"].vae_fp32
    assert window.sampler.engine.memory.vae_fp32


def test_black_image_from_another_cause_does_not_offer_the_vae_fix(window, qtbot):
    """In fp32 the VAE in fp32 cannot help: the error says where the NaN values came from, with no fix button,
    whatever its wording."""
    panel = window.text2image_panel
    small_job(panel)
    run(qtbot, window, panel)
    window.sampler.engine._model.pipe.unet.conv_out.register_forward_hook(_nan_output)
    with qtbot.waitSignal(window.sampler.job_failed, timeout=120000) as failed:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert failed.args[1].remedy == "" and failed.args[1].kind == "non-finite"
    qtbot.waitUntil(lambda: panel.error_box is not None and panel.error_box.isVisible())
    assert "at step 1 in float32" in panel.error_box.text()
    assert getattr(panel, "fix_button", None) is None and "VAE" not in panel.error_box.text()


def test_a_saved_device_this_machine_lacks_falls_back_and_says_so(qtbot, qloop, tmp_path):
    import torch

    from ddpm_studio.engine.runtime.options import MemoryOptions
    from ddpm_studio.ui.app.main_window import MainWindow

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    settings = Settings(tmp_path / "settings.ini")
    settings.set_engine_options(device="cuda", precision="auto", allow_pickle=False, memory=MemoryOptions())
    window = MainWindow(settings=settings)  # no device on the command line: the saved one is asked for
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.sampler.backend_ready, timeout=60000):
        window.start_backend()
    try:
        assert window.sampler.engine.device.device.type != "cuda"
        assert "saved device is not available" in window.backend_label.text()
    finally:
        window.close()
        assert window.sampler.wait(30000)


def test_preferences_offer_one_offload_at_a_time_and_vae_slicing_and_the_cpu_run_says_the_offload_was_not_used(
        window, qtbot):
    dialog = window.open_preferences()
    assert "One offload at a time" in dialog.offload_note.text() and "CUDA" in dialog.group_offload.toolTip()
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cpu"))
    dialog.group_offload.setChecked(True)
    dialog.sequential_offload.setChecked(True)  # replaces group offload: diffusers takes one at a time
    assert not dialog.group_offload.isChecked() and not dialog.cpu_offload.isChecked()
    dialog.vae_slicing.setChecked(True)
    with qtbot.waitSignal(window.sampler.backend_ready, timeout=30000):
        dialog.accept()
    saved = Settings(window.settings.path).engine_options["memory"]  # on disk, for the next launch
    assert saved.sequential_offload and saved.vae_slicing and not saved.group_offload and not saved.cpu_offload
    assert window.sampler.engine.memory == saved
    again = window.open_preferences()  # the dialog shows what was saved
    assert again.sequential_offload.isChecked() and again.vae_slicing.isChecked() and not again.group_offload.isChecked()
    again.reject()

    panel = window.text2image_panel
    small_job(panel)
    with qtbot.waitSignal(panel.status_message,
                          timeout=120000, check_params_cb=lambda text: text.startswith("Saved")) as shown:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    assert "sequential CPU offload was not used" in shown.args[0]
    assert window.sampler.engine._model.pipe.vae.use_slicing
