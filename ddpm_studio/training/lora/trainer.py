"""The LoRA trainer for Stable Diffusion (1.x, 2.x ε and v, SDXL), on accelerate like the DDPM trainer: one CPU, one
GPU, or many under ``accelerate launch``; checkpoints that a kill cannot tear, resume, pause, stop, export now, and a
stop at a loss that is not finite.

A step is the latent-diffusion training step on cached latents: draw latents from each picture's cached VAE
distribution, noise them to a random timestep, and regress the UNet's output (with the LoRA) on ε or v, given the
caption's text embeddings — cached as well while the text encoder is frozen. Everything random in a step (the
batch, its latents, noise, timesteps, flips, caption dropout and shuffles) is drawn from the seed and the step's
number, so a resumed run makes exactly the steps an unbroken one would.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ddpm_studio.training.events import TrainCallback, TrainControl, TrainEvent, TrainingError
from ddpm_studio.training.lora.captions import step_caption, tag_frequency, template_caption
from ddpm_studio.training.lora.config import LoraTrainConfig
from ddpm_studio.training.lora.data import LoraData
from ddpm_studio.training.lora.export import kohya_metadata, kohya_state, write_lora
from ddpm_studio.training.lora.long_captions import long_caption_note, quiet_cuts
from ddpm_studio.training.lora.network import (
    TEXT_TARGETS,
    UNET_TARGETS,
    add_lora,
    load_lora_into,
    lora_off,
    lora_weights,
)
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

LORA_FOLDER = "lora"  # RUN/lora/<name>.safetensors: a folder of LoRAs the app lists


def lora_path(config: LoraTrainConfig) -> Path:
    return Path(config.output_dir).expanduser() / LORA_FOLDER / f"{config.lora_name}.safetensors"


class _Parts:
    """The base pipeline and what training changes in it."""

    def __init__(self, config: LoraTrainConfig, device) -> None:
        from ddpm_studio.engine.models.catalogue import ModelError
        from ddpm_studio.engine.sampling.pipelines import load_pipeline

        try:
            loaded = load_pipeline(config.base_model, "txt2img", device, torch.float32)
        except ModelError as exc:
            raise TrainingError(f"The base model cannot be used: {exc}") from None
        self.info, self.pipe = loaded.info, loaded.pipe
        self.pipe.to(device)
        self.xl = getattr(self.pipe, "text_encoder_2", None) is not None
        self.encoders = {"text_encoder": self.pipe.text_encoder}
        if self.xl:
            self.encoders["text_encoder_2"] = self.pipe.text_encoder_2
        for model in (self.pipe.unet, self.pipe.vae, *self.encoders.values()):
            model.requires_grad_(False).eval()
        self.unet_params = add_lora(self.pipe.unet, config.rank, config.alpha, UNET_TARGETS, config.seed)
        self.text_params = []
        if config.train_text_encoder:
            for number, encoder in enumerate(self.encoders.values()):
                self.text_params += add_lora(encoder, config.rank, config.alpha, TEXT_TARGETS, config.seed + 1 + number)
        if config.gradient_checkpointing:
            self.pipe.unet.enable_gradient_checkpointing()
            if config.train_text_encoder:
                for encoder in self.encoders.values():
                    encoder.gradient_checkpointing_enable()
        self.trained = {"unet": self.pipe.unet}
        if config.train_text_encoder:
            self.trained.update(self.encoders)
        self.context_dim = int(self.pipe.unet.config.cross_attention_dim)

    @property
    def arch(self) -> str:
        from ddpm_studio.engine.models.families import ARCH_BY_CONTEXT

        return self.info.arch or ARCH_BY_CONTEXT.get(self.context_dim, "")

    def encode(self, captions: list[str], device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(text embeddings, SDXL's pooled embeddings or None) for the captions, each cut at the text encoder's
        limit without its cut-off text in the log (the run says once which caption is cut)."""
        with quiet_cuts(self.pipe):
            if self.xl:
                embeds, _, pooled, _ = self.pipe.encode_prompt(captions, device=device, num_images_per_prompt=1,
                                                               do_classifier_free_guidance=False)
                return embeds, pooled
            return self.pipe.encode_prompt(captions, device, 1, False)[0], None


