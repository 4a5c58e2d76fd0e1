"""Where a run's NaN (or infinite) numbers came from, said in one sentence with the fix that fits.

A NaN anywhere in a latent run ends as a black image, whatever started it: an add-on with NaN values, prompt
weights that overflow the text embeddings, a LoRA strong enough to overflow the model, a model whose prediction
overflows at some step, or a half-precision VAE that overflows while decoding good latents (SD 1.x's and SDXL's VAEs
do in fp16: the known case, whose fix — the VAE in fp32 — is offered as a typed remedy, ``errors.VAE_FP32``, and
only there).

What the run pays: one ``isfinite`` reduction per VAE call on its input and one per step on the latents
(``VaeWatch``), each kept as a tensor (no device sync) and read only when the picture is not finite, to say at which
step the sampling went wrong. Then the causes are looked for in the order the numbers flow:
the VAE decode (finite latents in, NaN out), the VAE encode of an input picture, the embeddings and LoRAs in play,
the prompt's text embeddings (encoded again: the pipeline does not hand them back), the model's own weights, and
what is left is the model's prediction during sampling. Files are checked when they load as well
(``addons/values.py``), so a damaged add-on is refused before a run, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ddpm_studio.engine.addons.values import first_non_finite
from ddpm_studio.engine.errors import NON_FINITE, REMEDIES, VAE_FP32
from ddpm_studio.engine.models.catalogue import ModelError

HALF = (torch.float16, torch.bfloat16)


class NonFiniteError(ModelError):
    """A run produced NaN values. ``stage`` says where they first appeared ("decode", "encode", "embedding", "lora",
    "prompt", "model", "sampling"); ``culprit`` names the file when one is the cause; ``remedy`` is a fix the UI may
    offer as an action (``errors.REMEDIES``), "" when none would help."""

    kind = NON_FINITE

    def __init__(self, message: str, stage: str, culprit: str = "", remedy: str = "") -> None:
        super().__init__(message)
        self.stage, self.culprit, self.remedy = stage, culprit, remedy


def _name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


class VaeWatch:
    """While inside: whether each VAE decode's input (the latents) and each encode's output was finite, and the
    dtype the decoder ran in. One reduction per call, kept on the device until asked."""

    def __init__(self, vae) -> None:
        self.vae = vae
        self.decoded: list[tuple[torch.Tensor, torch.dtype]] = []
        self.encoded: list[tuple[torch.Tensor, torch.dtype]] = []
        self.steps: list[tuple[int, torch.Tensor]] = []  # (step, whether its latents were finite), every step
        self._handles = []

    def __enter__(self) -> "VaeWatch":
        vae = self.vae
        entry = getattr(vae, "post_quant_conv", None) or getattr(vae, "decoder", None)
        if isinstance(entry, torch.nn.Module):
            self._handles.append(entry.register_forward_pre_hook(self._before_decode))
        encoder = getattr(vae, "encoder", None)
        if isinstance(encoder, torch.nn.Module):
            self._handles.append(encoder.register_forward_hook(self._after_encode))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _before_decode(self, module, inputs) -> None:
        if inputs and isinstance(inputs[0], torch.Tensor):
            self.decoded.append((torch.isfinite(inputs[0]).all(), self._dtype(module)))

    def _after_encode(self, module, _inputs, output) -> None:
        if isinstance(output, torch.Tensor):
            self.encoded.append((torch.isfinite(output).all(), self._dtype(module)))

    @staticmethod
    def _dtype(module) -> torch.dtype:
        parameter = next(module.parameters(), None)
        return parameter.dtype if parameter is not None else torch.float32

    def step_done(self, step: int, latents) -> None:
        """A step's latents: whether they are finite, kept unread (the reduction is queued, never waited for)."""
        if isinstance(latents, torch.Tensor):
            self.steps.append((step, torch.isfinite(latents).all()))

    def first_bad_step(self) -> int | None:
        """The first step (0-based) whose latents were not finite, else None."""
        return next((step for step, ok in self.steps if not bool(ok)), None)

    def latents_finite(self) -> bool | None:
        """Whether every latent the VAE decoded was finite; None when it decoded nothing."""
        return all(bool(ok) for ok, _ in self.decoded) if self.decoded else None

    def decode_dtype(self) -> torch.dtype | None:
        return self.decoded[-1][1] if self.decoded else None

    def bad_encode(self) -> torch.dtype | None:
        """The dtype of the first VAE encode whose output was not finite, else None."""
        return next((dtype for ok, dtype in self.encoded if not bool(ok)), None)


