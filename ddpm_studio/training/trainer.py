"""The DDPM trainer, on accelerate: the same code on one CPU, one GPU, or many under ``accelerate launch``.

Each step is the DDPM training step (Ho et al. 2020, Algorithm 1): take clean images x0, draw t ~ U{0..T-1} and
ε ~ N(0, I), make x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, and regress the UNet's output on ε (or v, or x0).
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ddpm_studio.engine.grid import image_grid
from ddpm_studio.engine.model_defaults import write_defaults
from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training.config import TrainConfig
from ddpm_studio.training.dataset import ImageFolderDataset
from ddpm_studio.training.events import TrainCallback, TrainControl, TrainEvent, TrainingError
from ddpm_studio.training.precision import AutocastOn, settle_precision

GUIDE_FOLDER = "guide"  # output/guide during a run; model/guide in the exported model


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
    from accelerate import PartialState

    return PartialState().device


def refuse_other_trainers_run(output: Path, lora: bool) -> None:
    """Resuming a run of the other trainer (a LoRA run with the DDPM trainer, or the other way) is a message."""
    from ddpm_studio.training.lora_config import is_lora_run

    saved = output / "train_config.json"
    if saved.is_file() and is_lora_run(saved) != lora:
        theirs = "a pixel DDPM" if lora else "a LoRA"
        how = "Pixel DDPM in the Train panel, or train without --lora" if lora else \
            "Stable Diffusion LoRA in the Train panel, or train --lora"
        raise TrainingError(f"{output} holds {theirs} run; resume it as one ({how}), or choose another output folder.")


def device_is_main() -> bool:
    from accelerate import PartialState

    return PartialState().is_main_process


def make_accelerator(config: TrainConfig):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import ProjectConfiguration

    mixed = (config.chosen_precision or "no") if config.mixed_precision == "auto" else config.mixed_precision
    if mixed == "fp16" and not torch.cuda.is_available():
        raise TrainingError("fp16 mixed precision needs a CUDA GPU; on a CPU use bf16, no, or auto.")
    AcceleratorState._reset_state()  # a second run in the same process (GUI, tests) may change precision
    return Accelerator(
        mixed_precision=mixed,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        project_config=ProjectConfiguration(project_dir=config.output_dir),
    )


def build_model(config: TrainConfig):
    """(unet, scheduler config): the base pipeline's, or a fresh preset UNet with a DDPM schedule."""
    from diffusers import DDPMScheduler

    if config.base_model:
        from ddpm_studio.engine.models import load_ddpm

        loaded = load_ddpm(config.base_model, dtype=torch.float32)
        unet = loaded.unet
        unet.requires_grad_(True)
        if unet.config.sample_size != config.resolution:
            unet.register_to_config(sample_size=config.resolution)
        return unet, dict(loaded.scheduler_config)
    from ddpm_studio.training.presets import build_unet

    unet = build_unet(config.preset, config.resolution, seed=config.seed)
    scheduler = DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type=config.prediction_type,
    )
    return unet, dict(scheduler.config)


def _as_built(config: TrainConfig, scheduler_config) -> TrainConfig:
    """A copy of ``config`` that records the noise schedule the model is trained with.

    A fine-tune takes its prediction type, beta schedule and number of timesteps from the base model's scheduler, not
    from the recipe's defaults; the saved train_config.json, the checkpoints and the model card must say those.
    """
    return dataclasses.replace(
        config,
        prediction_type=scheduler_config["prediction_type"],
        beta_schedule=scheduler_config["beta_schedule"],
        num_train_timesteps=int(scheduler_config["num_train_timesteps"]),
    )


