"""The user's own files in the prompt panels: the LoRA list (search, weights, trigger words, restore), the VAE override
kept per model, and an A1111 / ComfyUI folder used in place — real widgets, tiny real models."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFileDialog, QToolButton
from safetensors.torch import save_file

from ddpm_studio.engine.output.metadata import png_info
from ddpm_studio.ui.core.settings import Settings
from tests.tiny_sd import save_tiny_sd
from tests.ui_runs import run_small_txt2img

KEY = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"  # the tiny UNet's cross-attention


def save_lora(path, context: int = 32, tags: dict | None = None):
    """A kohya-style LoRA on one cross-attention layer; ``context``: the text width it is made for (32: tiny SD)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(len(path.name))
    tensors = {f"{KEY}.lora_down.weight": torch.randn(4, context) * 0.1, f"{KEY}.lora_up.weight": torch.randn(32, 4),
               f"{KEY}.alpha": torch.tensor(4.0)}
    metadata = {"ss_tag_frequency": json.dumps({"5_x": tags})} if tags else None
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.fixture(scope="module")
def sd_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd")
    save_tiny_sd(root / "tiny-a")
    shutil.copytree(root / "tiny-a", root / "tiny-b")
    return root


@pytest.fixture()
def lora_dir(tmp_path):
    folder = tmp_path / "loras"
    save_lora(folder / "style.safetensors", tags={"sks": 5, "cat": 2})
    save_lora(folder / "detail-tweaker.safetensors")
    save_lora(folder / "sub" / "big-xl.safetensors", context=2048)
    return folder


@pytest.fixture()
def window(make_window, tmp_path, sd_models, lora_dir):
    settings = Settings(tmp_path / "settings.ini")
    settings.output_dir = str(tmp_path / "out")
    settings.add_model_folder(str(sd_models))
    settings.add_own_folder("loras", str(lora_dir))
    return make_window(settings)


def visible_names(loras) -> list[str]:
    items = [loras.list.item(i) for i in range(loras.list.count())]
    return [loras.loras[i.data(Qt.ItemDataRole.UserRole)].name for i in items if not i.isHidden()]


def item_of(loras, name: str):
    items = [loras.list.item(i) for i in range(loras.list.count())]
    return next(i for i in items if loras.loras[i.data(Qt.ItemDataRole.UserRole)].name == name)


def tick(loras, name: str, weight: float | None = None):
    item_of(loras, name).setCheckState(Qt.CheckState.Checked)
    path = item_of(loras, name).data(Qt.ItemDataRole.UserRole)
    if weight is not None:
        loras.rows[path].slider.setValue(round(weight * 20))
    return path


def test_the_list_shows_a_folders_loras_and_the_search_filters_them(window):
    window.tabs.setCurrentWidget(window.text2image_panel)
    loras = window.text2image_panel.addons.loras
    assert loras.toggle.text() == "3 LoRAs" and not loras.list.isVisible()  # folded until asked for
    loras.toggle.click()
    assert loras.list.isVisible() and loras.search.isVisible()
    assert visible_names(loras) == ["big-xl", "detail-tweaker", "style"]  # subfolders too, by name
    assert item_of(loras, "big-xl").text() == "big-xl   [SDXL]"
    grey = loras.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
    assert item_of(loras, "big-xl").foreground().color() == grey  # the tiny model is not SDXL: greyed, still listed
    assert item_of(loras, "style").foreground().color() != grey
    assert "another family" in item_of(loras, "big-xl").toolTip()
    loras.search.setText("STY")
    assert visible_names(loras) == ["style"]
    loras.search.setText("")
    assert len(visible_names(loras)) == 3
    assert visible_names(window.edit_panel.addons.loras) == ["big-xl", "detail-tweaker", "style"]


def test_chosen_loras_and_weights_go_into_the_job_and_trigger_words_into_the_prompt(window):
    panel = window.text2image_panel
    loras = panel.addons.loras
    panel.prompts.prompt.setPlainText("a lighthouse")
    style = tick(loras, "style", 0.8)
    detail = tick(loras, "detail-tweaker")
    loras.rows[detail].spin.setValue(-1.5)  # the spin box sets the slider and takes negative weights
    assert loras.rows[detail].slider.value() == -30
    assert panel.current_job().loras == ((style, 0.8), (detail, -1.5))
    row = loras.rows[style]
    assert "Trigger words:" in row.triggers.text() and ">sks<" in row.triggers.text() and ">cat<" in row.triggers.text()
    assert detail not in [p for p, r in loras.rows.items() if r.lora.triggers]  # no tags, no trigger line
    row.triggers.linkActivated.emit("all")
    assert panel.prompts.prompt.toPlainText() == "a lighthouse, sks, cat"
    row.triggers.linkActivated.emit("1")  # already there: not added twice
    assert panel.prompts.prompt.toPlainText() == "a lighthouse, sks, cat"
    panel.prompts.prompt.undo()  # an edit of the prompt: undone as one
    assert panel.prompts.prompt.toPlainText() == "a lighthouse"
    item_of(loras, "detail-tweaker").setCheckState(Qt.CheckState.Unchecked)
    assert panel.current_job().loras == ((style, 0.8),)
    loras.rows[style].removed.emit()  # the ✕ on the row
    assert panel.current_job().loras == () and item_of(loras, "style").checkState() == Qt.CheckState.Unchecked


