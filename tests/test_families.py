"""The family table (engine/models/families.py): its rows are consistent, name real diffusers pipelines, and the
catalogue, loader and add-ons find a model's row from what its files show."""

from __future__ import annotations

import diffusers
import pytest

from ddpm_studio.engine.models import families
from ddpm_studio.engine.models.families import (
    ARCH_BY_CONTEXT,
    BY_KEY,
    FAMILIES,
    FILE_ADDONS,
    KOHYA_BASE,
    family_of,
    family_of_checkpoint,
    family_of_folder,
    family_of_text_widths,
)


def test_keys_widths_and_variants_are_unique():
    assert len(BY_KEY) == len(FAMILIES)
    takers = [family for family in FAMILIES  # a UNet add-on file's width tells its family here (a flow LoRA's names)
              if family.addons & FILE_ADDONS and family.denoiser == "unet"]
    assert len({family.context_dim for family in takers}) == len(takers)
    assert ARCH_BY_CONTEXT[4096] == "sd3"  # SD 3.5 and Flux share T5's width: the first row of a width keeps it
    for family in FAMILIES:
        for channels in {v.channels for v in family.variants}:  # variants of the same channels (Flux.1 and
            kinds = {v.kind for v in family.variants if v.channels == channels}  # Kontext): each its folder's class
            assert len(kinds) == 1 or kinds <= set(family.folder_classes.values()), family.key
        assert set(family.folder_classes.values()) <= {v.kind for v in family.variants}, family.key
        assert len(family.latent_rgb.factors) == family.latent_channels
        if "lora" in family.addons and family.denoiser == "unet":  # kohya's names are an SD LoRA's facts (a flow
            # family's LoRAs are told by their layers' names: addons/lora_families.py)
            assert family.kohya_versions and KOHYA_BASE[family.kohya_versions[0]] == family.key


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.key)
def test_every_pipeline_a_row_names_is_in_diffusers(family):
    named = [cls for v in family.variants for cls in v.pipelines.values()]
    named += [*family.control_pipelines.values(), *filter(None, (family.img2img,)), *family.folder_classes]
    missing = [cls for cls in named if not hasattr(diffusers, cls)]
    assert not missing


def test_a_folders_variant_is_its_class_where_channels_are_shared():
    flux, sd = BY_KEY["flux"], BY_KEY["sd1"]
    assert flux.variant_of_folder("FluxKontextPipeline", 64).kind == "flux-kontext"
    assert flux.variant_of_folder("FluxPipeline", 64).kind == "flux"
    assert sd.variant_of_folder("StableDiffusionPipeline", 9).kind == "stable-diffusion-inpaint"  # its UNet says
    assert sd.variant_of_folder("StableDiffusionInpaintPipeline", 4).kind == "stable-diffusion"


def test_a_folder_is_its_class_and_width_a_file_its_keys():
    assert family_of_folder("StableDiffusionPipeline", 1024).key == "sd2"
    assert family_of_folder("StableDiffusionPipeline", 768).key == "sd1"
    assert family_of_folder("StableDiffusionPipeline", 32).key == "sd1"  # a width no row has: the first with the class
    assert family_of_folder("StableDiffusionXLInpaintPipeline", 80).key == "sdxl"
    assert family_of_folder("DDPMPipeline", 0) is None
    assert family_of_checkpoint({BY_KEY["sdxl"].checkpoint_key: (1,), "x": (1,)}).key == "sdxl"
    assert family_of_checkpoint({BY_KEY["sd2"].checkpoint_key: (1,)}).key == "sd2"
    assert family_of_checkpoint({"model.diffusion_model.input_blocks.0.0.weight": (1,)}).key == "sd1"


def test_a_model_info_finds_its_row_and_its_pipelines():
    assert family_of("stable-diffusion-inpaint", 1024).key == "sd2"
    assert family_of("stable-diffusion", 0, arch="sdxl").key == "sdxl"  # a single file says its architecture
    assert family_of("ddpm") is None
    sdxl = BY_KEY["sdxl"]
    assert sdxl.pipeline("stable-diffusion-xl-inpaint", "outpaint") == "StableDiffusionXLInpaintPipeline"
    assert sdxl.pipeline("stable-diffusion-xl-inpaint", "txt2img") is None  # an inpainting UNet cannot
    assert BY_KEY["sd1"].variant(8).modes == ("instruct",)


