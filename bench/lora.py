"""LoRA cost: seconds per step with two LoRAs applied against none, and seconds to change a LoRA's weight against
seconds to load the checkpoint. Measured side by side in one process, interleaved.

The pipeline is bench/latent_preview.py's small random-weight SD (weights do not change speed), ``--full-size`` (an SD
1.5-shaped one, 860 M UNet parameters, random weights, from the configs in resources/configs/sd1; about 13 GB of
memory for the three engines), or ``--model`` (any SD 1.x folder or single file, e.g. a real checkpoint). The two
LoRAs are kohya-layout files over every attention layer of the UNet and text encoder, rank ``--rank``, made here for
the model.

Three engines hold the model at once, so no run pays for another's set-up: no LoRA; two LoRAs fused into the weights
(what the app does); the same two LoRAs left as unfused peft adapters (what fusing saves). A weight change is the
app's own path (unfuse, restore the base weights, set the weights, fuse again), timed alone.

The checkpoint load is timed from the model written as one A1111-layout .safetensors file, as artists have their
models (and from its diffusers folder too), each after the first, so from the page cache: a load from disk is slower.

Prints a table, then one JSON line: two_loras_fused/none (target ≤ 1.02) and weight_change/checkpoint_load
(target ≤ 0.05).

    python bench/lora.py [--size 256] [--steps 10] [--rounds 5] [--threads 2] [--rank 16] [--full-size | --model PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from latent_preview import build_small_sd  # noqa: E402
from timing import interleaved, paired_ratio  # noqa: E402


def build_full_size_sd(folder: Path) -> Path:
    """SD 1.5's architecture with random weights, from the configs the app ships for single-file checkpoints."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from ddpm_studio.engine.models.single_file import shipped_tokenizer
    from ddpm_studio.paths import resources_dir

    configs = resources_dir() / "configs" / "sd1"
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(configs / "unet")),
        vae=AutoencoderKL.from_config(AutoencoderKL.load_config(configs / "vae")),
        text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(configs / "text_encoder")),
        tokenizer=CLIPTokenizer.from_pretrained(shipped_tokenizer()),
        scheduler=DDIMScheduler.from_pretrained(configs / "scheduler"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def single_file(folder: Path, work: Path) -> Path:
    """The model as an A1111-layout checkpoint (what artists load), with configs the app can read it by: the shipped
    SD 1.5 ones for the full-size model, its own for the small one (``DDPM_STUDIO_CONFIGS``)."""
    import os

    from tests.ldm_checkpoint import save_config_folder, save_single_file

    if folder.name != "sd15":
        save_config_folder(folder, work / "configs" / "sd1")
        os.environ["DDPM_STUDIO_CONFIGS"] = str(work / "configs")
    return save_single_file(folder, work / f"{folder.name}.safetensors")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--model", help="an SD 1.x pipeline folder or single file (default: a small random one)")
    parser.add_argument("--full-size", action="store_true", help="a random SD 1.5-shaped pipeline")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ddpm_studio.engine.addons.adapters import PipelineAddons
    from ddpm_studio.engine.addons.resources import AddonFolders
    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.runner import Engine
    from tests.tiny_addons import save_lora

    work = Path(tempfile.mkdtemp(prefix="bench-lora-"))
    model = args.model or str(build_full_size_sd(work / "sd15") if args.full_size
                              else build_small_sd(work / "small-sd"))
    folders = AddonFolders(loras=[str(work / "loras")])
    probe = Engine(device="cpu").load(model, "txt2img").pipe
    for n, name in enumerate(("first", "second")):
        save_lora(work / "loras" / f"{name}.safetensors", probe, "kohya", seed=n, rank=args.rank)
    del probe

    def job(**changes):
        return Text2ImageJob(model=model, prompt="a lighthouse at dusk", steps=args.steps, width=args.size,
                             height=args.size, preview_every=1, seed=0, **changes)

    two = (("first", 0.8), ("second", 0.5))
    engines = {name: Engine(device="cpu", folders=folders) for name in ("none", "two_loras_fused", "two_loras_unfused")}
    loaded = engines["two_loras_unfused"].load(model, "txt2img")
    loaded.addons = PipelineAddons(loaded.pipe)
    loaded.addons.loras.fuse = False
    jobs = {"none": job(), "two_loras_fused": job(loras=two), "two_loras_unfused": job(loras=two)}
    for name, engine in engines.items():  # load the model and the LoRAs; later runs only sample
        engine.run(jobs[name], save=False)
    times = interleaved({name: (lambda n=name: engines[n].run(jobs[n], save=False)) for name in engines}, args.rounds)

    fused = engines["two_loras_fused"]._model.addons
    changes = []
    for r in range(args.rounds * 2):
        start = time.perf_counter()
        fused.apply(job(loras=(("first", 0.8 if r % 2 else 0.3), ("second", 0.5))), folders, False)
        changes.append(time.perf_counter() - start)
    params = sum(p.numel() for p in engines["none"]._model.pipe.unet.parameters())
    del fused, loaded
    engines.clear()  # the loads below are timed with nothing else held (the full-size model: 4 GB each)
    gc.collect()
    loads: dict[str, list[float]] = {"folder": [], "single_file": []}
    checkpoint = single_file(Path(model), work) if Path(model).is_dir() else None
    for _ in range(args.rounds):
        for kind, ref in (("folder", model), ("single_file", checkpoint)):
            if ref is not None:
                start = time.perf_counter()
                Engine(device="cpu").load(str(ref), "txt2img")
                loads[kind].append(time.perf_counter() - start)
    load = {kind: statistics.median(t) for kind, t in loads.items() if t}

    per_step = {name: statistics.median(t) / args.steps for name, t in times.items()}
    print(f"{'run':22} {'s/step':>8}")
    for name, seconds in per_step.items():
        print(f"{name:22} {seconds:8.4f}")
    print("per round, fused/none:", " ".join(f"{a / b:.3f}" for a, b in zip(times["two_loras_fused"], times["none"])))
    change = statistics.median(changes)
    print(f"weight change {change:.3f} s; loading the model: " + ", ".join(f"{k} {v:.3f} s" for k, v in load.items()))
    print(json.dumps({
        "two_loras_fused/none": round(paired_ratio(times, "two_loras_fused", "none"), 4),
        "two_loras_unfused/none": round(paired_ratio(times, "two_loras_unfused", "none"), 4),
        "weight_change/checkpoint_load": round(change / load.get("single_file", load["folder"]), 4),
        "weight_change/folder_load": round(change / load["folder"], 4),
        "seconds_per_step_none": round(per_step["none"], 4), "seconds_weight_change": round(change, 4),
        **{f"seconds_load_{k}": round(v, 4) for k, v in load.items()}, "unet_params": params, "rank": args.rank,
        "size": args.size, "torch_threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
