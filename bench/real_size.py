"""Real-size models from files as artists have them, with random weights: does the app load and sample them offline
on this machine, and with how much memory? Sizes matter here (a 2.6 B UNet, a 7 GB file), not what the weights say.

``sdxl-vpred``: an SDXL checkpoint at full size (UNet, both CLIP text encoders and the VAE, from the SDXL configs that
ship in ``resources/configs/sdxl``), random fp16 weights in the original single-file layout, marked with a ``v_pred``
key as NoobAI-XL v-pred's file is. The app must read it as a v model with nothing in the Hugging Face cache and no
network, and sample a small picture from it.

The file is written by one process and sampled by another (so the peak memory is the app's alone). Prints what the
run said and one JSON line: the file's size, the loaded scheduler's prediction type, the seconds and the peak
resident memory of the sampling process.

    python bench/real_size.py [--family sdxl-vpred] [--size 128] [--steps 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def random_fp16(model) -> None:
    """Random weights in place: N(0, 0.02) for weights, 1 for norm scales, 0 for biases (a finite, bounded net)."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.zero_()
            elif parameter.ndim == 1:
                parameter.fill_(1.0)
            else:
                parameter.normal_(0.0, 0.02)


def build(cls, config_folder: Path, **extra):
    """A model of ``cls`` at full size from its config, allocated once in fp16 (no fp32 copy on the way)."""
    import torch

    with torch.device("meta"):
        if hasattr(cls, "from_config"):
            model = cls.from_config(cls.load_config(config_folder), **extra)
        else:
            model = cls(cls.config_class.from_pretrained(config_folder))
    model = model.to(dtype=torch.float16).to_empty(device="cpu")
    random_fp16(model)
    return model.eval()


def write_sdxl_vpred(out: Path) -> Path:
    """The full-size SDXL v-prediction file, in the layout A1111, ComfyUI and Civitai share."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    from ddpm_studio.paths import resources_dir

    sys.path.insert(0, str(ROOT))  # the tests' converter to the original layout (tests/ldm_checkpoint.py)
    from tests.ldm_checkpoint import _clip_layout, open_clip_to_ldm, unet_to_ldm, vae_to_ldm

    configs = resources_dir() / "configs" / "sdxl"
    state = {}
    unet = build(UNet2DConditionModel, configs / "unet")
    state.update({f"model.diffusion_model.{k}": v for k, v in
                  unet_to_ldm(unet.state_dict(), unet.config.layers_per_block).items()})
    vae = build(AutoencoderKL, configs / "vae")
    state.update({f"first_stage_model.{k}": v for k, v in
                  vae_to_ldm(vae.state_dict(), len(vae.config.down_block_types)).items()})
    clip = build(CLIPTextModel, configs / "text_encoder")
    state.update({f"conditioner.embedders.0.transformer.{k}": v for k, v in _clip_layout(clip.state_dict()).items()})
    bigg = build(CLIPTextModelWithProjection, configs / "text_encoder_2")
    state.update({f"conditioner.embedders.1.model.{k}": v for k, v in open_clip_to_ldm(bigg.state_dict()).items()})
    state["v_pred"] = torch.tensor([])  # how v-prediction finetunes mark their files
    save_file({k: v.contiguous() for k, v in state.items()}, str(out))
    return out


def sample(path: str, size: int, steps: int) -> None:
    """(In the child process.) One Text to Image run of the file, offline, as the app runs it."""
    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.runner import Engine

    engine = Engine(device="cpu")
    started = time.perf_counter()
    result = engine.run(Text2ImageJob(model=path, prompt="a lighthouse at dusk", negative_prompt="blur", steps=steps,
                                      seed=1, width=size, height=size, output_dir=""), save=False)
    import numpy as np

    print(json.dumps({
        "prediction_type": engine._model.scheduler_config.get("prediction_type"),
        "note": result.note,
        "seconds": round(time.perf_counter() - started, 1),
        "finite": bool(np.isfinite(result.images.astype(float)).all()),
        "image": list(result.images.shape),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "torch_threads": __import__("torch").get_num_threads(),
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", default="sdxl-vpred", choices=["sdxl-vpred"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--keep", help="a folder to write the file into and keep it (default: a temporary one)")
    parser.add_argument("--sample", help=argparse.SUPPRESS)  # a child process: sample this file
    parser.add_argument("--write", help=argparse.SUPPRESS)  # a child process: write this file
    args = parser.parse_args()
    if args.sample:
        sample(args.sample, args.size, args.steps)
        return
    if args.write:
        write_sdxl_vpred(Path(args.write))
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ddpm-studio-real-size-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "noob-like-vpred.safetensors"
    started = time.perf_counter()
    if not path.is_file():
        subprocess.run([sys.executable, __file__, "--write", str(path)], check=True)
    written = time.perf_counter() - started
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(folder / "empty-hf-home")}
    child = subprocess.run([sys.executable, __file__, "--sample", str(path), "--size", str(args.size),
                            "--steps", str(args.steps)], env=env, capture_output=True, text=True)
    if child.returncode == 0:
        report = json.loads(child.stdout.strip().splitlines()[-1])
    else:
        report = {"error": child.stderr[-2000:]}
    report.update(family=args.family, file_gb=round(path.stat().st_size / 2**30, 2), write_seconds=round(written, 1),
                  cpu=_cpu())
    print(json.dumps(report))
    if not args.keep:
        path.unlink()


def _cpu() -> str:
    import torch

    from ddpm_studio.training.precision import device_name

    return device_name(torch.device("cpu"))


if __name__ == "__main__":
    main()
