"""A flow family's hires fix, as each family's tests run it: a 4-step first pass at 64², then half of 4 steps at 128²
through the family's img2img pipeline."""

from __future__ import annotations

import numpy as np

from ddpm_studio.engine.output.metadata import read_job


def run_two_pass_hires(engine, job, folder):
    """Run ``job`` (4 steps at 64², a hires fix of 2× at strength 0.5) saving into ``folder``, and check what both
    passes show: previews of each at its own size, the progress over both, no Euler note, the job back from the PNG.
    Returns the result."""
    events = []
    job = job.replace(output_dir=str(folder))
    result = engine.run(job, on_step=events.append)
    *steps, last = events
    assert result.images.shape == (1, 128, 128, 3) and np.isfinite(result.images).all() and last.final
    assert [e.second_pass for e in steps] == [False] * 4 + [True] * 2 and {e.total for e in steps} == {6}
    assert {e.x0.shape for e in steps if not e.second_pass} == {(1, 8, 8, 3)}
    assert {e.x0.shape for e in steps if e.second_pass} == {(1, 16, 16, 3)}
    assert all(np.isfinite(e.x0.astype(float)).all() and e.x0.std() > 0 for e in steps)
    assert result.steps_run == 6 and "hires pass ran with Euler" not in result.note
    assert read_job(sorted(result.saved_paths)[0]) == job
    return result