def test_text_encoder_widths_name_a_family_even_in_tiny_models():
    assert family_of_text_widths((768,)).key == "sd1"
    assert family_of_text_widths((768, 1280)).key == "sdxl"
    assert family_of_text_widths((32, 48)).key == "sdxl"  # two encoders: only SDXL has two
    assert family_of_text_widths((32,)) is None  # one encoder of a width no row has: SD 1.x and 2.x both have one
    assert family_of_text_widths(()) is None


def test_the_catalogue_reads_the_table_for_the_tiny_models(tmp_path):
    from ddpm_studio.engine.models.catalogue import inspect_model
    from tests.tiny_sd import save_tiny_sd, save_tiny_sdxl

    for kind, expected in (("txt2img", "stable-diffusion"), ("inpaint", "stable-diffusion-inpaint"),
                           ("instruct", "instruct-pix2pix")):
        info = inspect_model(str(save_tiny_sd(tmp_path / kind, kind)))
        variant = BY_KEY["sd1"].variant_named(expected)
        assert (info.family, info.modes, info.panel) == (expected, variant.modes, variant.panel)
    info = inspect_model(str(save_tiny_sdxl(tmp_path / "xl")))
    assert families.family_of_info(info).key == "sdxl" and info.modes == BY_KEY["sdxl"].variant(4).modes


def test_a_job_asking_for_an_addon_its_family_does_not_take_is_refused_by_name(tmp_path):
    import dataclasses

    from ddpm_studio.engine.jobs.types import Text2ImageJob
    from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
    from ddpm_studio.engine.sampling import stages
    from tests.tiny_sd import save_tiny_sd

    job = Text2ImageJob(model="m", prompt="a cat <lora:style:0.5>", controlnets=(("net", 1.0, 0.0, 1.0),),
                        control_images=("edges.png",), hires_scale=2.0)
    assert stages.asked_addons(job) == {"lora", "controlnet", "hires"}
    assert stages.asked_addons(Text2ImageJob(model="m", prompt="a cat")) == set()
    bare = dataclasses.replace(BY_KEY["sd1"], addons=frozenset({"embedding"}))
    assert families.unsupported_addons(bare, stages.asked_addons(job)) == ["ControlNet", "a hires fix", "LoRAs"]
    assert families.unsupported_addons(BY_KEY["sd1"], stages.asked_addons(job)) == []

    info = inspect_model(str(save_tiny_sd(tmp_path / "sd")))
    run = stages.LatentRun(loaded=type("Loaded", (), {"info": info})(), job=job, device="cpu",
                           on_step=lambda event: None, should_stop=lambda: False)
    stages.check_family(run)  # the SD rows take them all
    original = families.FAMILIES
    try:
        families.FAMILIES = (bare, *original[1:])
        with pytest.raises(ModelError, match="SD 1.x model, which does not take ControlNet or a hires fix or LoRAs"):
            stages.check_family(run)
    finally:
        families.FAMILIES = original


def test_a_rows_schedulers_and_defaults_are_the_jobs_names():
    from ddpm_studio.engine.jobs.scheduler_table import FLOW_SCHEDULERS, SCHEDULERS

    for family in FAMILIES:
        assert set(family.schedulers) <= set(SCHEDULERS), family.key
        if family.defaults.get("scheduler"):
            assert family.defaults["scheduler"] in (family.schedulers or SCHEDULERS), family.key
    assert BY_KEY["sd3"].schedulers == tuple(FLOW_SCHEDULERS)  # a flow family: the names with a flow form
    assert BY_KEY["flux"].schedulers == tuple(FLOW_SCHEDULERS)  # all take its pipeline's dynamic shift (mu)
    assert BY_KEY["flux"].defaults == {"scheduler": "euler", "steps": 28, "guidance_scale": 3.5}


