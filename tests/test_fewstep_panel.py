"""Few-step models and the Schedule type row in the Text to Image panel: a Turbo model and a Lightning LoRA set their
steps, guidance and scheduler when chosen; the row lists what the scheduler takes and goes into the job; an old
job's combined name is restored as its scheduler and schedule type; a flow model lists the flow LCM."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import Qt
from safetensors.torch import save_file

from ddpm_studio.engine.jobs.types import Text2ImageJob
from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import choose, run_small_txt2img


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fewstep-panel")
    save_tiny_sd(root / "tiny-sd")
    save_tiny_sd(root / "tiny-sdxl-turbo")
    save_tiny_chroma(root / "tiny-chroma")
    return root


@pytest.fixture()
def window(make_window, models, tmp_path):
    from ddpm_studio.ui.core.settings import Settings

    loras = tmp_path / "loras"
    loras.mkdir()
    for name in ("sdxl_lightning_8step_lora", "watercolour"):
        save_file({"lora_unet_x.lora_down.weight": torch.zeros(4, 32)}, str(loras / f"{name}.safetensors"))
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(models))
    settings.add_own_folder("loras", str(loras))
    window = make_window(settings)
    window.tabs.setCurrentWidget(window.text2image_panel)
    return window


def _state(panel):
    return (panel.scheduler_box.currentData(), panel.schedule.value(), panel.steps.value(),
            panel.prompts.guidance.value())


def _tick(panel, stem: str) -> None:
    loras = panel.addons.loras
    item = next(loras.list.item(i) for i in range(loras.list.count())
                if loras.list.item(i).data(Qt.ItemDataRole.UserRole).endswith(f"{stem}.safetensors"))
    item.setCheckState(Qt.CheckState.Checked)


def test_a_turbo_model_sets_its_steps_guidance_and_scheduler_when_chosen(window):
    panel = window.text2image_panel
    choose(panel, "tiny-sd")
    choose(panel, "tiny-sdxl-turbo")
    assert _state(panel) == ("euler-a", "sgm_uniform", 1, 0.0)
    assert panel.form.isRowVisible(panel.schedule.box) and panel.schedule.box.currentText() == "SGM Uniform"
    choose(panel, "tiny-sd")
    assert _state(panel)[2:] == (1, 7.5)  # an SD model brings no steps (the last stay), and SD's guidance again


def test_a_lightning_lora_sets_its_settings_and_another_lora_none(window):
    panel = window.text2image_panel
    choose(panel, "tiny-sd")
    panel.steps.setValue(30)
    _tick(panel, "watercolour")
    assert panel.steps.value() == 30
    _tick(panel, "sdxl_lightning_8step_lora")
    assert _state(panel) == ("euler", "sgm_uniform", 8, 0.0)
    job = panel.current_job()
    assert (job.scheduler, job.schedule, job.steps, job.guidance_scale) == ("euler", "sgm_uniform", 8, 0.0)


def test_the_row_lists_what_the_scheduler_takes_and_the_job_gets_it(window):
    panel = window.text2image_panel
    choose(panel, "tiny-sd")
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("dpm++2m"))
    listed = [panel.schedule.box.itemText(i) for i in range(panel.schedule.box.count())]
    assert listed == ["Automatic", "Uniform", "Karras", "Exponential", "SGM Uniform", "Simple", "Beta"]
    panel.schedule.box.setCurrentIndex(panel.schedule.box.findData("karras"))
    panel.schedule.box.activated.emit(panel.schedule.box.currentIndex())
    assert panel.current_job().schedule == "karras"
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("lcm"))  # takes none: the row hides
    assert not panel.form.isRowVisible(panel.schedule.box) and panel.current_job().schedule == ""
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("euler"))  # Karras again, as chosen
    assert panel.current_job().schedule == "karras"
    names = [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())]
    assert "dpm++2m-karras" not in names and "tcd" in names and "lcm" in names


def test_an_old_jobs_combined_name_is_restored_as_scheduler_and_schedule_type(window):
    panel = window.text2image_panel
    choose(panel, "tiny-sd")
    old = Text2ImageJob.from_dict({"kind": "txt2img", "model": panel.model_box.currentData(), "prompt": "x",
                                   "scheduler": "dpm++2m-karras", "steps": 12})
    panel.apply_job(old)
    assert _state(panel)[:3] == ("dpm++2m", "karras", 12)


def test_a_flow_model_lists_the_flow_lcm_and_its_schedule_types(window):
    panel = window.text2image_panel
    choose(panel, "tiny-chroma")
    assert [panel.scheduler_box.itemData(i) for i in range(panel.scheduler_box.count())] == ["euler", "lcm"]
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("lcm"))
    assert [panel.schedule.box.itemData(i) for i in range(panel.schedule.box.count())] == [
        "", "karras", "exponential", "beta"]


def test_a_run_with_a_schedule_type_writes_a1111s_two_fields(window, qtbot):
    panel = window.text2image_panel
    choose(panel, "tiny-sd")
    panel.prompts.prompt.setPlainText("a fox")
    panel.scheduler_box.setCurrentIndex(panel.scheduler_box.findData("euler"))
    panel.schedule.set("karras")
    assert "Sampler: Euler, Schedule type: Karras" in run_small_txt2img(window, qtbot)
