"""The running part of the Train panel, mixed into TrainPanel: Start (the settings checked, and a run already in the
output folder resumed or set aside, as the user says), Pause, Stop, Export now, the training thread's events shown
as they come (loss, progress and ETA, samples, the exported model), and how the run ended."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training import loss_log
from ddpm_studio.training.config import Recipe
from ddpm_studio.training.earlier_run import recipe_changes
from ddpm_studio.training.lora.config import LoraTrainConfig
from ddpm_studio.ui.train.earlier_run_box import earlier_run_box, failure_message
from ddpm_studio.ui.train.run_view import duration
from ddpm_studio.ui.train.worker import TrainerThread
from ddpm_studio.ui.widgets.common import scroll_into_view

LAST_CONFIG_KEY = "train/last_config"  # the settings of the last pixel DDPM run started (the rows come back with them)
LAST_LORA_KEY = "train/last_lora_config"  # the same for a LoRA


class TrainRuns:
    """Needs the panel's ``settings``, ``trainer``, ``lora``, ``folder``, ``scanned_folder``, ``scan_folder``,
    ``current_config``, ``data_view``, ``run_view``, ``resume_box``, the buttons and progress widgets, its signals,
    ``show_error`` and ``error_box``."""

    def start(self) -> None:
        if self.trainer is not None:
            return
        folder = self.folder.text().strip()
        if folder and folder != self.scanned_folder:  # typed in without leaving the field: show what will be used,
            self.scan_folder(folder)  # and the output folder follows it
        try:
            config = self.current_config()
        except ValueError as exc:
            self.progress_label.setText("")
            self.show_error("Check the training settings", str(exc))
            return
        problem = self.data_view.caption_problem() if self.lora else ""
        if problem:
            self.show_error("Check the captions", problem)
            return
        self.settings.set_json(LAST_LORA_KEY if self.lora else LAST_CONFIG_KEY, config.to_dict())
        earlier = ckpt.describe_run(config.output_dir)
        changes = recipe_changes(config.output_dir, config) if earlier else []
        if earlier and (changes or not self.resume_box.isChecked()):
            # a new run here would mix with, then overwrite, the one before; resuming one made from other pictures
            # (base model, resolution, trainer) would go on training it on these: ask first
            self.ask_about_earlier_run(config, earlier, changes)
            return
        self.launch(config, resume=self.resume_box.isChecked())

    def ask_about_earlier_run(self, config: Recipe, earlier: str, changes: list[str] = ()) -> QMessageBox:
        """Resume the run in the output folder, or set it aside and start a new one (earlier_run_box.py)."""
        box = earlier_run_box(self, config, earlier, changes, on_resume=lambda: self.launch(config, resume=True),
                              on_new_run=lambda: self.launch(config, resume=False, set_aside=True))
        self.error_box = box
        return box

    def launch(self, config: Recipe, resume: bool, set_aside: bool = False) -> None:
        if self.trainer is not None:
            return
        if set_aside:
            try:
                moved = ckpt.set_aside(config.output_dir)
            except OSError as exc:
                self.show_error("The earlier run could not be moved aside",
                                f"Could not move the earlier run in {config.output_dir} into a subfolder: {exc}")
                return
            self.status_message.emit(f"The earlier run is now in {moved}")
        self.resume_box.setChecked(resume)
        self.final_message = self.training_precision = ""
        self._clear_run_view()
        self.progress.setRange(0, config.max_steps)
        self.progress_label.setText("Loading the data and the model…")
        self.running_lora = isinstance(config, LoraTrainConfig)
        self.running_output = config.output_dir
        self.exported_base = config.base_model if self.running_lora else ""
        self.trainer = TrainerThread(config, resume=resume, parent=self)
        self.trainer.event.connect(self._on_event)
        self.trainer.finished.connect(self._on_thread_finished)
        self._set_running(True)
        self.trainer.start()

    def use_exported(self) -> None:
        if self.exported_base:
            self.use_lora_requested.emit(self.exported_base, self.exported_model)
        else:
            self.use_model_requested.emit(self.exported_model)

    def toggle_pause(self) -> None:
        if self.trainer is None:
            return
        if self.trainer.control.paused:
            self.trainer.control.resume()
            self.pause_button.setText("Pause")
        else:
            self.trainer.control.pause()
            self.pause_button.setText("Resume")

    def stop(self) -> None:
        if self.trainer is not None:
            self.trainer.control.request_stop()
            self.progress_label.setText("Stopping: saving a checkpoint and the model…")

    def export_now(self) -> None:
        if self.trainer is not None:
            self.trainer.control.request_export()

    @property
    def training(self) -> bool:
        return self.trainer is not None and self.trainer.isRunning()

    def request_stop(self) -> dict:
        """Ask a running training to stop (it checkpoints first), without waiting: the threads still running, each
        with what it does in words."""
        threads = dict.fromkeys(self.data_view.scanners(), "the folder scan")
        if self.trainer is not None:
            self.trainer.control.request_stop()
            threads[self.trainer] = "the training"
        return threads

    def shutdown(self, timeout_ms: int = 120000) -> None:
        """Stop a running training (it checkpoints and exports first) and wait for it."""
        if self.trainer is not None:
            self.trainer.control.request_stop()
            self.trainer.wait(timeout_ms)
        self.data_view.wait(timeout_ms)

    @property
    def last_sample(self):
        return self.run_view.last_sample

    def _on_event(self, event) -> None:
        if event.kind == "data":
            self.scan_label.setText(event.message.splitlines()[0])
        elif event.kind == "note":  # about the data: listed with the files that cannot be used, and said once
            self.bad_files.appendPlainText(event.message)
            self.status_message.emit(event.message)
        elif event.kind == "step":
            self.loss_plot.add(event.step, event.loss)
            self.progress.setValue(event.step)
            eta = f" · ETA {duration(event.eta_s)}" if event.eta_s is not None else ""
            precision = f" · {self.training_precision}" if self.training_precision else ""
            self.progress_label.setText(f"Step {event.step}/{event.max_steps} · loss {event.loss:.4f} · "
                                        f"{event.images_per_s:.1f} img/s{precision}{eta}")
        elif event.kind == "sample":
            self.run_view.show_sample(event, self.running_lora)
        elif event.kind == "exported":
            self.exported_model = event.path
            self.use_button.setVisible(True)
            scroll_into_view(self.use_button)  # it may sit below the settings column's fold
            if self.running_lora:
                self.lora_exported.emit(event.path)
                self.status_message.emit(f"{event.message}; it is in Text to Image's LoRA list")
            else:
                self.model_exported.emit(event.path)
                self.status_message.emit(f"{event.message}; it is in the Generate panel's list")
        elif event.kind == "precision":  # kept on the step line, and the whole of it in the line's tooltip
            self.training_precision = event.precision
            self.progress_label.setText(event.message)
            self.progress_label.setToolTip(event.message)
            self.status_message.emit(event.message)
        elif event.kind in ("finished", "stopped", "paused", "resumed", "checkpoint", "guide"):
            if event.kind == "resumed" and event.path:  # from a checkpoint: the loss before it, from the run's log
                for step, loss in loss_log.read(self.running_output, up_to=event.step):
                    self.loss_plot.add(step, loss)
            if event.kind == "paused":
                self.progress_label.setText(f"{event.message} — press Resume to go on")
            self.status_message.emit(event.message)
            if event.kind in ("finished", "stopped"):
                self.final_message = event.message  # shown when the thread is over, with Start enabled again

    def _on_thread_finished(self) -> None:
        """The training thread is over: say how it ended and take the next Start, in one step."""
        error = failure_message(self.trainer)
        self.trainer = None
        self._set_running(False)
        self.resume_box.setChecked(False)
        self.progress_label.setText("Training stopped with an error" if error else self.final_message)
        if error:
            self.show_error("Training failed", error)
        elif self.use_button.isVisible():  # the message above it may have grown: keep it in view
            scroll_into_view(self.use_button)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        for button in (self.pause_button, self.stop_button, self.export_button):
            button.setEnabled(running)
        self.pause_button.setText("Pause")