def train(config: TrainConfig, on_event: TrainCallback = ignore_event, control: TrainControl | None = None, resume: bool = False) -> TrainSummary:
    from accelerate.utils import set_seed
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler
    from diffusers.training_utils import EMAModel

    config.validate()
    control = control or TrainControl()
    output = Path(config.output_dir).expanduser()
    if resume:
        refuse_other_trainers_run(output, lora=False)
    device = training_device()
    emit = on_event if device_is_main() else ignore_event

    dataset = ImageFolderDataset(config.data_dir, config.resolution, config.center_crop, config.random_flip)
    emit(TrainEvent("data", max_steps=config.max_steps, message=dataset.report.summary() + _bad_files(dataset.report)))

    unet, scheduler_config = build_model(config)
    noise_scheduler = DDPMScheduler.from_config(scheduler_config)
    config = _as_built(config, noise_scheduler.config)
    prediction_type = noise_scheduler.config.prediction_type
    if config.mixed_precision == "auto":
        unet.to(device)
        sample = torch.stack([dataset[i % len(dataset)] for i in range(config.batch_size)]).to(device)
        config = settle_precision(
            config, dict(unet.config), lambda ctx: _training_loss(unet, noise_scheduler, sample, prediction_type,
                                                                  AutocastOn(device, ctx)),
            list(unet.parameters()), device, emit)
    accelerator = make_accelerator(config)
    ema = None
    if config.use_ema:
        ema = EMAModel(
            unet.parameters(), decay=config.ema_max_decay, use_ema_warmup=True,
            inv_gamma=config.ema_inv_gamma, power=config.ema_power, foreach=True,
        )
    device_type = accelerator.device.type
    optimizer = torch.optim.AdamW(
        unet.parameters(), lr=config.learning_rate, betas=(config.adam_beta1, config.adam_beta2),
        weight_decay=config.adam_weight_decay, eps=config.adam_epsilon, fused=device_type in ("cuda", "cpu"),
    )
    lr_scheduler = get_scheduler(
        "cosine", optimizer, num_warmup_steps=config.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=config.max_steps * accelerator.num_processes,
    )
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, shuffle=True, drop_last=len(dataset) >= config.batch_size * accelerator.num_processes,
    )
    unet, optimizer, loader, lr_scheduler = accelerator.prepare(unet, optimizer, loader, lr_scheduler)
    if ema is not None:
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)
    set_seed(config.seed, device_specific=True)

    step = begin_run(accelerator, output, config, resume, emit)

    state = LoopState(step=step, started=time.perf_counter(), start_step=step)
    running_loss = torch.zeros((), device=accelerator.device)
    images_per_step = config.batch_size * config.gradient_accumulation_steps * accelerator.num_processes
    last_good_loss: float | None = None
    stopped = False

    def batches():
        while True:
            yield from loader

    data = batches()
    unet.train()
    while state.step < config.max_steps:
        stop_now = wait_while_paused(control, emit, state, config.max_steps)
        if accelerator.num_processes > 1:  # all processes must agree, or the others hang in the next all-reduce
            stop_now = accelerator.reduce(torch.tensor(float(stop_now), device=accelerator.device), "max").item() > 0
        if stop_now:
            stopped = True
            break
        for _ in range(config.gradient_accumulation_steps):
            clean = next(data)
            with accelerator.accumulate(unet):
                loss = _training_loss(unet, noise_scheduler, clean, prediction_type, accelerator)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(unet.parameters(), config.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            running_loss += loss.detach()
        if ema is not None:
            ema.step(unet.parameters())
        state.step += 1
        step = state.step

        last = step == config.max_steps
        checkpoint_due = step % config.checkpoint_every == 0 or last
        if step % config.log_every == 0 or checkpoint_due:
            last_good_loss = report_loss(accelerator, running_loss, state, config, output,
                                         lr_scheduler.get_last_lr()[0], images_per_step, emit)
        if checkpoint_due and not last:
            save_checkpoint(accelerator, output, step, config, last_good_loss, emit)
        if step % config.sample_every == 0 or last:
            _sample(accelerator, unet, ema, scheduler_config, config, step, output, emit)
        if step == config.guide_step:
            _export(accelerator, unet, ema, scheduler_config, config, output, step, last_good_loss, dataset, emit,
                    guide=True)
        if control.take_export_request():
            _export(accelerator, unet, ema, scheduler_config, config, output, step, last_good_loss, dataset, emit)

    save_checkpoint(accelerator, output, step, config, last_good_loss, emit)  # so that a stopped run can resume
    model_dir = _export(accelerator, unet, ema, scheduler_config, config, output, step, last_good_loss, dataset, emit)
    emit(TrainEvent("stopped" if stopped else "finished", step=step, max_steps=config.max_steps, loss=last_good_loss,
                    path=str(model_dir), message=f"{'Stopped' if stopped else 'Finished'} at step {step}; model in {model_dir}"))
    accelerator.end_training()
    return TrainSummary(step=step, model_dir=str(model_dir), stopped=stopped, last_loss=last_good_loss)


@dataclass
class LoopState:
    step: int
    started: float
    start_step: int
    logged_step: int = -1

    def __post_init__(self) -> None:
        if self.logged_step < 0:
            self.logged_step = self.step


def begin_run(accelerator, output: Path, config, resume: bool, emit) -> int:
    """The run's folder made ready (no half-written checkpoint, the recipe saved) and, with ``resume``, the latest
    checkpoint loaded; returns the step to go on from."""
    step = 0
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
            emit(TrainEvent("resumed", step=step, max_steps=config.max_steps, path=str(found[1]),
                            message=f"Resumed from {found[1].name} at step {step}."))
    accelerator.wait_for_everyone()
    return step


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
    emit(TrainEvent("step", step=step, max_steps=config.max_steps, loss=loss_value, lr=lr, images_per_s=rate,
                    eta_s=eta))
    state.logged_step = step
    return loss_value


def _training_loss(unet, noise_scheduler, clean: torch.Tensor, prediction_type: str, accelerator) -> torch.Tensor:
    noise = torch.randn_like(clean)
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (clean.shape[0],), device=clean.device)
    noisy = noise_scheduler.add_noise(clean, noise, timesteps)
    with accelerator.autocast():
        prediction = unet(noisy, timesteps).sample
    if prediction_type == "epsilon":
        target = noise
    elif prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(clean, noise, timesteps)
    else:
        target = clean
    return F.mse_loss(prediction.float(), target.float())