def train_lora(config: LoraTrainConfig, on_event: TrainCallback = ignore_event, control: TrainControl | None = None,
               resume: bool = False) -> TrainSummary:
    from diffusers import DDPMScheduler
    from diffusers.optimization import get_scheduler

    output, device, emit = open_run(config, on_event, resume)
    control = control or TrainControl()

    data = LoraData(config.data_dir, config.resolution, config.captions, config.buckets)
    details = ("\n" + data.report.details()) if data.report.bad or data.report.notes else ""
    emit(TrainEvent("data", max_steps=config.max_steps,
                    message=f"{data.report.summary()}; {data.bucket_summary()}{details}"))
    parts = _Parts(config, device)
    cut = long_caption_note(parts.pipe.tokenizer, data.items)
    if cut:
        emit(TrainEvent("note", max_steps=config.max_steps, message=cut))
    data.cache_latents(parts.pipe.vae, device, config.random_flip)
    noise_scheduler = DDPMScheduler.from_config(parts.pipe.scheduler.config)
    texts = _TextCache(parts, device, frozen=not config.train_text_encoder)
    if config.mixed_precision == "auto":
        config = settle_precision(
            config, dict(parts.pipe.unet.config, lora_rank=config.rank, text=config.train_text_encoder),
            lambda ctx: _lora_loss(parts, noise_scheduler, data, texts, config, 0, AutocastOn(device, ctx)),
            parts.unet_params + parts.text_params, device, emit)
    accelerator = make_accelerator(config)
    groups = [{"params": parts.unet_params, "lr": config.learning_rate}]
    if parts.text_params:
        groups.append({"params": parts.text_params, "lr": config.text_encoder_lr})
    optimizer = torch.optim.AdamW(groups, betas=(config.adam_beta1, config.adam_beta2),
                                  weight_decay=config.adam_weight_decay, eps=config.adam_epsilon,
                                  fused=device.type in ("cuda", "cpu"))
    lr_scheduler = get_scheduler("constant_with_warmup", optimizer,
                                 num_warmup_steps=config.lr_warmup_steps * accelerator.num_processes,
                                 num_training_steps=config.max_steps * accelerator.num_processes)
    names = list(parts.trained)
    prepared = accelerator.prepare(*parts.trained.values(), optimizer, lr_scheduler)
    models, optimizer, lr_scheduler = list(prepared[:len(names)]), prepared[-2], prepared[-1]
    _checkpoint_only_the_lora(accelerator, names)
    params = parts.unet_params + parts.text_params

    step = begin_run(accelerator, output, config, resume, emit)

    state = LoopState(step=step, started=time.perf_counter(), start_step=step)
    for model in models:
        model.train()

    def micro_step(micro: int) -> torch.Tensor:
        draw = ((state.step * config.gradient_accumulation_steps + micro) * accelerator.num_processes
                + accelerator.process_index)
        with accelerator.accumulate(*models):
            loss = _lora_loss(parts, noise_scheduler, data, texts, config, draw, accelerator)
            optimizer_step(accelerator, loss, params, config.max_grad_norm, optimizer, lr_scheduler)
        return loss

    def sample(step: int) -> None:
        _validate(accelerator, parts, models, config, data, step, output, emit)

    def export_now() -> Path:
        return _export(accelerator, parts, config, data, state.step, emit)

    stopped = run_steps(accelerator, config, output, state, control, emit, lr_scheduler, micro_step=micro_step,
                        sample=sample, export=export_now)
    step, last_good_loss = state.step, state.last_loss
    path = export_now()
    emit(TrainEvent("stopped" if stopped else "finished", step=step, max_steps=config.max_steps, loss=last_good_loss,
                    path=str(path), message=f"{'Stopped' if stopped else 'Finished'} at step {step}; LoRA in {path}"))
    accelerator.end_training()
    return TrainSummary(step=step, model_dir=str(path), stopped=stopped, last_loss=last_good_loss)


def _checkpoint_only_the_lora(accelerator, names: list[str]) -> None:
    """accelerate's checkpoints hold the LoRA layers (not the whole base model), with the optimizer, the schedule
    and the random state as usual."""
    from safetensors.torch import load_file, save_file

    def save(models, weights, folder):
        for name, model in zip(names, models):
            if accelerator.is_main_process:
                save_file(lora_weights(accelerator.unwrap_model(model)), str(Path(folder) / f"lora_{name}.safetensors"))
        while weights:
            weights.pop()

    def load(models, folder):
        for name, model in zip(names, list(models)):
            load_lora_into(accelerator.unwrap_model(model), load_file(str(Path(folder) / f"lora_{name}.safetensors")))
        while models:
            models.pop()

    accelerator.register_save_state_pre_hook(save)
    accelerator.register_load_state_pre_hook(load)


