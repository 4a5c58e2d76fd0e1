"""Float8 and GGUF diffusion-model files (ComfyUI's fp8 files, "scaled fp8", city96's GGUF), made in the test from the
tiny Flux.1's BFL-layout file (tests/comfy_quantized.py): each generates offline, keeps its weights in its storage
while it does (float8 parameters seen inside a forward hook, GGUF blocks as diffusers' GGUFParameter), and its picture
is close to the bf16/float32 file's; a scaled file equals its dequantised reference; the model's info line and the
run's note say what it is stored as and what it computes in."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.runner import Engine
from tests.comfy_quantized import dequantised, save_float8, save_gguf
from tests.quantized_flux import _dtypes, _run, configs, flux  # noqa: F401 (fixtures)


@pytest.mark.parametrize("name, dtype, words", [("fp8", torch.float8_e4m3fn, "float8 e4m3fn"),
                                                ("e5m2", torch.float8_e5m2, "float8 e5m2")])
def test_a_float8_file_generates_with_its_weights_float8_in_memory(flux, configs, name, dtype, words):
    info = inspect_model(str(flux[name]))
    assert info.split and info.arch == "flux" and words in info.class_name
    assert info.description.startswith(f"Weights stored as {words}: kept so in memory")  # the model list's tooltip
    image, note, seen = _run(flux, flux[name], watch=_dtypes)
    assert len(seen) == 2 and all(dtype in kinds for kinds in seen)  # float8 while it generates, step after step
    assert f"weights kept as {words} in memory, each layer computed in float32" in note
    plain, plain_note, _ = _run(flux, flux["model"])
    assert "weights kept" not in plain_note
    difference = np.abs(image - plain)
    assert 0 < difference.mean() < 4  # rounded to float8, and still the same picture


def test_the_float8_layers_compute_in_the_compute_dtype_and_rest_as_stored(flux, configs, monkeypatch):
    from ddpm_studio.engine.models.storage.float8_casting import FLOAT8
    from ddpm_studio.engine.models.storage.float8_files import load_float8_denoiser

    model = load_float8_denoiser("FluxTransformer2DModel", flux["fp8"], configs / "flux.1-dev", "transformer",
                                 torch.bfloat16)
    assert model.dtype == torch.bfloat16  # what the pipeline casts its inputs to
    stored = {name: p.dtype for name, p in model.named_parameters()}
    assert stored["transformer_blocks.0.attn.to_q.weight"] == torch.float8_e4m3fn
    assert stored["transformer_blocks.0.attn.to_q.bias"] == torch.bfloat16  # the file kept it in bf16
    assert stored["transformer_blocks.0.attn.norm_q.weight"] == torch.bfloat16
    inside = []
    block = model.transformer_blocks[0].attn.to_q
    linear = torch.nn.functional.linear

    def watched(x, weight, bias=None):
        if weight is block.weight:
            inside.append((weight.dtype, x.dtype))
        return linear(x, weight, bias)

    monkeypatch.setattr(torch.nn.functional, "linear", watched)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model(hidden_states=torch.randn(1, 16, 64, dtype=torch.bfloat16),
                    encoder_hidden_states=torch.randn(1, 5, 32, dtype=torch.bfloat16),
                    pooled_projections=torch.randn(1, 24, dtype=torch.bfloat16), timestep=torch.tensor([0.5]),
                    img_ids=torch.zeros(16, 3), txt_ids=torch.zeros(5, 3), guidance=torch.tensor([3.5])).sample
    assert torch.isfinite(out.float()).all() and out.dtype == torch.bfloat16
    assert inside == [(torch.bfloat16, torch.bfloat16)]  # cast for its forward
    assert block.weight.dtype in FLOAT8  # and back as stored after it


def _transformer_out(model):
    torch.manual_seed(0)
    with torch.no_grad():
        return model(hidden_states=torch.randn(1, 16, 64), encoder_hidden_states=torch.randn(1, 5, 32),
                     pooled_projections=torch.randn(1, 24), timestep=torch.tensor([0.5]), img_ids=torch.zeros(16, 3),
                     txt_ids=torch.zeros(5, 3), guidance=torch.tensor([3.5])).sample


@pytest.mark.parametrize("name", ["scaled", "scaled_new"])
def test_a_scaled_float8_file_equals_its_dequantised_reference(flux, configs, name):
    from diffusers import FluxTransformer2DModel

    from ddpm_studio.engine.models.storage.float8_files import float8_storage, load_float8_denoiser

    assert float8_storage(flux[name]) == "scaled float8 e4m3fn"
    config = configs / "flux.1-dev"
    scaled = load_float8_denoiser("FluxTransformer2DModel", flux[name], config, "transformer", torch.float32)
    reference = FluxTransformer2DModel.from_single_file(str(flux["reference"]), config=str(config),
                                                        subfolder="transformer", local_files_only=True,
                                                        torch_dtype=torch.float32)
    unscaled = load_float8_denoiser("FluxTransformer2DModel", flux["fp8"], config, "transformer", torch.float32)
    assert scaled.transformer_blocks[0].attn.to_q.weight.dtype == torch.float8_e4m3fn
    assert torch.allclose(_transformer_out(scaled), _transformer_out(reference), atol=1e-5)
    assert not torch.allclose(_transformer_out(unscaled), _transformer_out(reference), atol=1e-5)  # scales matter


def test_a_scaled_float8_file_generates_what_its_reference_does(flux, configs):
    scaled, note, seen = _run(flux, flux["scaled"], watch=_dtypes)
    reference, _, _ = _run(flux, flux["reference"])
    assert "scaled float8 e4m3fn" in note and all(torch.float8_e4m3fn in kinds for kinds in seen)
    assert np.abs(scaled - reference).max() <= 1


def test_nvfp4_and_unknown_layers_are_refused_by_name(flux, configs, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(flux["scaled_new"]))
    state["double_blocks.0.img_attn.qkv.weight_scale_2"] = torch.ones(())
    path = tmp_path / "flux1-dev-nvfp4.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelError, match="flux1-dev-nvfp4.safetensors is in ComfyUI's NVFP4 layout"):
        _run(flux, path)


def test_a_gguf_file_is_listed_and_generates_close_to_the_unquantised_one(flux, configs):
    from ddpm_studio.engine.models.catalogue import list_models

    info = inspect_model(str(flux["gguf"]))
    assert info.split and info.arch == "flux" and "GGUF Q8_0" in info.class_name
    listed = list_models([str(flux["gguf"].parent)], accept=lambda found: found.split)
    assert [found.path.name for found in listed] == ["tiny-flux1-dev-Q8_0.gguf"]

    def kinds(module):
        return {type(p).__name__ for p in module.parameters()}

    image, note, seen = _run(flux, flux["gguf"], watch=kinds)
    assert seen and all("GGUFParameter" in found for found in seen)  # quantised blocks while it generates
    assert "weights kept as GGUF Q8_0 in memory, each layer computed in float32" in note
    plain, _, _ = _run(flux, flux["model"])
    assert np.abs(image - plain).mean() < 1


def test_a_gguf_file_that_is_no_model_is_named(tmp_path, configs):
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 20)
    with pytest.raises(ModelError, match="broken.gguf"):
        inspect_model(str(path))


def test_the_cli_finds_a_gguf_file_in_the_models_home_by_name(flux, configs, tmp_path):
    from ddpm_studio.cli import main

    home = flux["root"] / "ComfyUI"
    code = main(["txt2img", "--model", "tiny-flux1-dev-Q8_0", "--models-home", str(home), "--prompt", "a fox",
                 "--steps", "1", "--size", "64x64", "--seed", "4", "--out", str(tmp_path), "--device", "cpu"])
    assert code == 0 and len(list(tmp_path.glob("*.png"))) == 1
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_lora_on_a_float8_transformer_is_made_in_the_compute_dtype_and_runs(flux, configs):
    from peft import LoraConfig

    from ddpm_studio.engine.models.storage.float8_files import load_float8_denoiser

    model = load_float8_denoiser("FluxTransformer2DModel", flux["fp8"], configs / "flux.1-dev", "transformer",
                                 torch.float32)
    before = _transformer_out(model)
    model.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k"], init_lora_weights="gaussian"))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: the LoRA would change nothing
            torch.nn.init.normal_(param, std=0.5)
    to_q = model.transformer_blocks[0].attn.to_q
    assert to_q.lora_A["default"].weight.dtype == torch.float32  # peft reads the base layer's compute_dtype
    assert to_q.base_layer.weight.dtype == torch.float8_e4m3fn
    after = _transformer_out(model)
    assert torch.isfinite(after).all() and not torch.allclose(before, after)


def test_a_float8_file_runs_in_bf16_on_the_cpu(flux, configs):
    bf16 = Engine(device="cpu", precision="bf16")
    image, note, seen = _run(flux, flux["fp8"], engine=bf16, watch=_dtypes)
    assert "each layer computed in bfloat16" in note
    assert all(kinds == {torch.float8_e4m3fn, torch.bfloat16} for kinds in seen)  # nothing held in float32
    plain, _, _ = _run(flux, flux["model"])
    assert np.abs(image - plain).mean() < 6


@pytest.mark.parametrize("quant", ["Q8_0", "Q5_0", "Q4_0", "Q4_K", "Q5_K"])
def test_each_gguf_quantisation_computes_what_gguf_dequantises(configs, tmp_path, quant):
    """A tiny Flux transformer 256 wide (Q4_K's and Q5_K's blocks are 256 values), its GGUF file against a
    safetensors file of the same tensors as the gguf package dequantises them."""
    from diffusers import FluxTransformer2DModel
    from safetensors.torch import save_file

    from ddpm_studio.engine.models.storage.gguf_files import gguf_storage, load_gguf_denoiser
    from tests.comfy_files import flux_to_original

    torch.manual_seed(0)
    wide = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                                  attention_head_dim=128, num_attention_heads=2, joint_attention_dim=32,
                                  pooled_projection_dim=24, guidance_embeds=True, axes_dims_rope=(16, 56, 56))
    wide.save_config(tmp_path / "configs" / "transformer")
    original = tmp_path / "wide-flux.safetensors"
    save_file({k: v.contiguous() for k, v in flux_to_original(wide.state_dict()).items()}, str(original))
    path = save_gguf(original, tmp_path / f"wide-flux-{quant}.gguf", quant,
                     reference=tmp_path / "reference.safetensors")
    assert gguf_storage(path) == f"GGUF {quant}"
    model = load_gguf_denoiser("FluxTransformer2DModel", path, tmp_path / "configs", "transformer", torch.float32)
    reference = FluxTransformer2DModel.from_single_file(str(tmp_path / "reference.safetensors"),
                                                        config=str(tmp_path / "configs"), subfolder="transformer",
                                                        local_files_only=True, torch_dtype=torch.float32)
    kinds = {p.quant_type.name for p in model.parameters() if type(p).__name__ == "GGUFParameter"}
    assert kinds == {quant}  # the blocks stay blocks in memory
    torch.manual_seed(0)
    inputs = dict(hidden_states=torch.randn(1, 16, 64), encoder_hidden_states=torch.randn(1, 5, 32),
                  pooled_projections=torch.randn(1, 24), timestep=torch.tensor([0.5]), img_ids=torch.zeros(16, 3),
                  txt_ids=torch.zeros(5, 3), guidance=torch.tensor([3.5]))
    with torch.no_grad():
        out, expected = model(**inputs).sample, reference(**inputs).sample
    # diffusers dequantises through fp16 factors, gguf-py in float32: equal to a few parts in ten thousand
    assert torch.isfinite(expected).all() and (out - expected).norm() / expected.norm() < 1e-3


def test_a_float8_zimage_transformer_computes_its_timestep_embedder_in_the_compute_dtype(tmp_path):
    """Z-Image's timestep embedder casts its input to its first layer's weight dtype: cast as a group (its class's
    _skip_layerwise_casting_patterns), it sees the compute dtype, and the float8 file computes what its dequantised
    reference does."""
    from diffusers import ZImageTransformer2DModel
    from safetensors.torch import save_file

    from ddpm_studio.engine.models.storage.float8_files import load_float8_denoiser
    from tests.comfy_quantized import zimage_to_original
    from tests.tiny_zimage import tiny_zimage_pipeline

    transformer = tiny_zimage_pipeline().transformer
    transformer.save_config(tmp_path / "configs" / "transformer")
    save_file(zimage_to_original(transformer.state_dict()), str(tmp_path / "z_image.safetensors"))
    scaled = save_float8(tmp_path / "z_image.safetensors", tmp_path / "z_image_turbo_fp8_scaled.safetensors",
                         scaled=True)
    reference_file = dequantised(scaled, tmp_path / "z_image_dequantised.safetensors")
    model = load_float8_denoiser("ZImageTransformer2DModel", scaled, tmp_path / "configs", "transformer", torch.float32)
    reference = ZImageTransformer2DModel.from_single_file(str(reference_file), config=str(tmp_path / "configs"),
                                                          subfolder="transformer", local_files_only=True,
                                                          torch_dtype=torch.float32)
    assert model.t_embedder.mlp[0].weight.dtype == torch.float8_e4m3fn
    assert model.layers[0].attention.to_q.weight.dtype == torch.float8_e4m3fn
    torch.manual_seed(0)
    x, caption = [torch.randn(16, 1, 8, 8)], [torch.randn(7, 32)]
    with torch.no_grad():
        out = model(x, torch.tensor([0.5]), caption, return_dict=False)[0][0]
        expected = reference(x, torch.tensor([0.5]), caption, return_dict=False)[0][0]
    assert torch.isfinite(expected).all() and torch.allclose(out, expected, atol=1e-5)
