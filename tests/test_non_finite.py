"""NaN results (black images) are said where they first appeared — an add-on file, the prompt's text embeddings, a
LoRA that overflows the model, the model's prediction during sampling, or the VAE decode — naming the file, and the
fix "VAE in fp32" is offered (as a typed remedy) only when a half-precision VAE decode is the cause. Add-on files
with NaN values are refused when they load. On the tiny random SD model, with NaN forced where the test says."""

from __future__ import annotations

import pytest
import torch

from ddpm_studio.engine.addons.resources import AddonError, AddonFolders
from ddpm_studio.engine.errors import VAE_FP32, remedy
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.prompts.syntax import parse
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.sampling.non_finite import NonFiniteError
from tests.tiny_addons import lora_state, save_embedding, save_lora
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("non-finite")
    sd = save_tiny_sd(root / "sd")
    pipe = StableDiffusionPipeline.from_pretrained(sd, local_files_only=True)
    loras, embeddings, vaes = root / "loras", root / "embeddings", root / "vaes"
    save_lora(loras / "goodstyle.safetensors", pipe, seed=1)
    state = lora_state(pipe, seed=2)
    state[next(k for k in state if k.endswith("lora_up.weight"))][0, 0] = float("nan")
    save_file(state, str(loras / "nanstyle.safetensors"))
    save_file({k: v * 1e22 if "lora_" in k else v for k, v in lora_state(pipe, seed=3).items()},
              str(loras / "hugestyle.safetensors"))  # finite in the file; B·A overflows float32
    save_embedding(embeddings / "goodhands.safetensors", (32,))
    nan_vectors = torch.randn(2, 32)
    nan_vectors[1, 3] = float("nan")
    save_file({"emb_params": nan_vectors}, str(embeddings / "nanhands.safetensors"))
    vae_state = {k: v.contiguous().clone() for k, v in pipe.vae.state_dict().items()}
    vae_state["decoder.conv_out.weight"][0, 0, 0, 0] = float("inf")
    vaes.mkdir()
    save_file(vae_state, str(vaes / "nanvae.safetensors"))
    return {"sd": sd, "loras": loras, "embeddings": embeddings, "vaes": vaes}


def _engine(models, **options):
    folders = AddonFolders(loras=[str(models["loras"])], embeddings=[str(models["embeddings"])],
                           vaes=[str(models["vaes"])])
    return Engine(device="cpu", folders=folders, **options)


def _job(models, **changes):
    return Text2ImageJob(**{**dict(model=str(models["sd"]), prompt="a cat", steps=2, width=64, height=64,
                                   preview_every=0, seed=2), **changes})


def _loaded_pipe(engine, models):
    engine.run(_job(models), save=False)
    return engine._model.pipe


def _nan_output(module, _inputs, output):
    """A forward hook that turns the module's output into NaN values."""
    if isinstance(output, torch.Tensor):
        return torch.full_like(output, float("nan"))
    first = output[0]
    return (torch.full_like(first, float("nan")), *output[1:])


@pytest.mark.parametrize("kind,changes,name", [
    ("LoRA", dict(loras=(("nanstyle", 1.0),)), "nanstyle.safetensors"),
    ("embedding", dict(prompt="a cat, nanhands"), "nanhands.safetensors"),
    ("VAE", dict(vae="nanvae"), "nanvae.safetensors"),
])
def test_an_add_on_file_with_nan_values_is_refused_when_it_loads_naming_it(models, kind, changes, name):
    engine = _engine(models)
    with pytest.raises(AddonError) as caught:
        engine.run(_job(models, **changes), save=False)
    message = str(caught.value)
    assert f"The {kind} " in message and name in message and "NaN or infinite values" in message
    assert "VAE in fp32" not in message and remedy(caught.value) == ""
    assert engine.run(_job(models), save=False).images.shape == (1, 64, 64, 3)  # the model is still usable


def test_a_lora_that_overflows_the_model_is_named_and_the_vae_is_not_blamed(models):
    with pytest.raises(NonFiniteError) as caught:
        _engine(models).run(_job(models, loras=(("hugestyle", 1.0),)), save=False)
    error = caught.value
    assert error.stage == "lora" and error.culprit.endswith("hugestyle.safetensors")
    assert "The LoRA hugestyle" in str(error) and "overflows" in str(error)
    assert "VAE" not in str(error) and remedy(error) == ""


