"""The Train tab's questions and messages about a run already in the output folder: resume it or set it aside (with
"Start a new run" the default when its recipe differs, and no Resume for the other trainer's run), and the trainers'
typed refusals (training/earlier_run.py) said in the tab's own terms rather than the CLI's flags."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ddpm_studio.training.earlier_run import EarlierRunError, OtherTrainersRun, other_trainer

KINDS = {"ddpm": "Pixel DDPM", "lora": "Stable Diffusion LoRA"}  # the names the Train tab's kind box shows


def earlier_run_box(parent: QWidget, config, earlier: str, changes, on_resume: Callable[[], None],
                    on_new_run: Callable[[], None]) -> QMessageBox:
    """Resume the run in the output folder, or set it aside and start a new one. When its recipe differs from
    this one, that is said and "Start a new run" is the default (Enter); a run of the other trainer cannot be
    resumed at all."""
    other = bool(changes) and other_trainer(config.output_dir, config)
    new_run = "Start a new run (the earlier one's files are moved into a subfolder; nothing is deleted)"
    held = f"{config.output_dir} already holds {earlier}"
    if not changes:
        title, text = ("This folder holds a training run",
                       f"{held}. Resume that run, or start a new one? A new run moves the earlier one's files "
                       "into a subfolder; nothing is deleted.")
    else:
        title = "This folder holds another kind of run" if other else "This folder holds a different run"
        listed = "".join(f"\n• {change}" for change in changes)
        text = (f"{held}, from a run with another recipe:{listed}\n\n" +
                (f"A run goes on only as the kind it began as. {new_run}, or choose another output folder."
                 if other else f"Resuming it would go on training that run with these settings. {new_run}, or "
                               "resume it anyway?"))
    box = QMessageBox(QMessageBox.Icon.Warning if changes else QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Cancel, parent)
    resume = None
    if not other:
        resume = box.addButton("Resume it anyway" if changes else "Resume it", QMessageBox.ButtonRole.AcceptRole)
        resume.clicked.connect(on_resume)
    new = box.addButton("Start a new run", QMessageBox.ButtonRole.DestructiveRole)
    new.clicked.connect(on_new_run)
    box.setDefaultButton(new if changes else resume)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def failure_message(trainer) -> str:
    """How the training failed, in the Train tab's terms (the trainer's typed errors), else its message."""
    failure = trainer.failure
    if isinstance(failure, OtherTrainersRun):
        kind = KINDS["lora" if failure.run_is_lora else "ddpm"]
        return (f"{failure.output} holds a {kind} run. To resume it, choose {kind} under Train first; or choose "
                "another output folder.")
    if isinstance(failure, EarlierRunError):
        return (f"{failure.output} already holds a training run ({failure.earlier}). Press Start training again "
                "to resume it or set it aside, or choose another output folder.")
    return trainer.error
