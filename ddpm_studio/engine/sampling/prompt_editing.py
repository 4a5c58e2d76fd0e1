"""Prompt editing and alternation (``prompts/editing.py``: ``[from:to:when]``, ``[a|b]``) as an extension of a
latent run's stages: the text embeddings change at the scheduled steps.

Each distinct text of the prompt's and the negative prompt's schedules is encoded once, before the run (A1111's
weights, ``prompts/encoding.py``), all padded to one length. The run starts on step 0's texts; at the end of a step
whose next step reads other texts, the pipeline's step callback hands it the next step's embeddings: diffusers'
SD, SDXL and ControlNet pipelines take ``prompt_embeds`` (SDXL's pooled one as ``add_text_embeds``) back from
``callback_on_step_end`` for the next step — the names each lists in ``_callback_tensor_inputs``. The tensors they
hold there are the negative's rows, then the prompt's (classifier-free guidance; ``pipeline_stable_diffusion.py``
``torch.cat([negative_prompt_embeds, prompt_embeds])``), or the prompt's alone without guidance, each repeated per
picture; InstructPix2Pix's are the prompt's, then the negative's twice (``pipeline_stable_diffusion_instruct_pix2pix``).
Each step's event names the text it switched to (``StepEvent.prompt_switch``). A hires fix's second pass reads the
schedule again from its start over its own steps (the hires steps), as A1111 schedules its hires pass.

Only a run whose prompt has editing gets this extension (``runner.latent_extensions``): any other pays nothing per
step. SD 3.5 follows it too: each text's plain words (it takes no weights) through its pipeline's own
``encode_prompt`` — both CLIPs and T5 — its callback taking ``prompt_embeds`` and ``pooled_prompt_embeds``. Another
family that reads its prompt through T5 or another language model (its row: no ``prompt_weights``; Flux's callback
cannot change its pooled CLIP embedding) is given the prompt's plain words, and the run's note says that prompt
editing was not applied.
"""

from __future__ import annotations

import torch

from ddpm_studio.engine.models.families import family_of_info
from ddpm_studio.engine.prompts.editing import has_editing, texts_per_step
from ddpm_studio.engine.prompts.encoding import encoded_alike
from ddpm_studio.engine.sampling.stages import Extension, LatentRun

NOT_APPLIED = ("prompt editing ([from:to:when], [a|b]) was not applied: {family} reads its prompt through T5 or "
               "another language model, not CLIP alone; the prompt was read as plain words")


def wants_prompt_editing(prompt: str, negative: str) -> bool:
    """Whether a job's prompt or negative prompt (its LoRA tags taken out) uses editing or alternation."""
    from ddpm_studio.engine.prompts.syntax import lora_tags

    return has_editing(lora_tags(prompt)[0]) or has_editing(lora_tags(negative)[0])


