"""Image to image, inpaint and outpaint for every flow family through its own diffusers pipelines (SD 3.5, Flux.1,
Chroma, Z-Image, Qwen-Image; Flux.2 Klein inpaint and outpaint only: diffusers 0.42 has no Klein img2img pipeline) on
the tiny random pipelines: the checks every family shares (tests/flow_edits.py) with each family's own guidance —
Z-Image at Turbo's 0 and with CFG, Qwen-Image with and without its true CFG, Chroma's and SD 3.5's negative prompt, a
base Klein's negative prompt as embeddings — and ``edit`` on the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.runner import Engine
from tests import flow_edits

ALL_MODES = ("txt2img", "img2img", "inpaint", "outpaint")
BLURRY = {"negative_prompt": "blurry"}
# family → (the modes it lists, its img2img cases, inpaint's fields, outpaint's, the block cancel stops in with the
# cancel's fields, the restore's fields)
FAMILIES = {
    "flux": (ALL_MODES, ({"guidance_scale": 3.5},), {}, {},
             (lambda t: t.single_transformer_blocks[0], {}), {}),
    "sd3": (ALL_MODES, ({"guidance_scale": 3.5, **BLURRY},), {}, {},
            (lambda t: t.transformer_blocks[1], {}), {}),
    "chroma": (ALL_MODES, ({"guidance_scale": 3.0, **BLURRY},), {"guidance_scale": 3.0}, {"guidance_scale": 1.0},
               (lambda t: t.single_transformer_blocks[0], {"guidance_scale": 1.0}),  # no CFG: one call a step
               {"solver": "", "guidance_scale": 3.0}),  # Euler is its only scheduler
    "zimage": (ALL_MODES, ({"guidance_scale": 0.0, **BLURRY}, {"guidance_scale": 2.0, **BLURRY}),  # Turbo's; CFG
               {"guidance_scale": 0.0}, {"guidance_scale": 0.0}, (lambda t: t.layers[0], {"guidance_scale": 0.0}),
               {"guidance_scale": 0.0}),
    "qwenimage": (ALL_MODES, ({"guidance_scale": 1.0, **BLURRY}, {"guidance_scale": 4.0, **BLURRY}),  # true CFG
                  {"guidance_scale": 4.0}, {"guidance_scale": 1.0},
                  (lambda t: t.transformer_blocks[0], {"guidance_scale": 1.0}), {"guidance_scale": 4.0}),
    "klein": (("txt2img", "inpaint", "outpaint", "instruct"), (), {"guidance_scale": 1.0}, {"guidance_scale": 1.0},
              (lambda t: t.single_transformer_blocks[0], {"mode": "inpaint", "guidance_scale": 1.0}),
              {"guidance_scale": 1.0}),
}
IMG2IMG = [(family, case) for family, row in FAMILIES.items() for case in range(len(row[1]))]


def _save(family: str, path, **kwargs):
    from tests import tiny_chroma, tiny_flux, tiny_klein, tiny_qwenimage, tiny_sd3, tiny_zimage

    return {"flux": tiny_flux.save_tiny_flux, "sd3": tiny_sd3.save_tiny_sd3, "chroma": tiny_chroma.save_tiny_chroma,
            "zimage": tiny_zimage.save_tiny_zimage, "qwenimage": tiny_qwenimage.save_tiny_qwenimage,
            "klein": tiny_klein.save_tiny_klein}[family](path, **kwargs)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each family's tiny folder, saved on first use."""
    root = tmp_path_factory.mktemp("flow-edits")
    made: dict[str, object] = {}

    def get(family: str):
        if family not in made:
            made[family] = _save(family, root / family)
        return made[family]

    return get


@pytest.fixture(scope="module")
def pics(tmp_path_factory):
    return flow_edits.pictures(tmp_path_factory.mktemp("pictures"))


