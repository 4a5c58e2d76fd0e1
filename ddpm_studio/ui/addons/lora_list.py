"""The LoRA list of the prompt panels: the LoRAs in the LoRA folders (read from their headers only, at start-up, when
the folders change and on Refresh; the search box only filters what is listed), ticked to use (a click on the name
or on the box), each with its weight. A chosen LoRA shows the words it was trained with (kohya's tag counts); a click
puts them in the prompt. LoRAs made for another family than the chosen model's are listed greyed, not hidden: the
engine says why it refuses one.

A LoRA written in the prompt as ``<lora:NAME:WEIGHT>`` and a ticked LoRA are one state: the list follows the prompt
(a tag ticks its LoRA, with the tag's weight), unticking such a LoRA takes its tag out of the prompt, and its weight
row rewrites the tag. The prompt carries those LoRAs to the run, the list the others, so a run never names one twice."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.addons.resources import LoraFile, list_loras
from ddpm_studio.engine.jobs.checks import MAX_LORA_WEIGHT
from ddpm_studio.engine.models.families import FAMILY_NAMES
from ddpm_studio.engine.prompts.syntax import LoraTag, lora_tag_spans
from ddpm_studio.ui.addons.folded_list import FoldedFileList
from ddpm_studio.ui.prompts.words import append_words, remove_span, replace_span
from ddpm_studio.ui.widgets.notes import FieldNote, LinkLabel

SLIDER_STEPS = 20  # slider units per weight unit: steps of 0.05
SLIDER_RANGE = 2.0  # the slider's reach either way; the spin box takes the engine's whole range
SHOWN_TRIGGERS = 6


def lora_tag(lora: LoraFile) -> str:
    """The short tag after a LoRA's name in the list: its family (when the file tells) and kind."""
    family = " or ".join(FAMILY_NAMES[key] for key in lora.flow) or FAMILY_NAMES.get(lora.arch, "")
    parts = [family] + ([lora.network] if lora.network != "LoRA" else [])
    return " · ".join([p for p in parts if p] + (["pickle"] if lora.pickled else []))


