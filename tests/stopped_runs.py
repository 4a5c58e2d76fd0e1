"""A run stopped inside a model call, as Cancel pressed mid-step stops it: the tests of every family's denoiser
(a UNet, a transformer) share it."""

from __future__ import annotations


def run_stopped_in_second_call(engine, job, model, block):
    """Run ``job`` with Cancel pressed as ``model``'s second call reaches ``block`` (one of its inner modules);
    returns (result, the step events heard, {"started": model calls begun, "ended": model calls finished})."""
    calls = {"started": 0, "ended": 0}
    stop = {"now": False}

    def started(_module, _inputs):
        calls["started"] += 1

    def ended(_module, _inputs, _output):
        calls["ended"] += 1

    def halfway(_module, _inputs):  # the second call reaches ``block``: Cancel is pressed there
        if calls["started"] == 2:
            stop["now"] = True

    handles = [model.register_forward_pre_hook(started), model.register_forward_hook(ended),
               block.register_forward_pre_hook(halfway)]
    steps = []
    try:
        result = engine.run(job, on_step=steps.append, should_stop=lambda: stop["now"])
    finally:
        for handle in handles:
            handle.remove()
    return result, steps, calls
