"""LoRAs for every flow family (Flux.1, Chroma, SD 3.5, Z-Image, Qwen-Image, Flux.2 Klein) through the engine, on
their tiny random pipelines, each LoRA made here in kohya's and ComfyUI's layouts with the family's original module
names (tests/tiny_flow_loras.py): weight 1 changes the image, weight 0 gives the model's own bit for bit (also after a
fused run), two at once, the prompt tag is the list, hashes in the parameters and the job restored, another family's
LoRA refused by name before anything loads, and a layout diffusers cannot read refused naming the file."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ddpm_studio.engine.addons.resources import AddonError, AddonFolders, list_loras, lora_file
from ddpm_studio.engine.jobs.types import Text2ImageJob
from ddpm_studio.engine.models.families import BY_KEY
from ddpm_studio.engine.runner import Engine
from tests.tiny_flow_loras import save_flow_lora

FAMILIES = ("flux", "sd3", "chroma", "zimage", "qwenimage", "klein")
OTHER = {"flux": "qwenimage", "chroma": "klein", "sd3": "zimage", "zimage": "sd3", "qwenimage": "zimage",
         "klein": "qwenimage"}  # a LoRA of another family, whose keys say so


def _save_model(family: str, path):
    from tests import tiny_chroma, tiny_flux, tiny_klein, tiny_qwenimage, tiny_sd3, tiny_zimage

    save = {"flux": tiny_flux.save_tiny_flux, "chroma": tiny_chroma.save_tiny_chroma, "sd3": tiny_sd3.save_tiny_sd3,
            "zimage": tiny_zimage.save_tiny_zimage, "qwenimage": tiny_qwenimage.save_tiny_qwenimage,
            "klein": tiny_klein.save_tiny_klein}[family]
    return save(path)


def _transformer(family: str, folder):
    import diffusers

    class_name = {"flux": "FluxTransformer2DModel", "chroma": "ChromaTransformer2DModel",
                  "sd3": "SD3Transformer2DModel", "zimage": "ZImageTransformer2DModel",
                  "qwenimage": "QwenImageTransformer2DModel", "klein": "Flux2Transformer2DModel"}[family]
    return getattr(diffusers, class_name).from_pretrained(folder, subfolder="transformer", local_files_only=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Each family's tiny model and its LoRAs, made once (on first use) for the module."""
    root = tmp_path_factory.mktemp("flow-loras")
    made: dict[str, dict] = {}

    def get(family: str) -> dict:
        if family not in made:
            model = _save_model(family, root / family / "model")
            transformer = _transformer(family, model)
            loras = root / family / "loras"
            save_flow_lora(loras / f"{family}-kohya.safetensors", family, transformer, "kohya", seed=1)
            save_flow_lora(loras / f"{family}-comfy.safetensors", family, transformer, "comfy", seed=2)
            save_flow_lora(loras / f"{family}-second.safetensors", family, transformer, "kohya", seed=3)
            made[family] = {"model": model, "loras": loras}
        return made[family]

    return get


def _engine(*folders) -> Engine:
    return Engine(device="cpu", folders=AddonFolders(loras=[str(f) for f in folders]))


def _job(model, **changes):
    family = changes.pop("family", "")
    scheduler = "euler"
    return Text2ImageJob(**{**dict(model=str(model), prompt="a cat", steps=2, width=64, height=64, preview_every=0,
                                   seed=5, scheduler=scheduler, guidance_scale=BY_KEY[family].defaults.get(
                                       "guidance_scale", 3.5) if family else 3.5), **changes})


def _image(engine, job):
    return engine.run(job, save=False).images


@pytest.mark.parametrize("family", FAMILIES)
def test_a_lora_in_kohya_or_comfy_layout_changes_the_image_at_weight_1_and_not_at_0(built, family):
    case = built(family)
    engine = _engine(case["loras"])
    base = _image(engine, _job(case["model"], family=family))
    for layout in ("kohya", "comfy"):
        name = f"{family}-{layout}"
        assert family in lora_file(case["loras"] / f"{name}.safetensors").flow  # told from its keys
        with_lora = _image(engine, _job(case["model"], family=family, loras=((name, 1.0),)))
        assert np.abs(with_lora.astype(int) - base).max() > 5, layout
        at_zero = _image(engine, _job(case["model"], family=family, loras=((name, 0.0),)))
        assert np.array_equal(at_zero, base), layout  # after a fused run: the model's own weights, bit for bit
    assert np.array_equal(_image(engine, _job(case["model"], family=family)), base)