class LoraList(FoldedFileList):
    def __init__(self, settings, prompt: QPlainTextEdit, parent=None) -> None:
        super().__init__(settings, "loras", ("LoRA", "LoRAs"),
                         "Add a folder of LoRA files (.safetensors), listed where it is", 7, parent)
        self.rows: dict[str, _WeightRow] = {}  # path → the chosen LoRA's row, in the order they were chosen
        self.prompt = prompt
        self.tagged: dict[str, float] = {}  # path → weight of the LoRAs the prompt names in <lora:…> tags
        self._following = False  # the list is being made to follow the prompt: no edits back into it
        self.list.setToolTip("Click a LoRA (its name or its box) to use it; its weight is set below")
        self.list.itemChanged.connect(self._item_changed)
        self._ticked: QListWidgetItem | None = None  # the item whose box this mouse click ticked or unticked
        self.model_arch = ""  # the chosen model's family key: a flow model's LoRAs are told by it
        self.list.itemPressed.connect(lambda _: setattr(self, "_ticked", None))
        self.list.itemClicked.connect(self._item_clicked)
        self.chosen = QVBoxLayout()
        self.chosen.setContentsMargins(0, 0, 0, 0)
        for widget in (self.search, self.list, self.empty):
            self.column.addWidget(widget)
        self.column.addLayout(self.chosen)
        self.refresh()
        prompt.textChanged.connect(self.follow_prompt)

    @property
    def loras(self) -> dict[str, LoraFile]:
        """path → file, as listed."""
        return self.files

    # ---- listing ----
    def refresh(self) -> list[str]:
        """Read the LoRA folders again; chosen LoRAs that are still there stay chosen. Returns the skipped files."""
        skipped = super().refresh()
        for path in [p for p in self.rows if p not in self.files]:
            self._remove_row(path)
        self.follow_prompt()
        return skipped

    def read_files(self):
        found, skipped = list_loras(self.settings.addon_folder_list(self.kind))
        return {str(lora.path): lora for lora in sorted(found, key=lambda f: (f.name.lower(), str(f.path)))}, skipped

    def make_item(self, path: str, lora: LoraFile) -> QListWidgetItem:
        tag = lora_tag(lora)
        item = QListWidgetItem(f"{lora.name}   [{tag}]" if tag else lora.name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if path in self.rows else Qt.CheckState.Unchecked)
        return item

    def search_text(self, lora: LoraFile) -> str:
        """A LoRA is found by its name, its trigger words or its folder."""
        return " ".join([lora.name, *lora.triggers, lora.path.parent.name])

    def mark(self) -> None:
        for item in self.items():
            lora = self.files[item.data(Qt.ItemDataRole.UserRole)]
            wrong = lora.fits(*self.model_family, arch=self.model_arch) is False
            self.shade(item, wrong)
            note = "\nMade for another family than the chosen model's: the run will refuse it." if wrong else ""
            item.setToolTip(_describe(lora) + note)
            if str(lora.path) in self.rows:
                self.rows[str(lora.path)].set_wrong_family(wrong)

    def set_model(self, context_dim: int, xl: bool | None, arch: str = "") -> None:
        """The chosen model's family: its text-embedding width, whether it is SDXL, and its row's key (a flow
        family's LoRAs are told by the names of its layers, not by a width)."""
        self.model_arch = arch
        super().set_model(context_dim, xl)

    # ---- choosing ----
    def _item_clicked(self, item: QListWidgetItem) -> None:
        """A click on a LoRA's name ticks or unticks it, as a click on its box does (Qt has toggled that already)."""
        if self._ticked is not item:
            checked = item.checkState() == Qt.CheckState.Checked
            item.setCheckState(Qt.CheckState.Unchecked if checked else Qt.CheckState.Checked)
        self._ticked = None

    def _item_changed(self, item: QListWidgetItem) -> None:
        self._ticked = item
        path = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked and path not in self.rows:
            self._add_row(path, 1.0)
        elif item.checkState() != Qt.CheckState.Checked and path in self.rows:
            self._remove_row(path)
            if path in self.tagged and not self._following:  # unticked by the user: its tag leaves the prompt too
                self._edit_tags(path, None)

    # ---- the prompt's <lora:…> tags ----
    def _tag_spans(self) -> list[tuple[int, int, str, LoraTag]]:
        """(start, end, listed path, tag) of each tag in the prompt that names a listed LoRA."""
        spans = []
        for start, end, tag in lora_tag_spans(self.prompt.toPlainText()):
            path = self.find(tag.name)
            if path is not None:
                spans.append((start, end, path, tag))
        return spans

    def follow_prompt(self) -> None:
        """Tick the LoRAs the prompt's tags name, with the tag's weight; untick those whose tag was taken out."""
        tagged: dict[str, float] = {}
        for _start, _end, path, tag in self._tag_spans():
            tagged.setdefault(path, tag.weight)
        if tagged == self.tagged and all(p in self.rows for p in tagged):
            return
        self._following = True
        try:
            for path in [p for p in self.tagged if p not in tagged and p in self.rows]:
                self.set_chosen(path, False)
            for path, weight in tagged.items():
                if path not in self.rows:
                    self.set_chosen(path, True, weight)
                else:
                    self.rows[path].set_weight(weight)
            self.tagged = tagged
            for path, row in self.rows.items():
                row.set_in_prompt(path in tagged)
        finally:
            self._following = False

    def _edit_tags(self, path: str, weight: float | None) -> None:
        """Rewrite the prompt's tags of ``path`` with ``weight``, or take them out (None); last first, so the
        positions of the others hold."""
        for start, end, tagged_path, tag in reversed(self._tag_spans()):
            if tagged_path != path:
                continue
            if weight is None:
                remove_span(self.prompt, start, end)
            else:
                replace_span(self.prompt, start, end, f"<lora:{tag.name}:{weight:g}>")

    def _weight_changed(self, path: str, weight: float) -> None:
        if path in self.tagged and not self._following:
            self._edit_tags(path, round(weight, 2))

    def _add_row(self, path: str, weight: float) -> None:
        lora = self.loras[path]
        row = _WeightRow(lora, weight)
        row.removed.connect(lambda: self.set_chosen(path, False))
        row.insert_requested.connect(self.insert_words)
        row.spin.valueChanged.connect(lambda value: self._weight_changed(path, value))
        self.rows[path] = row
        self.chosen.addWidget(row)
        row.set_wrong_family(lora.fits(*self.model_family, arch=self.model_arch) is False)

    def _remove_row(self, path: str) -> None:
        row = self.rows.pop(path)
        self.chosen.removeWidget(row)
        row.deleteLater()

    def set_chosen(self, path: str, chosen: bool, weight: float = 1.0) -> None:
        """Tick or untick a listed LoRA (by its path as listed)."""
        item = next(i for i in self.items() if i.data(Qt.ItemDataRole.UserRole) == path)
        item.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
        if chosen:
            self.rows[path].set_weight(weight)

    def values(self) -> tuple[tuple[str, float], ...]:
        """The chosen LoRAs as the job takes them: (path, weight), in the order they were chosen; those the prompt
        names in a tag travel in the prompt instead."""
        return tuple((path, row.weight()) for path, row in self.rows.items() if path not in self.tagged)

    def apply(self, loras) -> list[str]:
        """Choose a restored job's LoRAs: by path, else by file name among the listed; say which are not there."""
        self._following = True  # the restored prompt, not this, decides about its tags
        try:
            for path in list(self.rows):
                self.set_chosen(path, False)
        finally:
            self._following = False
        self.tagged = {}
        missing = []
        for ref, weight in loras:
            path = self.find(ref)
            if path is None:
                missing.append(f"the LoRA '{Path(ref).name}' is not in the LoRA folders (File → Use an existing "
                               "A1111 / ComfyUI folder…, or Add… under the LoRA list)")
            else:
                self.set_chosen(path, True, float(weight))
        self.follow_prompt()
        return missing

    def find(self, ref: str) -> str | None:
        """The listed path of a LoRA given by path or by name (a file name, with or without its suffix)."""
        ref_path = Path(ref).expanduser()
        for path in self.loras:
            if Path(path) == ref_path or (ref_path.exists() and Path(path).resolve() == ref_path.resolve()):
                return path
        name = ref_path.stem if ref_path.suffix.lower() in (".safetensors", ".pt", ".bin", ".ckpt") else ref_path.name
        by_name = [p for p, lora in self.loras.items() if lora.name == name]
        by_name = by_name or [p for p, lora in self.loras.items() if lora.name.lower() == name.lower()]
        return by_name[0] if by_name else None

    def insert_words(self, words) -> None:
        """Add trigger words at the end of the prompt, those it does not have yet, comma-separated."""
        append_words(self.prompt, words)