def explain(loaded, job, used, args: dict, watch: VaeWatch) -> NonFiniteError:
    """Why the run's picture holds NaN values: the first cause found, in the order the numbers flow."""
    pipe = loaded.pipe
    vae_name = _vae_name(loaded)
    decoded = decode_cause(watch, vae_name)
    if decoded is not None:
        return decoded
    dtype = watch.bad_encode()
    if dtype is not None:
        if dtype in HALF:
            return NonFiniteError(
                f"The VAE ({vae_name}) turned the input picture into NaN values in {_name(dtype)}: the known "
                f"half-precision VAE overflow. Turn on {REMEDIES[VAE_FP32]}.", "encode", remedy=VAE_FP32)
        return NonFiniteError(f"The VAE ({vae_name}) turned the input picture into NaN values in {_name(dtype)}: its "
                              "weights are broken; choose another VAE.", "encode", culprit=vae_name)
    found = _embedding_culprit(pipe, used) or _lora_culprit(loaded, used)
    if found is not None:
        return found
    text = _text_embeddings_culprit(loaded, job, used, args)
    if text is not None:
        return text
    broken = _broken_component(pipe)
    if broken:
        return NonFiniteError(f"The model {loaded.info.path} holds NaN or infinite weights in its {broken}: the file "
                              "is damaged; use another copy of it.", "model", culprit=str(loaded.info.path))
    unet_dtype = getattr(getattr(pipe, "unet", None), "dtype", torch.float32)
    advice = ("run in bf16 or fp32 (Precision in Settings → Preferences, or --precision)" if unet_dtype in HALF else
              "a lower guidance scale or another scheduler may avoid it")
    in_play = _in_play(used)
    if in_play:
        advice += "; or run without those add-ons, or with lower LoRA weights"
    step = watch.first_bad_step()
    when = f"at step {step + 1}" if step is not None else "during sampling"
    return NonFiniteError(
        f"The model's prediction ({loaded.info.path}) became NaN {when} in {_name(unet_dtype)} (a black "
        f"image){in_play}; the prompt's text embeddings and the weights are finite: {advice}.", "sampling")


def decode_cause(watch: VaeWatch, vae_name: str) -> NonFiniteError | None:
    """The error when the VAE decoded finite latents into NaN values (the half-precision one offers the VAE in fp32),
    else None: the latents were not finite, or nothing was decoded."""
    if not watch.latents_finite():
        return None
    dtype = watch.decode_dtype()
    if dtype in HALF:
        return NonFiniteError(
            f"The VAE ({vae_name}) decoded good latents into NaN values (a black image) in {_name(dtype)}: the known "
            f"half-precision VAE overflow. Turn on {REMEDIES[VAE_FP32]}.", "decode", remedy=VAE_FP32)
    return NonFiniteError(
        f"The VAE ({vae_name}) decoded good latents into NaN values (a black image) in {_name(dtype)}: its weights "
        "are broken or do not fit this model; choose another VAE.", "decode", culprit=vae_name)


def _vae_name(loaded) -> str:
    slot = getattr(loaded, "vae_slot", None)
    if slot is not None and slot.current is not None:
        return str(slot.current[0])
    return f"the one in {loaded.info.path}"


def _embedding_culprit(pipe, used) -> NonFiniteError | None:
    """An embedding in the prompt whose vectors, as loaded into a text encoder, are not finite."""
    for name, path in used.embeddings if used else ():
        for tokenizer, encoder in _text_encoders(pipe):
            added = getattr(tokenizer, "added_tokens_encoder", {})
            ids = [i for token, i in added.items() if token == name or re.fullmatch(rf"{re.escape(name)}_\d+", token)]
            table = encoder.get_input_embeddings().weight
            if ids and not bool(torch.isfinite(table[ids]).all()):
                return NonFiniteError(f"The embedding {name} ({path}) holds NaN values, and the prompt names it: "
                                      "take it out of the prompt, or use another copy of the file.", "embedding",
                                      culprit=str(path))
    return None


def _text_encoders(pipe) -> list[tuple[object, object]]:
    pairs = [(getattr(pipe, "tokenizer", None), getattr(pipe, "text_encoder", None)),
             (getattr(pipe, "tokenizer_2", None), getattr(pipe, "text_encoder_2", None))]
    return [(t, e) for t, e in pairs if t is not None and e is not None]


