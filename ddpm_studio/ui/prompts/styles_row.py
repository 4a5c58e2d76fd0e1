"""The Styles row of the Text to Image panel: A1111's styles (``styles.csv``: the models home's, and files the user
opened), ticked in a list and applied, in the order ticked, to the prompt and the negative prompt when the job is made
(``engine/prompts/styles.py``). The job holds the applied text, so the parameters record it; a restored job's text is
already styled, so restoring unticks them all. "Apply to prompt" writes the styles into the boxes and unticks them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QFormLayout, QHBoxLayout, QListWidget, QListWidgetItem, QToolButton, QWidget

from ddpm_studio.engine.prompts.styles import apply_styles, read_style_files


class StylesRow(QWidget):
    def __init__(self, form: QFormLayout, settings, prompt, negative) -> None:
        super().__init__()
        self.settings, self.prompt, self.negative = settings, prompt, negative
        self.styles: dict = {}
        self.order: list[str] = []  # the ticked styles' names, in the order ticked
        self.problems: list[str] = []  # styles files that could not be read
        self.list = QListWidget()
        self.list.setMaximumHeight(4 * self.list.fontMetrics().height() + 8)
        self.list.itemChanged.connect(self._ticked)
        add = QToolButton(text="File…")
        add.setToolTip("Read the styles of an A1111 styles.csv (name, prompt, negative_prompt)")
        add.clicked.connect(self.choose_file)
        self.apply_button = QToolButton(text="Apply to prompt")
        self.apply_button.setToolTip("Write the ticked styles into the prompt and the negative prompt, and untick them")
        self.apply_button.clicked.connect(self.apply_to_prompt)
        buttons = QHBoxLayout()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        buttons.addWidget(add)
        buttons.addWidget(self.apply_button)
        layout.addLayout(buttons)
        self.setToolTip("Styles applied to the prompt when the job is made: a style's {prompt} is where your prompt "
                        "goes, else its text is added after it (A1111's styles.csv)")
        form.addRow("Styles", self)
        self.refresh()

    def refresh(self) -> None:
        """Read the styles files again; ticked styles that are still there stay ticked."""
        self.styles, self.problems = read_style_files(self.settings.styles_files)
        self.order = [name for name in self.order if name in self.styles]
        self.list.blockSignals(True)
        try:
            self.list.clear()
            for name, style in self.styles.items():
                item = QListWidgetItem(name)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if name in self.order else Qt.CheckState.Unchecked)
                item.setToolTip("\n".join(filter(None, (style.prompt, style.negative_prompt and
                                                        f"Negative: {style.negative_prompt}"))))
                self.list.addItem(item)
        finally:
            self.list.blockSignals(False)
        self.list.setToolTip("\n".join(self.problems))

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a styles file", "", "Styles (*.csv)")
        if path:
            self.add_file(path)

    def add_file(self, path: str) -> None:
        self.settings.add_styles_file(path)
        self.refresh()

    def _ticked(self, item: QListWidgetItem) -> None:
        name = item.text()
        if item.checkState() == Qt.CheckState.Checked and name not in self.order:
            self.order.append(name)
        elif item.checkState() != Qt.CheckState.Checked and name in self.order:
            self.order.remove(name)

    def tick(self, *names: str) -> None:
        for name in names:
            for item in self.list.findItems(name, Qt.MatchFlag.MatchExactly):
                item.setCheckState(Qt.CheckState.Checked)

    def untick_all(self) -> None:
        for index in range(self.list.count()):
            self.list.item(index).setCheckState(Qt.CheckState.Unchecked)

    def applied(self, prompt: str, negative: str) -> tuple[str, str]:
        """``prompt`` and ``negative`` with the ticked styles applied, in the order ticked."""
        return apply_styles(prompt, negative, [self.styles[name] for name in self.order])

    def apply_to_prompt(self) -> None:
        prompt, negative = self.applied(self.prompt.toPlainText().strip(), self.negative.toPlainText().strip())
        self.prompt.setPlainText(prompt)
        self.negative.setPlainText(negative)
        self.untick_all()
