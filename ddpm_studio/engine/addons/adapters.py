"""LoRAs and textual-inversion embeddings applied to a loaded Stable Diffusion pipeline, through diffusers' own loader
mixins (``load_lora_weights`` + ``set_adapters`` on peft; ``load_textual_inversion``), never by reloading the model.

LoRAs: each file is loaded once as a named peft adapter and kept while the job names it. The active set, with its
weights, is *fused* into the base weights (``fuse_lora``) so that a step costs what it costs without LoRAs. Before
the set or a weight changes, the base weights are put back from a copy taken before the first fuse, as ComfyUI keeps
a backup of the weights it patches (peft's unmerge would compute each LoRA's product again to subtract it, and leave
rounding behind), so weight 0, or no LoRA, gives the model's own image bit for bit, and the same weights give the same
image whatever came before. Where fusing is not possible (weights offloaded), or would need a copy of a flow
family's multi-billion-parameter transformer, the adapters stay active unfused: slower per step, the same image. A LoRA made for another family is refused before anything is loaded, naming both
families.

Every file's values are checked as it loads: one holding NaN or infinite values is refused, naming it (it would
give black images).

Embeddings: the prompt names one by its file name (matched as a word, in any case, as A1111 does through its
tokenizer); a named one is loaded into the tokenizer and text encoder(s) — SDXL's ``clip_l`` and ``clip_g`` into each
of its two — and stays for the pipeline's life. A pickle (``.pt``/``.bin``) file only where the user allows pickle
files, and then read weights-only.
"""

from __future__ import annotations

import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ddpm_studio.engine.addons.resources import (
    AddonError,
    AddonFolders,
    EmbeddingFile,
    LoraFile,
    find_lora,
    list_embeddings,
    lora_file,
    model_family,
)
from ddpm_studio.engine.addons.flow_loras import landed, lora_source
from ddpm_studio.engine.addons.values import check_values, flat_tensors, safetensors_values
from ddpm_studio.engine.errors import first_line
from ddpm_studio.engine.models.families import family_of_text_widths
from ddpm_studio.engine.prompts.syntax import lora_tags

PICKLE_REFUSED = ("is a pickle file, which can run arbitrary code when loaded; DDPM Studio loads it only if you allow "
                  "pickle files in Preferences (then weights only).")


@dataclass
class UsedAddons:
    """What a run used, for its metadata: LoRAs (name, weight, path), embeddings (name, path), and the texts the
    encoder was given (tags taken out, embedding names spelt as their tokens)."""

    loras: list[tuple[str, float, Path]] = field(default_factory=list)
    embeddings: list[tuple[str, Path]] = field(default_factory=list)
    prompt: str = ""
    negative_prompt: str = ""
    notes: list[str] = field(default_factory=list)  # what the user should know: embedding files that were not read


