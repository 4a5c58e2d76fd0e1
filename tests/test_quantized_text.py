"""Text encoders kept in their storage: a float8 T5 file (scaled too) and ComfyUI's all-in-one fp8 checkpoint with
T5 inside stay float8 in memory and read the prompt as their dequantised references do; a T5 in GGUF (llama.cpp's
names, city96's files) is told as a T5 file, keeps its quantised blocks, pairs from a models home and generates."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.catalogue import inspect_model
from ddpm_studio.engine.runner import Engine
from tests.comfy_quantized import dequantised, save_float8
from tests.quantized_flux import JOB, _run, configs, flux  # noqa: F401 (fixtures)


def test_a_float8_t5_file_stays_float8_and_reads_the_prompt_as_the_fp16_one(flux, configs, tmp_path):
    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.text_files import encoders_in, load_text_encoder

    t5_fp8 = save_float8(flux["t5xxl"], tmp_path / "t5xxl_fp8_e4m3fn_scaled.safetensors", scaled=True)
    reference = dequantised(t5_fp8, tmp_path / "t5xxl_dequantised.safetensors")
    config = configs / "flux.1-dev" / "text_encoder_2"
    (found,) = encoders_in(t5_fp8, read_shapes(t5_fp8))
    (plain,) = encoders_in(reference, read_shapes(reference))
    t5 = load_text_encoder("T5EncoderModel", config, found, torch.float32)
    t5_reference = load_text_encoder("T5EncoderModel", config, plain, torch.float32)
    assert t5.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype == torch.float8_e4m3fn
    tokens = torch.tensor([[3, 4, 5, 1]])
    with torch.no_grad():
        assert torch.allclose(t5(tokens).last_hidden_state, t5_reference(tokens).last_hidden_state, atol=1e-5)
    half = load_text_encoder("T5EncoderModel", config, found, torch.float16)  # wo in float32 there, as transformers
    with torch.no_grad():
        out = half(tokens).last_hidden_state
    assert torch.isfinite(out).all() and half.encoder.block[0].layer[1].DenseReluDense.wo.weight.dtype.itemsize == 1


def test_a_flux_run_with_a_float8_t5_says_so_and_keeps_it_float8(flux, configs, tmp_path):
    t5_fp8 = save_float8(flux["t5xxl"], tmp_path / "t5xxl_fp8_e4m3fn.safetensors")

    def kinds(module):
        return {p.dtype for p in module.parameters()}

    seen = []
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, args: seen.append(kinds(module)) if type(module).__name__ == "T5EncoderModel" else None)
    try:
        result = Engine(device="cpu").run(Text2ImageJob(model=str(flux["fp8"]), text_encoders=(str(t5_fp8),
                                                        str(flux["clip_l"])), vae=str(flux["vae"]), **JOB), save=False)
    finally:
        hook.remove()
    assert seen and all(torch.float8_e4m3fn in found for found in seen)
    assert "T5-XXL: weights kept as float8 e4m3fn in memory, each layer computed in float32" in result.note
    plain, _, _ = _run(flux, flux["fp8"])
    assert np.abs(result.images.astype(int) - plain).mean() < 4


def test_comfyuis_all_in_one_float8_checkpoint_runs_alone(flux, configs, tmp_path):
    from tests.comfy_quantized import save_all_in_one_float8

    path = save_all_in_one_float8(flux, tmp_path / "checkpoints" / "tiny-flux1-dev-fp8.safetensors")
    info = inspect_model(str(path))
    assert info.split and "float8 e4m3fn" in info.class_name
    result = Engine(device="cpu").run(Text2ImageJob(model=str(path), **JOB), save=False)  # nothing else named
    assert "weights kept as float8 e4m3fn" in result.note and "T5-XXL: weights kept as float8" in result.note
    assert "CLIP-L: weights kept" not in result.note  # its part of the file is bf16
    plain, _, _ = _run(flux, flux["fp8"])
    assert np.abs(result.images.astype(int) - plain).mean() < 4


def test_a_gguf_t5_keeps_its_blocks_and_reads_the_prompt_as_its_reference(tmp_path):
    """A T5 whose feed-forward is 64 wide, so that ``wo`` is quantised too (T5 casts its input to wo's dtype)."""
    from safetensors.torch import save_file
    from transformers import T5Config, T5EncoderModel

    from ddpm_studio.engine.models.single_file import read_shapes
    from ddpm_studio.engine.models.text_files import encoders_in, load_text_encoder
    from tests.comfy_quantized import save_t5_gguf

    torch.manual_seed(0)
    t5_config = T5Config(vocab_size=32, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                         relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", pad_token_id=0,
                         eos_token_id=1, decoder_start_token_id=0)
    T5EncoderModel(t5_config).save_pretrained(tmp_path / "config")
    state = T5EncoderModel.from_pretrained(tmp_path / "config").state_dict()
    save_file({k: v.clone().contiguous() for k, v in state.items()}, str(tmp_path / "t5xxl_fp16.safetensors"))
    path = save_t5_gguf(tmp_path / "t5xxl_fp16.safetensors", tmp_path / "t5-v1_1-xxl-encoder-Q8_0.gguf",
                        tmp_path / "t5_reference.safetensors")
    (found,) = encoders_in(path, read_shapes(path))
    assert (found.kind, found.width) == ("t5", 32)  # told from llama.cpp's names as a T5 file is
    t5 = load_text_encoder("T5EncoderModel", tmp_path / "config", found, torch.float32)
    (plain,) = encoders_in(tmp_path / "t5_reference.safetensors", read_shapes(tmp_path / "t5_reference.safetensors"))
    reference = load_text_encoder("T5EncoderModel", tmp_path / "config", plain, torch.float32)
    feed_forward = t5.encoder.block[0].layer[1].DenseReluDense
    assert type(feed_forward.wo.weight).__name__ == "GGUFParameter" and t5.dtype == torch.float32
    assert type(t5.encoder.block[0].layer[0].SelfAttention.q.weight).__name__ == "GGUFParameter"
    tokens = torch.tensor([[3, 4, 5, 1]])
    with torch.no_grad():
        out, expected = t5(tokens).last_hidden_state, reference(tokens).last_hidden_state
    assert torch.isfinite(expected).all() and (out - expected).norm() / expected.norm() < 1e-3
    assert type(feed_forward.wo.weight).__name__ == "GGUFParameter"  # its blocks back after the forward


def test_a_flux_run_pairs_a_gguf_t5_from_the_models_home(flux, configs, tmp_path):
    from ddpm_studio.engine.models.home import models_home
    from ddpm_studio.engine.models.pairing import pair_in_home
    from tests.comfy_quantized import save_t5_gguf

    home = tmp_path / "ComfyUI" / "models"
    for folder in ("diffusion_models", "text_encoders", "vae"):
        (home / folder).mkdir(parents=True)
    model = Path(shutil.copy(flux["gguf"], home / "diffusion_models"))
    shutil.copy(flux["vae"], home / "vae")
    shutil.copy(flux["clip_l"], home / "text_encoders")
    save_t5_gguf(flux["t5xxl"], home / "text_encoders" / "t5-v1_1-xxl-encoder-Q8_0.gguf", tmp_path / "ref.safetensors")
    pairing = pair_in_home(model, models_home(home))
    assert pairing.complete and sorted(Path(p).name for p in pairing.text_encoders) == \
        ["clip_l.safetensors", "t5-v1_1-xxl-encoder-Q8_0.gguf"]
    shutil.copy(flux["t5xxl"], home / "text_encoders")  # beside an fp16 T5, the fp16 one is chosen (exact)
    assert "t5xxl_fp16.safetensors" in [Path(p).name for p in pair_in_home(model, models_home(home)).text_encoders]
    (home / "text_encoders" / "t5xxl_fp16.safetensors").unlink()
    result = Engine(device="cpu").run(Text2ImageJob(model=str(model), text_encoders=pairing.text_encoders,
                                                    vae=pairing.vae, **JOB), save=False)
    assert "T5-XXL: weights kept as GGUF Q8_0 in memory" in result.note
    plain, _, _ = _run(flux, flux["model"])
    assert np.abs(result.images.astype(int) - plain).mean() < 2