class PromptEditing(Extension):
    def __init__(self) -> None:
        self.steps: list[tuple[str, str]] = []  # (prompt, negative) read at each step
        self.passes: dict[int, list[tuple[str, str]]] = {}  # the same for a pass of other steps (a hires pass)
        self.texts: tuple[str, str] = ("", "")  # the run's written prompt and negative (tags out)
        self.last: tuple[str, str] | None = None  # the texts the step before read
        self.encoded: dict = {}
        self.zero_negative = False
        self.pooled_name = "add_text_embeds"
        self.ready: dict = {}  # (pair, rows, name) → the tensor the pipeline holds, made at the first switch
        self.fields: dict = {}

    def prepare(self, run: LatentRun) -> None:
        family = family_of_info(run.loaded.info)
        sd3 = family is not None and family.key == "sd3"
        if family is not None and not family.prompt_weights and not sd3:
            run.notes.append(NOT_APPLIED.format(family=family.name))
            return
        inputs = getattr(run.pipe, "_callback_tensor_inputs", ())
        if "prompt_embeds" not in inputs:
            run.notes.append(f"prompt editing ([from:to:when], [a|b]) was not applied: this pipeline "
                             f"({type(run.pipe).__name__}) does not take new prompt embeddings between steps")
            return
        job, pipe = run.job, run.pipe
        self.texts = (run.used.prompt, run.used.negative_prompt)
        hires = getattr(job, "hires_steps", 0) or job.steps if getattr(job, "hires_scale", 1.0) != 1.0 else job.steps
        for steps in {job.steps, hires}:
            self.passes[steps] = list(zip(texts_per_step(self.texts[0], steps), texts_per_step(self.texts[1], steps)))
        self.steps = self.passes[job.steps]
        texts = [text for plan in self.passes.values() for pair in plan for text in pair]
        self.encoded = _sd3_encoded(pipe, texts, job.clip_skip) if sd3 else encoded_alike(pipe, texts, job.clip_skip)
        xl = getattr(pipe, "text_encoder_2", None) is not None  # SDXL's (and SD 3.5's) pooled embedding
        self.pooled_name = "pooled_prompt_embeds" if sd3 else "add_text_embeds"  # as the step callback holds it
        self.zero_negative = xl and not sd3 and not run.used.negative_prompt and bool(
            getattr(pipe.config, "force_zeros_for_empty_prompt", False))
        first, first_negative = self.steps[0]
        for key in ("prompt", "negative_prompt", "prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds",
                    "negative_pooled_prompt_embeds"):
            run.args.pop(key, None)
        positive, pooled = self.encoded[first]
        negative, negative_pooled = self._negative(first_negative)
        run.args.update(prompt_embeds=positive, negative_prompt_embeds=negative)
        if xl:
            run.args.update(pooled_prompt_embeds=pooled, negative_pooled_prompt_embeds=negative_pooled)
        run.args["callback_on_step_end_tensor_inputs"] = ["latents", "prompt_embeds"] + (
            [self.pooled_name] if xl and self.pooled_name in inputs else [])

    def step_end(self, run: LatentRun, index: int, callback_kwargs: dict) -> None:
        self.fields = {}
        if not self.passes:
            return
        if index == 0:  # a pass begins: the first's steps, or a hires pass's own
            self.steps = self.passes[getattr(run.job, "hires_steps", 0) or run.job.steps if run.second_pass
                                     else run.job.steps]
        now = self._pair(index)
        if self.last is not None and now != self.last:
            self.fields = {"prompt_switch": now[0] if now[0] != self.last[0] else f"negative: {now[1]}"}
        self.last = now
        following = self._pair(index + 1)
        if following == now:
            return
        for name, which in (("prompt_embeds", 0), (self.pooled_name, 1)):
            held = callback_kwargs.get(name)
            if isinstance(held, torch.Tensor):
                callback_kwargs[name] = self._rows(following, held, which, run.job.batch_size, run.pipe)

    def step_fields(self) -> dict:
        return self.fields

    def _pair(self, index: int) -> tuple[str, str]:
        return self.steps[min(index, len(self.steps) - 1)]

    def _negative(self, text: str):
        negative, pooled = self.encoded[text]
        if self.zero_negative:  # an empty SDXL negative stays zeros, as diffusers makes it
            return torch.zeros_like(negative), torch.zeros_like(pooled) if pooled is not None else None
        return negative, pooled

    def _rows(self, pair: tuple[str, str], held: torch.Tensor, which: int, pictures: int, pipe) -> torch.Tensor:
        """The tensor the pipeline holds for ``pair``, laid out as ``held`` is (see the module's docstring)."""
        key = (pair, held.shape[0], which)
        if key not in self.ready:
            positive = self.encoded[pair[0]][which]
            negative = self._negative(pair[1])[which]
            positive = positive.to(held.device, held.dtype).expand(pictures, *positive.shape[1:])
            negative = negative.to(held.device, held.dtype).expand(pictures, *negative.shape[1:])
            if held.shape[0] == pictures:
                rows = [positive]
            elif held.shape[0] == 3 * pictures and "InstructPix2Pix" in type(pipe).__name__:
                rows = [positive, negative, negative]
            elif held.shape[0] == 2 * pictures:
                rows = [negative, positive]
            else:
                return held  # a layout not known here: the text stays as it was
            self.ready[key] = torch.cat(rows).contiguous()
        return self.ready[key]


def _sd3_encoded(pipe, texts, clip_skip: int) -> dict:
    """SD 3.5's texts as its pipeline encodes a prompt — the plain words (it takes no weights), through both CLIPs and
    T5, joined along the tokens at one length (77 + T5's 256) — with the pooled CLIP embedding; each text once."""
    from ddpm_studio.engine.prompts.syntax import plain_text

    encoded = {}
    with torch.inference_mode():
        for text in dict.fromkeys(texts):
            embeds, _, pooled, _ = pipe.encode_prompt(
                prompt=plain_text(text), prompt_2=None, prompt_3=None, device=pipe._execution_device,
                num_images_per_prompt=1, do_classifier_free_guidance=False,
                clip_skip=clip_skip - 1 if clip_skip > 1 else None)
            encoded[text] = (embeds, pooled)
    return encoded
