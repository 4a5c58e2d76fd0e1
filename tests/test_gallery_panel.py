"""The Gallery tab on a real window: what the engine saved is listed with thumbnails made off the GUI thread; the
search filters; a chosen image restores its parameters into Generate, goes to Edit, gets stars and tags; two are
compared; one goes to the trash and out of the index; a folder of A1111 PNGs is added on a thread of its own."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ddpm_studio.engine.gallery.index import GalleryIndex
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.runner import Engine


@pytest.fixture()
def made(tiny_ddpm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = Engine(device="cpu").run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=2, seed=40,
                                                  batch_size=3, preview_every=0, output_dir=str(tmp_path / "out")))
    return result.saved_paths


@pytest.fixture()
def gallery(window_on, tiny_ddpm_dir, made, qtbot):
    window = window_on(tiny_ddpm_dir.parent)
    panel = window.gallery_panel
    window.tabs.setCurrentWidget(panel)  # shown: the index opens and the grid fills
    qtbot.waitUntil(lambda: panel.model.rowCount() == 3, timeout=10000)
    return window, panel


def _choose(panel, *numbers):
    selection = panel.grid.selectionModel()
    selection.clearSelection()
    for number in numbers:
        selection.select(panel.model.index(number), selection.SelectionFlag.Select)


def test_made_images_are_listed_with_thumbnails_and_the_search_filters(gallery, made, qtbot):
    window, panel = gallery
    assert [panel.model.rows[n]["seed"] for n in range(3)] == [42, 41, 40]  # newest first
    qtbot.waitUntil(lambda: all(panel.model.thumbnails.get(row) is not None for row in panel.model.rows),
                    timeout=20000)
    panel.search.setText("seed:41")
    panel.refresh()
    assert [row["path"] for row in panel.model.rows] == [made[1]] and panel.count.text() == "1 image(s)"
    panel.search.setText("since:yesterday")
    panel.refresh()
    assert "not a date" in panel.count.text() and panel.model.rowCount() == 0  # no results of another search
    panel.search.setText("a long search that cannot be read since:" + "x" * 200)
    panel.refresh()
    assert window.minimumSizeHint().width() <= 800  # the message never widens the window


def test_the_tab_keeps_its_place_and_drops_a_file_deleted_behind_its_back(gallery, made, qtbot):
    window, panel = gallery
    _choose(panel, 1)
    window.tabs.setCurrentWidget(window.generate_panel)
    window.tabs.setCurrentWidget(panel)
    assert [row["path"] for row in panel.chosen_rows()] == [made[1]]  # still chosen after coming back
    os.unlink(made[0])
    assert panel.model.rows[2]["path"] == made[0]  # seed 40, the oldest
    _choose(panel, 2)  # choosing it finds it gone: out of the gallery
    assert made[0] not in [row["path"] for row in panel.model.rows] and panel.count.text() == "2 image(s)"


def test_a_chosen_image_restores_goes_to_edit_and_gets_stars_and_tags(gallery, made, qtbot):
    window, panel = gallery
    _choose(panel, 1)
    assert panel.details.row["seed"] == 41 and panel.details.buttons["restore"].isEnabled()
    panel.details.buttons["restore"].click()
    assert window.tabs.currentWidget() is window.generate_panel and window.generate_panel.seed.text() == "41"
    window.tabs.setCurrentWidget(panel)
    _choose(panel, 1)
    panel.details.buttons["edit"].click()
    assert window.tabs.currentWidget() is window.edit_panel and window.edit_panel.image_path == made[1]
    window.tabs.setCurrentWidget(panel)
    _choose(panel, 1)
    panel.details.stars[2].click()  # three stars
    panel.details.tags.setText("keeper, red")
    panel.details.tags.editingFinished.emit()
    index = GalleryIndex()
    assert index.get(made[1])["rating"] == 3 and index.get(made[1])["tags"] == "keeper, red"
    assert [row["path"] for row in index.search("stars:3 tag:keeper")] == [made[1]]


def test_two_are_compared_and_one_goes_to_the_trash(gallery, made, qtbot):
    window, panel = gallery
    _choose(panel, 0, 2)
    assert panel.details.compare.isEnabled()
    dialog = panel.compare()
    labels = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert labels == ["Seed"]  # the same run but for the seed
    dialog.close()
    _choose(panel, 0)
    path = panel.details.row["path"]
    panel.details.buttons["trash"].click()
    assert path not in [row["path"] for row in panel.model.rows] and panel.model.rowCount() == 2
    assert not os.path.exists(path) and GalleryIndex().get(path) is None
    _choose(panel, 0, 1)  # the other two, together
    assert panel.details.buttons["trash"].text() == "Move 2 to trash"
    panel.details.buttons["trash"].click()
    assert panel.model.rowCount() == 0 and not any(os.path.exists(p) for p in made)


def test_a_folder_of_a1111_pngs_is_added_on_its_own_thread(gallery, tmp_path, qtbot):
    window, panel = gallery
    folder = tmp_path / "webui"
    folder.mkdir()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse at dusk\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 99, "
                                "Size: 64x64, Model: sd15")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / "00001-99.png", pnginfo=info)
    scan = panel.add_folder(str(folder))
    qtbot.waitUntil(lambda: scan.isFinished() and panel.model.rowCount() == 4, timeout=30000)
    panel.search.setText("lighthouse")
    panel.refresh()
    assert [row["seed"] for row in panel.model.rows] == [99]
    _choose(panel, 0)
    assert not panel.details.buttons["restore"].isEnabled()  # no DDPM Studio job in it to restore


def test_again_with_a_new_seed_makes_the_same_job_but_for_the_seed(gallery, made, qtbot):
    window, panel = gallery
    _choose(panel, 2)
    original = panel.details.row
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        panel.details.buttons["rerun"].click()
    job = done.args[1].job
    assert job.seed != original["seed"] and (job.scheduler, job.steps, job.batch_size) == ("ddim", 2, 1)
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=10000)  # the new image, in the gallery at once


def test_a_broken_index_is_rebuilt_on_a_thread_and_said_in_a_box(window_on, tiny_ddpm_dir, made, qtbot):
    path = GalleryIndex().path
    path.write_bytes(b"not a database" * 300)
    window = window_on(tiny_ddpm_dir.parent)
    panel = window.gallery_panel
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.scan is not None and panel.scan.isFinished() and panel.model.rowCount() == 3,
                    timeout=30000)  # the pictures back, scanned off the GUI thread
    assert "moved aside" in panel.note_box.text() and "stars and tags start afresh" in panel.note_box.text()


def test_right_click_offers_the_actions_and_images_drag_out_as_files(gallery, made):
    window, panel = gallery
    rect = panel.grid.visualRect(panel.model.index(1))
    menu = panel.context_menu(rect.center())
    texts = [action.text() for action in menu.actions()]
    assert texts[0] == "View large" and "Send to Edit" in texts and "Move to trash" in texts
    assert panel.details.row["path"] == made[1]  # the image under the pointer is the chosen one
    menu.close()
    data = panel.model.mimeData([panel.model.index(0), panel.model.index(2)])
    assert [url.toLocalFile() for url in data.urls()] == [made[2], made[0]]


# ---- issue 27: hand-offs (defect 13), hostile folders (defect 4), labels, empty searches, the preview (defect 15) ----

def test_again_with_a_new_seed_leaves_the_panels_batch_and_random_box_alone(gallery, made, qtbot):
    window, panel = gallery
    generate = window.generate_panel
    generate.batch.setValue(3)
    generate.random_seed.setChecked(True)
    _choose(panel, 2)
    with qtbot.waitSignal(window.sampler.job_finished, timeout=60000) as done:
        panel.details.buttons["rerun"].click()
    job = done.args[1].job
    assert job.batch_size == 1 and job.seed != 40 and generate.seed.text() == str(job.seed)  # the seed is shown
    assert generate.batch.value() == 3 and generate.random_seed.isChecked()  # as the user left them


def test_send_to_edit_and_upscale_bring_the_pictures_prompt_and_negative_prompt(gallery, tmp_path, qtbot):
    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.output.metadata import png_info
    from tests.hostile_pngs import a1111_text, text_png

    window, panel = gallery
    folder = tmp_path / "others"
    folder.mkdir()
    text_png(folder / "webui.png", parameters=a1111_text("a lighthouse at dusk", 99, "fog, blur"))
    ours = Text2ImageJob(model="sd15", prompt="a red fox in snow", negative_prompt="cartoon", steps=4, seed=5,
                         width=64, height=64)
    Image.new("RGB", (64, 64), (90, 60, 30)).save(folder / "ours.png", pnginfo=png_info(
        ours, index=0, width=64, height=64, model_name="sd15", device="cpu"))
    scan = panel.add_folder(str(folder))
    qtbot.waitUntil(lambda: scan.isFinished() and panel.model.rowCount() == 5, timeout=30000)
    edit = window.edit_panel
    for words, prompt, negative in (("lighthouse", "a lighthouse at dusk", "fog, blur"),
                                    ("fox", "a red fox in snow", "cartoon")):
        window.tabs.setCurrentWidget(panel)
        panel.search.setText(words)
        panel.refresh()
        _choose(panel, 0)
        panel.details.buttons["edit"].click()
        assert window.tabs.currentWidget() is edit and edit.image_path == panel.details.row["path"]
        assert edit.prompts.prompt.toPlainText() == prompt and edit.prompts.negative.toPlainText() == negative
    window.tabs.setCurrentWidget(panel)
    panel.details.buttons["upscale"].click()  # the upscaler reads what the picture shows: its prompt too
    upscale = window.upscale_panel
    assert window.tabs.currentWidget() is upscale and upscale.prompts.prompt.toPlainText() == "a red fox in snow"
    assert upscale.prompts.negative.toPlainText() == "cartoon"


def test_a_folder_with_hostile_files_is_added_and_each_bad_one_named(gallery, tmp_path, qtbot):
    from tests.hostile_pngs import hostile_folder

    window, panel = gallery
    files = hostile_folder(tmp_path / "downloads")
    messages = []
    panel.status_message.connect(messages.append)
    scan = panel.add_folder(str(tmp_path / "downloads"))
    qtbot.waitUntil(lambda: scan.isFinished() and panel.model.rowCount() == 8, timeout=30000)  # 3 made + 5 read
    said = next(m for m in messages if m.startswith("Added"))
    assert "4 not added: bomb.png, here, loop_a.png, loop_b.png" in said
    assert "big_seed.png" in said and "deep.png" in said  # indexed, without the value that could not be read
    details = panel.note_box.detailedText()
    assert "50,000×50,000 pixels" in details and "loops back on itself" in details and f"seed {10**26}" in details
    assert window.restore_from_png(str(files["deep"])) is False  # restore says what is wrong, in a box
    assert "nested too deeply" in window.generate_panel.error_box.text()
    panel.search.setText("barn")
    panel.refresh()
    _choose(panel, 0)  # the picture whose seed was too large: shown with its parameters as written
    qtbot.waitUntil(lambda: str(10**26) in panel.details.parameters.toPlainText(), timeout=10000)


def test_thumbnail_labels_fit_their_cell(gallery):
    from PySide6.QtCore import Qt

    window, panel = gallery
    cell = panel.grid.gridSize()
    metrics = panel.grid.fontMetrics()
    panel.model.update_row({**panel.model.rows[0], "seed": 1118967370, "rating": 5})
    lines = panel.model.data(panel.model.index(0), Qt.ItemDataRole.DisplayRole).split("\n")
    assert lines == ["seed 1118967370", "★★★★★"]
    assert all(metrics.horizontalAdvance(line) <= cell.width() - 8 for line in lines)
    assert cell.height() >= panel.grid.iconSize().height() + 2 * metrics.height()


def test_a_search_with_no_match_says_so(gallery):
    window, panel = gallery
    assert not panel.empty_hint.isVisible()
    panel.search.setText("zebra crossing")
    panel.refresh()
    assert panel.model.rowCount() == 0 and panel.empty_hint.isVisible()
    assert "Nothing matches “zebra crossing”" in panel.empty_hint.text() and "all 3 picture(s)" in panel.empty_hint.text()
    panel.search.setText("")
    panel.refresh()
    assert panel.model.rowCount() == 3 and not panel.empty_hint.isVisible()


def test_the_chosen_picture_is_decoded_off_the_gui_thread(gallery, made, qtbot, monkeypatch):
    import threading

    from ddpm_studio.ui.gallery import details as gallery_details

    window, panel = gallery
    threads = []
    real = gallery_details.load_preview

    def recording(row):
        threads.append(threading.current_thread())
        return real(row)

    monkeypatch.setattr(gallery_details, "load_preview", recording)
    _choose(panel, 1)
    assert panel.details.view.image().isNull()  # not read on the GUI thread while it chose
    qtbot.waitUntil(lambda: not panel.details.view.image().isNull(), timeout=10000)
    assert threads and threading.main_thread() not in threads
    assert "Seed: 41" in panel.details.parameters.toPlainText()
