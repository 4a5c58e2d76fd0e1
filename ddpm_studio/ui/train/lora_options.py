"""A LoRA training's less used options, folded under "More options": caption dropout, tag shuffling (keeping the
first tags), mirroring, min-SNR-γ loss weighting, noise offset and gradient checkpointing — the same settings as
``train --lora``'s flags (``training.lora_config``)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSpinBox, QToolButton, QWidget


class LoraTrainOptions:
    """The toggle and the rows it shows (``rows``, for the panel's form)."""

    def __init__(self) -> None:
        self.toggle = QToolButton(text="More options", checkable=True)
        self.toggle.setToolTip("Caption dropout, tag shuffling, mirroring, min-SNR weighting, noise offset, memory")
        self.dropout = QDoubleSpinBox(minimum=0.0, maximum=0.9, value=0.0, singleStep=0.05, decimals=2)
        self.dropout.setToolTip("The chance a step trains a picture with the empty caption (0.05–0.1 keeps the "
                                "model's unguided output in shape; 0: never)")
        self.shuffle = QCheckBox("Shuffle tags")
        self.shuffle.setToolTip("Shuffle a caption's comma-separated tags every step, so no order is learnt")
        self.keep = QSpinBox(minimum=0, maximum=32, value=0)
        self.keep.setToolTip("How many leading tags stay in place when shuffling (1 keeps the trigger first)")
        self.flip = QCheckBox("Mirror pictures at random")
        self.flip.setToolTip("Also train on each picture mirrored (not for text, or for anything asymmetric)")
        self.min_snr = QDoubleSpinBox(minimum=0.0, maximum=20.0, value=0.0, singleStep=1.0, decimals=1)
        self.min_snr.setToolTip("Min-SNR-γ loss weighting (Hang et al. 2023): 5 is the paper's choice; 0: off")
        self.noise_offset = QDoubleSpinBox(minimum=0.0, maximum=0.5, value=0.0, singleStep=0.01, decimals=3)
        self.noise_offset.setToolTip("Noise added per channel: 0.05–0.1 lets a LoRA learn very dark or light "
                                     "pictures; 0: off")
        self.checkpointing = QCheckBox("Gradient checkpointing")
        self.checkpointing.setToolTip("Less memory for slower steps: for large resolutions on small GPUs")
        self.shuffle_row = QWidget()
        shuffle_row = QHBoxLayout(self.shuffle_row)
        shuffle_row.setContentsMargins(0, 0, 0, 0)
        shuffle_row.addWidget(self.shuffle)
        shuffle_row.addWidget(QLabel("keep"))
        shuffle_row.addWidget(self.keep)
        shuffle_row.addStretch(1)
        # rows of the Train panel's form, shown while the toggle is down
        self.rows = [("Caption dropout", self.dropout), ("", self.shuffle_row), ("", self.flip),
                     ("Min-SNR γ", self.min_snr), ("Noise offset", self.noise_offset), ("", self.checkpointing)]

    def values(self) -> dict:
        return dict(caption_dropout=round(self.dropout.value(), 2), shuffle_tags=self.shuffle.isChecked(),
                    keep_tags=self.keep.value(), random_flip=self.flip.isChecked(),
                    min_snr_gamma=self.min_snr.value(), noise_offset=self.noise_offset.value(),
                    gradient_checkpointing=self.checkpointing.isChecked())

    def apply(self, config) -> None:
        self.dropout.setValue(config.caption_dropout)
        self.shuffle.setChecked(config.shuffle_tags)
        self.keep.setValue(config.keep_tags)
        self.flip.setChecked(config.random_flip)
        self.min_snr.setValue(config.min_snr_gamma)
        self.noise_offset.setValue(config.noise_offset)
        self.checkpointing.setChecked(config.gradient_checkpointing)
        self.toggle.setChecked(self.values() != LoraTrainOptions.defaults())

    @staticmethod
    def defaults() -> dict:
        return dict(caption_dropout=0.0, shuffle_tags=False, keep_tags=0, random_flip=False, min_snr_gamma=0.0,
                    noise_offset=0.0, gradient_checkpointing=False)