def test_flux_is_a_packed_flow_row_without_a_negative_prompt():
    row = BY_KEY["flux"]
    assert family_of_folder("FluxPipeline", 4096) is row and row.variant(64).kind == "flux"
    assert row.packed == 2 and row.variant(64).channels == row.latent_channels * row.packed**2
    assert not row.negative_prompt and row.addons == {"hires", "attention", "lora"} and not row.prompt_weights
    assert not row.clip_skip
    assert (row.latent_rgb.scaling_factor, row.latent_rgb.shift_factor) == (0.3611, 0.1159)
    assert all(BY_KEY[key].packed == 1 and BY_KEY[key].negative_prompt for key in ("sd1", "sd2", "sdxl", "sd3"))
    assert row.true_cfg and row.uses_negative(4.0) and not row.uses_negative(1.0)  # true CFG where the user asks
    assert row.flavour_of({"guidance_embeds": False}) == "schnell" and row.flavour_of({"guidance_embeds": True}) == ""
    assert row.defaults_for("schnell") == {"scheduler": "euler", "steps": 4, "guidance_scale": 0.0}
    assert row.defaults_for("") == row.defaults_for("krea") == row.defaults
    assert [d["steps"] for d in row.every_defaults()] == [28, 4, 28]  # dev, schnell, Kontext (at guidance 2.5)
    assert family_of_text_widths((768, 4096)) is row and family_of_text_widths((32, 64)) is BY_KEY["sdxl"]
    assert not BY_KEY["sd1"].defaults  # SD's are the app's own: choosing an SD model changes no setting


def test_chroma_is_fluxs_latents_with_t5_alone_and_real_cfg():
    row, flux = BY_KEY["chroma"], BY_KEY["flux"]
    assert family_of_folder("ChromaPipeline", 4096) is row and row.variant(64).kind == "chroma"
    assert (row.packed, row.latent_channels, row.latent_rgb, row.taesd_repo) == \
        (flux.packed, flux.latent_channels, flux.latent_rgb, flux.taesd_repo)
    assert row.negative_prompt and not row.true_cfg and row.uses_negative() and not row.prompt_weights
    assert row.text_widths == (4096,) and family_of_text_widths((4096,)) is row
    assert row.addons == {"hires", "lora", "attention"}
    assert row.schedulers == ("euler", "lcm")  # ChromaPipeline passes its own sigmas, which the flow solvers don't take
    assert row.defaults == {"scheduler": "euler", "steps": 40, "guidance_scale": 3.0}  # Chroma1-HD's card


def test_z_image_is_an_unpacked_flow_row_whose_cfg_starts_above_0():
    row = BY_KEY["zimage"]
    assert family_of_folder("ZImagePipeline", 2560) is row and row.variant(16).kind == "z-image"
    assert row.packed == 1 and row.latent_channels == 16 and row.context_key == "cap_feat_dim"
    assert row.negative_prompt and row.cfg_above == 0.0 and row.float32_latents
    assert row.addons == {"hires", "lora"} and not row.prompt_weights and row.latent_rgb is BY_KEY["flux"].latent_rgb
    # DPM++ 2M's set_timesteps takes no sigmas, which its pipeline passes
    assert row.schedulers == ("euler", "unipc", "lcm")
    assert row.defaults == {"scheduler": "euler", "steps": 9, "guidance_scale": 0.0}
    assert family_of_text_widths((2560,)) is row and BY_KEY["sd1"].cfg_above == 1.0


def test_klein_is_a_packed_flow_row_on_a_batch_normalised_vae_whose_distilled_folders_bring_their_defaults():
    row = BY_KEY["klein"]
    assert family_of_folder("Flux2KleinPipeline", 12288) is row  # the 9B's width (Qwen3-8B's 3 × 4096) too
    assert row.variant(128).kind == "flux2-klein" and row.variant(128).channels == row.latent_channels * row.packed**2
    assert row.negative_embeds and not row.prompt_weights  # the negative as embeddings
    assert row.addons == {"lora", "attention"}
    assert not row.clip_skip and not row.true_cfg and row.uses_negative() and not row.uses_negative(flavour="distilled")
    assert (row.latent_rgb.scaling_factor, row.latent_rgb.shift_factor) == (1.0, 0.0) and row.latent_channels == 32
    assert not row.img2img and row.schedulers == BY_KEY["flux"].schedulers
    assert row.defaults == {"scheduler": "euler", "steps": 50, "guidance_scale": 4.0}
    # the step-distilled 4B and 9B are told by their model_index.json, not their transformer's config
    assert row.flavour_of({}, {"is_distilled": True}) == "distilled" and row.flavour_of({"is_distilled": True}) == ""
    assert row.flavour_of({}, {"is_distilled": False}) == ""
    assert row.defaults_for("distilled") == {"scheduler": "euler", "steps": 4, "guidance_scale": 1.0}