def _describe(lora: LoraFile) -> str:
    kind = f"{lora.network} for {lora.family}"
    words = f"\nTrigger words: {', '.join(lora.triggers)}" if lora.triggers else ""
    return f"{lora.name}: {kind}{' (a pickle file)' if lora.pickled else ''}{words}\n{lora.path}"


class _WeightRow(QWidget):
    """One chosen LoRA: its name, a weight slider and spin box, a remove button, and its trigger words."""

    removed = Signal()
    insert_requested = Signal(list)

    def __init__(self, lora: LoraFile, weight: float) -> None:
        super().__init__()
        self.lora = lora
        self.name = _ElidedLabel(lora.name)
        font = self.name.font()
        font.setBold(True)
        self.name.setFont(font)
        self.name.setToolTip(_describe(lora))
        self.spin = QDoubleSpinBox(minimum=-MAX_LORA_WEIGHT, maximum=MAX_LORA_WEIGHT, singleStep=0.05, decimals=2)
        self.spin.setToolTip("The LoRA's weight: 1 as trained, 0 off, negative to push away from what it learnt")
        limit = round(SLIDER_RANGE * SLIDER_STEPS)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=-limit, maximum=limit, pageStep=SLIDER_STEPS // 4)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(SLIDER_STEPS)  # a tick at each whole weight: 0 (off) is easy to find
        self.slider.setToolTip(self.spin.toolTip())
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v / SLIDER_STEPS))
        self.spin.valueChanged.connect(self._follow_spin)
        remove = QToolButton(text="✕")
        remove.setToolTip(f"Stop using {lora.name}")
        remove.clicked.connect(self.removed.emit)
        top, weight_row = QHBoxLayout(), QHBoxLayout()
        top.addWidget(self.name, 1)
        top.addWidget(remove)
        weight_row.addWidget(self.slider, 1)
        weight_row.addWidget(self.spin)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        self.in_prompt = QLabel("in the prompt")
        self.in_prompt.setToolTip(f"The prompt names {lora.name} in a <lora:…> tag: this row and the tag are one; "
                                  "untick it or ✕ to take the tag out")
        self.in_prompt.setEnabled(False)  # a quiet note, in the palette's dimmed text
        self.in_prompt.hide()
        top.insertWidget(1, self.in_prompt)
        self.family_note = FieldNote()
        layout.addWidget(self.family_note)
        layout.addLayout(weight_row)
        self.triggers = LinkLabel()
        self.triggers.linkActivated.connect(self._link)
        if lora.triggers:
            shown = lora.triggers[:SHOWN_TRIGGERS]
            links = ", ".join(f'<a href="{i}">{_html(w)}</a>' for i, w in enumerate(shown))
            self.triggers.setText(f'Trigger words: {links} — <a href="all">insert</a>')
            self.triggers.setToolTip("Click a word to add it to the prompt; 'insert' adds them all\n"
                                     + ", ".join(lora.triggers))
            layout.addWidget(self.triggers)
        self.set_weight(weight)

    def _follow_spin(self, value: float) -> None:
        """The slider shows what was typed without writing its own rounding (steps of 0.05) back into the box."""
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * SLIDER_STEPS))
        self.slider.blockSignals(False)

    def weight(self) -> float:
        return round(self.spin.value(), 2)

    def set_weight(self, weight: float) -> None:
        self.spin.setValue(weight)

    def trigger_words(self) -> tuple[str, ...]:
        return self.lora.triggers[:SHOWN_TRIGGERS]

    def _link(self, target: str) -> None:
        words = list(self.trigger_words())
        self.insert_requested.emit(words if target == "all" else [words[int(target)]])

    def set_in_prompt(self, in_prompt: bool) -> None:
        self.in_prompt.setVisible(in_prompt)

    def set_wrong_family(self, wrong: bool) -> None:
        self.name.setEnabled(not wrong)
        if wrong:
            self.family_note.warn(f"Made for {self.lora.family}, not this model: the run will refuse it.")
        else:
            self.family_note.clear_note()
        note = f"\n{self.lora.name} is made for {self.lora.family}, not the chosen model's family." if wrong else ""
        self.name.setToolTip(_describe(self.lora) + note)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _ElidedLabel(QLabel):
    """A name that gives way: shortened in the middle (…) when the row is narrow, whole in its tooltip."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.full = text
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("MMMM…"))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        room = self.contentsRect().width()
        self.setText(self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideMiddle, room))
