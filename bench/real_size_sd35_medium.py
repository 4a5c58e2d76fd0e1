"""A real-size SD 3.5 Medium from the files Stability ships, with random weights, generated offline with an empty
Hugging Face cache: ``sd3.5_medium.safetensors`` (its 2.5 B MMDiT-X transformer as ``model.diffusion_model.*`` and its
VAE as ``first_stage_model.*``, bf16), ``clip_l.safetensors`` and ``clip_g.safetensors`` (transformers' names, fp16),
T5 left out. The files are written tensor by tensor (never all in memory), from the shipped config folder
``resources/configs/sd3.5-medium``; the run loads them through the app's own path (no DDPM_STUDIO_CONFIGS, the
shipped CLIP tokenizer). Prints the time and the peak memory (ru_maxrss) of the run.

    python bench/real_size_sd35_medium.py /tmp/real   # ~7 GB of files; ~14 GB of memory in fp32 on a CPU
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="empty-hf-")  # nothing cached

import torch  # noqa: E402

DTYPES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}


def write_random(path: Path, shapes: dict, dtype) -> None:
    """A safetensors file of random tensors (σ 0.02; norms' weights 1), written one tensor at a time."""
    size = torch.tensor([], dtype=dtype).element_size()
    header, offset = {}, 0
    for key, shape in shapes.items():
        count = int(torch.Size(shape).numel()) * size
        header[key] = {"dtype": DTYPES[dtype], "shape": list(shape), "data_offsets": [offset, offset + count]}
        offset += count
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    generator = torch.Generator().manual_seed(0)
    with open(path, "wb") as out:
        out.write(len(text).to_bytes(8, "little") + text)
        for key, shape in shapes.items():
            norm = "norm" in key or key.endswith(("ln_q.weight", "ln_k.weight"))
            tensor = (torch.ones(shape) if norm and len(shape) == 1 and key.endswith("weight")
                      else torch.randn(shape, generator=generator) * 0.02).to(dtype)
            out.write(tensor.contiguous().view(torch.uint8).numpy().tobytes())


def meta_shapes(model) -> dict:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def write_files(out: Path) -> dict:
    import diffusers
    import transformers

    from ddpm_studio.paths import resources_dir
    from tests.comfy_files import sd3_to_original
    from tests.ldm_checkpoint import vae_to_ldm

    config = resources_dir() / "configs" / "sd3.5-medium"
    with torch.device("meta"):
        transformer = diffusers.SD3Transformer2DModel.from_config(
            diffusers.SD3Transformer2DModel.load_config(config / "transformer"))
        vae = diffusers.AutoencoderKL.from_config(diffusers.AutoencoderKL.load_config(config / "vae"))
        encoders = {name: transformers.CLIPTextModelWithProjection(transformers.AutoConfig.from_pretrained(
            config / folder)) for name, folder in (("clip_l", "text_encoder"), ("clip_g", "text_encoder_2"))}
    model = {f"model.diffusion_model.{k}": tuple(v.shape) for k, v in
             sd3_to_original(transformer.state_dict(), transformer.config.num_layers).items()}
    model.update({f"first_stage_model.{k}": tuple(v.shape) for k, v in
                  vae_to_ldm(vae.state_dict(), len(vae.config.down_block_types)).items()})
    files = {"model": out / "models" / "checkpoints" / "sd3.5_medium.safetensors"}
    files["model"].parent.mkdir(parents=True, exist_ok=True)
    if not files["model"].is_file():
        write_random(files["model"], model, torch.bfloat16)
    for name, encoder in encoders.items():
        files[name] = out / "models" / "text_encoders" / f"{name}.safetensors"
        files[name].parent.mkdir(parents=True, exist_ok=True)
        if not files[name].is_file():
            write_random(files[name], meta_shapes(encoder), torch.float16)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    files = write_files(args.out)
    print(f"files written in {time.perf_counter() - started:.0f} s:",
          ", ".join(f"{p.name} {p.stat().st_size / 1e9:.2f} GB" for p in files.values()))
    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.models.home import models_home
    from ddpm_studio.engine.models.pairing import pair_in_home
    from ddpm_studio.engine.runner import Engine

    pairing = pair_in_home(files["model"], models_home(args.out))
    assert pairing.complete, pairing.missing
    job = Text2ImageJob(model=str(files["model"]), text_encoders=pairing.text_encoders, prompt="a lighthouse at dusk",
                        steps=2, seed=1, width=args.size, height=args.size, guidance_scale=4.5, preview_every=1)
    events = []
    started = time.perf_counter()
    result = Engine(device="cpu").run(job, on_step=events.append, save=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    steps = [e for e in events if not e.final]
    print(f"{result.images.shape} in {time.perf_counter() - started:.0f} s on {torch.get_num_threads()} threads, "
          f"{len(steps)} steps previewed, peak memory {peak:.1f} GiB; note: {result.note}")
    print("finite:", bool(torch.isfinite(torch.tensor(result.images, dtype=torch.float32)).all()),
          "HF cache:", os.environ["HF_HOME"], sorted(os.listdir(os.environ["HF_HOME"])))


if __name__ == "__main__":
    main()