def wait_while_paused(control: TrainControl, emit, state: "LoopState", max_steps: int) -> bool:
    """Block while paused; True if a stop came meanwhile. The time paused does not count in the speed and ETA."""
    if not control.paused:
        return control.stopping
    step = state.step
    emit(TrainEvent("paused", step=step, max_steps=max_steps, message=f"Paused at step {step}"))
    paused_at = time.perf_counter()
    while control.paused and not control.stopping:
        time.sleep(0.05)
    state.started += time.perf_counter() - paused_at
    if not control.stopping:
        emit(TrainEvent("resumed", step=step, max_steps=max_steps, message=f"Resumed at step {step}"))
    return control.stopping


def save_checkpoint(accelerator, output: Path, step: int, config: TrainConfig, loss, emit) -> None:
    partial = ckpt.partial_path(output, step)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        final = ckpt.commit_checkpoint(partial, step, {"loss": loss, "config": config.to_dict()}, config.checkpoints_total_limit)
        emit(TrainEvent("checkpoint", step=step, max_steps=config.max_steps, path=str(final), message=f"Saved {final.name}"))
    accelerator.wait_for_everyone()


class _EmaWeights:
    """Swap the EMA weights into the model for sampling or export, then back."""

    def __init__(self, model, ema) -> None:
        self.model, self.ema = model, ema

    def __enter__(self):
        if self.ema is not None:
            self.ema.store(self.model.parameters())
            self.ema.copy_to(self.model.parameters())
        return self.model

    def __exit__(self, *exc) -> None:
        if self.ema is not None:
            self.ema.restore(self.model.parameters())


def _sample(accelerator, unet, ema, scheduler_config, config: TrainConfig, step: int, output: Path, emit) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from PIL import Image

        from ddpm_studio.engine.events import never_stop
        from ddpm_studio.engine.guidance import GuidedUNet
        from ddpm_studio.engine.jobs import GenerateJob
        from ddpm_studio.engine.sampler import sample_ddpm

        model = accelerator.unwrap_model(unet)
        job = GenerateJob(model="training", scheduler=config.sample_scheduler, steps=config.sample_steps,
                          seed=config.seed, batch_size=config.num_samples, preview_every=0)
        guide = _kept_guide(config, output, step, accelerator.device)
        model.eval()
        with _EmaWeights(model, ema):
            sampled = GuidedUNet(model, guide, config.guide_scale) if guide is not None else model
            out = sample_ddpm(sampled, scheduler_config, job, accelerator.device, torch.float32, lambda e: None,
                              never_stop)
        model.train()
        grid = sample_grid(out.images)
        folder = output / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"step-{step:08d}.png"
        Image.fromarray(grid).save(path)
        how = f"autoguidance {config.guide_scale:g}" if guide is not None else ""
        emit(TrainEvent("sample", step=step, max_steps=config.max_steps, image=grid, path=str(path), message=how))
    accelerator.wait_for_everyone()


def _kept_guide(config: TrainConfig, output: Path, step: int, device):
    """The guide kept at ``guide_step``, once the run is past it: sample grids are then drawn as the exported model
    recommends (autoguidance); None before, or without one."""
    if not _past_kept_guide(config, output, step):
        return None
    from diffusers import UNet2DModel

    folder = output / GUIDE_FOLDER / "unet"
    return UNet2DModel.from_pretrained(folder, use_safetensors=True, local_files_only=True).to(device).eval()


