"""The Text to Image panel's "Files" row for a flow family's diffusion-model file (SD 3.5, Flux.1 as ComfyUI keeps
them): the text encoders and VAE it is paired with from the models home's folders (engine/models/pairing.py), one
list per part, the user's choice remembered per model; what is missing said under it, and Generate waits."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QVBoxLayout, QWidget

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.models.pairing import lacking_words, pair_beside
from ddpm_studio.ui.widgets.notes import FieldNote

VAE_PART = "vae"


class SplitFields(QObject):
    changed = Signal()

    def __init__(self, form: QFormLayout, settings) -> None:
        super().__init__()
        self.settings = settings
        self.box = QWidget()
        column = QVBoxLayout(self.box)
        column.setContentsMargins(0, 0, 0, 0)
        self.list = QWidget()
        self.rows = QFormLayout(self.list)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.note = FieldNote()
        column.addWidget(self.list)
        column.addWidget(self.note)
        form.addRow("Files", self.box)
        self.form = form
        self.combos: dict[str, QComboBox] = {}
        self.info = None
        self.pairing = None
        self.error = ""
        form.setRowVisible(self.box, False)

    def model_changed(self, info) -> None:
        """Pair ``info`` when it is a diffusion-model file; hide the row for any other model."""
        self.info = info if info is not None and info.split else None
        self.pairing, self.error = None, ""
        while self.rows.rowCount():
            self.rows.removeRow(0)
        self.combos = {}
        self.form.setRowVisible(self.box, self.info is not None)
        if self.info is None:
            self.changed.emit()
            return
        try:
            settings = self.settings
            self.pairing = pair_beside(self.info.path, settings.home_folders("text_encoders"),
                                       settings.addon_folder_list("vaes"), settings.model_parts(self.info.ref))
        except ModelError as exc:
            self.error = str(exc)
        chosen = dict(self.pairing.chosen) if self.pairing is not None else {}
        for part, name, files in self.pairing.options if self.pairing is not None else ():
            combo = QComboBox()
            combo.addItem("(none found)" if not files else "(none)", "")
            for path in files:
                combo.addItem(Path(path).name, path)
                combo.setItemData(combo.count() - 1, path, role=3)  # the tooltip: where it is
            combo.setCurrentIndex(max(combo.findData(chosen.get(part, "")), 0))
            combo.currentIndexChanged.connect(self._chosen)
            self.rows.addRow(name, combo)
            self.combos[part] = combo
        self._say()
        self.changed.emit()

    def _chosen(self) -> None:
        """The user picked a file: remembered for this model, and the pairing made again around it."""
        if self.info is None:
            return
        # a part set to "(none)" is remembered as "" (an optional one then stays out: SD 3.5 without its T5)
        self.settings.set_model_parts(self.info.ref, {part: combo.currentData() or "" for part, combo
                                                      in self.combos.items()})
        self.model_changed(self.info)

    def problem(self) -> str:
        if self.info is None:
            return ""
        if self.error:
            return self.error
        lacking = list(self.pairing.missing) if self.pairing is not None else []
        return lacking_words(self.info.path, self.info.arch, lacking) if lacking else ""

    def _say(self) -> None:
        problem = self.problem()
        if problem:
            self.note.warn(problem)
        else:
            self.note.remark("Paired by kind and width from the models home; your choice is remembered.")

    def values(self) -> dict:
        """The job's ``text_encoders`` and ``vae`` for a diffusion-model file; {} for any other model."""
        if self.info is None:
            return {}
        text = tuple(combo.currentData() for part, combo in self.combos.items()
                     if part != VAE_PART and combo.currentData())
        vae = self.combos[VAE_PART].currentData() if VAE_PART in self.combos else ""
        return dict(text_encoders=text, vae=vae or "")

    def apply(self, job) -> list[str]:
        """Choose a restored job's files; say which are not in the lists."""
        if self.info is None:
            return []
        lacking = []
        wanted = [*job.text_encoders, *([job.vae] if job.vae else [])]
        for path in wanted:
            combo = next((c for c in self.combos.values() if c.findData(path) >= 0), None)
            if combo is None:
                lacking.append(f"the file {Path(path).name} is not in the models home's folders")
            else:
                combo.blockSignals(True)
                combo.setCurrentIndex(combo.findData(path))
                combo.blockSignals(False)
        self._say()
        return lacking