@pytest.mark.parametrize("family", FAMILIES)
def test_two_at_once_with_weights_and_a_prompt_tag_is_the_list(built, family):
    case = built(family)
    engine = _engine(case["loras"])
    one = _image(engine, _job(case["model"], family=family, loras=((f"{family}-kohya", 0.8),)))
    both = _image(engine, _job(case["model"], family=family,
                               loras=((f"{family}-kohya", 0.8), (f"{family}-second", 0.8))))
    assert not np.array_equal(one, both)
    tagged = _image(engine, _job(case["model"], family=family, prompt=f"a cat <lora:{family}-kohya:0.8>"))
    assert np.array_equal(tagged, one)
    mixed = _image(engine, _job(case["model"], family=family, prompt=f"a cat <lora:{family}-second:0.8>",
                                loras=((f"{family}-kohya", 0.8),)))
    assert np.array_equal(mixed, both)  # a tag and a listed LoRA together: the same two


def _addnet_hash(file) -> str:
    """kohya's hash of a safetensors file: sha256 of the bytes after the header (what A1111 writes)."""
    data = file.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return hashlib.sha256(data[8 + size:]).hexdigest()[:12]


@pytest.mark.parametrize("family", ["flux", "qwenimage"])
def test_the_parameters_name_each_lora_with_its_hash_and_the_job_comes_back(built, family, tmp_path):
    from ddpm_studio.engine.output.metadata import read_job, read_png_text
    from ddpm_studio.engine.png.chunks import parse_a1111

    case = built(family)
    job = _job(case["model"], family=family, prompt=f"a cat <lora:{family}-kohya:0.5>",
               loras=((f"{family}-comfy", 1.0),), output_dir=str(tmp_path))
    path = _engine(case["loras"]).run(job).saved_paths[0]
    fields = parse_a1111(read_png_text(path)["parameters"])
    assert fields["prompt"] == f"a cat <lora:{family}-kohya:0.5> <lora:{family}-comfy:1>"
    expected = {n: _addnet_hash(case["loras"] / f"{n}.safetensors") for n in (f"{family}-comfy", f"{family}-kohya")}
    assert fields["Lora hashes"] == ", ".join(f"{n}: {h}" for n, h in expected.items())
    assert read_job(path) == job


def _sd_lora(path):
    """A Stable Diffusion 1.x LoRA's header: a kohya cross-attention key taking CLIP-L's 768-wide text."""
    key = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({f"{key}.lora_down.weight": torch.randn(4, 768), f"{key}.lora_up.weight": torch.randn(320, 4),
               f"{key}.alpha": torch.tensor(4.0)}, str(path))
    return path


