"""Form rows shared by the prompt-driven panels: prompt, negative prompt, guidance scale."""

from __future__ import annotations

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QPlainTextEdit


class PromptFields:
    def __init__(self, form: QFormLayout) -> None:
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("What to make: a lighthouse on a cliff at dusk, oil painting")
        self.prompt.setMaximumHeight(70)
        self.negative = QPlainTextEdit()
        self.negative.setPlaceholderText("What to avoid (optional)")
        self.negative.setMaximumHeight(44)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=50.0, value=7.5, singleStep=0.5, decimals=1)
        self.guidance.setToolTip("Classifier-free guidance: higher follows the prompt more closely")
        form.addRow("Prompt", self.prompt)
        form.addRow("Negative", self.negative)
        form.addRow("Guidance", self.guidance)

    def values(self) -> dict:
        return dict(prompt=self.prompt.toPlainText().strip(), negative_prompt=self.negative.toPlainText().strip(),
                    guidance_scale=round(self.guidance.value(), 2))

    def apply(self, job) -> None:
        self.prompt.setPlainText(job.prompt)
        self.negative.setPlainText(job.negative_prompt)
        self.guidance.setValue(job.guidance_scale)
