"""The sampler thread: imports torch and diffusers in the background, then runs queued jobs one at a time.

Previews are latest-only: the worker keeps the newest step event and emits ``preview_ready`` only when the GUI
has taken the previous one, so a fast model can never flood the event loop. Every step with previews is
also kept in the run's StepHistory for scrubbing. No widget is touched from here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import queue
import sys
import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal


class JobFailed(Exception):
    """A job ended with an error; the message is for the user, ``remedy`` a fix it offers as an action
    (``engine.errors.REMEDIES``; "" for none), ``kind`` what failed (``engine.errors``: user, non-finite,
    out-of-memory, unexpected)."""

    def __init__(self, message: str, remedy: str = "", kind: str = "unexpected") -> None:
        super().__init__(message)
        self.remedy, self.kind = remedy, kind


class SamplerThread(QThread):
    backend_ready = Signal(str)  # device label
    backend_failed = Signal(str)
    job_started = Signal(int, object, object)  # id, job, StepHistory
    preview_ready = Signal()
    job_finished = Signal(int, object)  # id, Result (cancelled or not)
    job_failed = Signal(int, object)  # id, an engine.errors.Failure: its kind, the message, a remedy
    job_stage = Signal(int, str)  # id, a stage of the run: "sampling" (step 1 runs), "decoding" (inside_step.STAGES)
    cancelling = Signal(int)  # id of the running job that was just asked to stop
    queue_changed = Signal(int)  # jobs waiting (not counting the one running)

    def __init__(self, device: str = "auto", allow_pickle: bool = False, parent: QObject | None = None, **engine_options) -> None:
        super().__init__(parent)
        self.engine_options = dict(device=device, allow_pickle=allow_pickle, **engine_options)
        self.history_budget = 256 * 1024 * 1024  # bytes of previews kept per run (read when a run starts)
        self._queue: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._current: int | None = None
        self._stop_current = threading.Event()
        self._latest = None
        self._preview_pending = False
        self.engine = None

    # ---- called from the GUI thread ----
    def submit(self, job) -> int:
        job_id = next(self._ids)
        with self._lock:
            self._pending.add(job_id)
            waiting = len(self._pending)
        self._queue.put((job_id, job))
        self.queue_changed.emit(waiting)
        return job_id

    def configure(self, **engine_options) -> None:
        """New engine options (device, precision, allow_pickle, memory); applied before the next queued job."""
        self._queue.put(_Configure(engine_options))

    def set_folders(self, folders) -> None:
        """New add-on folders (an AddonFolders) for LoRAs, embeddings and VAEs named by name; the engine and its
        loaded model stay (applied before the next queued job)."""
        self._queue.put(_Configure({"folders": folders}))

    def cancel_current(self) -> None:
        with self._lock:
            current = self._current
            self._stop_current.set()
        self._say_cancelling(current)

    def _say_cancelling(self, job_id: int | None) -> None:
        if job_id is not None:
            self.cancelling.emit(job_id)

    def cancel(self, job_id: int) -> None:
        """Stop one job, whoever's: within a step if it runs, before it starts if it waits (it then ends as None)."""
        with self._lock:
            waiting = job_id in self._pending
            self._pending.discard(job_id)
            running = self._current == job_id
            if running:
                self._stop_current.set()
            count = len(self._pending)
        if waiting:
            self.queue_changed.emit(count)
        if running:
            self._say_cancelling(job_id)

    def cancel_all(self) -> None:
        with self._lock:
            self._pending.clear()
            current = self._current
            self._stop_current.set()
        self.queue_changed.emit(0)
        self._say_cancelling(current)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything, let the thread stop inside its current step, and wait for it."""
        self.request_shutdown()
        return self.wait(timeout_ms) if self.isRunning() else True

    def request_shutdown(self) -> None:
        """Cancel everything and end the thread after that, without waiting (``finished`` says when)."""
        self.cancel_all()
        self._queue.put(None)

    @property
    def active(self) -> bool:
        """A job runs or waits in the queue."""
        with self._lock:
            return self._current is not None or bool(self._pending)

    def take_latest(self):
        """(job id, StepEvent) of the newest step, or None; re-arms the preview signal."""
        with self._lock:
            latest, self._latest = self._latest, None
            self._preview_pending = False
        return latest

    @property
    def busy(self) -> bool:
        return self._current is not None

    # ---- the thread ----
    def run(self) -> None:
        try:
            from ddpm_studio.engine.history import StepHistory
            from ddpm_studio.engine.runner import Engine

            fallback = ""
            try:
                self.engine = Engine(**self.engine_options)
            except ValueError as exc:  # a saved device this machine lacks (CUDA on a laptop): run, and say so
                fallback = f" — the saved device is not available here ({exc})"
                self.engine_options["device"] = "auto"
                self.engine = Engine(**self.engine_options)
            self.engine.warm_up()
        except Exception as exc:  # a broken torch install must not take the app down
            traceback.print_exc()
            self.backend_failed.emit(f"Could not start the sampler: {exc}")
            return
        self.backend_ready.emit(self.engine.device.label + fallback)

        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, _Configure):
                self._reconfigure(item.options)
                continue
            job_id, job = item
            with self._lock:
                wanted = job_id in self._pending
                self._pending.discard(job_id)
                waiting = len(self._pending)
                if wanted:
                    self._current = job_id
                    self._stop_current.clear()
            self.queue_changed.emit(waiting)
            if not wanted:
                self.job_finished.emit(job_id, None)  # cancelled while waiting
                continue
            history = StepHistory(self.history_budget)
            self.job_started.emit(job_id, job, history)
            try:
                result = self.engine.run(job, on_step=self._on_step(job_id, history), should_stop=self._stop_current.is_set,
                                         on_stage=lambda stage, job_id=job_id: self.job_stage.emit(job_id, stage))
            except Exception as exc:
                from ddpm_studio.engine.errors import OUT_OF_MEMORY, UNEXPECTED, describe_failure

                failure = describe_failure(exc, self.engine.device.label)  # its kind, read from the error's type
                if failure.kind == OUT_OF_MEMORY:
                    self.engine.unload()  # free what the failed run held; the next run loads afresh
                elif failure.kind == UNEXPECTED:
                    traceback.print_exc(file=sys.stderr)
                self.job_failed.emit(job_id, failure)
            else:
                self.job_finished.emit(job_id, result)
            finally:
                with self._lock:
                    self._current = None

    def _reconfigure(self, options: dict) -> None:
        from ddpm_studio.engine.runner import Engine

        merged = {**self.engine_options, **options}
        if set(options) == {"folders"}:  # where add-ons are found: no reason to load the model again
            self.engine.folders, self.engine_options = options["folders"], merged
            return
        try:
            engine = Engine(**merged)
        except ValueError as exc:  # e.g. CUDA asked for where there is none: keep the engine we have
            self.backend_failed.emit(str(exc))
            return
        self.engine.unload()
        self.engine, self.engine_options = engine, merged
        self.backend_ready.emit(engine.device.label)

    def _on_step(self, job_id: int, history):
        def on_step(event) -> None:
            history.add(event)
            with self._lock:
                self._latest = (job_id, event)
                emit = not self._preview_pending
                self._preview_pending = True
            if emit:
                self.preview_ready.emit()

        return on_step


class _Configure:
    def __init__(self, options: dict) -> None:
        self.options = options


class SamplerClient(QObject):
    """Lets GUI code ``await client.run(job)``: a Future per job, resolved by the thread's signals."""

    def __init__(self, thread: SamplerThread, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread = thread
        self._futures: dict[int, asyncio.Future] = {}
        self._owners: dict[int, object] = {}
        thread.job_finished.connect(self._on_finished)
        thread.job_failed.connect(self._on_failed)
        thread.job_started.connect(self._on_started)
        thread.preview_ready.connect(self._on_preview)
        thread.job_stage.connect(self._on_stage)
        thread.cancelling.connect(self._on_cancelling)

    def submit(self, job, owner=None) -> asyncio.Future:
        """Queue ``job`` now; the Future resolves to its Result (``cancelled`` set if stopped mid-run), to None
        if it was cancelled before it started, or raises JobFailed with the user-facing message. ``owner`` (a panel)
        gets ``on_job_started(job, history)`` and ``on_step(event)`` for this job."""
        future = asyncio.get_event_loop().create_future()
        job_id = self.thread.submit(job)
        self._futures[job_id] = future
        if owner is not None:
            self._owners[job_id] = owner
        return future

    def _on_started(self, job_id: int, job, history) -> None:
        owner = self._owners.get(job_id)
        if owner is not None:
            owner.on_job_started(job, history)

    def _on_preview(self) -> None:
        latest = self.thread.take_latest()  # always take it: that re-arms the next preview signal
        if latest is not None and latest[0] in self._owners:
            self._owners[latest[0]].on_step(latest[1])

    def _on_stage(self, job_id: int, stage: str) -> None:
        owner = self._owners.get(job_id)
        if owner is not None and hasattr(owner, "on_stage"):
            owner.on_stage(stage)

    def _on_cancelling(self, job_id: int) -> None:
        owner = self._owners.get(job_id)
        if owner is not None and hasattr(owner, "on_cancelling"):
            owner.on_cancelling()

    async def run(self, job):
        return await self.submit(job)

    async def run_series(self, jobs, owner=None, handle: SeriesHandle | None = None, on_queued=None,
                         on_result=None) -> SeriesEnd:
        """Run ``jobs`` one after another, each queued when the one before has ended (each image is that of a run
        of its own): a grid's cells, a race's lanes, a seed walk's frames. ``owner`` hears each job's start and steps
        as with ``submit``; ``on_queued(number, job)`` comes before each job is queued, ``on_result(number, result)``
        when one finished and the series goes on. It ends when every job finished, at the first that fails, or
        within a step of ``handle.stop()``; the SeriesEnd says which, and what had finished."""
        handle = handle or SeriesHandle()
        results: list = []
        for number, job in enumerate(jobs):
            if handle.stopping:  # stopped before this job was queued
                return SeriesEnd(results, number, cancelled=True)
            if on_queued is not None:
                on_queued(number, job)
            future = self.submit(job, owner)
            handle._cancel = lambda future=future: self.cancel(future)
            try:
                result = await future
            except JobFailed as exc:
                return SeriesEnd(results, number, failure=exc)
            finally:
                handle._cancel = None
            if result is not None and not result.cancelled:
                results.append(result)
            if result is None or result.cancelled or handle.stopping:  # one that finished as Stop came ends it too
                return SeriesEnd(results, number, cancelled=True)
            if on_result is not None:
                on_result(number, result)
        return SeriesEnd(results, len(results) - 1)

    def cancel(self, future: asyncio.Future) -> None:
        """Stop the job whose Future ``submit`` gave, and only that one (a panel's own run; Esc stops any)."""
        job_id = next((i for i, f in self._futures.items() if f is future), None)
        if job_id is not None:
            self.thread.cancel(job_id)

    def _on_finished(self, job_id: int, result) -> None:
        self._owners.pop(job_id, None)
        future = self._futures.pop(job_id, None)
        if future is not None and not future.done():
            future.set_result(result)

    def _on_failed(self, job_id: int, failure) -> None:
        self._owners.pop(job_id, None)
        future = self._futures.pop(job_id, None)
        if future is not None and not future.done():
            future.set_exception(JobFailed(failure.message, failure.remedy, failure.kind))


class SeriesHandle:
    """Stops a series that ``SamplerClient.run_series`` runs: its running job within a step, a queued one before it
    starts; no further job is queued."""

    def __init__(self) -> None:
        self.stopping = False
        self._cancel = None  # cancels the series' job on the sampler thread now, while there is one

    def stop(self) -> None:
        self.stopping = True
        if self._cancel is not None:
            self._cancel()


@dataclasses.dataclass
class SeriesEnd:
    """How a series ended. ``results``: its finished runs, in order (with one that finished just as the series was
    stopped, which ``on_result`` never heard of); ``last``: the number (from 0) of the run it reached; ``cancelled``
    when it was stopped; ``failure`` the JobFailed a run ended with."""

    results: list
    last: int
    cancelled: bool = False
    failure: JobFailed | None = None

    @property
    def finished(self) -> bool:
        """Every run finished."""
        return not self.cancelled and self.failure is None

    @property
    def saved_paths(self) -> list[str]:
        return [path for result in self.results for path in result.saved_paths]
