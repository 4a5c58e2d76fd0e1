"""A prompt job whose prompt holds wildcards (``prompts/wildcards.py``): each image's prompt resolved from its seed.

Image i of a batch is made from seed + i (its generator, its x_T, a variation seed + i): a batch of one at seed + i
makes the same picture. So when the images' resolved prompts differ, the batch runs as that many batches of one, each
with its own prompt — which keeps every family, add-on and extension as it is (a per-image prompt inside one
pipeline call would need per-image embeddings in every encoder path, and a wildcard may even resolve to a LoRA tag).
When all images resolve alike, the batch runs once with that text. Step events of the later images are numbered on
(image i's step k is i·steps + k of the whole), so progress and the scrubber run through the images in order.

The job keeps the template (``Result.job``, the PNG's JSON: restoring gives the template back); the output carries
each image's resolved (prompt, negative prompt), which the PNG's A1111 parameters show.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ddpm_studio.engine.events import SampleOutput
from ddpm_studio.engine.prompts.wildcards import Resolver, has_wildcards


def wants_resolving(job) -> bool:
    return has_wildcards(getattr(job, "prompt", "")) or has_wildcards(getattr(job, "negative_prompt", ""))


def _numbered_on(on_step, image: int, count: int):
    """``on_step`` with image ``image``'s events numbered after the earlier images' steps."""
    def shifted(event):
        per = event.total
        on_step(dataclasses.replace(event, index=image * per + event.index, total=per * count))
    return shifted


def _with_note(out: SampleOutput, *notes: str) -> SampleOutput:
    out.note = "; ".join(dict.fromkeys(n for n in (out.note, *notes) if n))
    return out


def run_resolved(job, run_one, on_step, folders) -> SampleOutput:
    """Run ``job`` through ``run_one(job, on_step) → SampleOutput`` with its wildcards resolved per image from the
    wildcards ``folders``; the output's ``prompts`` holds each image's (prompt, negative prompt)."""
    resolver = Resolver(folders)
    pairs = resolver.resolve_batch(job.prompt, job.negative_prompt, job.seed, job.batch_size)
    if len(set(pairs)) == 1:
        prompt, negative = pairs[0]
        out = run_one(job.replace(prompt=prompt, negative_prompt=negative), on_step)
        out.prompts = pairs
        return _with_note(out, resolver.note)
    outs: list[SampleOutput] = []
    steps = 0
    for image, (prompt, negative) in enumerate(pairs):
        one = job.replace(prompt=prompt, negative_prompt=negative, seed=job.seed + image,
                          variation_seed=job.variation_seed + image, batch_size=1)
        out = run_one(one, _numbered_on(on_step, image, len(pairs)))
        steps += out.steps_run
        if out.cancelled:
            return SampleOutput(images=None, steps_run=steps, cancelled=True, addons=out.addons)
        outs.append(out)
    whole = SampleOutput(images=np.concatenate([o.images for o in outs]), steps_run=steps, cancelled=False,
                         addons=outs[0].addons)
    whole.prompts = pairs
    return _with_note(whole, *(o.note for o in outs), resolver.note,
                      f"the {len(pairs)} images' wildcards resolved differently: run one after another")
