"""The one model picker every panel that chooses a model uses: a combo box of the models the app lists (the bundled
ones, the user's folders and, when asked, the Hugging Face cache) that the panel's ``accept`` takes — each entry its
label, its ref as data, and where the model is as its tooltip — with the infos of what it shows, by ref.

A re-listing keeps the choice when it is still listed; else the picker's ``default`` is chosen when listed, else the
first model, else the first entry. No signal is sent while the list is filled: ``refresh`` says whether the choice
changed, and the panel does what a newly chosen model brings."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from ddpm_studio.engine.models.catalogue import ModelInfo, list_models


class ModelPicker(QComboBox):
    def __init__(self, settings, accept: Callable[[ModelInfo], bool] | None = None, *, characters: int | None = 14,
                 label: Callable[[ModelInfo], str] | None = None, leading: Iterable[tuple[str, str]] = (),
                 default: str = "", parent: QWidget | None = None) -> None:
        """``accept``: the models listed (None: pixel DDPMs, as ``list_models``); ``characters``: as wide as that many
        characters however long the entries (None: as wide as they are); ``label``: an entry's text (default: the
        model's label); ``leading``: (text, data) entries listed before the models; ``default``: the data chosen when
        there is no choice to keep."""
        super().__init__(parent)
        if characters:  # sized by a few characters, not by the longest entry: a settings column has a fixed width
            self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            self.setMinimumContentsLength(characters)
        self.settings = settings
        self.accept = accept
        self.label = label or (lambda info: info.label)
        self.leading = tuple(leading)
        self.default = default
        self.infos: dict[str, ModelInfo] = {}  # ref → info of each model listed

    def refresh(self, include_hf_cache: bool = False) -> bool:
        """List the models again; True when the choice is not the one before (the panel then applies the new one)."""
        current = self.currentData()
        blocked = self.blockSignals(True)  # the list emptied and filled again is no choice of the user's
        try:
            self.clear()
            self.infos = {}
            for text, data in self.leading:
                self.addItem(text, data)
            for info in list_models(self.settings.model_folders, include_hf_cache=include_hf_cache, accept=self.accept,
                                    allow_pickle=self.settings.allow_pickle):
                self.infos[info.ref] = info
                self.addItem(self.label(info), info.ref)
                self.setItemData(self.count() - 1, info.description, Qt.ItemDataRole.ToolTipRole)
            self.setCurrentIndex(self._choice(current))
        finally:
            self.blockSignals(blocked)
        return self.currentData() != current

    def _choice(self, current: str | None) -> int:
        for data in (current, self.default):
            index = self.findData(data) if data else -1
            if index >= 0:
                return index
        return min(len(self.leading), self.count() - 1)  # the first model, else the first entry (-1: none)

    def current_info(self) -> ModelInfo | None:
        """The chosen model's info; None when no model is chosen (an empty list, or a leading entry)."""
        return self.infos.get(self.currentData() or "")

    def select(self, ref: str) -> bool:
        """Choose ``ref`` if it is listed; False (and the choice stays) if not."""
        index = self.findData(ref)
        if index < 0:
            return False
        self.setCurrentIndex(index)
        return True
