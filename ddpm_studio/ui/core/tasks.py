"""Tasks on the app's asyncio (qasync) loop: a panel's ``await`` of a job runs as one, and a bug in it must be seen.

``report_crash`` goes on every such task (``task.add_done_callback(report_crash)``): an exception the task ended
with goes to ``sys.excepthook`` (printed, and in a test a failure) instead of being swallowed by the event loop.
"""

from __future__ import annotations

import asyncio
import sys


def report_crash(task: asyncio.Task) -> None:
    """A bug in a result handler must be seen, not swallowed by the event loop."""
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        sys.excepthook(type(exc), exc, exc.__traceback__)
