"""The running part of a sampling panel, mixed into SamplingPanel: Generate queues a run with the form as it is at
the click; the run's start, steps and stages go to the canvas, its result to the results strip; Cancel and Cancel all;
the queue's length; Generate's state and why it waits; and a black (NaN) picture's fix, the VAE in fp32, offered and
run again."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractSpinBox, QMessageBox

from ddpm_studio.engine.errors import VAE_FP32
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.ui.core.tasks import report_crash
from ddpm_studio.ui.core.worker import JobFailed


class PanelRuns:
    """Needs the panel's ``sampler``, ``client``, ``settings``, ``ready``, ``walk``, ``model_box``, ``canvas``,
    ``gallery``, ``generate_button``, ``queue_label``, ``problem_note``, ``field_problems``, ``seed_field``,
    ``current_job``, ``save_settings``, ``refresh_models``, ``status_message``, ``show_error`` and ``error_box``."""

    def set_backend_ready(self, device_label: str) -> None:
        self.ready = True
        self.refresh_models(include_hf_cache=True)
        self.status_message.emit(f"Ready — sampling on {device_label}")

    def generate(self) -> asyncio.Task | None:
        """Queue a run with the form's parameters as they are at this click; the rest happens when it ends."""
        if not self.ready:
            return None
        for box in self.findChildren(QAbstractSpinBox):  # a number still being typed counts, as it will be shown
            box.interpretText()
        if self.field_problems():
            return None
        self.seed_field.before_run()
        try:
            job = self.current_job()
        except JobError as exc:
            self.show_error("Check the parameters", str(exc))
            return None
        self.save_settings()
        return self.submit(job)

    def submit(self, job) -> asyncio.Task:
        task = asyncio.ensure_future(self._finish(self.client.submit(job, owner=self), job))
        task.add_done_callback(report_crash)
        return task

    async def _finish(self, pending: asyncio.Future, job=None) -> None:
        try:
            result = await pending
        except JobFailed as exc:
            self.canvas.fail_run()
            if exc.remedy == VAE_FP32 and job is not None and not self.settings.engine_options["memory"].vae_fp32:
                self.offer_vae_fp32(job, str(exc))
            else:
                self.show_error("Generation failed", str(exc))
            return
        if result is None:
            self.status_message.emit("A queued run was cancelled before it started")
        elif result.cancelled:
            self.canvas.finish_run(f"Cancelled after {result.steps_run} steps — nothing saved")
        else:
            count, seed = len(result.images), result.job.seed
            seeds = f"seed {seed}" if count == 1 else f"seeds {seed}–{seed + count - 1}"
            self.canvas.finish_run(f"Done — {count} image(s), {seeds}, in {result.seconds:.1f} s on {result.device}")
            self.gallery.add_images(result.saved_paths)
            self.on_result(result)
            if result.saved_paths:
                note = f" — {result.note}" if result.note else ""
                self.status_message.emit(f"Saved {len(result.saved_paths)} image(s) to {Path(result.saved_paths[0]).parent}{note}")

    def on_result(self, result) -> None:
        """A finished run's result, after the gallery has it (a panel may show more)."""

    def cancel(self) -> None:
        if self.walk is not None:
            self.walk.stop()
        self.sampler.cancel_current()

    def cancel_all(self) -> None:
        if self.walk is not None:
            self.walk.stop()
        self.sampler.cancel_all()

    def on_job_started(self, job, history) -> None:
        """One of this panel's jobs started (called by the SamplerClient)."""
        self.canvas.start_run(history, export_name=f"steps-{job.kind}-seed{job.seed}-{job.scheduler}")

    def on_step(self, event) -> None:
        """The newest step of this panel's running job (called by the SamplerClient)."""
        self.canvas.show_step(event)

    def on_stage(self, stage: str) -> None:
        """This panel's running job reached a stage: the model is loaded and step 1 runs, or the VAE decodes."""
        self.canvas.show_stage(stage)

    def on_cancelling(self) -> None:
        """Cancel reached this panel's running job: said at once, while the run stops inside its step."""
        self.canvas.show_cancelling()

    def _on_queue_changed(self, waiting: int) -> None:
        self.queue_label.setText(f"Queue: {waiting} waiting" if waiting else "")
        self.queue_label.setVisible(bool(waiting))

    def check_fields(self) -> None:
        """Say why Generate waits (a field the job would refuse), or nothing."""
        problems = self.field_problems()
        if problems:
            self.problem_note.warn("Generate waits: " + " ".join(problems))
        else:
            self.problem_note.clear_note()
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_model = self.model_box.count() > 0
        self.generate_button.setEnabled(self.ready and has_model and not self.field_problems())
        if not self.ready:
            self.generate_button.setText("Loading torch…")
        elif not has_model:
            self.generate_button.setText("Add a model folder first")
        else:
            self.generate_button.setText("Generate (Ctrl+Enter)")

    def offer_vae_fp32(self, job, message: str) -> QMessageBox:
        """A black (NaN) result from a half-precision VAE: offer the fix — the VAE in fp32 — and run the job again."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Black image", message, QMessageBox.StandardButton.Cancel, self)
        self.fix_button = box.addButton("Turn on VAE in fp32 and run again", QMessageBox.ButtonRole.AcceptRole)
        box.accepted.connect(lambda: self.apply_vae_fp32(job))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box
        return box

    def apply_vae_fp32(self, job) -> asyncio.Task:
        options = self.settings.engine_options
        options["memory"] = dataclasses.replace(options["memory"], vae_fp32=True)
        self.settings.set_engine_options(**options)
        self.settings.sync()
        self.sampler.configure(**options)
        self.status_message.emit("VAE in fp32 is on (Settings → Preferences); running again")
        return self.submit(job)