def test_a_ticked_lora_and_its_tag_in_the_prompt_are_one_state_and_the_run_uses_it_once(window, qtbot):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    loras, prompt = panel.addons.loras, panel.prompts.prompt
    prompt.setPlainText("a lighthouse")
    style = tick(loras, "style", 0.8)
    prompt.setPlainText("a lighthouse, <lora:style:0.6>")  # ticked, then also written: the tag's weight wins
    assert item_of(loras, "style").checkState() == Qt.CheckState.Checked and loras.rows[style].weight() == 0.6
    assert not loras.rows[style].in_prompt.isHidden()
    assert panel.current_job().loras == ()  # the prompt carries it to the run, the list does not name it again
    loras.rows[style].spin.setValue(0.9)  # the row's weight rewrites the tag
    assert prompt.toPlainText() == "a lighthouse, <lora:style:0.9>"

    parameters = run_small_txt2img(window, qtbot)  # runs: no "chosen twice" refusal
    assert "Lora hashes: \"style: " in parameters and "<lora:style:0.9>" in parameters

    item_of(loras, "style").setCheckState(Qt.CheckState.Unchecked)  # unticked: its tag leaves the prompt
    assert prompt.toPlainText() == "a lighthouse"
    prompt.setPlainText("<lora:detail-tweaker>, a lighthouse")  # written first: ticked with weight 1
    detail = item_of(loras, "detail-tweaker").data(Qt.ItemDataRole.UserRole)
    assert detail in loras.rows and loras.rows[detail].weight() == 1.0
    loras.rows[detail].removed.emit()  # the row's ✕
    assert prompt.toPlainText() == "a lighthouse" and detail not in loras.rows
    prompt.setPlainText("a lighthouse <lora:style:0.5>")
    prompt.setPlainText("a lighthouse")  # the tag deleted by hand: the LoRA is no longer used
    assert style not in loras.rows and panel.current_job().loras == ()


