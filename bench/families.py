"""Per family: what does our txt2img cost per step against the family's bare diffusers pipeline, and what do previews
every step cost? One row per family (``FAMILY_MODELS``), each a tiny-but-real-shaped pipeline with random weights
(speed does not depend on training):

  sd3   SD 3.5 Medium's transformer geometry — patch 2 on 16 latent channels, heads of 64, RMS-normed q/k, the dual
        attention of its first blocks, a context width of 4096 (T5-XXL's) and a pooled width of 2048 (CLIP-L + G) —
        cut to one block of 4 heads; T5 left out, as ComfyUI allows (its part of the context is zeros)
  flux  Flux.1-dev's — 2×2-packed tokens of 64 values, heads of 128 with its RoPE axes (16, 56, 56), the guidance
        embedding, context 4096 and pooled text 768 — cut to one double- and one single-stream block of 2 heads
  chroma     Chroma1-HD's — Flux.1's packing, heads and RoPE axes, context 4096, no pooled text, its approximator
        (cut to one layer) in place of Flux's modulation — one double- and one single-stream block of 2 heads;
        T5 alone; CFG 3.0, so two model calls a step
  zimage     Z-Image-Turbo's — a single stream patchifying 2×2 inside, heads of 128, RoPE axes (32, 48, 48),
        context 2560 (Qwen3-4B's) — one main and one refiner layer of 2 heads; guidance 0, one call a step
  qwenimage  Qwen-Image's — patch 2 on 64 packed inputs, heads of 128, RoPE axes (16, 56, 56), context 3584
        (Qwen2.5-VL-7B's) — one block of 2 heads; the Wan-style VAE with per-channel mean and std; true CFG 4.0
  klein      Flux.2 Klein 4B's — 128 inputs (32 channels 2×2), heads of 128, 4 RoPE axes of 32, context 7680 (three
        hidden states of Qwen3-4B) — one double- and one single-stream block of 2 heads; its batch-normed VAE;
        step-distilled, guidance 1, one call a step

Their text encoders keep the widths the transformer reads (CLIP-L 768, CLIP-G 1280, T5 4096, Qwen3-4B 2560,
Qwen2.5-VL-7B 3584) at one or two layers (Klein's Qwen3 at 27: its pipeline stacks hidden states 9, 18 and 27), and
their VAEs the family's latent channels and normalisation at small widths: the steps are the part measured.

Three runs of the same pipeline object (the same weights, scheduler, steps, size, seed and prompt), side by side in
one process, interleaved over rounds (the order rotating):

  bare        the pipeline's own ``__call__``, as diffusers' docs write it
  engine      ``Engine.run`` with previews off (what the CLI does)
  preview     ``Engine.run`` with x_t and x̂0 previews every step (what the GUI does)

A step is timed from one step's first call of the transformer to the next step's (a forward pre-hook, the same
on every side): the model (twice under Chroma's and Qwen-Image's CFG), the scheduler's step, the pipeline's callback
and what our engine does there, without the run's text encoding, setup and decode. Prints a table per family,
then one JSON line: per family engine/bare and preview/engine per step (each run's median step, ratios paired
within each round, their median over rounds; targets ≤ 1.02), the same for whole runs, the two ratios of the
medians of all steps of all rounds (``pooled_steps``), the bare step in seconds, the torch thread count, the CPU and
the load average at the start.
On a machine others share, ``--threads 1`` suffers least from their load.

    python bench/families.py [--families sd3,flux,chroma,zimage,qwenimage,klein] [--size 256] [--steps 8]
                             [--rounds 9] [--threads 2]

A family added to the table is one ``FamilyModel`` row: its name and a function that saves its pipeline.

Two more measurements of the families run from here (each a script of its own, its arguments after the word):

    python bench/families.py fp8 [...]       # float8 storage against bf16, per step (bench/fp8_step.py)
    python bench/families.py fewstep [...]   # a 4-step LCM/Turbo run against a 25-step one (bench/fewstep.py)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent))
from timing import interleaved, paired_ratio  # noqa: E402


def _clip(width: int, tokenizer_words: int = 1000):
    """A one-layer CLIP text encoder with projection whose hidden width is ``width`` (what SD3 and Flux read)."""
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    return CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=width, projection_dim=width, vocab_size=tokenizer_words, intermediate_size=64,
        num_attention_heads=4, num_hidden_layers=1, max_position_embeddings=77, bos_token_id=512, eos_token_id=513,
        pad_token_id=513))


def _vae(scale: float, shift: float):
    """The family's 16-channel latent space (its scaling and shift factors, 8× down) at small widths."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, norm_num_groups=8,
        scaling_factor=scale, shift_factor=shift, use_quant_conv=False, use_post_quant_conv=False)


