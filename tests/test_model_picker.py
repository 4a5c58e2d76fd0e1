"""The one model picker (ui/widgets/model_picker.py): what it lists, what a re-listing keeps, and that filling it is
no choice of the user's (no signal)."""

from __future__ import annotations

from types import SimpleNamespace

from PySide6.QtCore import Qt

from ddpm_studio.engine.models.catalogue import PIXEL_FAMILY
from ddpm_studio.ui.widgets.model_picker import ModelPicker


def _settings(folder) -> SimpleNamespace:
    return SimpleNamespace(model_folders=[str(folder)], allow_pickle=False)


def test_a_re_listing_keeps_the_choice_and_sends_no_signal(qtbot, tiny_ddpm_dir):
    picker = ModelPicker(_settings(tiny_ddpm_dir.parent))
    qtbot.addWidget(picker)
    changes = []
    picker.currentIndexChanged.connect(changes.append)

    assert picker.refresh() and changes == []  # nothing was chosen before: the first model is
    refs = [picker.itemData(i) for i in range(picker.count())]
    assert str(tiny_ddpm_dir.resolve()) in refs and all(info.family == PIXEL_FAMILY for info in picker.infos.values())
    assert picker.itemData(0, Qt.ItemDataRole.ToolTipRole) == picker.infos[refs[0]].description
    assert picker.current_info() is picker.infos[refs[0]]

    assert picker.select(refs[-1]) and changes == [picker.count() - 1]
    assert not picker.refresh() and picker.currentData() == refs[-1] and len(changes) == 1
    assert not picker.select("not/listed") and picker.currentData() == refs[-1]


def test_leading_entries_a_default_and_labels(qtbot, tiny_ddpm_dir):
    picker = ModelPicker(_settings(tiny_ddpm_dir.parent), characters=None, label=lambda info: f"Use {info.label}",
                         leading=[("Nothing", ""), ("Something else", "else")], default="else")
    qtbot.addWidget(picker)
    picker.refresh()
    assert [picker.itemText(i) for i in range(2)] == ["Nothing", "Something else"]
    assert picker.currentData() == "else" and picker.current_info() is None
    assert picker.itemText(2).startswith("Use ")

    without_default = ModelPicker(_settings(tiny_ddpm_dir.parent), leading=[("Nothing", "")])
    qtbot.addWidget(without_default)
    without_default.refresh()
    assert without_default.currentIndex() == 1  # no default: the first model, not a leading entry


def test_an_empty_list(qtbot, tmp_path):
    picker = ModelPicker(_settings(tmp_path), accept=lambda info: False)
    qtbot.addWidget(picker)
    assert not picker.refresh()
    assert picker.count() == 0 and picker.currentIndex() == -1 and picker.current_info() is None and not picker.infos