@pytest.mark.parametrize("family", FAMILIES)
def test_another_familys_lora_is_refused_by_name_before_anything_loads(built, family, tmp_path):
    case, other = built(family), built(OTHER[family])
    sd = _sd_lora(tmp_path / "sd15-style.safetensors")
    engine = _engine(case["loras"], other["loras"], tmp_path)
    base = _image(engine, _job(case["model"], family=family))
    ours, theirs = BY_KEY[family].name, BY_KEY[OTHER[family]].name
    for name, made_for in ((f"{OTHER[family]}-kohya", theirs), ("sd15-style", "SD 1.x")):
        with pytest.raises(AddonError) as caught:
            engine.run(_job(case["model"], family=family, loras=((name, 1.0),)), save=False)
        message = str(caught.value)
        assert "\n" not in message and name in message and made_for in message and f"this model is {ours}" in message
    assert np.array_equal(_image(engine, _job(case["model"], family=family)), base)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_layout_diffusers_cannot_read_is_refused_naming_the_file(built, family, tmp_path):
    case = built(family)
    odd = tmp_path / "odd-layout.safetensors"  # LoRA keys, but on layers no flow transformer has
    save_file({"diffusion_model.mystery_stack.0.proj.lora_A.weight": torch.randn(4, 16),
               "diffusion_model.mystery_stack.0.proj.lora_B.weight": torch.randn(16, 4)}, str(odd))
    assert lora_file(odd).flow == () and lora_file(odd).fits(0, None, 0, arch=family) is None  # the run decides
    engine = _engine(case["loras"], tmp_path)
    base = _image(engine, _job(case["model"], family=family))
    with pytest.raises(AddonError) as caught:
        engine.run(_job(case["model"], family=family, loras=(("odd-layout", 1.0),)), save=False)
    message = str(caught.value)
    assert "\n" not in message and str(odd) in message and BY_KEY[family].name in message
    assert np.array_equal(_image(engine, _job(case["model"], family=family)), base)  # the model stays usable
    works = _image(engine, _job(case["model"], family=family, loras=((f"{family}-kohya", 1.0),)))
    assert not np.array_equal(works, base)


def test_each_family_is_told_from_the_keys_and_fits_only_its_models(built):
    found = {}
    for family in FAMILIES:
        listed, skipped = list_loras([built(family)["loras"]])
        assert skipped == []
        found.update({lora.name: lora for lora in listed})
    assert found["flux-kohya"].flow == ("flux", "chroma")  # Flux.1's blocks: Chroma takes them (its pruned ones left)
    assert found["chroma-comfy"].family == "Flux.1 or Chroma"
    for family in ("sd3", "zimage", "qwenimage", "klein"):
        lora = found[f"{family}-kohya"]
        assert lora.flow == (family,) and lora.family == BY_KEY[family].name
        assert [f for f in FAMILIES if lora.fits(0, None, 0, arch=f)] == [family]
        assert lora.fits(32, False, 0, arch="sd1") is False and lora.fits(768, False) is False  # never an SD model


def test_real_flux_and_klein_single_blocks_are_told_apart_by_their_shapes():
    """Flux.1's single-block linear1 is q, k, v and an MLP of 4: 3072 → 21504; Flux.2 Klein 4B's q, k, v and a gated
    MLP of 3: 3072 → 27648 (FluxTransformer2DModel's and Flux2Transformer2DModel's configs)."""
    from ddpm_studio.engine.addons.lora_families import flow_families

    def shapes(out):
        key = "lora_unet_single_blocks_0_linear1"
        return {f"{key}.lora_down.weight": [16, 3072], f"{key}.lora_up.weight": [out, 16], f"{key}.alpha": []}

    assert flow_families(shapes(21504)) == ("flux", "chroma")
    assert flow_families(shapes(27648)) == ("klein",)
    attention_only = {"transformer.transformer_blocks.40.attn.to_q.lora_A.weight": [16, 3072]}
    assert flow_families(attention_only) == ("qwenimage",)  # 41 blocks: only Qwen-Image's 60 reach so deep


def test_an_sd35_lora_in_diffusers_layout_loads_as_its_kohya_twin(built, tmp_path):
    """diffusers' own names (``transformer.transformer_blocks.0.attn.to_q``), which SD3LoraLoaderMixin reads as they
    are, give the picture the same LoRA in kohya's layout gives (its fused qkv split, its alpha folded in)."""
    from safetensors.torch import load_file

    from ddpm_studio.engine.addons.flow_loras import sd3_kohya_to_diffusers

    case = built("sd3")
    state = sd3_kohya_to_diffusers(load_file(str(case["loras"] / "sd3-kohya.safetensors")))
    save_file(state, str(tmp_path / "sd3-diffusers.safetensors"))
    assert "sd3" in lora_file(tmp_path / "sd3-diffusers.safetensors").flow
    engine = _engine(case["loras"], tmp_path)
    kohya = _image(engine, _job(case["model"], family="sd3", loras=(("sd3-kohya", 1.0),)))
    ours = _image(engine, _job(case["model"], family="sd3", loras=(("sd3-diffusers", 1.0),)))
    assert np.abs(ours.astype(int) - kohya).max() <= 1


