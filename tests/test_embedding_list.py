"""The embedding list of Text to Image and Edit: the embedding folders' files listed with family and vectors, greyed
for another family, searchable; a click writes the name into the prompt or the negative prompt, and a run uses it —
real widgets, a tiny real model."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFileDialog

from ddpm_studio.ui.core.settings import Settings
from tests.tiny_addons import save_embedding
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import run_small_txt2img


def embedding_folder(folder):
    save_embedding(folder / "my-style.safetensors", (32,), vectors=2)  # the tiny SD's text encoder is 32 wide
    save_embedding(folder / "sd15-neg.safetensors", (768,), vectors=8)
    save_embedding(folder / "xl" / "xl-look.safetensors", (768, 1280), vectors=1)
    (folder / "broken.safetensors").write_bytes(b"not a safetensors file")
    return folder


def make(make_window, tmp_path):
    save_tiny_sd(tmp_path / "models" / "tiny-sd")
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(tmp_path / "models"))
    settings.add_own_folder("embeddings", str(embedding_folder(tmp_path / "embeddings")))
    return make_window(settings)


def items(embeddings):
    return {embeddings.list.item(i).data(Qt.ItemDataRole.UserRole): embeddings.list.item(i)
            for i in range(embeddings.list.count())}


def click(qtbot, embeddings, name: str):
    rect = embeddings.list.visualItemRect(items(embeddings)[name])
    qtbot.mouseClick(embeddings.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_list_names_each_embedding_with_its_family_and_greys_another_familys(make_window, tmp_path):
    window = make(make_window, tmp_path)
    window.tabs.setCurrentWidget(window.text2image_panel)
    embeddings = window.text2image_panel.addons.embeddings
    assert embeddings.toggle.text() == "3 embeddings" and not embeddings.list.isVisible()  # folded until asked
    assert "broken.safetensors" in embeddings.toggle.toolTip()  # the unreadable file is named
    embeddings.toggle.click()
    assert embeddings.list.isVisible() and embeddings.search.isVisible()
    listed = items(embeddings)
    assert [listed[n].text() for n in listed] == ["my-style   [2 vectors]", "sd15-neg   [SD 1.x · 8 vectors]",
                                                   "xl-look   [SDXL · 1 vector]", "broken   [unreadable]"]
    grey = embeddings.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert listed["my-style"].foreground().color() != grey
    assert listed["sd15-neg"].foreground().color() == grey and listed["xl-look"].foreground().color() == grey
    assert "another family" in listed["xl-look"].toolTip() and "another family" not in listed["my-style"].toolTip()
    embeddings.search.setText("XL")  # its name or its folder
    assert [n for n, item in items(embeddings).items() if not item.isHidden()] == ["xl-look"]
    embeddings.search.setText("1.x")  # or what its tag says
    assert [n for n, item in items(embeddings).items() if not item.isHidden()] == ["sd15-neg"]
    embeddings.search.setText("")
    assert len(items(window.edit_panel.addons.embeddings)) == 4


def test_a_click_writes_the_name_into_the_chosen_prompt_once_and_the_run_uses_it(make_window, tmp_path, qtbot):
    window = make(make_window, tmp_path)
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    embeddings = panel.addons.embeddings
    embeddings.toggle.click()
    panel.prompts.prompt.setPlainText("a lighthouse")
    click(qtbot, embeddings, "my-style")
    assert panel.prompts.prompt.toPlainText() == "a lighthouse, my-style"
    click(qtbot, embeddings, "my-style")  # already there: not twice
    assert panel.prompts.prompt.toPlainText() == "a lighthouse, my-style"
    panel.prompts.prompt.undo()
    assert panel.prompts.prompt.toPlainText() == "a lighthouse"
    embeddings.target.setCurrentText("Negative prompt")
    click(qtbot, embeddings, "my-style")
    assert panel.prompts.negative.toPlainText() == "my-style" and panel.prompts.prompt.toPlainText() == "a lighthouse"
    click(qtbot, embeddings, "sd15-neg")  # greyed: made for SD 1.x, the run would refuse it; not written
    assert panel.prompts.negative.toPlainText() == "my-style"
    panel.prompts.negative.setPlainText("")
    embeddings.list.setCurrentItem(items(embeddings)["my-style"])
    qtbot.keyClick(embeddings.list, Qt.Key.Key_Return)  # Enter on the chosen row, as a click
    assert panel.prompts.negative.toPlainText() == "my-style"

    panel.prompts.prompt.setPlainText("a lighthouse, my-style")
    panel.prompts.negative.setPlainText("")
    parameters = run_small_txt2img(window, qtbot)
    assert parameters.startswith("a lighthouse, my-style") and 'TI hashes: "my-style: ' in parameters


def test_add_folder_lists_its_embeddings_in_both_panels(make_window, tmp_path, monkeypatch):
    window = make(make_window, tmp_path)
    more = tmp_path / "more"
    save_embedding(more / "extra.safetensors", (32,))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(more))
    window.text2image_panel.addons.embeddings.choose_folder()
    assert "extra" in items(window.text2image_panel.addons.embeddings)
    assert "extra" in items(window.edit_panel.addons.embeddings)  # the window read the folders again


def test_the_settings_column_fits_with_both_lists_open(make_window, tmp_path):
    """Open lists make the column scroll; its content must still fit beside the scroll bar, not be cut on the right."""
    from diffusers import StableDiffusionPipeline
    from PySide6.QtWidgets import QApplication

    from ddpm_studio.ui.widgets.common import _ColumnScroll
    from tests.tiny_addons import save_lora

    window = make(make_window, tmp_path)
    pipe = StableDiffusionPipeline.from_pretrained(tmp_path / "models" / "tiny-sd", safety_checker=None)
    save_lora(tmp_path / "loras" / "a-lora.safetensors", pipe)
    window.settings.add_own_folder("loras", str(tmp_path / "loras"))
    window.addon_folders_changed()
    window.resize(1100, 720)
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.addons.loras.toggle.click()
    panel.addons.embeddings.toggle.click()
    for _ in range(3):
        QApplication.processEvents()
    column = next(s for s in panel.findChildren(_ColumnScroll) if s.isVisible())
    assert column.verticalScrollBar().isVisible()
    assert column.widget().minimumSizeHint().width() <= column.viewport().width()


def test_unreadable_embedding_files_are_listed_greyed_with_why(make_window, tmp_path, qtbot):
    """A cut-short file (an unfinished download) and one with no embedding in it are not passed over in silence:
    listed after the others, greyed, tagged, with the reason in the tooltip; a click says why and writes nothing."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path / "embeddings"
    whole = save_embedding(tmp_path / "whole.safetensors", (32,))
    folder.mkdir(parents=True)
    (folder / "half-done.safetensors").write_bytes(whole.read_bytes()[:-40])
    save_file({"weights": torch.zeros(2), "bias": torch.zeros(2)}, str(folder / "notes.safetensors"))
    save_embedding(folder / "my-style.safetensors", (32,))
    save_tiny_sd(tmp_path / "models" / "tiny-sd")
    settings = Settings(tmp_path / "settings.ini")
    settings.add_model_folder(str(tmp_path / "models"))
    settings.add_own_folder("embeddings", str(folder))
    window = make_window(settings)
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    embeddings = panel.addons.embeddings
    assert embeddings.toggle.text() == "1 embedding" and "2 file(s) skipped" in embeddings.toggle.toolTip()
    embeddings.toggle.click()
    listed = items(embeddings)
    rows = {item.text(): item for item in listed.values()}
    assert list(rows) == ["my-style   [2 vectors]", "half-done   [unreadable]", "notes   [unreadable]"]
    grey = embeddings.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    half, notes = rows["half-done   [unreadable]"], rows["notes   [unreadable]"]
    assert half.foreground().color() == grey and notes.foreground().color() == grey
    assert rows["my-style   [2 vectors]"].foreground().color() != grey
    assert "half-done.safetensors is cut short" in half.toolTip() and "plain words" in half.toolTip()
    assert "not a textual-inversion embedding" in notes.toolTip()
    embeddings.search.setText("unreadable")  # the tag is searched too
    assert sorted(n for n, item in items(embeddings).items() if not item.isHidden()) == sorted(
        [str(folder / "half-done.safetensors"), str(folder / "notes.safetensors")])
    embeddings.search.setText("")
    panel.prompts.prompt.setPlainText("a lighthouse")
    click(qtbot, embeddings, str(folder / "half-done.safetensors"))
    assert panel.prompts.prompt.toPlainText() == "a lighthouse"  # not written: a run would pass it over