def _t5():
    """A one-layer T5 encoder at T5-XXL's width (4096, the context Flux.1 and Chroma read) on the tiny T5 words."""
    from transformers import T5Config, T5EncoderModel

    from tests.tiny_flux import T5_WORDS

    return T5EncoderModel(T5Config(vocab_size=3 + len(T5_WORDS), d_model=4096, d_kv=8, d_ff=64, num_layers=1,
                                   num_heads=4, relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
                                   decoder_start_token_id=0))


def _qwen3(layers: int, words: int, causal_lm: bool = False, pad: int | None = None):
    """Qwen3-4B at its width (hidden 2560, heads of 128, RoPE θ 1e6: its config.json), ``layers`` of them, 2 query
    heads and 1 key/value head instead of 32 and 8, a small MLP: what Z-Image and Flux.2 Klein 4B read."""
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3Model

    config = Qwen3Config(vocab_size=words, hidden_size=2560, intermediate_size=64, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=128, rope_theta=1000000.0,
                         max_position_embeddings=1024, pad_token_id=pad, tie_word_embeddings=True)
    return (Qwen3ForCausalLM if causal_lm else Qwen3Model)(config).eval()


def save_sd3(folder: Path) -> tuple[Path, int]:
    """SD 3.5 Medium's block (diffusers' stabilityai/stable-diffusion-3.5-medium transformer config: patch 2,
    16 channels, head dim 64, joint_attention_dim 4096, pooled 2048, qk_norm rms_norm, dual attention in its first
    13 blocks), one block of 4 heads."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    from tests.tiny_sd import tiny_tokenizer

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=128, patch_size=2, in_channels=16, out_channels=16, num_layers=1, attention_head_dim=64,
        num_attention_heads=4, joint_attention_dim=4096, caption_projection_dim=256, pooled_projection_dim=2048,
        pos_embed_max_size=384, qk_norm="rms_norm", dual_attention_layers=(0,))
    tokenizer = tiny_tokenizer(folder.parent / ".sd3-tokenizer")
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, vae=_vae(1.5305, 0.0609), text_encoder=_clip(768), tokenizer=tokenizer,
        text_encoder_2=_clip(1280), tokenizer_2=tokenizer, text_encoder_3=None, tokenizer_3=None,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0))  # SD 3.5's scheduler config
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


def save_flux(folder: Path) -> tuple[Path, int]:
    """Flux.1-dev's blocks (diffusers' black-forest-labs/FLUX.1-dev transformer config: 64 packed inputs, head dim
    128, RoPE axes (16, 56, 56), joint_attention_dim 4096, pooled 768, guidance embedding), one double- and one
    single-stream block of 2 heads."""
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.tiny_flux import tiny_t5_tokenizer
    from tests.tiny_sd import tiny_tokenizer

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=128,
        num_attention_heads=2, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
        axes_dims_rope=(16, 56, 56))
    t5 = _t5()
    clip = CLIPTextModel(CLIPTextConfig(
        hidden_size=768, vocab_size=1000, intermediate_size=64, num_attention_heads=4, num_hidden_layers=1,
        max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513))
    scheduler = FlowMatchEulerDiscreteScheduler(  # Flux.1-dev's scheduler config
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    pipe = FluxPipeline(transformer=transformer, vae=_vae(0.3611, 0.1159), text_encoder=clip,
                        tokenizer=tiny_tokenizer(folder.parent / ".flux-tokenizer"), text_encoder_2=t5,
                        tokenizer_2=tiny_t5_tokenizer(), scheduler=scheduler)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


def save_chroma(folder: Path) -> tuple[Path, int]:
    """Chroma1-HD's blocks (diffusers' ChromaTransformer2DModel defaults, its config: 64 packed inputs, head dim 128,
    RoPE axes (16, 56, 56), joint_attention_dim 4096, the approximator's 64 input channels) cut from 19 double- and
    38 single-stream blocks of 24 heads to one of each of 2 heads, its approximator from 5 layers of 5120 to one of
    512; T5-XXL's width at one layer (no CLIP), Flux.1's VAE (its scale and shift)."""
    from diffusers import ChromaPipeline, ChromaTransformer2DModel, FlowMatchEulerDiscreteScheduler

    from tests.tiny_flux import tiny_t5_tokenizer

    torch.manual_seed(0)
    transformer = ChromaTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=1, num_single_layers=1, attention_head_dim=128,
        num_attention_heads=2, joint_attention_dim=4096, axes_dims_rope=(16, 56, 56), approximator_num_channels=64,
        approximator_hidden_dim=512, approximator_layers=1)
    scheduler = FlowMatchEulerDiscreteScheduler(  # Flux.1-dev's config, whose keys ChromaPipeline's mu reads
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    pipe = ChromaPipeline(transformer=transformer, vae=_vae(0.3611, 0.1159), text_encoder=_t5().eval(),
                          tokenizer=tiny_t5_tokenizer(), scheduler=scheduler)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


def save_zimage(folder: Path) -> tuple[Path, int]:
    """Z-Image-Turbo's blocks (diffusers' ZImageTransformer2DModel defaults, its config: patch 2×2 inside on 16
    channels, heads of 128 with as many key/value heads, RMS-normed q/k, RoPE axes (32, 48, 48) at θ 256,
    cap_feat_dim 2560) cut from 30 layers of 30 heads (dim 3840) and 2 refiner layers to one of each at 2 heads
    (dim 256); Qwen3-4B's width at 2 layers (the pipeline reads the second-to-last hidden state), Flux.1's VAE."""
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImagePipeline, ZImageTransformer2DModel

    from tests.tiny_zimage import tiny_qwen_tokenizer

    torch.manual_seed(0)
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,), all_f_patch_size=(1,), in_channels=16, dim=256, n_layers=1, n_refiner_layers=1,
        n_heads=2, n_kv_heads=2, qk_norm=True, cap_feat_dim=2560, rope_theta=256.0, axes_dims=[32, 48, 48],
        axes_lens=[1024, 512, 512])
    with torch.no_grad():  # made with torch.empty (whatever memory held): set as tests/tiny_zimage.py does
        transformer.x_pad_token.fill_(1.0)
        transformer.cap_pad_token.fill_(1.0)
    tokenizer = tiny_qwen_tokenizer()
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=False)
    pipe = ZImagePipeline(transformer=transformer, vae=_vae(0.3611, 0.1159), scheduler=scheduler,  # Turbo's: shift 3
                          text_encoder=_qwen3(2, len(tokenizer), pad=tokenizer.pad_token_id), tokenizer=tokenizer)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


def save_qwenimage(folder: Path) -> tuple[Path, int]:
    """Qwen-Image's blocks (diffusers' QwenImageTransformer2DModel defaults, its config: patch 2 on 64 packed inputs,
    16 outputs, heads of 128, RoPE axes (16, 56, 56), joint_attention_dim 3584) cut from 60 blocks of 24 heads to
    one of 2; Qwen2.5-VL-7B's text width (3584 in 28 heads of 128, 4 key/value heads, mrope sections (16, 24, 24))
    at one layer with a small MLP and a one-layer vision tower (the pipeline reads the last hidden state), and the
    Wan-style VAE with Qwen-Image's per-channel mean and std at small widths."""
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from tests.tiny_qwenimage import LATENTS_MEAN, LATENTS_STD, SCHEDULER_CONFIG, tiny_qwen_tokenizer

    tokenizer = tiny_qwen_tokenizer()
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(
        patch_size=2, in_channels=64, out_channels=16, num_layers=1, attention_head_dim=128, num_attention_heads=2,
        joint_attention_dim=3584, guidance_embeds=False, axes_dims_rope=(16, 56, 56))
    vae = AutoencoderKLQwenImage(  # real: base_dim 96, dim_mult (1, 2, 4, 4), 2 res blocks
        base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, temperal_downsample=[False, True, True],
        latents_mean=list(LATENTS_MEAN), latents_std=list(LATENTS_STD))
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config={"hidden_size": 3584, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": len(tokenizer),
                     "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
                     "rope_theta": 1000000.0, "bos_token_id": None, "eos_token_id": end},
        vision_config={"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2,
                       "out_hidden_size": 3584},
        hidden_size=3584, vocab_size=len(tokenizer), bos_token_id=None, eos_token_id=end)).eval()
    pipe = QwenImagePipeline(transformer=transformer, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                             scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG))  # Qwen-Image's own
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