class _TextCache:
    """Caption → text embeddings; kept while the text encoder is frozen (a caption is encoded once)."""

    def __init__(self, parts: _Parts, device, frozen: bool) -> None:
        self.parts, self.device, self.frozen = parts, device, frozen
        self.kept: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def __call__(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.frozen:
            return self.parts.encode(captions, self.device)
        missing = [c for c in dict.fromkeys(captions) if c not in self.kept]
        if missing:
            with torch.no_grad():
                embeds, pooled = self.parts.encode(missing, self.device)
            for i, caption in enumerate(missing):
                self.kept[caption] = (embeds[i], None if pooled is None else pooled[i])
        embeds = torch.stack([self.kept[c][0] for c in captions])
        pooled = torch.stack([self.kept[c][1] for c in captions]) if self.parts.xl else None
        return embeds, pooled


def _lora_loss(parts: _Parts, noise_scheduler, data: LoraData, texts: _TextCache, config: LoraTrainConfig,
               draw: int, accelerator) -> torch.Tensor:
    """The loss of the ``draw``-th batch of the run; every random choice comes from (seed, draw)."""
    from diffusers.training_utils import compute_snr

    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + draw)
    rng = random.Random(config.seed * 1_000_003 + draw)
    items = [data.items[i] for i in data.batch_at(draw, config.batch_size, config.seed)]
    latents = []
    for item in items:
        view = 1 if config.random_flip and rng.random() < 0.5 else 0
        mean, std = item.latents[view]
        latents.append(mean + std * torch.randn(mean.shape, generator=generator))
    latents = torch.stack(latents)
    noise = torch.randn(latents.shape, generator=generator)
    if config.noise_offset:
        noise += config.noise_offset * torch.randn((latents.shape[0], latents.shape[1], 1, 1), generator=generator)
    timesteps = torch.randint(0, noise_scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator)
    device = accelerator.device
    latents, noise, timesteps = latents.to(device), noise.to(device), timesteps.to(device)
    noisy = noise_scheduler.add_noise(latents, noise, timesteps)
    embeds, pooled = texts([step_caption(item.caption, config.captions, rng) for item in items])
    extra = {}
    if pooled is not None:  # SDXL: the pooled text and (original size, crop, target size) per picture
        sizes = [(*item.original_size, *item.crop, item.bucket[1], item.bucket[0]) for item in items]
        extra["added_cond_kwargs"] = {"text_embeds": pooled,
                                      "time_ids": torch.tensor(sizes, dtype=embeds.dtype, device=device)}
    with accelerator.autocast():
        prediction = parts.pipe.unet(noisy, timesteps, embeds, **extra).sample
    v = noise_scheduler.config.prediction_type == "v_prediction"
    target = noise_scheduler.get_velocity(latents, noise, timesteps) if v else noise
    if not config.min_snr_gamma:
        return F.mse_loss(prediction.float(), target.float())
    snr = compute_snr(noise_scheduler, timesteps)
    weights = torch.clamp(snr, max=config.min_snr_gamma) / (snr + 1 if v else snr)
    per_picture = F.mse_loss(prediction.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
    return (per_picture * weights).mean()


def shortened(text: str, length: int = 80) -> str:
    """``text`` for a message: its first ``length`` characters, and "…" when there was more."""
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def validation_prompt(config: LoraTrainConfig, data: LoraData) -> str:
    if config.validation_prompt.strip():
        return config.validation_prompt.strip()
    try:
        return template_caption(config.captions)
    except ValueError:
        return data.items[0].caption


@torch.no_grad()
def validation_images(parts: _Parts, config: LoraTrainConfig, prompt: str) -> np.ndarray:
    """The validation prompt from the fixed seed without the LoRA and with it, side by side (uint8 HWC)."""
    from ddpm_studio.engine.sampling.schedulers import build_scheduler

    pipe = parts.pipe
    kept = pipe.scheduler
    pipe.scheduler = build_scheduler(config.sample_scheduler, kept.config)
    pictures = []
    try:
        for lora in (False, True):
            args = dict(prompt=prompt, num_inference_steps=config.sample_steps, guidance_scale=config.sample_guidance,
                        height=config.resolution, width=config.resolution, output_type="np",
                        generator=torch.Generator().manual_seed(config.seed))
            with quiet_cuts(pipe):
                if lora:
                    pictures.append(pipe(**args).images[0])
                else:
                    with lora_off(pipe.unet, *parts.encoders.values()):
                        pictures.append(pipe(**args).images[0])
    finally:
        pipe.scheduler = kept
    gap = np.full((pictures[0].shape[0], 8, 3), 1.0, np.float32)
    return (np.concatenate([pictures[0], gap, pictures[1]], axis=1) * 255).round().clip(0, 255).astype(np.uint8)


def _validate(accelerator, parts: _Parts, models, config: LoraTrainConfig, data: LoraData, step: int, output: Path,
              emit) -> None:
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from PIL import Image

        for model in models:
            model.eval()
        prompt = validation_prompt(config, data)
        picture = validation_images(parts, config, prompt)
        for model in models:
            model.train()
        folder = output / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"step-{step:08d}.png"
        Image.fromarray(picture).save(path)
        emit(TrainEvent("sample", step=step, max_steps=config.max_steps, image=picture, path=str(path),
                        message=f"'{shortened(prompt)}', seed {config.seed}: without the LoRA (left) and with it "
                                "(right)"))
    accelerator.wait_for_everyone()


def _export(accelerator, parts: _Parts, config: LoraTrainConfig, data: LoraData, step: int, emit) -> Path:
    """The LoRA as RUN/lora/<name>.safetensors in kohya layout, with kohya's metadata."""
    path = lora_path(config)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        weights = {name: lora_weights(model) for name, model in parts.trained.items()}
        metadata = kohya_metadata(config, parts.arch, len(data), step,
                                  tag_frequency(data.folder, [item.caption for item in data.items]),
                                  parts.info.name)
        write_lora(path, kohya_state(weights, config.alpha, parts.xl), metadata)
        emit(TrainEvent("exported", step=step, max_steps=config.max_steps, path=str(path),
                        message=f"Exported the LoRA to {path}: use it as <lora:{config.lora_name}:0.8>"))
    accelerator.wait_for_everyone()
    return path
