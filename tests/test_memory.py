"""Memory savers for every family (tiny SD 1.x, SD 3.5, Flux.1, Chroma, Z-Image and Qwen-Image pipelines, and the
x4 upscaler): VAE tiling and slicing set on the VAE; the three offloads, one at a time, ignored with a note on the
CPU; and — with the CPU standing in for the GPU, so that diffusers' and accelerate's real hooks run — each offload
gives the image the pipeline gives without it, with its hooks where they belong (group offload: every denoiser block
and every text-encoder layer a group of its own). Also: the options' round trip, the CLI flags, and the
out-of-memory message naming them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.runner import Engine
from ddpm_studio.engine.runtime import offload
from ddpm_studio.engine.runtime.options import OFFLOADS, MemoryOptions
from tests.tiny_chroma import save_tiny_chroma
from tests.tiny_flux import save_tiny_flux
from tests.tiny_qwenimage import save_tiny_qwenimage
from tests.tiny_sd import save_tiny_sd
from tests.tiny_sd3 import save_tiny_sd3
from tests.tiny_zimage import save_tiny_zimage

FAMILIES = {"sd": lambda p: save_tiny_sd(p, "txt2img"), "sd3": save_tiny_sd3, "flux": save_tiny_flux,
            "chroma": save_tiny_chroma, "zimage": save_tiny_zimage, "qwenimage": save_tiny_qwenimage}
SIZES = {"sd": 32}  # the others' 64
GUIDANCE = {"zimage": 0.0}  # Turbo's: no CFG


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory")
    return {key: save(root / f"tiny-{key}") for key, save in FAMILIES.items()}


def _job(models, family, **fields):
    size = SIZES.get(family, 64)
    values = dict(model=str(models[family]), prompt="a red fox in snow", steps=2, seed=3, width=size, height=size,
                  guidance_scale=GUIDANCE.get(family, 4.0), scheduler="euler", preview_every=1)
    return Text2ImageJob(**{**values, **fields})


@pytest.fixture(scope="module")
def plain_images(models):
    """Each family's image without any saver: what every offload must give too."""
    engine = Engine(device="cpu")
    return {family: engine.run(_job(models, family), save=False).images for family in FAMILIES}


def test_options_take_one_offload_at_a_time_and_read_old_and_hand_edited_settings():
    with pytest.raises(ValueError, match="one offload at a time, not model CPU offload and group offload"):
        MemoryOptions(cpu_offload=True, group_offload=True)
    assert MemoryOptions(sequential_offload=True).offload == "sequential_offload" and MemoryOptions().offload == ""
    saved = {"attention_slicing": True, "cpu_offload": 1, "a_later_option": True}  # an older or newer file
    assert MemoryOptions.from_dict(saved) == MemoryOptions(attention_slicing=True, cpu_offload=True)
    edited = {"vae_slicing": True, "group_offload": True, "sequential_offload": True}
    assert MemoryOptions.from_dict(edited) == MemoryOptions(vae_slicing=True)  # no offload rather than a crash
    assert MemoryOptions.from_dict("nonsense") == MemoryOptions()


@pytest.mark.parametrize("family", FAMILIES)
def test_on_the_cpu_the_vae_savers_apply_and_an_offload_is_ignored_with_a_note(models, family, plain_images):
    engine = Engine(device="cpu", memory=MemoryOptions(vae_tiling=True, vae_slicing=True, group_offload=True))
    result = engine.run(_job(models, family), save=False)
    pipe = engine._model.pipe
    assert pipe.vae.use_tiling and pipe.vae.use_slicing
    assert "group offload was not used: it moves weights between a CUDA GPU and the CPU, and this model runs on " \
           "the CPU" in result.note
    assert not hasattr(pipe, "_all_hooks") or not pipe._all_hooks
    assert not any(_group_hooked(module) for module in pipe.components.values() if isinstance(module, torch.nn.Module))
    assert np.array_equal(result.images, plain_images[family])  # tiling changes nothing below its tile size


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_attention_slicing_says_where_it_does_not_apply(models, family):
    result = Engine(device="cpu", memory=MemoryOptions(attention_slicing=True)).run(_job(models, family), save=False)
    assert "attention slicing does not apply to this model" in result.note


def _group_hooked(module) -> bool:
    registry = getattr(module, "_diffusers_hook", None)
    return registry is not None and registry.get_hook("group_offloading") is not None


@pytest.fixture()
def cpu_as_gpu(monkeypatch):
    """The offloads applied on the CPU: diffusers' and accelerate's hooks run as on a GPU, onto the CPU.

    One difference is bridged: diffusers' sequential offload names its device with an index ("cpu:0", as "cuda:0"),
    and on the CPU torch's ``Parameter.to("cpu:0")`` returns a plain tensor, which accelerate's hook cannot put back
    after the call (on a GPU the weights are moved before they are wrapped, and stay parameters). So here the same
    accelerate ``cpu_offload`` is applied to each component onto "cpu", as diffusers does onto the GPU."""
    from accelerate import cpu_offload
    from diffusers import DiffusionPipeline

    def sequential_onto_cpu(pipe, gpu_id=None, device=None):
        pipe.remove_all_hooks()
        pipe._offload_device = torch.device("cpu")
        for module in pipe.components.values():
            if isinstance(module, torch.nn.Module):
                cpu_offload(module, torch.device("cpu"), offload_buffers=len(module._parameters) > 0)

    monkeypatch.setattr(offload, "offload_applies", lambda device: True)
    monkeypatch.setattr(DiffusionPipeline, "enable_sequential_cpu_offload", sequential_onto_cpu)


