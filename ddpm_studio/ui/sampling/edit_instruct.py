"""The Edit panel's instruct mode for the chosen model (its variant in models/families.py): the reference strip where
the model reads reference pictures (Flux.2 Klein, Qwen-Image-Edit Plus), the image guidance where it has one
(InstructPix2Pix; the flow models' instruction editing has none), and a line saying why this machine cannot run the
model where a package its pipeline needs is missing (Qwen-Image-Edit without torchvision: sampling/instruct.py)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from ddpm_studio.ui.sampling.reference_strip import ReferenceStrip


class EditInstructRows:
    """Mixed into the Edit panel (which has ``image_guidance``, ``hint_form``, ``mode()``, ``_family`` and
    ``current_model_info()``)."""

    references: ReferenceStrip | None = None
    run_hint: QLabel | None = None

    def add_run_hint(self, form, row: int) -> None:
        self.run_hint = QLabel(wordWrap=True)
        self.run_hint.setStyleSheet("color: #c0392b")
        form.insertRow(row, self.run_hint)

    def build_references(self) -> ReferenceStrip:
        self.references = ReferenceStrip()
        self.references.message.connect(self.status_message.emit)
        return self.references

    def show_instruct(self) -> None:
        """The rows instruct mode has for the chosen model, and the line on what this machine cannot run."""
        from ddpm_studio.engine.sampling.instruct import cannot_run_why

        info = self.current_model_info() if getattr(self, "model_infos", None) is not None else None
        family = self._family
        variant = family.variant_named(info.family) if family is not None and info is not None else None
        instruct = self.mode() == "instruct"
        self.image_guidance.setEnabled(instruct and (family is None or family.denoiser == "unet"))
        if self.references is not None:
            self.references.set_limit(variant.references if instruct and variant is not None else 0)
            self.references.setVisible(self.references.limit > 0)
        if self.run_hint is not None:
            why = cannot_run_why(info) if info is not None else ""
            self.run_hint.setText(f"{why}." if why else "")
            self.hint_form.setRowVisible(self.run_hint, bool(why))

    def reference_values(self) -> dict:
        """The job's reference pictures: the strip's, where the chosen model reads them in instruct mode."""
        if self.references is None or self.mode() != "instruct" or not self.references.limit:
            return {}
        return {"references": self.references.paths()}