def test_a_click_on_a_loras_name_ticks_it_as_a_click_on_its_box_does(window, qtbot):
    window.tabs.setCurrentWidget(window.text2image_panel)
    loras = window.text2image_panel.addons.loras
    loras.toggle.click()
    item = item_of(loras, "style")
    path = item.data(Qt.ItemDataRole.UserRole)
    rect = loras.list.visualItemRect(item)
    on_name = QPoint(rect.left() + rect.width() // 2, rect.center().y())
    on_box = QPoint(rect.left() + 10, rect.center().y())
    qtbot.mouseClick(loras.list.viewport(), Qt.MouseButton.LeftButton, pos=on_name)
    assert item.checkState() == Qt.CheckState.Checked and path in loras.rows
    qtbot.mouseClick(loras.list.viewport(), Qt.MouseButton.LeftButton, pos=on_name)
    assert item.checkState() == Qt.CheckState.Unchecked and path not in loras.rows
    qtbot.mouseClick(loras.list.viewport(), Qt.MouseButton.LeftButton, pos=on_box)  # Qt ticks it: not untick again
    assert item.checkState() == Qt.CheckState.Checked and path in loras.rows
    loras.set_chosen(path, False)  # ticked by the program, not by a click: the next click on the name still counts
    qtbot.mouseClick(loras.list.viewport(), Qt.MouseButton.LeftButton, pos=on_name)
    assert item.checkState() == Qt.CheckState.Checked


def test_a_typed_weight_is_kept_as_typed_and_a_wrong_family_says_so_on_its_row(window, qtbot):
    window.tabs.setCurrentWidget(window.text2image_panel)
    loras = window.text2image_panel.addons.loras
    style = tick(loras, "style")
    spin = loras.rows[style].spin
    for typed, expected in (("0.73", 0.73), ("-0.3", -0.3), ("1.5", 1.5)):
        spin.selectAll()
        qtbot.keyClicks(spin, typed)  # key by key: the slider follows without writing its 0.05 steps back
        assert spin.value() == pytest.approx(expected)
    assert window.text2image_panel.current_job().loras == ((style, 1.5),)
    assert loras.rows[style].slider.value() == 30
    big = tick(loras, "big-xl")
    assert not loras.rows[big].family_note.isHidden() and "SDXL" in loras.rows[big].family_note.text()
    assert loras.rows[style].family_note.isHidden()


def test_the_search_also_finds_trigger_words_and_folders(window):
    loras = window.text2image_panel.addons.loras
    loras.toggle.click()
    loras.search.setText("sks")
    assert visible_names(loras) == ["style"]
    loras.search.setText("sub")
    assert visible_names(loras) == ["big-xl"]


def test_a_restored_job_chooses_its_loras_by_path_then_by_name_and_says_which_are_missing(window, tmp_path, lora_dir):
    panel = window.text2image_panel
    elsewhere = str(tmp_path / "another-machine" / "Lora" / "style.safetensors")  # the maker's path: not here
    job = panel.current_job().replace(loras=((elsewhere, 0.5), (str(lora_dir / "detail-tweaker.safetensors"), 1.25),
                                             ("gone-lora", 1.0)), prompt="a cat")
    png = tmp_path / "made-elsewhere.png"
    Image.new("RGB", (16, 16)).save(png, pnginfo=png_info(job, index=0, width=16, height=16, model_name="x",
                                                          device="cpu"))
    assert window.restore_from_png(str(png))
    loras = panel.addons.loras
    assert panel.current_job().loras == ((str(lora_dir / "style.safetensors"), 0.5),
                                         (str(lora_dir / "detail-tweaker.safetensors"), 1.25))
    text = panel.error_box.text()
    assert "the LoRA 'gone-lora' is not in the LoRA folders" in text and "style" not in text.split("except:")[1]
    panel.error_box.close()
    assert panel.apply_fields(job.replace(loras=())) == [] and loras.values() == ()


def test_restoring_names_the_prompts_loras_and_the_embeddings_that_are_not_here(window, tmp_path):
    panel = window.text2image_panel
    job = panel.current_job().replace(prompt="a cat, shinystyle <lora:far-away:0.5> <lora:style:1>",
                                      loras=(("listed-gone", 1.0),))
    files = {"loras": ["listed-gone", "far-away", "style"], "embeddings": ["shinystyle"]}  # as the engine records
    png = tmp_path / "with-addons.png"
    Image.new("RGB", (16, 16)).save(png, pnginfo=png_info(job, index=0, width=16, height=16, model_name="x",
                                                          device="cpu", extra={"files": files}))
    assert window.restore_from_png(str(png))
    missing = panel.error_box.text().split("except:")[1]
    assert "the LoRA 'far-away' of the prompt is not in the LoRA folders" in missing
    assert "the embedding 'shinystyle' is not in the embedding folders" in missing
    assert missing.count("listed-gone") == 1 and "'style'" not in missing  # listed once; one that is here: not at all
    panel.error_box.close()


def test_the_vae_choice_is_kept_per_model_and_goes_into_the_job(window, tmp_path, sd_models, monkeypatch):
    vaes = tmp_path / "vaes"
    vaes.mkdir()
    save_file({"decoder.conv_in.weight": torch.zeros(1)}, str(vaes / "nice-vae.safetensors"))
    window.settings.add_own_folder("vaes", str(vaes))
    window.addon_folders_changed()
    panel = window.text2image_panel
    box = panel.addons.vae
    assert [box.itemText(i) for i in range(box.count())] == ["Model's own", "nice-vae", "Choose file…"]
    a, b = str((sd_models / "tiny-a").resolve()), str((sd_models / "tiny-b").resolve())
    assert panel.select_model(a) and panel.current_job().vae == ""
    box.setCurrentIndex(box.findText("nice-vae"))
    assert panel.current_job().vae == str(vaes / "nice-vae.safetensors")
    assert panel.select_model(b) and panel.current_job().vae == "" and box.currentText() == "Model's own"
    assert panel.select_model(a) and panel.current_job().vae == str(vaes / "nice-vae.safetensors")
    assert Settings(window.settings.path).model_vae(a) == str(vaes / "nice-vae.safetensors")  # kept on disk

    picked = tmp_path / "downloads" / "other-vae.safetensors"
    picked.parent.mkdir()
    shutil.copy(vaes / "nice-vae.safetensors", picked)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(picked), ""))
    box.setCurrentIndex(box.findData("\0choose"))
    assert panel.current_job().vae == str(picked) and box.currentText() == "other-vae"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: ("", ""))
    box.setCurrentIndex(box.findData("\0choose"))  # cancelled: the choice before stays
    assert panel.current_job().vae == str(picked)

    job = panel.current_job()
    assert panel.apply_fields(job.replace(vae=str(tmp_path / "elsewhere" / "nice-vae.safetensors"))) == []
    assert panel.current_job().vae == str(vaes / "nice-vae.safetensors")  # found by name in the VAE folders
    missing = panel.apply_fields(job.replace(vae="/nowhere/lost-vae.safetensors"))
    assert len(missing) == 1 and "lost-vae" in missing[0] and panel.current_job().vae == ""