@pytest.mark.parametrize("wanted", OFFLOADS)
@pytest.mark.parametrize("family", FAMILIES)
def test_each_offload_reaches_every_component_and_gives_the_same_image(models, family, wanted, plain_images,
                                                                      cpu_as_gpu):
    engine = Engine(device="cpu", memory=MemoryOptions(**{wanted: True}))
    result = engine.run(_job(models, family), save=False)
    np.testing.assert_allclose(result.images.astype(int), plain_images[family].astype(int), atol=1)
    assert "was not used" not in result.note
    pipe = engine._model.pipe
    modules = {name: m for name, m in pipe.components.items() if isinstance(m, torch.nn.Module)}
    if wanted == "cpu_offload":
        assert len(pipe._all_hooks) == len(modules)  # one accelerate hook per model
    elif wanted == "sequential_offload":
        assert all(p.device.type == "meta" for m in modules.values() for p in m.parameters())  # loaded per layer
    else:
        denoiser = pipe.unet if family == "sd" else pipe.transformer
        blocks = [block for child in denoiser.children() if isinstance(child, torch.nn.ModuleList) for block in child]
        assert blocks and all(_group_hooked(block) for block in blocks)  # each block a group
        for name, encoder in modules.items():
            if name.startswith("text_encoder"):
                lists = _layer_lists(encoder)
                layers = getattr(encoder.config, "num_hidden_layers", None) or getattr(encoder.config, "num_layers", 0)
                assert any(len(list_) == layers for list_ in lists) or not layers  # its layers were found
                assert lists and all(_group_hooked(layer) for list_ in lists for layer in list_)  # not one group
        assert not _group_hooked(pipe.vae) and pipe._execution_device.type == "cpu"


def _layer_lists(module) -> list:
    """The lists of layers nearest the top of ``module``'s tree (CLIP's ``encoder.layers``, T5's ``encoder.block``,
    Qwen's ``layers``)."""
    found = []
    for child in module.children():
        is_list = isinstance(child, (torch.nn.ModuleList, torch.nn.Sequential)) and len(child) > 1
        found += [child] if is_list else _layer_lists(child)
    return found


def test_a_vae_swapped_in_under_sequential_offload_gets_its_hooks(models, cpu_as_gpu, tmp_path):
    from diffusers import AutoencoderKL

    own = AutoencoderKL.from_pretrained(models["sd"] / "vae")
    own.save_pretrained(tmp_path / "my-vae", safe_serialization=True)  # the same weights, as a VAE the job names
    engine = Engine(device="cpu", memory=MemoryOptions(sequential_offload=True))
    first = engine.run(_job(models, "sd"), save=False)
    again = engine.run(_job(models, "sd", vae=str(tmp_path / "my-vae")), save=False)
    vae = engine._model.pipe.vae
    assert vae is not engine._model.vae_slot.own and all(p.device.type == "meta" for p in vae.parameters())
    np.testing.assert_allclose(again.images.astype(int), first.images.astype(int), atol=1)


def test_out_of_memory_names_every_saver_and_its_flag():
    from ddpm_studio.engine.errors import OUT_OF_MEMORY, describe_failure

    failure = describe_failure(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "cuda")
    assert failure.kind == OUT_OF_MEMORY
    for words in ("VAE tiling", "VAE slicing", "model CPU offload", "group offload", "sequential CPU offload",
                  "attention slicing", "--vae-tiling", "--vae-slicing", "--cpu-offload", "--group-offload",
                  "--sequential-offload", "--attention-slicing", "Preferences"):
        assert words in failure.message


def test_the_cli_flags_reach_the_engine_and_two_offloads_are_refused(capsys):
    from ddpm_studio.cli import build_parser
    from ddpm_studio.commands.sample import make_engine

    parser = build_parser()
    args = parser.parse_args(["txt2img", "--model", "m", "--prompt", "p", "--device", "cpu", "--group-offload",
                              "--vae-slicing", "--vae-tiling"])
    assert make_engine(args).memory == MemoryOptions(group_offload=True, vae_slicing=True, vae_tiling=True)
    args = parser.parse_args(["txt2img", "--model", "m", "--prompt", "p", "--sequential-offload"])
    assert make_engine(args).memory == MemoryOptions(sequential_offload=True)
    with pytest.raises(SystemExit):
        parser.parse_args(["txt2img", "--model", "m", "--prompt", "p", "--cpu-offload", "--sequential-offload"])
    assert "not allowed with argument --cpu-offload" in capsys.readouterr().err


def test_the_cli_out_of_memory_error_names_the_flags(models, monkeypatch, capsys, tmp_path):
    import ddpm_studio.engine.sampling.stages as stages
    from ddpm_studio.cli import main

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(stages, "run_prompt_job", out_of_memory)
    code = main(["txt2img", "--model", str(models["flux"]), "--prompt", "a fox", "--steps", "2", "--size", "64x64",
                 "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0 and "ran out of memory" in err and "--group-offload" in err and "--sequential-offload" in err


def test_the_x4_upscaler_takes_the_savers_too_and_says_what_it_did_not_use(tmp_path):
    from PIL import Image

    from ddpm_studio.engine.jobs.upscale_job import UpscaleJob
    from tests.tiny_upscalers import save_tiny_x4

    model = save_tiny_x4(tmp_path / "tiny-x4")
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(tmp_path / "in.png")
    engine = Engine(device="cpu", memory=MemoryOptions(vae_slicing=True, cpu_offload=True))
    result = engine.run(UpscaleJob(model=str(model), image=str(tmp_path / "in.png"), steps=2, output_dir=""),
                        save=False)
    assert result.images.shape == (1, 96, 128, 3) and engine._model.pipe.vae.use_slicing
    assert "model CPU offload was not used" in result.note
