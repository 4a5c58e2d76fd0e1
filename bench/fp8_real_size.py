"""A real-size float8 diffusion model on the CPU, offline: Z-Image Turbo's 6 B transformer in float8 e4m3fn with
random weights, written as ComfyUI ships ``z_image_turbo_fp8*.safetensors`` (the original key layout, the linear
weights float8, norms, biases and pad tokens bf16), loaded through DDPM Studio's float8 loader
(engine/models/storage/float8_files.py) and run for 1 step at 256×256 in ZImagePipeline with Flux.1's VAE at its real size
and a small Qwen3-shaped text encoder stand-in (2560 wide, as Qwen3-4B, which the transformer's cap_feat_dim reads;
two layers, a byte-level vocabulary). Not a test: it needs ~6.3 GB of disk and ~8 GB of memory.

Reports the process's peak resident memory (ru_maxrss, the measuring process alone, started fresh) against the
file's size — the target is at most 1.3× — with the seconds to load and to run the step, and how many of the
transformer's parameters are still float8 after the step.

    python bench/fp8_real_size.py [--dir /tmp/zimage-fp8] [--dtype bf16|fp32] [--keep]

The transformer's shape is diffusers' ZImageTransformer2DModel defaults, which are Z-Image-Turbo's
transformer/config.json (dim 3840, 30 layers and 2 refiner layers of 30 heads, cap_feat_dim 2560, RoPE axes
(32, 48, 48)); the VAE is Flux.1's (block widths 128–512, two layers per block, 16 latent channels, scaling and shift
factors 0.3611 and 0.1159: FLUX.1-dev's vae/config.json). Key names are the inverse of diffusers'
convert_z_image_transformer_checkpoint_to_diffusers (q, k and v joined as ``attention.qkv``, ``attention.out``,
``q_norm``/``k_norm``, ``x_embedder.``/``final_layer.`` for the 2-1 patch entries).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE_NAME = "z_image_turbo_fp8_e4m3fn.safetensors"


def _original_name(key: str) -> str:
    for diffusers_name, original in ((".attention.to_out.0.", ".attention.out."),
                                     (".attention.norm_q.", ".attention.q_norm."),
                                     (".attention.norm_k.", ".attention.k_norm."),
                                     ("all_final_layer.2-1.", "final_layer."), ("all_x_embedder.2-1.", "x_embedder.")):
        key = key.replace(diffusers_name, original)
    return key


def _stored(key: str, shape) -> str:
    """float8 for the linear weights, bf16 for the rest (norms, biases, pad tokens), as ComfyUI's fp8 files."""
    return "F8_E4M3" if key.endswith(".weight") and len(shape) == 2 and "norm" not in key else "BF16"


def write_file(path: Path) -> None:
    """The random float8 file, written one tensor at a time (a header, then each tensor's bytes)."""
    import torch
    from accelerate import init_empty_weights
    from diffusers import ZImageTransformer2DModel

    with init_empty_weights():
        model = ZImageTransformer2DModel()
    shapes = {key: tuple(p.shape) for key, p in model.state_dict().items()}
    joined: dict[str, tuple] = {}
    for key, shape in shapes.items():
        if ".attention.to_q.weight" in key:
            stem = key.removesuffix(".to_q.weight")
            rows = sum(shapes[f"{stem}.to_{x}.weight"][0] for x in "qkv")
            joined[f"{stem}.qkv.weight"] = (rows, shape[1])
        elif ".attention.to_k.weight" in key or ".attention.to_v.weight" in key:
            continue
        else:
            joined[_original_name(key)] = shape
    header, offset = {}, 0
    for key, shape in joined.items():
        dtype = _stored(key, shape)
        size = int(torch.Size(shape).numel()) * (1 if dtype == "F8_E4M3" else 2)
        header[key] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    generator = torch.Generator().manual_seed(0)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for key, shape in joined.items():
            if "norm" in key or "pad_token" in key:
                tensor = torch.ones(shape)
            else:
                tensor = torch.randn(shape, generator=generator) * 0.02
            tensor = tensor.to(torch.float8_e4m3fn if header[key]["dtype"] == "F8_E4M3" else torch.bfloat16)
            f.write(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())


def measure(path: Path, dtype_name: str) -> dict:
    """In this (fresh) process: load, one step at 256², the peak resident memory."""
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImagePipeline
    from transformers import Qwen3Config, Qwen3Model

    sys.path.insert(0, str(ROOT))
    from ddpm_studio.engine.models.storage.float8_casting import float8_parameters
    from ddpm_studio.engine.models.storage.float8_files import load_float8_denoiser
    from tests.tiny_zimage import tiny_qwen_tokenizer

    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    config = path.parent / "config"
    _write_config(config)
    started = time.perf_counter()
    transformer = load_float8_denoiser("ZImageTransformer2DModel", path, config, "transformer", dtype)
    loaded = time.perf_counter() - started
    after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    torch.manual_seed(0)
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(128, 256, 512, 512),
                        layers_per_block=2, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, scaling_factor=0.3611, shift_factor=0.1159,
                        use_quant_conv=False, use_post_quant_conv=False).to(dtype)
    qwen = Qwen3Model(Qwen3Config(vocab_size=259, hidden_size=2560, intermediate_size=2048, num_hidden_layers=2,
                                  num_attention_heads=32, num_key_value_heads=8, head_dim=128,
                                  max_position_embeddings=512, pad_token_id=257, eos_token_id=256)).to(dtype)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0, use_dynamic_shifting=False)
    pipe = ZImagePipeline(transformer=transformer, vae=vae, text_encoder=qwen, tokenizer=tiny_qwen_tokenizer(),
                          scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    started = time.perf_counter()
    with torch.inference_mode():
        image = pipe(prompt="a red fox in snow", height=256, width=256, num_inference_steps=1, guidance_scale=0.0,
                     generator=torch.Generator().manual_seed(0), output_type="np").images
    step = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    size = path.stat().st_size
    return {"file_gb": round(size / 1e9, 3), "peak_gb": round(peak * 1024 / 1e9, 3),
            "peak_over_file": round(peak * 1024 / size, 3), "after_load_gb": round(after_load * 1024 / 1e9, 3),
            "imports_gb": round(baseline * 1024 / 1e9, 3), "load_s": round(loaded, 1), "step_s": round(step, 1),
            "compute": dtype_name, "float8_parameters": float8_parameters(transformer),
            "parameters": sum(1 for _ in transformer.parameters()), "image": list(image.shape),
            "threads": torch.get_num_threads()}


def _write_config(config: Path) -> Path:
    """A config folder naming the class alone: its defaults are Z-Image-Turbo's."""
    (config / "transformer").mkdir(parents=True, exist_ok=True)
    defaults = {"_class_name": "ZImageTransformer2DModel"}
    (config / "transformer" / "config.json").write_text(json.dumps(defaults), encoding="utf-8")
    return config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default="/tmp/zimage-fp8")
    parser.add_argument("--dtype", default="bf16", choices=("bf16", "fp32"))
    parser.add_argument("--keep", action="store_true", help="keep the 6 GB file for another run")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = Path(args.dir) / FILE_NAME
    if args.measure:
        print(json.dumps(measure(path, args.dtype)))
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                        f"from bench.fp8_real_size import write_file; from pathlib import Path; "
                        f"write_file(Path({str(path)!r}))"], check=True)
        print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s")
    try:
        out = subprocess.run([sys.executable, __file__, "--measure", "--dir", args.dir, "--dtype", args.dtype],
                             check=True, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        print(out.stdout.strip().splitlines()[-1])
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
