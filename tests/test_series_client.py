"""``SamplerClient.run_series``, the one loop of the Race, Grid and seed walk: each job queued when the one before has
ended, its start and steps routed to the owner, and the series ended by a stop (the running job within a step, a
queued one before it starts, no further job queued) or by a failure, with what had finished. The sampler thread is
real; its engine is a stand-in whose jobs finish at once, fail, or run until they are told to stop."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from ddpm_studio.engine.events import Result, StepEvent
from ddpm_studio.engine.jobs.checks import JobError
from ddpm_studio.ui.core.worker import JobFailed, SamplerClient, SamplerThread, SeriesHandle


@dataclass(frozen=True)
class FakeJob:
    name: str
    holds: bool = False  # runs until it is told to stop
    fails: bool = False


class FakeEngine:
    ran: list[str] = []

    def __init__(self, **options) -> None:
        self.device = type("Device", (), {"label": "fake"})()

    def warm_up(self) -> None:
        pass

    def unload(self) -> None:
        pass

    def run(self, job, on_step, should_stop, on_stage=None) -> Result:
        FakeEngine.ran.append(job.name)
        if job.fails:
            raise JobError(f"{job.name} has bad settings")
        if job.holds:
            deadline = time.monotonic() + 60
            while not should_stop() and time.monotonic() < deadline:  # until the stop comes: state, not a timing
                time.sleep(0.005)
            return Result(job=job, images=None, cancelled=True)
        on_step(StepEvent(index=0, total=1, timestep=0.0, elapsed=0.0))
        return Result(job=job, images=None, saved_paths=[f"{job.name}.png"])


class Owner:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.steps = 0

    def on_job_started(self, job, history) -> None:
        self.started.append(job.name)

    def on_step(self, event) -> None:
        self.steps += 1


@pytest.fixture()
def client(qtbot, qloop, monkeypatch):
    import ddpm_studio.engine.runner

    monkeypatch.setattr(ddpm_studio.engine.runner, "Engine", FakeEngine)
    FakeEngine.ran = []
    thread = SamplerThread()
    with qtbot.waitSignal(thread.backend_ready, timeout=60000):
        thread.start()
    yield SamplerClient(thread)
    assert thread.shutdown()


def start(client, jobs, owner, handle=None):
    heard: list = []
    series = client.run_series(jobs, owner=owner, handle=handle, on_queued=lambda n, job: heard.append(("queued", n)),
                               on_result=lambda n, result: heard.append(("result", n, result.job.name)))
    return asyncio.ensure_future(series), heard


def test_every_job_runs_after_the_one_before(client, qtbot):
    owner = Owner()
    task, heard = start(client, [FakeJob("a"), FakeJob("b"), FakeJob("c")], owner)
    qtbot.waitUntil(task.done, timeout=30000)
    end = task.result()
    assert end.finished and not end.cancelled and end.failure is None and end.last == 2
    assert [r.job.name for r in end.results] == ["a", "b", "c"] and end.saved_paths == ["a.png", "b.png", "c.png"]
    assert heard == [("queued", 0), ("result", 0, "a"), ("queued", 1), ("result", 1, "b"), ("queued", 2),
                     ("result", 2, "c")]  # each queued only once the one before has ended
    assert owner.started == ["a", "b", "c"] and FakeEngine.ran == ["a", "b", "c"]


def test_a_stop_mid_series_ends_it_within_the_running_job(client, qtbot):
    owner, handle = Owner(), SeriesHandle()
    task, heard = start(client, [FakeJob("a"), FakeJob("b", holds=True), FakeJob("c")], owner, handle)
    qtbot.waitUntil(lambda: FakeEngine.ran == ["a", "b"], timeout=30000)
    handle.stop()
    qtbot.waitUntil(task.done, timeout=30000)
    end = task.result()
    assert end.cancelled and not end.finished and end.failure is None and end.last == 1
    assert [r.job.name for r in end.results] == ["a"]
    assert heard == [("queued", 0), ("result", 0, "a"), ("queued", 1)]  # "c" never queued
    qtbot.waitUntil(lambda: not client.thread.active, timeout=30000)
    assert FakeEngine.ran == ["a", "b"]


def test_a_stop_takes_a_job_that_waits_before_it_starts(client, qtbot):
    other = client.submit(FakeJob("someone else's", holds=True))  # the thread is busy with another panel's job
    qtbot.waitUntil(lambda: client.thread.busy, timeout=30000)
    handle = SeriesHandle()
    task, heard = start(client, [FakeJob("a"), FakeJob("b")], Owner(), handle)
    qtbot.waitUntil(lambda: heard == [("queued", 0)], timeout=30000)
    handle.stop()
    assert not client.thread._stop_current.is_set()  # only the series' job, not the one that runs
    client.cancel(other)
    qtbot.waitUntil(task.done, timeout=30000)
    end = task.result()
    assert end.cancelled and end.results == [] and end.last == 0
    assert FakeEngine.ran == ["someone else's"]


def test_a_failing_job_ends_the_series_with_its_error(client, qtbot):
    owner = Owner()
    task, heard = start(client, [FakeJob("a"), FakeJob("b", fails=True), FakeJob("c")], owner)
    qtbot.waitUntil(task.done, timeout=30000)
    end = task.result()
    assert isinstance(end.failure, JobFailed) and "b has bad settings" in str(end.failure)
    assert end.failure.kind == "user" and not end.cancelled and not end.finished and end.last == 1
    assert [r.job.name for r in end.results] == ["a"] and end.saved_paths == ["a.png"]
    assert heard == [("queued", 0), ("result", 0, "a"), ("queued", 1)]
    assert FakeEngine.ran == ["a", "b"]


def test_a_series_stopped_before_its_first_job_queues_nothing(client, qtbot):
    handle = SeriesHandle()
    handle.stop()
    task, heard = start(client, [FakeJob("a")], Owner(), handle)
    qtbot.waitUntil(task.done, timeout=30000)
    assert task.result().cancelled and heard == [] and FakeEngine.ran == []