def fake_a1111(home):
    """An A1111 install's folders, with one LoRA and one VAE file."""
    for sub in ("models/Stable-diffusion", "embeddings", "models/VAE"):
        (home / sub).mkdir(parents=True)
    save_lora(home / "models" / "Lora" / "home-lora.safetensors")
    save_file({"decoder.conv_in.weight": torch.zeros(1)}, str(home / "models" / "VAE" / "home-vae.safetensors"))
    return home


def test_an_a1111_folder_from_the_file_menu_lists_its_files_in_place(window, tmp_path, monkeypatch):
    home = fake_a1111(tmp_path / "stable-diffusion-webui")
    action = next(a for a in window.menuBar().actions()[0].menu().actions()
                  if a.text() == "Use an existing A1111 / ComfyUI folder…")

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "loras"))
    action.trigger()  # not an install: said, nothing remembered
    panel = window.current_sampling_panel()
    assert "does not look like an A1111 or ComfyUI folder" in panel.error_box.text()
    panel.error_box.close()
    assert window.settings.models_home == ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(home))
    action.trigger()
    assert window.statusBar().currentMessage() == f"Using {home}: checkpoints, LoRAs, embeddings, VAEs"
    for panel in window.addon_panels:
        assert "home-lora" in visible_names(panel.addons.loras)
        assert panel.addons.vae.findText("home-vae") > 0
    assert str(home / "models" / "Stable-diffusion") in window.settings.model_folders
    assert not (home / "models" / "Lora" / "home-lora.safetensors").is_symlink()  # listed where it is, not copied
    folders = window.settings.addon_folders
    assert folders.loras[0] == str(home / "models" / "Lora") and folders.embeddings == [str(home / "embeddings")]
    assert Settings(window.settings.path).models_home == str(home)


def test_a_run_with_a_chosen_lora_names_it_in_the_png_and_a_wrong_family_is_a_plain_error(window, qtbot, capfd):
    panel = window.text2image_panel
    window.tabs.setCurrentWidget(panel)
    panel.prompts.prompt.setPlainText("a lighthouse")
    tick(panel.addons.loras, "style", 0.8)
    parameters = run_small_txt2img(window, qtbot)
    assert parameters.startswith("a lighthouse <lora:style:0.8>") and "Lora hashes: \"style: " in parameters
    engine, model = window.sampler.engine, window.sampler.engine._model
    window.settings.add_own_folder("loras", str(window.settings.path.parent / "new-loras"))
    window.addon_folders_changed()  # new folders reach the engine; its loaded model stays
    qtbot.waitUntil(lambda: len(window.sampler.engine.folders.loras) == 2, timeout=10000)
    assert window.sampler.engine is engine and engine._model is model

    item_of(panel.addons.loras, "style").setCheckState(Qt.CheckState.Unchecked)
    tick(panel.addons.loras, "big-xl")
    capfd.readouterr()
    with qtbot.waitSignal(window.sampler.job_failed, timeout=120000):
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.error_box is not None and panel.error_box.isVisible(), timeout=10000)
    assert "The LoRA big-xl is made for SDXL" in panel.error_box.text()
    assert "Traceback" not in capfd.readouterr().err  # a user's mistake, not a crash
    panel.error_box.close()


def test_preferences_clear_the_models_home_and_add_lora_folders(window, qtbot, tmp_path, lora_dir):
    home = fake_a1111(tmp_path / "webui")
    assert window.use_models_home(str(home / "models"))  # its models folder is understood too
    extra = tmp_path / "more-loras"
    save_lora(extra / "extra.safetensors")
    dialog = window.open_preferences()
    page = dialog.files_page
    assert page.home.text() == str(home) and page.lists["loras"].folders() == [str(lora_dir)]
    page.lists["loras"].add(str(extra))
    next(b for b in page.findChildren(QToolButton) if b.text() == "Clear").click()
    with qtbot.waitSignal(window.sampler.backend_ready, timeout=30000):
        dialog.accept()
    names = visible_names(window.text2image_panel.addons.loras)
    assert "extra" in names and "home-lora" not in names
    assert window.settings.models_home == "" and str(home / "models" / "Stable-diffusion") not in \
        window.settings.model_folders
    qtbot.waitUntil(lambda: window.sampler.engine.folders.loras == [str(lora_dir), str(extra)], timeout=10000)