@pytest.mark.parametrize("keys, families", [
    # AI-Toolkit's Flux.1 LoRAs: diffusers' names
    (["transformer.single_transformer_blocks.0.attn.to_k", "transformer.transformer_blocks.0.attn.add_k_proj"],
     ("flux", "chroma")),
    (["lora_unet_double_blocks_0_img_mod_lin", "lora_te1_text_model_encoder_layers_0_mlp_fc1"], ("flux", "chroma")),
    (["diffusion_model.distilled_guidance_layer.layers.0.in_layer", "diffusion_model.double_blocks.0.img_attn.qkv"],
     ("chroma",)),
    (["transformer.transformer_blocks.0.img_mlp.net.0.proj", "transformer.transformer_blocks.0.attn.to_q"],
     ("qwenimage",)),  # Qwen-Image's own names, as AI-Toolkit and DiffSynth write them
    (["diffusion_model.layers.12.attention.to_k", "diffusion_model.layers.12.attention.to_out.0"], ("zimage",)),
    (["lora_unet_layers_3_feed_forward_w1"], ("zimage",)),
    (["transformer.single_transformer_blocks.0.attn.to_qkv_mlp_proj"], ("klein",)),  # Flux2Transformer2DModel's
    (["lora_unet_joint_blocks_0_x_block_attn_qkv"], ("sd3",)),
    (["transformer.transformer_blocks.30.attn.to_q"], ("qwenimage", "sd3")),  # past Flux.1's 19 double blocks
    (["lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"], ()),  # an SD UNet's: not a flow one
])
def test_the_layouts_artists_download_are_told_by_their_names(keys, families):
    from ddpm_studio.engine.addons.lora_families import flow_families

    suffix = {True: (".lora_down.weight", ".lora_up.weight"), False: (".lora_A.weight", ".lora_B.weight")}
    shapes = {f"{k}{end}": [4, 4] for k in keys for end in suffix[k.startswith("lora_")]}
    assert flow_families(shapes) == families


def test_the_command_line_takes_a_flux_lora_by_flag_and_by_tag(built, tmp_path):
    from PIL import Image

    from ddpm_studio.cli import main

    case = built("flux")

    def run(out, *args):
        assert main(["txt2img", "--model", str(case["model"]), "--steps", "2", "--size", "64x64", "--seed", "4",
                     "--device", "cpu", "--scheduler", "euler", "--out", str(out), *args]) == 0
        return np.asarray(Image.open(next(out.glob("*.png"))).convert("RGB"))

    plain = run(tmp_path / "plain", "--prompt", "a cat")
    by_flag = run(tmp_path / "flag", "--prompt", "a cat", "--lora", "flux-kohya:0.7", "--lora-dir", str(case["loras"]))
    by_tag = run(tmp_path / "tag", "--prompt", "a cat <lora:flux-kohya:0.7>", "--lora-dir", str(case["loras"]))
    assert not np.array_equal(plain, by_flag) and np.array_equal(by_flag, by_tag)


@pytest.mark.parametrize("family", ["flux", "sd3"])
def test_a_lora_applies_in_the_edit_panels_img2img_too(built, family, tmp_path):
    from PIL import Image

    from ddpm_studio.engine.jobs.types import EditJob

    made = built(family)
    Image.fromarray((np.random.default_rng(0).random((64, 64, 3)) * 255).astype("uint8")).save(tmp_path / "in.png")
    engine = _engine(made["loras"])
    base = dict(model=str(made["model"]), image=str(tmp_path / "in.png"), mode="img2img", strength=0.75, steps=4,
                seed=3, scheduler="euler", preview_every=0, guidance_scale=3.5)
    plain = _image(engine, EditJob(prompt="a cat", **base))
    styled = _image(engine, EditJob(prompt=f"a cat <lora:{family}-kohya:1>", **base))
    off = _image(engine, EditJob(prompt=f"a cat <lora:{family}-kohya:0>", **base))
    assert not np.array_equal(plain, styled) and np.array_equal(plain, off)
