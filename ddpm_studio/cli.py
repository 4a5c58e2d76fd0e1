"""Command line: ``ddpm-studio`` opens the app; the other commands (``ddpm_studio/commands/``) run headless on the
same engine: generate, txt2img, edit, upscale, race, grid, train, search, index, info.

Errors are one plain line on stderr with exit code 1 (2 for usage errors); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys

from ddpm_studio import __version__

RECOMMENDED_HELP = "default: the model's recommended setting (its ddpm_studio.json), else {}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ddpm-studio", description="Local image generation with diffusion models.")
    parser.add_argument("--version", action="version", version=f"ddpm-studio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the app (the default)")
    gui.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    gui.add_argument("--exit-when-ready", action="store_true", help="open, load the backend, print timings, quit")

    from ddpm_studio.commands.scheduling import scheduler_arguments
    from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, DEFAULT_STEPS, SCHEDULERS

    gen = sub.add_parser("generate", help="sample images from an unconditional DDPM")
    gen.add_argument("--model", help="bundled:NAME, a pipeline folder, or a cached hub id (default: the bundled model)")
    scheduler_arguments(gen, list(SCHEDULERS), RECOMMENDED_HELP.format(DEFAULT_SCHEDULER))
    gen.add_argument("--steps", type=int, help=RECOMMENDED_HELP.format(DEFAULT_STEPS))
    gen.add_argument("--seed", type=int, help="default: random")
    gen.add_argument("--batch", type=int, default=4, help="images per run")
    gen.add_argument("--guide", help="autoguidance: a weaker version of the model to steer away from "
                     "(default: the model's recommended guide, if it has one)")
    gen.add_argument("--autoguidance", type=float, metavar="W",
                     help="how far from the guide: 1 is off, 2 twice the difference (default: the model's recommendation)")
    gen.add_argument("--out", help="output folder (default: your pictures folder / DDPM Studio)")
    gen.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    gen.add_argument("--allow-pickle", action="store_true", help="allow loading pickle (.bin) weights — they can run code")
    _save_steps_argument(gen)
    _variation_arguments(gen)

    t2i = sub.add_parser("txt2img", help="text to image with a Stable Diffusion model")
    _prompt_arguments(t2i, SCHEDULERS)
    t2i.add_argument("--size", default="512x512", help="WIDTHxHEIGHT, multiples of 8")
    t2i.add_argument("--true-cfg", type=float, default=1.0, metavar="W",
                     help="Flux.1: true classifier-free guidance with --negative, besides its distilled --guidance "
                          "(default 1: off; above 1 each step runs the model twice)")
    _prediction_argument(t2i)
    _variation_arguments(t2i)
    hires = t2i.add_argument_group("hires fix (A1111's): render at --size, enlarge, then img2img at the large size")
    hires.add_argument("--hires", type=float, default=1.0, metavar="FACTOR",
                       help="enlarge by this factor, 1 … 4 (default 1: off); the result is --size × FACTOR")
    hires.add_argument("--hires-strength", type=float, default=0.5, metavar="S",
                       help="the second pass's denoising strength (default 0.5)")
    hires.add_argument("--hires-upscaler", default="latent", metavar="latent|lanczos|MODEL",
                       help="latent: enlarge the latents (no decode between the passes); lanczos: the picture; a "
                            "model upscaler file (ESRGAN, SwinIR, DAT, …: .safetensors, .pth) as A1111 uses them; or a "
                            "4× diffusion upscaler (SD x4, LDM 4×: a folder or cached hub id), 20 steps, tile by tile")
    hires.add_argument("--hires-steps", type=int, default=0, metavar="N",
                       help="the second pass's steps, of which strength × N run (default: --steps)")

    edit = sub.add_parser("edit", help="change an image with a prompt: img2img, inpaint, outpaint or instruct "
                                       "(InstructPix2Pix, Flux.1 Kontext, Flux.2 Klein, Qwen-Image-Edit)")
    _prompt_arguments(edit, SCHEDULERS)
    edit.add_argument("--image", required=True)
    edit.add_argument("--mode", default="img2img", choices=["img2img", "inpaint", "instruct", "outpaint"])
    edit.add_argument("--mask", default="", help="inpaint: white where the image is repainted (any SD model; an "
                      "inpainting one gives better seams); the rest is kept exactly")
    edit.add_argument("--strength", type=float, default=0.75, help="img2img/inpaint: how much to change (0–1)")
    edit.add_argument("--image-guidance", type=float, default=1.5, help="instruct: how closely to keep the input image")
    edit.add_argument("--reference", action="append", default=[], metavar="IMAGE",
                      help="instruct: a reference picture read after --image (Flux.2 Klein takes up to 3, "
                           "Qwen-Image-Edit Plus 2); repeat it for several, in order")
    edit.add_argument("--extend", default="0,0,0,0", metavar="LEFT,RIGHT,TOP,BOTTOM",
                      help="outpaint: pixels to add on each side (e.g. 128,128,0,0)")
    edit.add_argument("--outpaint-fill", default="edge", choices=["edge", "noise"],
                      help="outpaint: the new area starts as the edge pixels stretched outwards, or as noise")
    edit.add_argument("--feather", type=int, default=32, help="mask blur, in pixels: outpaint, the seam's blend into "
                      "the picture; inpaint, the band around the mask that is repainted and blended")
    _prediction_argument(edit)

    race = sub.add_parser("race", help="one x_T, several schedulers (or step counts, or guidance scales), compared "
                                       "step by step")
    race.add_argument("--model", help="a Generate or Text to Image model (default: the bundled model)")
    race.add_argument("--schedulers", help="comma-separated, e.g. ddim,dpm++2m,euler-a (default: the model's own)")
    race.add_argument("--steps", help="steps, or several comma-separated to race step counts (default: the model's)")
    race.add_argument("--guidance", help="guidance scale, or several comma-separated to race them (a pixel model's "
                                         "is autoguidance's and needs --guide)")
    race.add_argument("--guide", help="pixel models: the weaker model autoguidance steers away from")
    race.add_argument("--prompt", default="", help="Stable Diffusion models: the prompt")
    race.add_argument("--negative", default="", help="Stable Diffusion models: the negative prompt")
    race.add_argument("--size", default="512x512", help="Stable Diffusion models: WIDTHxHEIGHT, multiples of 8")
    race.add_argument("--seed", type=int, help="default: random (every lane starts from the same x_T)")
    race.add_argument("--out", required=True, help="the folder for DIR/<lane>.png, race.gif/.webp, contact-sheet.png "
                                                   "and race.csv")
    _device_arguments(race)
    _addon_arguments(race)

    grid = sub.add_parser("grid", help="A1111's X/Y/Z plot: one to three parameters on axes, each cell a normal run")
    for axis in ("x", "y", "z"):
        grid.add_argument(f"--{axis}", required=axis == "x", metavar="NAME=V1,V2",
                          help="an axis: scheduler, steps, seed, guidance, autoguidance, clip_skip, prompt (search "
                               "and replace: the first value is replaced by each) or lora:NAME (its weight)"
                          if axis == "x" else f"a {axis} axis, written as --x")
    grid.add_argument("--model", help="a Generate or Text to Image model (default: the bundled model)")
    grid.add_argument("--scheduler", help="for the cells, unless an axis (default: the model's own)")
    grid.add_argument("--steps", type=int, help="for the cells, unless an axis (default: the model's own)")
    grid.add_argument("--guidance", type=float, help="for the cells, unless an axis")
    grid.add_argument("--guide", help="pixel models: the weaker model autoguidance steers away from")
    grid.add_argument("--prompt", default="", help="Stable Diffusion models: the prompt")
    grid.add_argument("--negative", default="", help="Stable Diffusion models: the negative prompt")
    grid.add_argument("--size", default="512x512", help="Stable Diffusion models: WIDTHxHEIGHT, multiples of 8")
    grid.add_argument("--seed", type=int, help="default: random (the same in every cell unless seed is an axis)")
    grid.add_argument("--out", required=True, help="the folder for the cells and grid.png")
    _device_arguments(grid)
    _addon_arguments(grid)  # --lora for every cell (a lora:NAME axis changes its weight), --lora-dir, …

    up = sub.add_parser("upscale", help="upscale an image with a model upscaler (--model ESRGAN_FILE: ESRGAN, SwinIR, "
                                        "DAT, …, 2×/4×/8×) or a 4× diffusion upscaler (SD x4, LDM 4×), tile by tile")
    up.add_argument("image")
    _prompt_arguments(up, SCHEDULERS, prompt_required=False, guidance=9.0)
    up.add_argument("--noise-level", type=int, default=20, help="SD x4: noise added to the input first (0–350)")
    up.add_argument("--tile", type=int, default=0, help="tile side in input pixels (default: automatic)")
    up.add_argument("--overlap", type=int, default=16, help="overlap between tiles, in input pixels")
    up.add_argument("--redraw", default="", metavar="MODEL",
                    help="after a model upscaler (or --model lanczos): redraw the result tile by tile with img2img of "
                         "this Stable Diffusion model, the prompt and --steps (Ultimate SD Upscale's way)")
    up.add_argument("--strength", type=float, default=0.3, help="--redraw: the denoising strength (default 0.3)")
    up.add_argument("--redraw-tile", type=int, default=512, metavar="N",
                    help="--redraw: tile side in output pixels (default 512)")

    tr = sub.add_parser("train", help="train or fine-tune a DDPM on a folder of images (works under accelerate launch)")
    tr.add_argument("folder", help="a folder of images (searched recursively)")
    tr.add_argument("--out", required=True, help="where checkpoints, samples and the final model go")
    origin = tr.add_mutually_exclusive_group()
    origin.add_argument("--base", default="", help="a DDPM pipeline to fine-tune (bundled:NAME, a folder, a cached hub id)")
    from ddpm_studio.training.ddpm.presets import PRESETS

    origin.add_argument("--from-scratch", "--preset", metavar="PRESET", choices=list(PRESETS),
                        help=f"train a new UNet of this size: {', '.join(PRESETS)} (the run's recipe calls it preset)")
    tr.add_argument("--config", help="a train_config.json to start from (flags override it)")
    tr.add_argument("--resolution", type=int)
    tr.add_argument("--steps", type=int, help="optimizer steps in all")
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--grad-accum", type=int)
    tr.add_argument("--lr", type=float)
    tr.add_argument("--warmup", type=int, help="learning-rate warm-up steps")
    tr.add_argument("--mixed-precision", choices=["auto", "no", "fp16", "bf16"],
                    help="auto (the default): the fastest of those the device has, measured on the model and batch")
    tr.add_argument("--checkpoint-every", type=int)
    tr.add_argument("--sample-every", type=int)
    tr.add_argument("--seed", type=int)
    tr.add_argument("--guide-step", type=int, metavar="N",
                    help="keep the model at step N as its autoguidance guide, exported with it (1/16 of --steps is the "
                         "usual choice; 0: none, the default)")
    tr.add_argument("--guide-scale", type=float, metavar="W", help="the autoguidance scale the model then recommends (2)")
    tr.add_argument("--no-ema", action="store_true")
    again = tr.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    again.add_argument("--new-run", action="store_true",
                       help="--out holds an earlier run: move it into --out/earlier-run-DATE-TIME/ and start again")
    lora = tr.add_argument_group("LoRA for Stable Diffusion (with --lora; --base is then a Text to Image model)")
    lora.add_argument("--lora", action="store_true", help="train a LoRA for --base on the captioned folder")
    lora.add_argument("--rank", type=int, help="the LoRA's rank (8)")
    lora.add_argument("--alpha", type=float, help="its alpha; the weight scale is alpha/rank (8)")
    lora.add_argument("--trigger", help="the trigger word: in the caption template, and put in front of captions")
    lora.add_argument("--caption-template", help="the caption of pictures without a .txt file ('a photo of {trigger}')")
    lora.add_argument("--train-text-encoder", action="store_true", help="LoRA layers in the text encoder(s) too")
    lora.add_argument("--caption-dropout", type=float, metavar="P", help="chance a step uses the empty caption (0)")
    lora.add_argument("--shuffle-tags", action="store_true", help="shuffle a caption's comma-separated tags per step")
    lora.add_argument("--keep-tags", type=int, metavar="N", help="with --shuffle-tags: the first N stay in place")
    lora.add_argument("--no-buckets", action="store_true", help="square centre crops instead of aspect-ratio buckets")
    lora.add_argument("--flip", action="store_true", help="mirror pictures at random")
    lora.add_argument("--min-snr-gamma", type=float, metavar="G", help="min-SNR loss weighting (5 is usual; 0: off)")
    lora.add_argument("--noise-offset", type=float, help="per-channel noise offset (0.05 helps dark/light images)")
    lora.add_argument("--gradient-checkpointing", action="store_true", help="less memory, slower steps")
    lora.add_argument("--validation-prompt", help="the prompt of the validation pictures (default: the template)")
    lora.add_argument("--name", help="the LoRA's name, for its file and <lora:NAME:w> (default: --out's name)")
    tr.add_argument("--threads", type=int, help="torch CPU threads")

    search = sub.add_parser("search", help="search every image made here (and in folders you indexed)")
    search.add_argument("words", nargs="*", help="words of the prompt (all of them); seed:N, model:M, sampler:S, "
                                                 "since:DATE, stars:N and tag:T work here too")
    search.add_argument("--seed", type=int)
    search.add_argument("--model", help="part of the model's name")
    search.add_argument("--since", metavar="YYYY-MM-DD")
    search.add_argument("--until", metavar="YYYY-MM-DD")
    search.add_argument("--limit", type=int, default=0, help="at most this many (default: all)")
    search.add_argument("--json", action="store_true",
                        help="JSON rows (path, prompt, seed, model, scheduler, steps, …) instead of paths")
    index = sub.add_parser("index", help="add a folder of PNGs to the gallery (ours, A1111's, …)")
    index.add_argument("folder")

    info = sub.add_parser("info", help="print the parameters stored in one of our PNGs")
    info.add_argument("image")
    info.add_argument("--json", action="store_true", help="print the stored job as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ddpm_studio.host_memory import keep_freed_memory

    keep_freed_memory()  # CPU steps reuse freed pages instead of faulting them in again (host_memory.py)
    try:
        if args.command in (None, "gui"):
            from ddpm_studio.ui.app.start import run_app

            return run_app(
                exit_when_ready=getattr(args, "exit_when_ready", False), device=getattr(args, "device", "auto")
            )
        if args.command in ("generate", "txt2img", "edit", "upscale"):
            from ddpm_studio.commands import sample

            return getattr(sample, f"cmd_{args.command}")(args)
        if args.command == "grid":
            from ddpm_studio.commands.grid import cmd_grid

            return cmd_grid(args)
        if args.command == "race":
            from ddpm_studio.commands.race import cmd_race

            return cmd_race(args)
        if args.command == "train":
            from ddpm_studio.commands.train import cmd_train

            return cmd_train(args)
        if args.command in ("search", "index"):
            from ddpm_studio.commands import gallery

            return getattr(gallery, f"cmd_{args.command}")(args)
        if args.command == "info":
            from ddpm_studio.commands.info import cmd_info

            return cmd_info(args)
    except KeyboardInterrupt:
        print("ddpm-studio: cancelled", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        from ddpm_studio.engine.errors import OUT_OF_MEMORY, describe_failure

        failure = describe_failure(exc, getattr(args, "device", "") or "")
        print(f"ddpm-studio: error: {failure.message if failure.kind == OUT_OF_MEMORY else exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command}")
    return 2


def _prediction_argument(parser) -> None:
    from ddpm_studio.engine.jobs.checks import PREDICTION_TYPES

    parser.add_argument("--prediction", default="auto", choices=PREDICTION_TYPES,
                        help="what the UNet predicts; only SD 2.x single files need it (auto: a same-named .yaml beside "
                             "the file, as A1111 reads, else a test of the UNet)")
    parser.add_argument("--clip-skip", type=int, default=1, metavar="N",
                        help="read the prompt from the text encoder's N-th layer from the end, as A1111's Clip skip "
                             "(1: the last; 2 for many anime-style SD 1.x models)")
    parser.add_argument("--attention-maps", metavar="DIR",
                        help="also write where each word of the prompt was attended to: DIR/<word>.png over the "
                             "result, and DIR/steps/<word>-NNNN.png for every step (DAAM)")
    _addon_arguments(parser)
    parser.add_argument("--text-encoder", action="append", default=[], metavar="FILE",
                        help="a text-encoder file for a diffusion-model file (ComfyUI's models/text_encoders: "
                             "clip_l, clip_g, t5xxl_fp16 …), matched to its place by kind and width; repeatable")
    _control_arguments(parser)


def _control_arguments(parser) -> None:
    parser.add_argument("--controlnet", action="append", default=[], metavar="PATH:WEIGHT[:START:END]",
                        help="steer with a ControlNet (a diffusers folder or a .safetensors file, or its name in a "
                             "--controlnet-dir) at WEIGHT (0 … 2), from START to END of the run (fractions, default "
                             "0 and 1); repeat for several, each with its --control-image")
    parser.add_argument("--control-image", action="append", default=[], metavar="FILE",
                        help="a control image, one per --controlnet, in the same order")
    parser.add_argument("--control-preprocess", action="append", default=[],
                        choices=["none", "canny", "scribble", "invert"],
                        help="make the control image from the picture first (once for all, or once per image)")
    parser.add_argument("--canny", default="100,200", metavar="LOW,HIGH", help="the canny thresholds (100,200)")
    parser.add_argument("--controlnet-dir", action="append", default=[], metavar="DIR",
                        help="a folder of ControlNets, for names in --controlnet (repeatable)")


def _addon_arguments(parser) -> None:
    parser.add_argument("--lora", action="append", default=[], metavar="PATH_OR_NAME:WEIGHT",
                        help="apply a LoRA (a .safetensors file, or its name in a --lora-dir) at WEIGHT (default 1; "
                             "negative allowed); repeat for several. <lora:NAME:WEIGHT> in the prompt works too")
    parser.add_argument("--lora-dir", action="append", default=[], metavar="DIR",
                        help="a folder of LoRAs, for names in --lora and prompt tags (repeatable)")
    parser.add_argument("--embeddings", action="append", default=[], metavar="DIR",
                        help="a folder of textual-inversion embeddings, used by their file name in the prompt "
                             "(repeatable)")
    parser.add_argument("--vae", default="", metavar="PATH_OR_NAME",
                        help="decode with this VAE (a .safetensors file or a diffusers VAE folder, or its name in a "
                             "--vae-dir) instead of the model's own; for a diffusion-model file (SD 3.5, Flux.1): "
                             "its VAE file (ComfyUI's models/vae, e.g. Flux's ae.safetensors)")
    parser.add_argument("--vae-dir", action="append", default=[], metavar="DIR", help="a folder of VAEs (repeatable)")
    parser.add_argument("--wildcards", action="append", default=[], metavar="DIR",
                        help="a folder of wildcard files: __NAME__ in the prompt is one line of NAME.txt (sub-folders: "
                             "__sub/NAME__), {a|b|c} one of the options, chosen per image from its seed (repeatable; "
                             "the models home's wildcards folders are read too)")
    parser.add_argument("--styles", action="append", default=[], metavar="FILE",
                        help="an A1111 styles.csv (name,prompt,negative_prompt) for --style (repeatable; the models "
                             "home's styles.csv is read too)")
    parser.add_argument("--style", action="append", default=[], metavar="NAME",
                        help="apply a style to the prompt and the negative prompt: its {prompt} is where yours goes, "
                             "else its text is added after yours (repeatable: applied in order)")
    parser.add_argument("--models-home", metavar="DIR",
                        help="an A1111 or ComfyUI folder: its LoRAs, embeddings and VAEs are found by name, "
                             "--model may name one of its checkpoints or diffusion models, and a diffusion model is "
                             "paired with the text encoders and VAE its family needs from its folders")


def _prompt_arguments(parser, schedulers, prompt_required: bool = True, guidance: float = 7.5) -> None:
    from ddpm_studio.commands.scheduling import scheduler_arguments
    from ddpm_studio.engine.jobs.scheduler_table import DEFAULT_SCHEDULER, DEFAULT_STEPS

    parser.add_argument("--model", required=True,
                        help="a pipeline folder, a single-file .safetensors checkpoint, a diffusion-model file (SD 3.5, "
                             "Flux.1: bf16, fp8 or .gguf; its text encoders and VAE from --text-encoder/--vae or the "
                             "models home), or a cached hub id")
    parser.add_argument("--prompt", required=prompt_required, default="")
    parser.add_argument("--negative", default="", help="negative prompt")
    parser.add_argument("--steps", type=int, help=RECOMMENDED_HELP.format(DEFAULT_STEPS))
    parser.add_argument("--guidance", type=float,
                        help=f"classifier-free guidance scale (default: the model family's, else {guidance:g})")
    parser.set_defaults(guidance_default=guidance)
    parser.add_argument("--seed", type=int, help="default: random")
    parser.add_argument("--batch", type=int, default=1)
    scheduler_arguments(parser, list(schedulers), RECOMMENDED_HELP.format(DEFAULT_SCHEDULER))
    parser.add_argument("--out", help="output folder (default: your pictures folder / DDPM Studio)")
    _device_arguments(parser)
    _memory_arguments(parser)
    _save_steps_argument(parser)


def _memory_arguments(parser) -> None:
    memory = parser.add_argument_group("memory", "savers for large models on small GPUs (docs/troubleshooting.md)")
    memory.add_argument("--attention-slicing", action="store_true",
                        help="less memory, a little slower (Stable Diffusion's UNet; transformer families already "
                             "compute attention in a memory-saving kernel)")
    memory.add_argument("--vae-tiling", action="store_true", help="decode large images tile by tile")
    memory.add_argument("--vae-slicing", action="store_true", help="decode a batch one image at a time")
    memory.add_argument("--vae-fp32", action="store_true", help="the VAE in float32: the fix for black (NaN) images")
    offloads = memory.add_mutually_exclusive_group()  # diffusers takes one at a time
    offloads.add_argument("--cpu-offload", action="store_true",
                          help="model CPU offload: each model on the GPU only while it runs (CUDA only; one offload "
                               "at a time)")
    offloads.add_argument("--group-offload", action="store_true",
                          help="the denoiser's and text encoders' blocks on the GPU in turn, the next one copied "
                               "while the current runs: less memory than --cpu-offload (CUDA only; one offload at a "
                               "time)")
    offloads.add_argument("--sequential-offload", action="store_true",
                          help="each layer's weights on the GPU only while it runs: the least memory, the slowest "
                               "(CUDA only; one offload at a time)")


def _device_arguments(parser) -> None:
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp16", "bf16", "fp32"])
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow loading pickle (.bin) weights — they can run code")


def _variation_arguments(parser) -> None:
    parser.add_argument("--variation-seed", type=int, metavar="N",
                        help="vary the picture towards this seed's (image i: towards N + i), as A1111's Variation seed")
    parser.add_argument("--variation-strength", type=float, metavar="S",
                        help="how far: 0 is the seed's picture, 1 the variation seed's (default: no variation)")
    parser.add_argument("--seed-walk", metavar="S1,S2,…",
                        help="an animation along the slerp through these seeds: --out DIR gets frames/ (normal PNGs), "
                             "seed-walk.gif and seed-walk.webp (one image per frame; --seed and --batch are not used)")
    parser.add_argument("--frames", type=int, default=24, help="frames of a --seed-walk (default 24)")
    parser.add_argument("--fps", type=float, default=12.0, help="frames per second of a --seed-walk's animation")
    parser.add_argument("--count", type=int, metavar="N",
                        help="make N images, seeds SEED … SEED+N−1, in batches of --batch; under accelerate launch "
                             "the seeds are split between the processes (give --seed)")


def _save_steps_argument(parser) -> None:
    parser.add_argument("--save-steps", metavar="DIR",
                        help="also write every step: DIR/frames/*.png, steps.gif, steps.webp and contact-sheet.png")
