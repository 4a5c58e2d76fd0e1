"""The checks every flow family's image to image, inpaint and outpaint share (tests/test_<family>_edit.py run them on
the family's tiny random pipeline): previews every step and A1111's step count at a strength, the input's size kept,
the unmasked pixels kept bit for bit, the canvas grown, cancel inside a step, the job back from the PNG."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ddpm_studio.engine.jobs.types import EditJob
from ddpm_studio.engine.output.metadata import read_job
from ddpm_studio.engine.sampling.flow_edit import steps_run
from tests.stopped_runs import run_stopped_in_second_call

FEATHER = 4
SIZE = (64, 48)  # width, height: whole 16-px patches, neither the model's default size nor square


def pictures(folder) -> dict:
    """A 64×48 picture, a 60×44 one (off the 16-px grid) with a mask of one stroke on it, and the stroke."""
    rng = np.random.default_rng(0)
    pixels = (rng.random((SIZE[1], SIZE[0], 3)) * 255).astype(np.uint8)
    small = (rng.random((44, 60, 3)) * 255).astype(np.uint8)
    stroke = np.zeros((44, 60), dtype=bool)
    stroke[12:28, 22:40] = True
    Image.fromarray(pixels).save(folder / "picture.png")
    Image.fromarray(small).save(folder / "small.png")
    Image.fromarray(np.where(stroke, 255, 0).astype(np.uint8)).save(folder / "mask.png")
    return dict(picture=str(folder / "picture.png"), pixels=pixels, small=str(folder / "small.png"),
                small_pixels=small, mask=str(folder / "mask.png"), stroke=stroke)


def edit_job(model, mode: str, image: str, **fields) -> EditJob:
    values = dict(model=str(model), mode=mode, prompt="a red fox in snow", image=image, steps=4, seed=3,
                  strength=0.5, preview_every=1, scheduler="euler")
    return EditJob(**{**values, **fields})


def check_img2img_previews_every_step(engine, model, pics, **fields) -> list:
    """Image to image at strength 0.5 of 4 steps: 2 steps run (A1111's and diffusers' count), an x_t and an x̂0
    preview at each, unpacked to the VAE's latent grid, σ falling; the picture at the input's size."""
    events = []
    job = edit_job(model, "img2img", pics["picture"], **fields)
    result = engine.run(job, on_step=events.append, save=False)
    width, height = SIZE
    assert result.images.shape == (1, height, width, 3) and np.isfinite(result.images).all()
    *steps, last = events
    assert last.final and [e.index for e in steps] == list(range(steps_run(4, 0.5))) == [0, 1]
    assert all(e.total == 2 for e in steps)
    for event in steps:
        assert event.x_t.shape == event.x0.shape == (1, height // 8, width // 8, 3)
        assert event.x0.std() > 0 and event.noise_kind == "flow" and 0 < event.noise_level < 1
    assert steps[0].noise_level > steps[1].noise_level
    whole = engine.run(edit_job(model, "img2img", pics["picture"], strength=1.0, preview_every=0, **fields),
                       on_step=events.append, save=False)
    assert len(events) - len(steps) - 1 == 4 and whole.images.shape == result.images.shape  # strength 1: all 4
    return steps


def beyond_blur(stroke: np.ndarray, feather: int) -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~stroke) > feather


def check_inpaint_keeps_the_unmasked_pixels(engine, model, pics, **fields):
    """Inpainting a 60×44 picture: its size kept, every pixel beyond the mask blur the input's own, the stroke
    repainted."""
    job = edit_job(model, "inpaint", pics["small"], mask=pics["mask"], feather=FEATHER, strength=1.0, steps=2,
                   **fields)
    events = []
    result = engine.run(job, on_step=events.append, save=False).images[0]
    pixels, stroke = pics["small_pixels"], pics["stroke"]
    assert result.shape == pixels.shape
    outside = beyond_blur(stroke, FEATHER)
    assert np.array_equal(result[outside], pixels[outside])
    assert (result != pixels).any(axis=-1)[stroke].mean() > 0.9
    assert [e.index for e in events[:-1]] == [0, 1] and all(e.x0 is not None for e in events[:-1])


def check_outpaint_grows_the_picture(engine, model, pics, **fields):
    """Outpainting 10 px left and 13 px below: the canvas grown by exactly that, the picture kept outside the
    seam's band."""
    job = edit_job(model, "outpaint", pics["picture"], extend=(10, 0, 0, 13), feather=8, strength=1.0, steps=2,
                   preview_every=0, **fields)
    result = engine.run(job, save=False).images[0]
    pixels = pics["pixels"]
    assert result.shape == (48 + 13, 64 + 10, 3)
    assert np.array_equal(result[:40, 18:74], pixels[:40, 8:64])  # the original, bit for bit, outside the band
    assert result[:, :10].std() > 0


def check_cancel_inside_a_step(engine, model, pics, block_of, tmp_path, mode: str = "img2img", **fields):
    """Cancel pressed inside the second model call of an image to image (or inpainting) run: no picture, nothing
    saved."""
    image, masked = (pics["small"], dict(mask=pics["mask"])) if mode == "inpaint" else (pics["picture"], {})
    job = edit_job(model, mode, image, strength=1.0, output_dir=str(tmp_path), **masked, **fields)
    transformer = engine.load(str(model), mode).pipe.transformer
    result, steps, _ = run_stopped_in_second_call(engine, job, transformer, block_of(transformer))
    assert result.cancelled and result.images is None and not list(tmp_path.glob("*.png"))
    assert len(steps) == 1 and result.steps_run == 1


def check_the_png_restores_the_job(engine, model, pics, tmp_path, solver: str = "unipc", **fields):
    """An inpainting's PNG gives its job back, the mask and the strength with it; a job with a flow ``solver`` (""
    where the family has none) runs with Euler and says so."""
    job = edit_job(model, "inpaint", pics["small"], mask=pics["mask"], feather=FEATHER, strength=0.75, steps=2,
                   preview_every=0, output_dir=str(tmp_path), **fields)
    result = engine.run(job)
    assert read_job(sorted(result.saved_paths)[0]) == job
    if solver:
        note = engine.run(edit_job(model, "inpaint", pics["small"], mask=pics["mask"], scheduler=solver, steps=2,
                                   preview_every=0, **fields), save=False).note
        assert "it ran with Euler" in note
