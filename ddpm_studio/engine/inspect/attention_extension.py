"""Attention maps as an extension of a latent run's stages (sampling/stages.py): a per-word recorder on the UNet's
cross-attention (attention_maps.py), or on an MMDiT's joint attention (joint_attention.py: SD 3.5, Flux.1), sized to
the run's latents, whose maps ride on each step's event. Where prompt editing changes the text between steps
(prompts/editing.py), each step's maps are of the words that step read."""

from __future__ import annotations

import contextlib

from ddpm_studio.engine.errors import ModelError
from ddpm_studio.engine.inspect.attention_maps import AttentionRecorder, word_positions
from ddpm_studio.engine.inspect.joint_attention import JointAttentionRecorder, joint_families, joint_word_positions
from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.prompts.editing import has_editing, texts_per_step
from ddpm_studio.engine.prompts.syntax import plain_text
from ddpm_studio.engine.sampling.latent import job_mode
from ddpm_studio.engine.sampling.stages import Extension, LatentRun


class AttentionMaps(Extension):
    def __init__(self) -> None:
        self.recorder: AttentionRecorder | None = None
        self.words_of = None  # text → its words' token positions, where prompt editing changes the text
        self.plans: dict[int, list[str]] = {}  # steps of a pass → the text each step reads
        self.known: dict[str, list] = {}

    def prepare(self, run: LatentRun) -> None:
        pipe, args, job = run.pipe, run.args, run.job  # the pipeline that runs (ControlNet's, when it steers)
        factor = pipe.vae_scale_factor
        height, width = (args["height"], args["width"]) if "height" in args else (args["image"].height,
                                                                                 args["image"].width)

        def prompt_row(batch: int) -> int:
            """Which row of the UNet's batch is image 0 with the prompt: the second half under classifier-free
            guidance (the negative prompt's first), the first for InstructPix2Pix (prompt, image, negative)."""
            if job_mode(job) == "instruct" or not getattr(pipe, "do_classifier_free_guidance", False):
                return 0
            return batch // 2

        size = (height // factor, width // factor)
        family = family_of_info(run.loaded.info)
        if family is not None and family.key in joint_families():
            if job_mode(job) == "instruct":  # Kontext's sequence holds the input picture's tokens too
                raise ModelError(f"Attention maps are not recorded for {family.name}'s instruction editing yet; "
                                 "run it without them.")
            self.words_of = lambda text: joint_word_positions(pipe, family.key, plain_text(text))
            self.recorder = JointAttentionRecorder(pipe.transformer, [], size, prompt_row)
        else:
            self.words_of = lambda text: word_positions(pipe, text)
            self.recorder = AttentionRecorder(pipe.unet, [], size, prompt_row)
        self._use(run.used.prompt)
        if not has_editing(run.used.prompt):
            self.words_of = None  # the same words every step: nothing to do between them

    def step_end(self, run: LatentRun, index: int, callback_kwargs: dict) -> None:
        if self.words_of is None:
            return
        job = run.job
        steps = (getattr(job, "hires_steps", 0) or job.steps) if run.second_pass else job.steps
        if steps not in self.plans:
            self.plans[steps] = texts_per_step(run.used.prompt, steps)
        plan = self.plans[steps]
        self._use(plan[min(index, len(plan) - 1)])

    def _use(self, text: str) -> None:
        """Record the words of ``text`` (each text's positions found once)."""
        if text not in self.known:
            self.known[text] = self.words_of(text)
        self.recorder.words = self.known[text]
        self.recorder.names = tuple(word for word, _ in self.recorder.words)

    def context(self) -> contextlib.AbstractContextManager:
        return self.recorder

    def step_fields(self) -> dict:
        return {"attention": self.recorder.take(), "attention_words": self.recorder.names}