def save_klein(folder: Path) -> tuple[Path, int]:
    """Flux.2 Klein 4B's blocks (diffusers' Flux2Transformer2DModel, Klein 4B's counts from BFL's flux2 README:
    128 inputs (32 channels patchified 2×2), heads of 128, RoPE axes (32, 32, 32, 32) at θ 2000, MLP ratio 3,
    256 timestep channels, no guidance embedding, joint_attention_dim 7680) cut from 5 double- and 20 single-stream
    blocks of 24 heads to one of each of 2 heads; Qwen3-4B's width at 27 layers, the fewest that hold the hidden
    states 9, 18 and 27 the pipeline stacks (its 36 cut there); the 32-channel batch-normed VAE at small widths;
    step-distilled (is_distilled) as Klein 4B is."""
    from diffusers import (
        AutoencoderKLFlux2,
        FlowMatchEulerDiscreteScheduler,
        Flux2KleinPipeline,
        Flux2Transformer2DModel,
    )

    from tests.tiny_klein import tiny_klein_tokenizer

    torch.manual_seed(0)
    transformer = Flux2Transformer2DModel(
        patch_size=1, in_channels=128, num_layers=1, num_single_layers=1, attention_head_dim=128,
        num_attention_heads=2, joint_attention_dim=3 * 2560, timestep_guidance_channels=256, mlp_ratio=3.0,
        axes_dims_rope=(32, 32, 32, 32), rope_theta=2000, guidance_embeds=False)
    vae = AutoencoderKLFlux2(latent_channels=32, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
                             norm_num_groups=8)
    with torch.no_grad():  # running statistics as a trained VAE has them (its normalisation not the identity)
        vae.bn.running_mean.copy_(torch.randn(128) * 0.3)
        vae.bn.running_var.copy_(torch.rand(128) + 0.5)
    tokenizer = tiny_klein_tokenizer()
    scheduler = FlowMatchEulerDiscreteScheduler(  # dynamic shifting, as Klein's folder has it
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
        max_image_seq_len=4096)
    pipe = Flux2KleinPipeline(
        transformer=transformer, vae=vae, tokenizer=tokenizer, scheduler=scheduler, is_distilled=True,
        text_encoder=_qwen3(27, len(tokenizer), causal_lm=True, pad=tokenizer.pad_token_id))
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, sum(p.numel() for p in transformer.parameters())