def _lora_culprit(loaded, used) -> NonFiniteError | None:
    """A LoRA in play whose own weights, or whose change to a layer at its weight, are not finite."""
    loras = getattr(getattr(loaded, "addons", None), "loras", None)
    if loras is None or not loras.active or not used or not used.loras:
        return None
    by_path = {path: adapter for (path, _), adapter in loras.adapters.items()}
    named = {by_path.get(str(Path(path).resolve())): (name, weight, path) for name, weight, path in used.loras}
    from peft.tuners.lora import LoraLayer

    for component in ("text_encoder", "text_encoder_2", "unet"):
        model = getattr(loaded.pipe, component, None)
        for layer in model.modules() if model is not None else ():
            if not isinstance(layer, LoraLayer):
                continue
            for adapter, _ in loras.active:
                if adapter not in layer.lora_A or adapter not in named:
                    continue
                name, weight, path = named[adapter]
                parts = (layer.lora_A[adapter].weight, layer.lora_B[adapter].weight)
                if not all(bool(torch.isfinite(p).all()) for p in parts):
                    return NonFiniteError(f"The LoRA {name} ({path}) holds NaN values: take it out of the run, or use "
                                          "another copy of the file.", "lora", culprit=str(path))
                base = layer.get_base_layer().weight
                if not bool(torch.isfinite(layer.get_delta_weight(adapter).to(base.dtype)).all()):
                    return NonFiniteError(
                        f"The LoRA {name} ({path}) at weight {weight:g} overflows the model's weights in "
                        f"{_name(base.dtype)} (NaN, a black image): use a lower weight, or take it out of the run.",
                        "lora", culprit=str(path))
    return None


def _text_embeddings_culprit(loaded, job, used, args: dict) -> NonFiniteError | None:
    """The prompt's text embeddings, as the run had them (or encoded again), when they are not finite."""
    from ddpm_studio.engine.prompts.encoding import text_embeddings
    from ddpm_studio.engine.prompts.syntax import heaviest

    pipe = loaded.pipe
    given = [args[k] for k in ("prompt_embeds", "negative_prompt_embeds", "pooled_prompt_embeds",
                               "negative_pooled_prompt_embeds") if isinstance(args.get(k), torch.Tensor)]
    prompt = used.prompt if used else job.prompt
    negative = used.negative_prompt if used else job.negative_prompt
    if not given:
        try:
            with torch.inference_mode():
                given = [t for text in (prompt, negative) for t in text_embeddings(pipe, text, job.clip_skip)]
        except Exception:  # a pipeline this encoding does not serve: the text embeddings go unchecked
            return None
    if all(bool(torch.isfinite(t).all()) for t in given):
        return None
    encoder = getattr(pipe, "text_encoder", None) or getattr(pipe, "text_encoder_2", None)
    dtype = getattr(encoder, "dtype", torch.float32)
    if _broken_component(pipe, ("text_encoder", "text_encoder_2")):
        return NonFiniteError(f"The model {loaded.info.path} holds NaN or infinite weights in its text encoder: the "
                              "file is damaged; use another copy of it.", "model", culprit=str(loaded.info.path))
    piece = heaviest(prompt, negative)
    if piece is not None and abs(piece.weight) > 1:
        return NonFiniteError(f"The prompt's text embeddings became NaN in {_name(dtype)} (a black image): "
                              f"'{piece.text.strip()[:40]}' weighs {piece.weight:.3g} there; lower the emphasis "
                              "(fewer brackets, or a weight such as (word:1.5)).", "prompt")
    in_play = _in_play(used)
    if dtype in HALF:
        advice = "run in bf16 or fp32 (Precision in Settings → Preferences, or --precision)"
    elif in_play:
        advice = "its weights and the add-ons' values are finite; run without those add-ons, or with lower LoRA weights"
    else:
        advice = "its weights are finite; try another wording of the prompt"
    return NonFiniteError(f"The text encoder turned the prompt into NaN values in {_name(dtype)} (a black image)"
                          f"{in_play}: {advice}.", "prompt")


def _in_play(used) -> str:
    """", with the LoRA(s) … and the embedding(s) … in play" for a message, or "" when none are."""
    loras = [f"{name} ({weight:g})" for name, weight, _ in used.loras if weight] if used else []
    embeddings = [name for name, _ in used.embeddings] if used else []
    parts = ([f"the LoRA(s) {', '.join(loras)}"] if loras else []) + (
        [f"the embedding(s) {', '.join(embeddings)}"] if embeddings else [])
    return f", with {' and '.join(parts)} in play" if parts else ""


def _broken_component(pipe, names=("text_encoder", "text_encoder_2", "unet")) -> str:
    """The first of the model's parts whose weights hold NaN or infinite values, in words; "" when none do."""
    words = {"text_encoder": "text encoder", "text_encoder_2": "second text encoder", "unet": "UNet"}
    for name in names:
        model = getattr(pipe, name, None)
        if isinstance(model, torch.nn.Module) and first_non_finite(model.named_parameters()) is not None:
            return words[name]
    return ""
