"""What both trainers' loops share (the DDPM one in ``ddpm/trainer.py``, the LoRA one in ``lora/trainer.py``): the
device and the Accelerator, beginning or resuming a run, the loop of steps (``run_steps``: an optimizer step, the
loss report with speed and ETA and the stop at a loss that is not finite, pausing, checkpoints that a kill cannot
tear, samples and exports when they are due). No Qt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training import loss_log
from ddpm_studio.training.events import TrainControl, TrainEvent, TrainingError
from ddpm_studio.training.precision import as_set


@dataclass
class TrainSummary:
    step: int
    model_dir: str
    stopped: bool
    last_loss: float | None


def ignore_event(event: TrainEvent) -> None:
    return None


def training_device():
    """The device this process trains on, before the Accelerator exists (for measuring precision on it)."""
    from ddpm_studio.distributed import process_state

    return process_state().device


def device_is_main() -> bool:
    from ddpm_studio.distributed import process_state

    return process_state().is_main_process


def open_run(config, on_event, resume: bool):
    """What both trainers do first: the recipe checked, the output folder's earlier run checked (``earlier_run``),
    the device, freed memory kept for reuse on a CPU, and the events heard only on the main process; returns
    (output folder, device, emit)."""
    from ddpm_studio.host_memory import keep_freed_memory
    from ddpm_studio.training.earlier_run import check_output_folder

    config.validate()
    output = Path(config.output_dir).expanduser()
    check_output_folder(output, resume, config)
    device = training_device()
    if device.type == "cpu":
        keep_freed_memory()
    return output, device, on_event if device_is_main() else ignore_event


def make_accelerator(config):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import ProjectConfiguration

    mixed = (config.chosen_precision or "no") if config.mixed_precision == "auto" else config.mixed_precision
    if mixed == "fp16" and not torch.cuda.is_available():
        raise TrainingError("fp16 mixed precision needs a CUDA GPU; on a CPU use bf16, no, or auto.")
    AcceleratorState._reset_state()  # a second run in the same process (GUI, tests) may change precision
    from ddpm_studio.distributed import several_cpu_processes

    return Accelerator(
        cpu=several_cpu_processes(),  # CPU processes of one run talk over gloo, as the PartialState made before
        mixed_precision=mixed,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        project_config=ProjectConfiguration(project_dir=config.output_dir),
    )


@dataclass
class LoopState:
    step: int
    started: float
    start_step: int
    logged_step: int = -1
    last_loss: float | None = None  # the loss last reported (the last good one: a loss not finite stops the run)

    def __post_init__(self) -> None:
        if self.logged_step < 0:
            self.logged_step = self.step


def begin_run(accelerator, output: Path, config, resume: bool, emit) -> int:
    """The run's folder made ready (no half-written checkpoint, the recipe saved, the loss history kept up to the
    step it goes on from) and, with ``resume``, the latest checkpoint loaded; returns the step to go on from."""
    step, found = 0, None
    if config.mixed_precision != "auto":  # auto's choice, with its timings, was said when it was measured
        emit(as_set(config))
    if accelerator.num_processes > 1:
        emit(TrainEvent("processes", message=f"Training on {accelerator.num_processes} processes "
                                             f"({accelerator.distributed_type.value.lower()})."))
    if accelerator.is_main_process:
        output.mkdir(parents=True, exist_ok=True)
        ckpt.remove_partials(output)
        config.save(output / "train_config.json")
    if resume:
        found = ckpt.latest_checkpoint(output)
        if found is None:
            emit(TrainEvent("resumed", message=f"No checkpoint in {output / 'checkpoints'}; starting from step 0."))
        else:
            accelerator.load_state(str(found[1]))
            step = int(ckpt.read_state(found[1])["step"])
    if accelerator.is_main_process:
        loss_log.start_at(output, step)  # before 'resumed' is said: the panel reads the history then
    if found is not None:
        emit(TrainEvent("resumed", step=step, max_steps=config.max_steps, path=str(found[1]),
                        message=f"Resumed from {found[1].name} at step {step}."))
    accelerator.wait_for_everyone()
    return step


def optimizer_step(accelerator, loss, params, max_grad_norm: float, optimizer, lr_scheduler) -> None:
    """Backward, and — once the accumulated steps are in — clip the gradients and step; the schedule follows."""
    accelerator.backward(loss)
    if accelerator.sync_gradients:
        accelerator.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    lr_scheduler.step()
    optimizer.zero_grad(set_to_none=True)


def report_loss(accelerator, running_loss: torch.Tensor, state: "LoopState", config, output: Path, lr: float,
                images_per_step: int, emit) -> float:
    """The mean loss since the last report (all processes), emitted as a ``step`` event with speed and ETA; the
    running sum starts again. A loss that is not finite stops the run, naming the checkpoint that is kept."""
    step = state.step
    loss_value = (accelerator.reduce(running_loss, "mean").item() / (step - state.logged_step)
                  / config.gradient_accumulation_steps)
    running_loss.zero_()
    if not math.isfinite(loss_value):
        found = ckpt.latest_checkpoint(output)
        kept = f"The last good checkpoint ({found[1].name}) is kept." if found else "No checkpoint was written yet."
        raise TrainingError(f"The loss became {loss_value} at step {step}; training stopped. {kept} "
                            "Try a lower learning rate, or mixed precision 'no'.")
    elapsed = time.perf_counter() - state.started
    rate = (step - state.start_step) * images_per_step / max(elapsed, 1e-9)
    eta = (config.max_steps - step) * images_per_step / rate if rate > 0 else None
    if accelerator.is_main_process:
        loss_log.append(output, step, loss_value, lr)
    emit(TrainEvent("step", step=step, max_steps=config.max_steps, loss=loss_value, lr=lr, images_per_s=rate,
                    eta_s=eta))
    state.logged_step = step
    return loss_value


def wait_while_paused(control: TrainControl, emit, state: "LoopState", max_steps: int, export) -> bool:
    """Block while paused; True if a stop came meanwhile. Export now still exports (``export()``, the model as it
    is). The time paused does not count in the speed and ETA."""
    if not control.paused:
        return control.stopping
    step = state.step
    emit(TrainEvent("paused", step=step, max_steps=max_steps, message=f"Paused at step {step}"))
    paused_at = time.perf_counter()
    while control.paused and not control.stopping:
        if control.take_export_request():
            export()
        time.sleep(0.05)
    state.started += time.perf_counter() - paused_at
    if not control.stopping:
        emit(TrainEvent("resumed", step=step, max_steps=max_steps, message=f"Resumed at step {step}"))
    return control.stopping


def save_checkpoint(accelerator, output: Path, step: int, config, loss, emit) -> None:
    partial = ckpt.partial_path(output, step)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = ckpt.commit_checkpoint(partial, step, {"loss": loss, "config": config.to_dict()}, config.checkpoints_total_limit)
        emit(TrainEvent("checkpoint", step=step, max_steps=config.max_steps, path=str(final), message=f"Saved {final.name}"))
    accelerator.wait_for_everyone()


def run_steps(accelerator, config, output: Path, state: LoopState, control: TrainControl, emit, lr_scheduler, *,
              micro_step: Callable[[int], torch.Tensor], sample: Callable[[int], None], export: Callable[[], object],
              after_update: Callable[[], None] | None = None,
              end_of_step: Callable[[int], None] | None = None) -> bool:
    """The steps both trainers make, from ``state.step`` to the recipe's ``max_steps`` or a stop; True if stopped.

    A step is ``micro_step(micro)`` for each of the recipe's accumulated micro-batches (the micro-batch's loss, with
    ``optimizer_step`` done), then ``after_update()`` (the DDPM trainer's EMA). Then, at the recipe's intervals,
    the loss is reported (kept in ``state.last_loss``), a checkpoint saved and ``sample(step)`` drawn, then
    ``end_of_step(step)`` (the DDPM trainer keeps its autoguidance guide), and an export asked for meanwhile is made
    with ``export()``, as it is while paused. A stopped run's last step is checkpointed, so that it can resume.
    """
    running_loss = torch.zeros((), device=accelerator.device)
    images_per_step = config.batch_size * config.gradient_accumulation_steps * accelerator.num_processes
    checkpointed = state.step if state.step > 0 else None  # the step of the newest checkpoint
    stopped = False
    while state.step < config.max_steps:
        stop_now = wait_while_paused(control, emit, state, config.max_steps, export)
        if accelerator.num_processes > 1:  # all processes must agree, or the others hang in the next all-reduce
            stop_now = accelerator.reduce(torch.tensor(float(stop_now), device=accelerator.device), "max").item() > 0
        if stop_now:
            stopped = True
            break
        for micro in range(config.gradient_accumulation_steps):
            loss = micro_step(micro)
            running_loss += loss.detach()
        if after_update is not None:
            after_update()
        state.step += 1
        step = state.step

        last = step == config.max_steps
        checkpoint_due = step % config.checkpoint_every == 0 or last
        if step % config.log_every == 0 or checkpoint_due:
            state.last_loss = report_loss(accelerator, running_loss, state, config, output,
                                          lr_scheduler.get_last_lr()[0], images_per_step, emit)
        if checkpoint_due and not last:
            save_checkpoint(accelerator, output, step, config, state.last_loss, emit)
            checkpointed = step
        if step % config.sample_every == 0 or last:
            sample(step)
        if end_of_step is not None:
            end_of_step(step)
        if control.take_export_request():
            export()

    if checkpointed != state.step:  # so that a stopped run can resume
        save_checkpoint(accelerator, output, state.step, config, state.last_loss, emit)
    return stopped
