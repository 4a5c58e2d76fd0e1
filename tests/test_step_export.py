"""A run's steps as GIF, WebP, contact sheet and frames; headless with --save-steps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ddpm_studio.engine.events import StepEvent
from ddpm_studio.engine.history import StepHistory
from ddpm_studio.engine.output.step_export import change_image, contact_sheet, export_run, frame_image, frames, save_gif


def _event(i: int, total: int = 12, batch: int = 2) -> StepEvent:
    rng = np.random.default_rng(i)
    x_t = rng.integers(0, 256, (batch, 16, 16, 3), dtype=np.uint8)
    x0 = np.full((batch, 16, 16, 3), 20 * i % 256, np.uint8)
    return StepEvent(index=i, total=total, timestep=float(1000 - 80 * i), elapsed=0.1 * i, x_t=x_t, x0=x0, noise_level=0.5)


def test_gif_and_webp_have_one_frame_per_kept_step(tmp_path):
    history = StepHistory(budget_bytes=5 * _event(0).x_t.nbytes * 2)  # room for about 5 of the 12 steps
    for i in range(12):
        history.add(_event(i))
    kept = history.frames()
    assert history.thinned and 3 <= len(kept) < 12
    written = export_run(tmp_path / "run", kept)
    for key in ("gif", "webp"):
        with Image.open(written[key]) as animation:
            assert animation.n_frames == len(kept)
            animation.seek(len(kept) - 1)
            last = np.asarray(animation.convert("RGB"))
    expected_last = frame_image(kept[-1], "both", kept[-2])
    assert last.shape == expected_last.shape and np.abs(last.astype(int) - expected_last.astype(int)).max() <= 8
    names = sorted(p.name for p in (tmp_path / "run" / "frames").iterdir())
    assert names == [f"frame-{e.index + 1:04d}-t{int(e.timestep):04d}.png" for e in kept]
    with Image.open(written["contact_sheet"]) as sheet:
        assert sheet.width > 256 and sheet.height > 0


def test_frame_shows_the_step_enlarged_with_a_caption():
    event = _event(3)
    picture = frame_image(event, "x0")
    # x0 is a flat grey of 60: the batch grid (2 images side by side) enlarged by a whole factor, under a caption
    body = picture[14:]
    assert body.shape[1] >= 256 and (body == 60).all(axis=2).mean() > 0.8
    assert frame_image(event, "both").shape[1] > picture.shape[1]
    with pytest.raises(ValueError, match="unknown view"):
        frame_image(event, "nothing")


def test_change_view_is_the_difference_to_the_previous_step():
    a, b = _event(1), _event(2)
    change = change_image(b, a)
    diff = np.abs(b.x_t.astype(int) - a.x_t.astype(int))
    assert change.max() == 255 and np.array_equal(change == 255, diff == diff.max())
    assert not change_image(a, None).any()  # the first step has nothing before it


def test_contact_sheet_takes_every_kth_step_and_the_last():
    events = [_event(i) for i in range(12)]
    one = frame_image(events[0], "x0")
    sheet = contact_sheet(events, every=5, columns=5)
    # steps 1, 6, 11 and the last (12): 4 tiles in a 2 × 2 grid
    assert sheet.shape[0] > 2 * one.shape[0] and sheet.shape[1] > 2 * one.shape[1]
    with pytest.raises(ValueError, match="no steps to export"):
        save_gif("x.gif", frames([]))


def test_cli_save_steps_writes_frames_and_animation(tiny_ddpm_dir, tmp_path, capsys):
    from ddpm_studio.cli import main

    steps = tmp_path / "steps"
    assert main(["generate", "--model", str(tiny_ddpm_dir), "--steps", "6", "--batch", "2", "--seed", "1",
                 "--out", str(tmp_path / "out"), "--device", "cpu", "--save-steps", str(steps)]) == 0
    frames_written = sorted(p.name for p in (steps / "frames").glob("frame-*.png"))
    assert len(frames_written) == 7 and frames_written[-1] == "frame-0007-result.png"  # six steps, then x_0
    with Image.open(steps / "steps.gif") as gif:
        assert gif.n_frames == 7
    assert (steps / "steps.webp").is_file() and (steps / "contact-sheet.png").is_file()
    assert "6 step(s) and the result written to" in capsys.readouterr().err


def test_the_result_ends_every_export_at_the_size_of_the_other_frames(tmp_path):
    """A latent model's step previews are 1/8 of its result: the result frame is scaled to the others' width."""
    from ddpm_studio.engine.events import final_event

    events = [_event(i, total=4, batch=1) for i in range(4)]
    result = np.random.default_rng(9).integers(0, 256, (1, 128, 128, 3), dtype=np.uint8)
    events.append(final_event(events[-1], result))
    assert events[-1].final and events[-1].index == 4 and np.array_equal(events[-1].x0, result)
    rendered = frames(events)
    assert len({f.shape for f in rendered}) == 1
    written = export_run(tmp_path / "run", events)
    with Image.open(written["webp"]) as webp:
        webp.seek(4)
        assert np.array_equal(np.asarray(webp.convert("RGB")), rendered[-1])
    assert sorted(p.name for p in (tmp_path / "run" / "frames").iterdir())[-1] == "frame-0005-result.png"
    sheet = contact_sheet(events, every=2)  # steps 1, 3 and the result
    assert sheet.shape[0] > 0 and sheet.shape[1] > rendered[0].shape[1]
