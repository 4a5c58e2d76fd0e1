"""The add-on rows of the Text to Image and Edit panels: the LoRA list, the embedding list and the VAE override
(A1111's "SD VAE"), remembered per model. What they give the job: ``loras`` ((path, weight) pairs) and ``vae`` (a
path, "" for the model's own). Prompt tags (``<lora:NAME:W>``) and embedding names stay in the prompt: the engine
reads them, not these rows."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QPlainTextEdit

from ddpm_studio.engine.addons.resources import list_vaes
from ddpm_studio.ui.addons.embedding_list import EmbeddingList
from ddpm_studio.ui.addons.lora_list import LoraList

OWN = ""  # the model's own VAE
CHOOSE = "\0choose"  # the entry that opens a file dialog


def model_family(info) -> tuple[int, bool | None]:
    """A model's text-embedding width (0: unknown) and whether it is SDXL (None: no model), for ``LoraFile.fits``."""
    if info is None:
        return 0, None
    return info.context_dim, info.family.startswith("stable-diffusion-xl")


def model_arch(info) -> str:
    """A model's family key (families.py), "" for none: what a flow model's LoRAs are told by."""
    from ddpm_studio.engine.models.families import family_of_info

    family = family_of_info(info) if info is not None else None
    return family.key if family is not None else ""


class VaeChoice(QComboBox):
    """The model's own VAE, the VAEs of the VAE folders, a file chosen by hand; the choice is kept per model."""

    def __init__(self, settings) -> None:
        super().__init__()
        self.settings = settings
        self.model_ref = ""
        self._previous = 0
        self._quiet = False
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(14)
        self.setToolTip("The VAE that turns the result into pixels: the model's own, or one of yours (kept for "
                        "each model)")
        self.currentIndexChanged.connect(self._changed)
        self.refresh()

    def refresh(self) -> None:
        """List the VAE folders again; the choice stays when its file is still there."""
        current = self.value()
        self._quiet = True
        try:
            self.clear()
            self.addItem("Model's own", OWN)
            vaes = list_vaes(self.settings.addon_folder_list("vaes"))
            for vae in vaes:
                self._add(vae.name, str(vae.path))
            self.addItem("Choose file…", CHOOSE)
            self.setItemData(self.count() - 1, "A VAE .safetensors file anywhere", Qt.ItemDataRole.ToolTipRole)
            self._select(current)
        finally:
            self._quiet = False

    def _add(self, name: str, path: str) -> int:
        index = max(1, self.count() - 1) if self.findData(CHOOSE) >= 0 else self.count()
        self.insertItem(index, name, path)
        self.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
        return index

    def value(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) and data != CHOOSE else OWN

    def _select(self, path: str) -> bool:
        """Show ``path`` chosen (adding a file from outside the folders); False, and the model's own, when it is
        gone."""
        index = self.findData(path) if path else 0
        if index < 0 and Path(path).exists():
            index = self._add(Path(path).stem if Path(path).is_file() else Path(path).name, path)
        self.setCurrentIndex(max(index, 0))
        self._previous = self.currentIndex()
        return index >= 0

    def set_model(self, ref: str) -> None:
        """A model was chosen: its own VAE, or the one last chosen for it."""
        self.model_ref = ref
        self._quiet = True
        try:
            self._select(self.settings.model_vae(ref) if ref else OWN)
        finally:
            self._quiet = False

    def _changed(self, index: int) -> None:
        if self._quiet or index < 0:
            return
        if self.itemData(index) == CHOOSE:
            start = next(iter(self.settings.addon_folder_list("vaes")), "")  # the VAE folder, if there is one
            path, _ = QFileDialog.getOpenFileName(self, "Choose a VAE", start, "VAE files (*.safetensors)")
            self._quiet = True
            try:
                if not path or not self._select(path):
                    self.setCurrentIndex(self._previous)
            finally:
                self._quiet = False
        self._previous = self.currentIndex()
        if self.model_ref:
            self.settings.set_model_vae(self.model_ref, self.value())

    def apply(self, vae: str) -> list[str]:
        """Choose a restored job's VAE: by path, else by name among the listed; say so when it is not there."""
        if vae and not Path(vae).exists():
            name = Path(vae).stem if Path(vae).suffix else Path(vae).name
            match = next((self.itemData(i) for i in range(1, self.count()) if self.itemText(i) == name), None)
            if match is None or match == CHOOSE:
                self.setCurrentIndex(0)
                return [f"the VAE {vae} is not there, nor one named '{name}' in the VAE folders; the model's own "
                        "VAE is chosen"]
            vae = match
        self._select(vae)
        if self.model_ref:
            self.settings.set_model_vae(self.model_ref, self.value())
        return []


class AddonFields:
    """The LoRA, embedding and VAE rows; the lists right under the prompts they go with."""

    def __init__(self, form: QFormLayout, settings, prompt: QPlainTextEdit, negative: QPlainTextEdit) -> None:
        self.settings = settings
        self.loras = LoraList(settings, prompt)
        self.embeddings = EmbeddingList(settings, prompt, negative)
        self.vae = VaeChoice(settings)
        row = form.getWidgetPosition(negative)[0] + 1
        form.insertRow(row, "LoRAs", self.loras)
        form.insertRow(row + 1, "Embeddings", self.embeddings)
        form.addRow("VAE", self.vae)
        self.form = form

    def offer(self, kinds) -> None:
        """Show the rows of the add-ons the chosen model's family takes (``families.ADDONS`` names); a hidden one
        adds nothing to the job."""
        for kind, widget in (("lora", self.loras), ("embedding", self.embeddings), ("vae", self.vae)):
            self.form.setRowVisible(widget, kind in kinds)

    def model_changed(self, info) -> None:
        self.loras.set_model(*model_family(info), arch=model_arch(info))
        self.embeddings.set_model(*model_family(info))
        self.vae.set_model(info.ref if info is not None else "")

    def refresh(self) -> None:
        """The add-on folders changed: list them again."""
        self.loras.refresh()
        self.embeddings.refresh()
        self.vae.refresh()

    def values(self) -> dict:
        shown = self.form.isRowVisible
        return dict(loras=self.loras.values() if shown(self.loras) else (),
                    vae=self.vae.value() if shown(self.vae) else "")

    def apply(self, job) -> list[str]:
        return self.loras.apply(job.loras) + self.vae.apply(job.vae)

    def restore_problems(self, path: str, job) -> list[str]:
        """The LoRAs of the prompt's tags and the embeddings the image at ``path`` was made with that are not in
        the folders here (the LoRA list's own are reported by ``apply``)."""
        from ddpm_studio.engine.addons.resources import missing_files
        from ddpm_studio.engine.output.metadata import MetadataError, read_metadata

        try:
            payload = read_metadata(path)
        except MetadataError:
            return []
        listed = {Path(ref).stem for ref, _ in job.loras} | {Path(ref).name for ref, _ in job.loras}
        lines = []
        for kind, name in missing_files(payload, self.settings.addon_folders):
            if kind == "lora" and name not in listed:
                lines.append(f"the LoRA '{name}' of the prompt is not in the LoRA folders")
            elif kind == "embedding":
                lines.append(f"the embedding '{name}' is not in the embedding folders")
        return lines