@dataclass(frozen=True)
class FamilyModel:
    key: str  # the family's row in ddpm_studio/engine/models/families.py
    save: Callable[[Path], tuple[Path, int]]  # writes its pipeline folder; (the folder, the transformer's params)
    prompt: str = "a lighthouse at dusk"
    guidance_scale: float | None = None  # the family row's default when None
    # the bare call passes the scale as true_cfg_scale with the negative prompt " ", as Qwen-Image's model card does
    true_cfg: bool = False


FAMILY_MODELS = (
    FamilyModel("sd3", save_sd3),
    FamilyModel("flux", save_flux),
    FamilyModel("chroma", save_chroma),  # CFG 3.0: two passes a step
    FamilyModel("zimage", save_zimage),  # Turbo's guidance 0: one pass
    FamilyModel("qwenimage", save_qwenimage, true_cfg=True),  # true CFG 4.0: two passes
    FamilyModel("klein", save_klein, guidance_scale=1.0),  # the distilled flavour's default: one pass
)


def bare_call(pipe, scheduler_config: dict, job, true_cfg: bool = False):
    """The family's pipeline as diffusers' docs call it, with a fresh scheduler of the folder's own config."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    pipe.scheduler = FlowMatchEulerDiscreteScheduler.from_config(scheduler_config)
    guidance = ({"true_cfg_scale": job.guidance_scale, "negative_prompt": " "} if true_cfg
                else {"guidance_scale": job.guidance_scale})
    with torch.inference_mode():
        return pipe(prompt=job.prompt, num_inference_steps=job.steps, height=job.height, width=job.width, **guidance,
                    generator=torch.Generator("cpu").manual_seed(job.seed), output_type="np").images


class StepClock:
    """When each call of the pipeline's denoiser starts (a forward pre-hook, the same on every side): the time from
    one call to the next is one whole step — the model, the scheduler's step, the pipeline's callback and whatever
    our engine does there (previews) — with the run's text encoding, setup and decode left out. A pipeline that
    calls its denoiser twice a step (Chroma's, Qwen-Image's CFG: the prompt's pass, then the negative's) is timed
    from the first call of a step to the next step's first."""

    def __init__(self, denoiser) -> None:
        self.starts: list[float] = []
        self.handle = denoiser.register_forward_pre_hook(lambda *_: self.starts.append(time.perf_counter()))

    def steps(self, run: Callable[[], object], steps: int) -> list[float]:
        """The seconds of each step of one run of ``run``, ``steps`` steps (the first model call's start to the
        last step's first)."""
        self.starts.clear()
        run()
        calls = len(self.starts) // steps
        assert calls and calls * steps == len(self.starts), f"{len(self.starts)} model calls in {steps} steps"
        firsts = self.starts[::calls]
        return [b - a for a, b in zip(firsts, firsts[1:])]


