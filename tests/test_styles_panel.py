"""The Text to Image panel's Styles row (ui/prompts/styles_row.py) and a wildcard prompt run from the panel, under
pytest-qt offscreen: the applied text is what the PNG records; restoring gives the template back, styles unticked."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from ddpm_studio.engine.prompts.wildcards import Resolver
from ddpm_studio.ui.core.settings import Settings
from tests.tiny_sd import save_tiny_sd

STYLES_CSV = ('name,prompt,negative_prompt\n'
              'Cinematic,"cinematic still of {prompt}, film grain",cartoon\n'
              'Sharp,sharp focus,blurry\n')


@pytest.fixture(scope="module")
def sd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("styled")
    save_tiny_sd(root / "txt2img")
    return root


@pytest.fixture()
def window(make_window, tmp_path, sd_root):
    (tmp_path / "styles.csv").write_text(STYLES_CSV, encoding="utf-8")
    (tmp_path / "wild").mkdir()
    (tmp_path / "wild" / "animal.txt").write_text("cat\ndog\nfox\n", encoding="utf-8")
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(sd_root))
    settings.add_styles_file(str(tmp_path / "styles.csv"))
    settings.set_own_folders("wildcards", [str(tmp_path / "wild")])
    return make_window(settings)


def _run(qtbot, window, panel):
    with qtbot.waitSignal(window.sampler.job_finished, timeout=120000) as done:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    return done.args[1]


def _setup(panel, prompt: str, negative: str = "") -> None:
    panel.prompts.prompt.setPlainText(prompt)
    panel.prompts.negative.setPlainText(negative)
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.steps.setValue(2)
    panel.random_seed.setChecked(False)
    panel.seed.setText("3")


def test_the_styles_row_applies_ticked_styles_and_the_png_records_them(window, qtbot):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    row = panel.styles
    assert [row.list.item(i).text() for i in range(row.list.count())] == ["Cinematic", "Sharp"]
    _setup(panel, "a lighthouse", "fog")
    row.tick("Sharp", "Cinematic")  # the order ticked is the order applied
    job = panel.current_job()
    assert job.prompt == "cinematic still of a lighthouse, sharp focus, film grain"
    assert job.negative_prompt == "fog, blurry, cartoon"
    result = _run(qtbot, window, panel)
    assert result.job.prompt == job.prompt
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    path = panel.gallery.paths()[0]
    with Image.open(path) as image:
        assert image.text["parameters"].startswith(f"{job.prompt}\nNegative prompt: {job.negative_prompt}\n")
    assert window.restore_from_png(path)
    assert panel.prompts.prompt.toPlainText() == job.prompt and not row.order  # styled text back, styles unticked
    assert panel.current_job().prompt == job.prompt  # not styled twice


def test_apply_to_prompt_writes_the_styles_into_the_boxes(window):
    panel = window.text2image_panel
    _setup(panel, "a boat")
    panel.styles.tick("Cinematic")
    panel.styles.apply_to_prompt()
    assert panel.prompts.prompt.toPlainText() == "cinematic still of a boat, film grain"
    assert panel.prompts.negative.toPlainText() == "cartoon" and not panel.styles.order


def test_a_wildcard_prompt_from_the_panel_records_the_resolved_text(window, qtbot, tmp_path):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    _setup(panel, "a {red|blue} __animal__")
    result = _run(qtbot, window, panel)
    resolved = Resolver([str(tmp_path / "wild")]).resolve("a {red|blue} __animal__", 3)
    assert result.job.prompt == "a {red|blue} __animal__" and result.prompts == [(resolved, "")]
    qtbot.waitUntil(lambda: panel.gallery.count() == 1, timeout=10000)
    path = panel.gallery.paths()[0]
    with Image.open(path) as image:
        assert image.text["parameters"].startswith(f"{resolved}\nSteps: 2")
    panel.prompts.prompt.setPlainText("something else")
    assert window.restore_from_png(path)
    assert panel.prompts.prompt.toPlainText() == "a {red|blue} __animal__"  # the template back
