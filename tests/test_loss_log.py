"""The run's loss history on disk (training/loss_log.py): kept up to the step a resumed run goes on from, emptied
for a new run, damaged lines skipped; and the trainer writes it."""

from __future__ import annotations

import math

from ddpm_studio.training import loss_log
from ddpm_studio.training.ddpm.trainer import train
from tests.folders import solid_folder
from tests.test_training import tiny_config


def test_a_resume_keeps_the_history_up_to_its_checkpoint_and_a_new_run_starts_empty(tmp_path):
    for step in range(1, 8):
        loss_log.append(tmp_path, step, 1.0 / step, 1e-4)
    with (tmp_path / loss_log.LOSS_LOG).open("a", encoding="utf-8") as file:
        file.write("8,not-a-number,1e-4\n9\n")  # a line cut short by a kill, and a damaged one
    loss_log.append(tmp_path, 10, math.nan, 1e-4)
    assert [step for step, _ in loss_log.read(tmp_path)] == list(range(1, 8))
    loss_log.start_at(tmp_path, 5)  # killed after step 7, resumed from the checkpoint at 5: 6 and 7 are trained again
    kept = loss_log.read(tmp_path)
    assert [step for step, _ in kept] == [1, 2, 3, 4, 5]
    assert all(math.isclose(loss, 1.0 / step, rel_tol=1e-5) for step, loss in kept)
    assert (tmp_path / loss_log.LOSS_LOG).read_text(encoding="utf-8").splitlines()[1] == "1,1,0.0001"
    loss_log.start_at(tmp_path, 0)
    assert loss_log.read(tmp_path) == []


def test_the_trainer_logs_each_reported_loss(tmp_path):
    events = []
    train(tiny_config(solid_folder(tmp_path / "red", count=4), tmp_path / "run", max_steps=6, log_every=2,
                      batch_size=4), on_event=events.append)
    reported = [(e.step, e.loss) for e in events if e.kind == "step"]
    logged = loss_log.read(tmp_path / "run")
    assert [step for step, _ in logged] == [step for step, _ in reported] == [2, 4, 6]
    assert all(math.isclose(a, b, rel_tol=1e-5) for (_, a), (_, b) in zip(logged, reported))