def _past_kept_guide(config: TrainConfig, output: Path, step: int) -> bool:
    """Whether the run is past its guide step and the guide kept there is on disk (``output/guide``)."""
    kept = output / GUIDE_FOLDER / "model_index.json"
    return bool(config.guide_step) and step > config.guide_step and kept.is_file()


def sample_grid(images: np.ndarray) -> np.ndarray:
    """Samples on white, the way the training data looks."""
    return image_grid(images, pad=2, background=255, border=True)


def _export(accelerator, unet, ema, scheduler_config, config: TrainConfig, output: Path, step: int, loss, dataset, emit,
            guide: bool = False) -> Path:
    """The (EMA) model as a diffusers DDPM pipeline folder at ``output/model``, swapped in atomically.

    With ``guide``: at ``output/guide`` instead, the early copy that later exports carry as their autoguidance guide
    (``model/guide``, recommended in its ddpm_studio.json) once the run is past it.
    """
    target = output / (GUIDE_FOLDER if guide else "model")
    kept_guide = output / GUIDE_FOLDER
    with_guide = not guide and _past_kept_guide(config, output, step)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from diffusers import DDPMPipeline, DDPMScheduler

        model = accelerator.unwrap_model(unet)
        staging = target.with_name(target.name + ".partial")
        if staging.exists():
            shutil.rmtree(staging)
        with _EmaWeights(model, ema):
            DDPMPipeline(unet=model, scheduler=DDPMScheduler.from_config(scheduler_config)).save_pretrained(staging, safe_serialization=True)
        config.save(staging / "train_config.json")
        (staging / "README.md").write_text(model_card(config, step, loss, len(dataset), dataset.report.folder), encoding="utf-8")
        if with_guide:
            shutil.copytree(kept_guide, staging / GUIDE_FOLDER)
        if not guide:  # what its preview grids were made with, and its guide
            write_defaults(staging, config.sample_scheduler, config.sample_steps,
                           guide=GUIDE_FOLDER if with_guide else "", guidance_scale=config.guide_scale,
                           name=output.name, about=model_about(config, step, len(dataset)))
        ckpt.swap_into_place(staging, target)
        what = f"the autoguidance guide (step {step})" if guide else "the model"
        emit(TrainEvent("guide" if guide else "exported", step=step, max_steps=config.max_steps, path=str(target),
                        message=f"Exported {what} to {target}"))
    accelerator.wait_for_everyone()
    return target


def model_about(config: TrainConfig, step: int, images: int) -> str:
    """One line for the model lists: what it was trained from, on how much, how far (the run names the model)."""
    from ddpm_studio.engine.models import BUNDLED_PREFIX

    base = Path(config.base_model.removeprefix(BUNDLED_PREFIX)).name  # a bundled name, a folder's, a hub id's last part
    origin = f"fine-tuned from {base}" if base else f"trained from scratch ({config.preset} UNet)"
    return f"{origin} on {images} images, step {step:,} of {config.max_steps:,}"


def model_card(config: TrainConfig, step: int, loss, images: int, folder) -> str:
    origin = f"fine-tuned from `{config.base_model}`" if config.base_model else f"trained from scratch (UNet preset `{config.preset}`)"
    loss_text = f"{loss:.4f}" if loss is not None else "n/a"
    chosen = f" (measured: {config.chosen_precision})" if config.chosen_precision else ""
    return f"""# DDPM model trained with DDPM Studio

An unconditional pixel-space DDPM, {origin}, on {images} images from `{folder}` at {config.resolution}×{config.resolution}.

- Steps: {step} of {config.max_steps} (batch {config.batch_size} × accumulation {config.gradient_accumulation_steps})
- Learning rate {config.learning_rate} (cosine, {config.lr_warmup_steps} warm-up steps); EMA: {'on' if config.use_ema else 'off'} (weights saved are the EMA ones when on)
- Mixed precision: {config.mixed_precision}{chosen}; prediction: {config.prediction_type}; seed {config.seed}
- Last logged loss: {loss_text}
- Exported: {datetime.datetime.now().isoformat(timespec='seconds')}

The full recipe is in `train_config.json`. Open this folder in DDPM Studio's Generate panel, or:
`ddpm-studio generate --model <this folder>`.
"""


def _bad_files(report) -> str:
    return ("\n" + report.details()) if report.bad else ""