def test_emphasis_that_would_overflow_is_refused_in_words_and_deep_brackets_do_not_crash_the_parser():
    prompt = "(" * 5000 + "cat" + ")" * 5000
    with pytest.raises(JobError, match=r"gives 'cat' a weight of 9\.19e\+206.*fewer brackets"):
        Text2ImageJob(model="m", prompt=prompt)
    with pytest.raises(JobError, match="negative prompt gives 'blur' a weight of inf"):
        Text2ImageJob(model="m", prompt="a cat", negative_prompt="(" * 100_000 + "blur")
    assert parse("(" * 100_000 + "cat")[0].weight == float("inf")  # no RecursionError, however deep
    Text2ImageJob(model="m", prompt="((((cat)))), (dog:1.5), [[bird]]")  # ordinary emphasis is untouched


def test_nan_text_embeddings_are_said_to_come_from_the_prompt(models):
    engine = _engine(models)
    pipe = _loaded_pipe(engine, models)
    encoder = getattr(pipe.text_encoder, "text_model", pipe.text_encoder)
    handle = encoder.final_layer_norm.register_forward_hook(_nan_output)
    try:
        with pytest.raises(NonFiniteError) as caught:
            engine.run(_job(models, prompt="a cat, goodhands", loras=(("goodstyle", 0.5),)), save=False)
    finally:
        handle.remove()
    error = caught.value
    assert error.stage == "prompt" and "The text encoder turned the prompt into NaN values in float32" in str(error)
    assert "goodstyle (0.5)" in str(error) and "goodhands" in str(error)  # what was in play is named
    assert "VAE" not in str(error) and remedy(error) == ""


def test_nan_from_the_model_during_sampling_is_said_so_with_the_lora_in_play(models):
    engine = _engine(models)
    pipe = _loaded_pipe(engine, models)
    calls = []

    def nan_from_the_third_call(module, inputs, output):  # one model call a step (both guidance halves in one batch)
        calls.append(1)
        return _nan_output(module, inputs, output) if len(calls) >= 3 else None

    handle = pipe.unet.conv_out.register_forward_hook(nan_from_the_third_call)
    try:
        with pytest.raises(NonFiniteError) as caught:
            engine.run(_job(models, steps=4, loras=(("goodstyle", 1.0),)), save=False)
    finally:
        handle.remove()
    error = caught.value
    assert error.stage == "sampling" and "became NaN at step 3 in float32" in str(error)  # where it began
    assert "goodstyle (1)" in str(error) and "guidance" in str(error)
    assert "VAE" not in str(error) and remedy(error) == ""


def test_nan_weights_in_the_model_are_said_to_be_the_models(models):
    engine = _engine(models)
    pipe = _loaded_pipe(engine, models)
    weight = pipe.unet.conv_in.weight
    kept = weight.detach().clone()
    with torch.no_grad():
        weight[0, 0, 0, 0] = float("nan")
    try:
        with pytest.raises(NonFiniteError) as caught:
            engine.run(_job(models), save=False)
    finally:
        with torch.no_grad():
            weight.copy_(kept)
    assert caught.value.stage == "model" and "NaN or infinite weights in its UNet" in str(caught.value)
    assert str(models["sd"]) in str(caught.value) and remedy(caught.value) == ""


@pytest.mark.parametrize("precision,offered", [("fp32", False), ("bf16", True)])
def test_a_vae_decode_to_nan_offers_vae_in_fp32_only_in_half_precision(models, precision, offered):
    engine = _engine(models, precision=precision)
    pipe = _loaded_pipe(engine, models)
    handle = pipe.vae.decoder.conv_out.register_forward_hook(_nan_output)
    try:
        with pytest.raises(NonFiniteError) as caught:
            engine.run(_job(models), save=False)
    finally:
        handle.remove()
    error = caught.value
    assert error.stage == "decode" and "decoded good latents into NaN values" in str(error)
    assert (remedy(error) == VAE_FP32) is offered and ("VAE in fp32" in str(error)) is offered
    dtype = {"fp32": "float32", "bf16": "bfloat16"}[precision]
    assert f"in {dtype}" in str(error)
