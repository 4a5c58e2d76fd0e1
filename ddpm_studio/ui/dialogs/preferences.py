"""Preferences: the device and precision the sampler runs on, memory savers for large models, latent previews
(linear map or TAESD), and the pickle policy; on a second tab, the folders of the user's own files.

Changes are saved to the settings and sent to the sampler thread, which rebuilds its engine before the next job.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ddpm_studio.engine.runtime.options import OFFLOADS, MemoryOptions
from ddpm_studio.ui.core.settings import Settings
from ddpm_studio.ui.dialogs.folder_prefs import AddonFoldersPage
from ddpm_studio.ui.widgets.common import path_row

DEVICES = [("Automatic (CUDA, then MPS, then CPU)", "auto"), ("CUDA GPU", "cuda"), ("Apple GPU (MPS)", "mps"), ("CPU", "cpu")]
PREVIEWS = [("Linear latent→RGB map (instant)", ""), ("TAESD from the Hugging Face cache, if there", "auto"),
            ("TAESD from a folder", "folder")]
MEMORY_SAVERS = [  # MemoryOptions' fields, in the order the dialog shows them
    ("attention_slicing", "Attention slicing — less memory, a little slower"),
    ("vae_tiling", "VAE tiling — decode large images tile by tile"),
    ("vae_slicing", "VAE slicing — decode a batch one image at a time"),
    ("vae_fp32", "VAE in fp32 — the fix for black (NaN) images in fp16"),
    ("cpu_offload", "Model CPU offload — each model on the GPU only while it runs"),
    ("group_offload", "Group offload — the models' blocks on the GPU in turn: less memory, a little slower"),
    ("sequential_offload", "Sequential CPU offload — each layer on the GPU only while it runs: least memory, "
                           "slowest"),
]
OFFLOAD_NOTE = ("One offload at a time (checking one clears the others). Offloads work on CUDA GPUs only: on the CPU "
                "or an Apple GPU the model stays where it is, and the run says so.")
PRECISIONS = [("Automatic (fp16 on GPUs, fp32 on the CPU)", "auto"), ("fp16", "fp16"), ("bf16", "bf16"), ("fp32", "fp32")]
STORAGE_NOTE = ("Diffusion-model files in float8 or GGUF keep their weights so in memory; each layer is computed in "
                "this precision as it runs. A model's tooltip says what its file stores, the run's note both.")


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        options = settings.engine_options

        self.device_box = _combo(DEVICES, options["device"])
        self.precision_box = _combo(PRECISIONS, options["precision"])
        memory: MemoryOptions = options["memory"]
        self.memory_boxes = {name: QCheckBox(label) for name, label in MEMORY_SAVERS}
        for name, box in self.memory_boxes.items():
            box.setChecked(getattr(memory, name))
            setattr(self, name, box)
        self.attention_slicing.setToolTip("Stable Diffusion's UNet; SD 3.5 and Flux compute attention in PyTorch's "
                                          "fused kernel, which already keeps memory low")
        for name in OFFLOADS:  # one at a time: checking one unchecks the others
            self.memory_boxes[name].toggled.connect(lambda on, chosen=name: on and self._one_offload(chosen))
            self.memory_boxes[name].setToolTip(OFFLOAD_NOTE)
        self.storage_note = QLabel(STORAGE_NOTE)
        self.storage_note.setWordWrap(True)
        self.offload_note = QLabel(OFFLOAD_NOTE)
        self.offload_note.setWordWrap(True)
        self.preview_box = _combo(PREVIEWS, "folder" if options["taesd"] not in ("", "auto") else options["taesd"])
        self.taesd_folder = QLineEdit(options["taesd"] if options["taesd"] not in ("", "auto") else "")
        self.taesd_folder.setPlaceholderText("a folder holding an AutoencoderTiny (config.json + safetensors)")
        self.preview_box.currentIndexChanged.connect(self._preview_changed)
        self._preview_changed()
        self.history_budget = QSpinBox(minimum=16, maximum=16384, value=settings.history_budget_mb, singleStep=64,
                                       suffix=" MB")
        self.history_budget.setToolTip("Previews kept per run for the scrubber and exports; beyond this, evenly "
                                       "spaced steps (and the last) are kept")
        self.allow_pickle = QCheckBox("Allow unsafe pickle files (.ckpt, .bin, .pt)")
        self.allow_pickle.setChecked(options["allow_pickle"])
        self.allow_pickle.setToolTip("Pickle files can run arbitrary code when loaded. Even when allowed, they are "
                                     "read with torch's weights-only loader first.")

        sampling = QWidget()
        form = QFormLayout(sampling)
        form.addRow("Device", self.device_box)
        form.addRow("Precision", self.precision_box)
        form.addRow("", self.storage_note)
        for row, (name, _) in enumerate(MEMORY_SAVERS):
            form.addRow("Memory" if row == 0 else "", self.memory_boxes[name])
        form.addRow("", self.offload_note)
        form.addRow("Latent previews", self.preview_box)
        form.addRow("", path_row(self.taesd_folder, self._choose_taesd))
        form.addRow("Step history", self.history_budget)
        form.addRow("Security", self.allow_pickle)
        note = QLabel("Changes apply from the next run; the current one finishes as it started.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.files_page = AddonFoldersPage(settings)
        self.folders_changed = False
        tabs = QTabWidget()
        tabs.addTab(sampling, "Sampling")
        tabs.addTab(self.files_page, "Your files")
        self.tabs = tabs
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def chosen(self) -> dict:
        memory = MemoryOptions(**{name: box.isChecked() for name, box in self.memory_boxes.items()})
        taesd = self.preview_box.currentData()
        if taesd == "folder":
            taesd = self.taesd_folder.text().strip()
        return dict(device=self.device_box.currentData(), precision=self.precision_box.currentData(),
                    allow_pickle=self.allow_pickle.isChecked(), memory=memory, taesd=taesd)

    def _one_offload(self, chosen: str) -> None:
        for name in OFFLOADS:
            if name != chosen:
                self.memory_boxes[name].setChecked(False)

    def _preview_changed(self) -> None:
        self.taesd_folder.setEnabled(self.preview_box.currentData() == "folder")

    def _choose_taesd(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "TAESD folder")
        if folder:
            self.taesd_folder.setText(folder)
            self.preview_box.setCurrentIndex(self.preview_box.findData("folder"))

    def save(self) -> dict:
        options = self.chosen()
        self.settings.set_engine_options(**options)
        self.settings.history_budget_mb = self.history_budget.value()
        self.folders_changed = self.files_page.save(self.settings)
        self.settings.sync()
        return options


def _combo(items, current: str) -> QComboBox:
    box = QComboBox()
    for label, value in items:
        box.addItem(label, value)
    box.setCurrentIndex(max(0, box.findData(current)))
    return box