def measure(model: FamilyModel, folder: Path, args) -> dict:
    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.models.families import BY_KEY
    from ddpm_studio.engine.runner import Engine

    family = BY_KEY[model.key]
    engine = Engine(device="cpu")
    job = Text2ImageJob(model=str(folder), prompt=model.prompt, width=args.size, height=args.size, seed=3,
                        steps=args.steps, scheduler="euler", preview_every=0,
                        guidance_scale=family.defaults["guidance_scale"] if model.guidance_scale is None
                        else model.guidance_scale)
    loaded = engine.load(job.model, "txt2img")
    pipe, config = loaded.pipe, dict(loaded.scheduler_config)
    pipe.set_progress_bar_config(disable=True)
    ours = engine.run(job, save=False).images
    theirs = bare_call(pipe, config, job, model.true_cfg)
    same = bool(abs(ours.astype(int) - (theirs * 255).round().astype(int)).max() <= 1)  # one picture, both ways
    events = []
    runs = {
        "bare": lambda: bare_call(pipe, config, job, model.true_cfg),
        "engine": lambda: engine.run(job, save=False),
        "preview": lambda: (events.clear(), engine.run(job.replace(preview_every=1), on_step=events.append,
                                                       save=False)),
    }
    for run in runs.values():  # warm-up; the last is previews every step: its events are counted
        run()
    previews = sum(1 for event in events if event.x_t is not None and event.x0 is not None and not event.final)
    times = interleaved(runs, args.rounds)  # whole runs
    clock = StepClock(pipe.transformer)
    try:
        every = {name: [] for name in runs}  # each round's steps
        for r in range(args.rounds):  # the same rotation as interleaved's
            names = list(runs)[r % len(runs):] + list(runs)[:r % len(runs)]
            for name in names:
                every[name].append(clock.steps(runs[name], job.steps))
    finally:
        clock.handle.remove()
    step = {name: [statistics.median(one) for one in rounds] for name, rounds in every.items()}
    pooled = {name: statistics.median(x for one in rounds for x in one) for name, rounds in every.items()}
    return {
        "times": times, "step": step, "same_picture": same, "previews_per_run": previews,
        "engine/bare_per_step": paired_ratio(step, "engine", "bare"),
        "preview/engine_per_step": paired_ratio(step, "preview", "engine"),
        "engine/bare_run": paired_ratio(times, "engine", "bare"),
        "preview/engine_run": paired_ratio(times, "preview", "engine"),
        "bare_seconds_per_step": statistics.median(step["bare"]),
        # the medians of all steps of all rounds, side against side (less moved by one slow round)
        "pooled_steps": [pooled["engine"] / pooled["bare"], pooled["preview"] / pooled["engine"]],
    }


OTHER_MEASUREMENTS = {"fp8": "fp8_step", "fewstep": "fewstep"}  # the word → the script in bench/ that measures it


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in OTHER_MEASUREMENTS:
        import importlib

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        script = importlib.import_module(OTHER_MEASUREMENTS[sys.argv[1]])
        sys.argv = [script.__file__, *sys.argv[2:]]
        raise SystemExit(script.main())
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default=",".join(m.key for m in FAMILY_MODELS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from ddpm_studio.training.precision import device_name

    load = os.getloadavg()
    cpu = device_name(torch.device("cpu"))
    chosen = [m for m in FAMILY_MODELS if m.key in args.families.split(",")]
    summary: dict = {}
    for model in chosen:
        folder, params = model.save(Path(tempfile.mkdtemp(prefix=f"ddpm-bench-{model.key}-")) / model.key)
        found = measure(model, folder, args)
        print(f"{model.key}: transformer {params / 1e6:.1f} M params, {args.size}×{args.size}, euler, {args.steps} "
              f"steps, {args.rounds} rounds, same picture both ways: {found['same_picture']}, "
              f"previews per run: {found['previews_per_run']}")
        for name, values in found["times"].items():
            steps = found["step"][name]
            print(f"  {name:<8} run median {statistics.median(values):.3f} s (min {min(values):.3f} s)   "
                  f"step median {statistics.median(steps) * 1000:.1f} ms (min {min(steps) * 1000:.1f} ms)")
        summary[model.key] = {key: round(value, 4) for key, value in found.items() if isinstance(value, float)} | {
            "pooled_steps": [round(value, 4) for value in found["pooled_steps"]],
            "same_picture": found["same_picture"], "transformer_params_m": round(params / 1e6, 1)}
    print(json.dumps({**summary, "size": args.size, "steps": args.steps, "rounds": args.rounds,
                      "torch_threads": torch.get_num_threads(), "cpu": cpu,
                      "load_average_at_start": [round(x, 2) for x in load]}))


if __name__ == "__main__":
    main()