@contextmanager
def _quiet():
    """diffusers, peft and transformers report every key they load; the user gets our one line instead."""
    loggers = [logging.getLogger(n) for n in ("diffusers", "transformers", "peft")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR + 10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # peft: "Already found a peft_config …" for every adapter after the first
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _weights_only(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def check_lora_family(lora: LoraFile, pipe, family=None) -> None:
    """One line when ``lora`` was made for another family than the pipeline's model (``family``: its row, which a
    flow model's LoRAs are told by)."""
    if family is not None and getattr(pipe, "unet", None) is None:  # a flow transformer's
        if lora.fits(0, None, 0, arch=family.key) is False:
            raise AddonError(f"The LoRA {lora.name} is made for {lora.family}, and this model is {family.name}: "
                             f"untick it (or take its tag out of the prompt), or choose a {lora.family} model "
                             f"({lora.path}).")
        return
    context = int(pipe.unet.config.cross_attention_dim)
    xl = getattr(pipe, "text_encoder_2", None) is not None
    text = int(pipe.text_encoder.config.hidden_size) if getattr(pipe, "text_encoder", None) is not None else 0
    if lora.fits(context, xl, text) is False:
        raise AddonError(f"The LoRA {lora.name} is made for {lora.family}, and this model is {model_family(context)}: "
                         f"untick it (or take its tag out of the prompt), or choose a {lora.family} model "
                         f"({lora.path}).")


class LoraSet:
    """The LoRAs on one pipeline: loaded adapters, and which are fused at which weights."""

    def __init__(self, pipe, family=None) -> None:
        self.pipe = pipe
        self.family = family  # the model's row (None: a Stable Diffusion model of none)
        self.adapters: dict[tuple, str] = {}  # (path, mtime) → adapter name
        self.fused: tuple[tuple[str, float], ...] = ()  # what is in the base weights now
        self.active: tuple[tuple[str, float], ...] = ()  # what the pipeline applies (fused or not)
        self._originals: dict[int, tuple[torch.nn.Module, torch.Tensor]] = {}
        self._count = 0
        # False: keep the adapters unfused (bench/lora.py measures what fusing saves). A flow family's transformer
        # (2–20 B parameters) is not fused: the copy of its weights that puts them back exactly would double its
        # memory; unfused, a step costs the LoRAs' small products more, and weight 0 is still the model's own image
        self.fuse = getattr(pipe, "unet", None) is not None or family is None

    def apply(self, wanted: list[tuple[LoraFile, float]], allow_pickle: bool) -> None:
        for lora, _ in wanted:
            if lora.pickled and not allow_pickle:
                raise AddonError(f"The LoRA {lora.path} {PICKLE_REFUSED}")
            check_lora_family(lora, self.pipe, self.family)
        keys = {self._key(lora): weight for lora, weight in wanted}
        if set(keys) == set(self.adapters) and self._target(keys) == self.active:
            return  # nothing changed: no adapter loaded, nothing fused again
        if self.fused:
            self._unfuse()
        for key in [k for k in self.adapters if k not in keys]:
            with _quiet():
                self.pipe.delete_adapters([self.adapters.pop(key)])
        try:
            for lora, _ in wanted:
                if self._key(lora) not in self.adapters:
                    self._load(lora)
        except AddonError:
            self.active = ()  # some adapters changed: the next job sets its own afresh
            raise
        target = self.active = self._target(keys)
        if not self.adapters:
            self._originals = {}  # no LoRA left: the weights are the model's own again
            return
        if not target:
            self.pipe.disable_lora()
            return
        self.pipe.enable_lora()
        self.pipe.set_adapters([n for n, _ in target], [w for _, w in target])
        if self.fuse:
            self._fuse([n for n, _ in target])

    def _target(self, keys: dict[tuple, float]) -> tuple[tuple[str, float], ...]:
        """The adapters to apply and their weights (a LoRA at weight 0 is kept loaded but not applied)."""
        return tuple((self.adapters[k], w) for k, w in keys.items() if w != 0.0)

    @staticmethod
    def _key(lora: LoraFile) -> tuple:
        try:
            return str(lora.path.resolve()), lora.path.stat().st_mtime_ns
        except OSError:
            raise AddonError(f"The LoRA {lora.path} is no longer there.") from None

    def _load(self, lora: LoraFile) -> None:
        try:
            source = _weights_only(lora.path) if lora.pickled else str(lora.path)
        except Exception as exc:
            raise AddonError(f"The LoRA {lora.path} cannot be read: {first_line(exc, 240)}") from None
        check_values("LoRA", lora.path, flat_tensors(source) if lora.pickled else safetensors_values(lora.path))
        self._count += 1
        name = f"lora_{self._count}"
        flow = self.family is not None and getattr(self.pipe, "unet", None) is None
        try:
            if flow:  # a flow family's file, renamed where its loader needs it (flow_loras.py)
                source = lora_source(lora.path, self.family.key, source if lora.pickled else None)
            with _quiet():
                self.pipe.load_lora_weights(source, adapter_name=name)
        except Exception as exc:
            if flow:
                self._forget(name)
                raise AddonError(f"The LoRA {lora.path} cannot be loaded into this {self.family.name} model by "
                                 f"diffusers: {first_line(exc, 240)}") from None
            if lora.network != "LoRA":  # diffusers' own message is a list of the keys it could not rename
                import diffusers

                raise AddonError(f"The LoRA {lora.path} is a LyCORIS {lora.network} file, which diffusers "
                                 f"{diffusers.__version__} cannot apply to Stable Diffusion (it reads LoRA and LoCon "
                                 "files).") from None
            raise AddonError(f"The LoRA {lora.path} cannot be loaded by diffusers: {first_line(exc, 240)}") from None
        if flow and not landed(self.pipe, name):
            self._forget(name)
            raise AddonError(f"The LoRA {lora.path} changes none of this {self.family.name} model's layers: its keys "
                             f"(such as '{_first_key(source)}') are in a layout diffusers does not read for "
                             f"{self.family.name}, or it is made for another family.")
        self.adapters[self._key(lora)] = name

    def _forget(self, name: str) -> None:
        """An adapter that failed half-way taken out of every model it reached."""
        try:
            with _quiet():
                self.pipe.delete_adapters([name])
        except Exception:  # nothing of it was loaded
            pass

    def _lora_layers(self):
        """The peft LoRA layers of every component, each with the layer it wraps."""
        from peft.tuners.lora import LoraLayer

        for component in ("unet", "transformer", "text_encoder", "text_encoder_2", "text_encoder_3"):
            model = getattr(self.pipe, component, None)
            for module in model.modules() if model is not None else ():
                if isinstance(module, LoraLayer):
                    yield module, module.get_base_layer()

    def _fuse(self, names: list[str]) -> None:
        for _, layer in self._lora_layers():  # the base weights as they are, once per layer (a later LoRA: its own)
            if id(layer) not in self._originals:
                self._originals[id(layer)] = (layer, layer.weight.detach().to("cpu", copy=True))
        try:
            with _quiet():
                self.pipe.fuse_lora(adapter_names=names, lora_scale=1.0)
        except Exception:  # offloaded weights: stay unfused (slower per step, the same image)
            self._unfuse()
            return
        self.fused = self.active

    def _unfuse(self) -> None:
        """The base weights put back from the copy, exactly (and at half the cost of peft's unmerge, which would
        compute every LoRA's product again to subtract it, leaving rounding behind); then peft and diffusers are
        told that nothing is merged."""
        with torch.no_grad():
            for layer, weight in self._originals.values():
                layer.weight.copy_(weight.to(layer.weight.device))
        for lora_layer, _ in self._lora_layers():
            lora_layer.merged_adapters.clear()
        with _quiet():
            self.pipe.unfuse_lora()  # nothing left to unmerge: it only updates diffusers' list of fused LoRAs
        self.fused = ()


class EmbeddingSet:
    """The embeddings loaded into one pipeline's tokenizer(s) and text encoder(s)."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self.loaded: dict[str, Path] = {}

    def widths(self) -> tuple[int, ...]:
        encoders = [getattr(self.pipe, n, None) for n in ("text_encoder", "text_encoder_2")]
        return tuple(int(e.get_input_embeddings().weight.shape[1]) for e in encoders if e is not None)

    def use(self, texts: list[str], folders: list[str],
            allow_pickle: bool) -> tuple[list[str], list[EmbeddingFile], list[str]]:
        """``texts`` with each embedding they name spelt as its token, those embeddings (loaded now if new), and a
        note for each file of the folders that could not be read (and whether the texts name it: then its word goes
        to the text encoder as plain words)."""
        available, unreadable = list_embeddings(folders)
        used: list[EmbeddingFile] = []
        for embedding in available:
            word = _word(embedding.name)
            if not any(word.search(text) for text in texts):
                continue
            self._load(embedding, allow_pickle)
            texts = [word.sub(embedding.name, text) for text in texts]
            used.append(embedding)
        taken = {e.name.lower() for e in used}
        notes = [f"{file.reason} So '{file.name}' in the prompt goes to the text encoder as plain words."
                 if file.name.lower() not in taken and any(_word(file.name).search(t) for t in texts) else file.reason
                 for file in unreadable]
        return texts, used, notes

    def _load(self, embedding: EmbeddingFile, allow_pickle: bool) -> None:
        if embedding.name in self.loaded:
            return
        if embedding.pickled and not allow_pickle:
            raise AddonError(f"The embedding {embedding.path} {PICKLE_REFUSED}")
        state = _weights_only(embedding.path) if embedding.pickled else _load_safetensors(embedding.path)
        check_values("embedding", embedding.path, flat_tensors(state))
        if embedding.pickled:
            embedding = _describe_pickled(embedding, state)
        widths = self.widths()
        if embedding.dims != widths:
            family = family_of_text_widths(widths)
            ours = f"an {family.name} model" if family else f"one whose text encoder is {widths[0]} wide"
            raise AddonError(f"The embedding {embedding.name} is made for {embedding.made_for}, and this model is "
                             f"{ours}: take '{embedding.name}' out of the prompt, or rename the file if the word is "
                             f"meant as a word ({embedding.path}).")
        try:
            with _quiet():
                if len(widths) == 2:
                    self.pipe.load_textual_inversion(state["clip_l"], token=embedding.name,
                                                     text_encoder=self.pipe.text_encoder, tokenizer=self.pipe.tokenizer)
                    self.pipe.load_textual_inversion(state["clip_g"], token=embedding.name,
                                                     text_encoder=self.pipe.text_encoder_2,
                                                     tokenizer=self.pipe.tokenizer_2)
                else:
                    self.pipe.load_textual_inversion({embedding.name: _vectors(state)}, token=embedding.name)
        except Exception as exc:
            raise AddonError(f"The embedding {embedding.path} cannot be loaded: {first_line(exc, 240)}") from None
        self.loaded[embedding.name] = embedding.path


def _first_key(source) -> str:
    if isinstance(source, dict):
        return next(iter(source), "")
    from safetensors import safe_open

    with safe_open(str(source), framework="pt") as handle:
        return next(iter(handle.keys()), "")


def _word(name: str) -> re.Pattern:
    """An embedding's name as a word of a prompt, in any case (as A1111 finds it through its tokenizer)."""
    return re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.IGNORECASE)


def _load_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:
        raise AddonError(f"{path} cannot be read: {first_line(exc)}") from None


def _vectors(state: dict) -> torch.Tensor:
    """The vectors of a one-encoder embedding, in any of its layouts."""
    if "emb_params" in state:
        return state["emb_params"]
    params = state.get("string_to_param")
    if isinstance(params, dict) and params:
        return next(iter(params.values()))
    flat = [v for k, v in state.items() if k.startswith("string_to_param")]
    tensors = flat or [v for v in state.values() if isinstance(v, torch.Tensor)]
    return tensors[0]


def _describe_pickled(embedding: EmbeddingFile, state) -> EmbeddingFile:
    if not isinstance(state, dict):
        raise AddonError(f"{embedding.path} is not a textual-inversion embedding.")
    if "clip_l" in state and "clip_g" in state:
        return EmbeddingFile(embedding.name, embedding.path, (state["clip_l"].shape[-1], state["clip_g"].shape[-1]))
    try:
        vectors = _vectors(state)
    except (IndexError, StopIteration):
        raise AddonError(f"{embedding.path} is not a textual-inversion embedding.") from None
    return EmbeddingFile(embedding.name, embedding.path, (int(vectors.shape[-1]),), pickled=True)


class PipelineAddons:
    """Everything added to one loaded pipeline; ``apply`` makes it what a job asks for."""

    def __init__(self, pipe, family=None) -> None:
        self.loras = LoraSet(pipe, family)
        self.embeddings = EmbeddingSet(pipe)
        self.takes_embeddings = family is None or "embedding" in family.addons

    def apply(self, job, folders: AddonFolders, allow_pickle: bool) -> UsedAddons:
        prompt, tags = lora_tags(job.prompt)
        wanted: list[tuple[LoraFile, float]] = []
        seen: dict[Path, str] = {}
        for ref, weight in [*job.loras, *((t.name, t.weight) for t in tags)]:
            lora = lora_file(find_lora(ref, folders.loras))
            where = lora.path.resolve()
            if where in seen:
                raise AddonError(f"The LoRA {lora.name} is chosen twice ({seen[where]} and {ref}); keep one, with the "
                                 "weight you want.")
            seen[where] = ref
            wanted.append((lora, float(weight)))
        self.loras.apply(wanted, allow_pickle)
        if not self.takes_embeddings:  # a flow family's: its prompt's words stay words
            return UsedAddons(loras=[(lora.name, weight, lora.path) for lora, weight in wanted], prompt=prompt,
                              negative_prompt=job.negative_prompt)
        (prompt, negative), embeddings, notes = self.embeddings.use([prompt, job.negative_prompt], folders.embeddings,
                                                                   allow_pickle)
        return UsedAddons(loras=[(lora.name, weight, lora.path) for lora, weight in wanted],
                          embeddings=[(e.name, e.path) for e in embeddings], prompt=prompt, negative_prompt=negative,
                          notes=notes)