@pytest.fixture(scope="module")
def engine():
    return Engine(device="cpu")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_lists_its_edit_modes(models, family):
    assert inspect_model(str(models(family))).modes == FAMILIES[family][0]


@pytest.mark.parametrize("family, case", IMG2IMG)
def test_img2img_previews_every_step_at_the_inputs_size(engine, models, pics, family, case):
    flow_edits.check_img2img_previews_every_step(engine, models(family), pics, **FAMILIES[family][1][case])


def test_klein_refuses_img2img_by_name(engine, models, pics):
    with pytest.raises(ModelError, match="image-to-image"):
        engine.run(flow_edits.edit_job(models("klein"), "img2img", pics["picture"]), save=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_inpaint_keeps_the_unmasked_pixels(engine, models, pics, family):
    flow_edits.check_inpaint_keeps_the_unmasked_pixels(engine, models(family), pics, **FAMILIES[family][2])


@pytest.mark.parametrize("family", FAMILIES)
def test_outpaint_grows_the_picture(engine, models, pics, family):
    flow_edits.check_outpaint_grows_the_picture(engine, models(family), pics, **FAMILIES[family][3])


@pytest.mark.parametrize("family", FAMILIES)
def test_cancel_inside_a_step(engine, models, pics, family, tmp_path):
    block, fields = FAMILIES[family][4]
    flow_edits.check_cancel_inside_a_step(engine, models(family), pics, block, tmp_path, **fields)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_png_restores_the_job(engine, models, pics, family, tmp_path):
    flow_edits.check_the_png_restores_the_job(engine, models(family), pics, tmp_path, **FAMILIES[family][5])


def test_a_base_klein_inpaints_with_its_negative_prompt_and_previews_every_step(engine, pics, tmp_path):
    klein_base = _save("klein", tmp_path / "tiny-klein-base", is_distilled=False)
    events = []
    job = flow_edits.edit_job(klein_base, "inpaint", pics["small"], mask=pics["mask"], feather=flow_edits.FEATHER,
                              guidance_scale=4.0, negative_prompt="blurry")  # strength 0.5 of 4 steps: 2 run
    result = engine.run(job, on_step=events.append, save=False)
    assert result.images.shape == (1, 44, 60, 3) and "negative prompt was not used" not in result.note
    *steps, last = events
    assert last.final and [e.index for e in steps] == [0, 1] and all(e.total == 2 for e in steps)
    assert all(e.x_t.shape == e.x0.shape == (1, 6, 8, 3) and e.noise_kind == "flow" for e in steps)  # 48×64 / 8


def test_the_cli_edits_with_flux(models, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    flux = models("flux")
    assert main(["edit", "--model", str(flux), "--mode", "img2img", "--image", pics["picture"], "--prompt",
                 "a red fox", "--steps", "4", "--strength", "0.5", "--scheduler", "euler", "--out",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        assert image.size == flow_edits.SIZE
        assert "Denoising strength: 0.5" in image.text["parameters"]
    job = read_job(out)
    assert job.mode == "img2img" and job.strength == 0.5 and job.model == str(flux)
    assert not np.array_equal(np.asarray(Image.open(out).convert("RGB")), pics["pixels"])


def test_the_cli_outpaints_with_sd3(models, pics, tmp_path, capsys):
    from ddpm_studio.cli import main

    sd3 = models("sd3")
    assert main(["edit", "--model", str(sd3), "--mode", "outpaint", "--image", pics["picture"], "--prompt",
                 "a meadow", "--steps", "2", "--strength", "1", "--extend", "16,0,0,8", "--feather", "8", "--out",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out.split()[0]
    with Image.open(out) as image:
        result = np.asarray(image.convert("RGB"))
    assert result.shape == (48 + 8, 64 + 16, 3)
    assert np.array_equal(result[:40, 24:80], pics["pixels"][:40, 8:64])  # the picture outside the seam's band
    job = read_job(out)
    assert job.mode == "outpaint" and job.extend == (16, 0, 0, 8) and job.model == str(sd3)
