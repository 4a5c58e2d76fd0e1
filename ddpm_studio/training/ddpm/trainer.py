"""The DDPM trainer, on accelerate: the same code on one CPU, one GPU, or many under ``accelerate launch``.

Each step is the DDPM training step (Ho et al. 2020, Algorithm 1): take clean images x0, draw t ~ U{0..T-1} and
ε ~ N(0, I), make x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε, and regress the UNet's output on ε (or v, or x0). The loop's
common parts are ``run_loop.py``'s.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ddpm_studio.engine.models.defaults import write_defaults
from ddpm_studio.engine.output.grid import image_grid
from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training.ddpm.config import TrainConfig
from ddpm_studio.training.ddpm.dataset import ImageFolderDataset
from ddpm_studio.training.events import TrainCallback, TrainControl, TrainEvent
from ddpm_studio.training.precision import AutocastOn, settle_precision
from ddpm_studio.training.run_loop import (
    LoopState,
    TrainSummary,
    begin_run,
    ignore_event,
    make_accelerator,
    open_run,
    optimizer_step,
    run_steps,
)

GUIDE_FOLDER = "guide"  # output/guide during a run; model/guide in the exported model


def build_model(config: TrainConfig):
    """(unet, scheduler config): the base pipeline's, or a fresh preset UNet with a DDPM schedule."""
    from diffusers import DDPMScheduler

    if config.base_model:
        from ddpm_studio.engine.models.pixel_ddpm import load_ddpm

        loaded = load_ddpm(config.base_model, dtype=torch.float32)
        unet = loaded.unet
        unet.requires_grad_(True)
        if unet.config.sample_size != config.resolution:
            unet.register_to_config(sample_size=config.resolution)
        return unet, dict(loaded.scheduler_config)
    from ddpm_studio.training.ddpm.presets import build_unet

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

    output, device, emit = open_run(config, on_event, resume)
    control = control or TrainControl()

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

    def batches():
        while True:
            yield from loader

    data = batches()
    unet.train()

    def micro_step(micro: int) -> torch.Tensor:
        clean = next(data)
        with accelerator.accumulate(unet):
            loss = _training_loss(unet, noise_scheduler, clean, prediction_type, accelerator)
            optimizer_step(accelerator, loss, unet.parameters(), config.max_grad_norm, optimizer, lr_scheduler)
        return loss

    def export_now(guide: bool = False) -> Path:
        return _export(accelerator, unet, ema, scheduler_config, config, output, state.step, state.last_loss,
                       dataset, emit, guide=guide)

    def sample(step: int) -> None:
        _sample(accelerator, unet, ema, scheduler_config, config, step, output, emit)

    def ema_step() -> None:
        ema.step(unet.parameters())

    def keep_guide(step: int) -> None:
        if step == config.guide_step:
            export_now(guide=True)

    stopped = run_steps(accelerator, config, output, state, control, emit, lr_scheduler, micro_step=micro_step,
                        sample=sample, export=export_now, after_update=ema_step if ema is not None else None,
                        end_of_step=keep_guide)
    step, last_good_loss = state.step, state.last_loss
    model_dir = export_now()
    emit(TrainEvent("stopped" if stopped else "finished", step=step, max_steps=config.max_steps, loss=last_good_loss,
                    path=str(model_dir), message=f"{'Stopped' if stopped else 'Finished'} at step {step}; model in {model_dir}"))
    accelerator.end_training()
    return TrainSummary(step=step, model_dir=str(model_dir), stopped=stopped, last_loss=last_good_loss)


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
        from ddpm_studio.engine.jobs.types import GenerateJob
        from ddpm_studio.engine.sampling.guidance import GuidedUNet
        from ddpm_studio.engine.sampling.pixel import sample_ddpm

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
    from ddpm_studio.engine.models.catalogue import BUNDLED_PREFIX

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
