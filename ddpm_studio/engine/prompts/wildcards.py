"""Wildcards: ``{a|b|c}`` picks one of its options, ``__name__`` one line of ``name.txt`` from the wildcards folders,
resolved per image from its seed, so that a seed reproduces its prompt. Plain functions; no torch.

The template language is sd-dynamic-prompts' (the A1111 extension; its ComfyUI nodes read the same), done by its own
library, ``dynamicprompts`` (MIT): ``{a|b}``, ``{2$$a|b|c}`` (two of them), ``{0.5::a|b}`` (weighted), ``__name__``
and ``__folder/name__`` (a ``.txt`` file in a sub-folder), ``__folder/*__`` (any file of the folder), a wildcard's
lines holding wildcards of their own, ``#`` lines as comments. Its random sampler is seeded per call here (a fresh
generator with ``random.Random(seed)``), so image i of a batch — whose seed is the job's seed + i — resolves the
same prompt on every run and alone (a restored image's job starts at its own seed).

The prompt's A1111 syntax — ``(word:1.2)``, ``[a|b]`` alternation, ``[a:b:0.5]`` editing, ``<lora:…>`` — has no
``{`` and no ``__`` and passes through untouched; only a prompt holding ``{`` or ``__`` is read here at all. A
``__name__`` no folder holds is an error naming it and the folders searched (the library would leave it in the
prompt as text); a wildcard file that cannot be read is skipped, and the run's note names it.
"""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

from ddpm_studio.engine.errors import ModelError

log = logging.getLogger(__name__)


class WildcardError(ModelError):
    """A wildcard prompt cannot be resolved: an unknown ``__name__`` or a template the parser cannot read."""


WILDCARD = re.compile(r"__[^_\s][^\s]*?__")  # __name__, __folder/name__, __folder/*__ (no spaces inside)


def has_wildcards(text: str) -> bool:
    """Whether ``text`` may hold wildcards: a ``{`` or a ``__name__`` (else it is left exactly as it is: a lone
    ``__`` or ``snake__case`` is text)."""
    return "{" in text or WILDCARD.search(text) is not None


def _manager(folders: list[str], skipped: list[str]):
    """A dynamicprompts WildcardManager over ``folders`` that raises on an unknown name and skips unreadable files."""
    from dynamicprompts.wildcards import WildcardManager

    class Manager(WildcardManager):
        def match_collections(self, wildcard):
            for collection in super().match_collections(wildcard):
                try:
                    collection.get_values()  # read (and cached) here, so a file that cannot be read is left out
                except (OSError, UnicodeError) as exc:
                    name = str(getattr(collection, "_path", collection))
                    if name not in skipped:
                        skipped.append(name)
                        log.warning("wildcard file %s cannot be read: %s", name, exc)
                    continue
                yield collection

        def get_values(self, wildcard):
            values = super().get_values(wildcard)
            if len(values) == 0:
                searched = ", ".join(folders) or "none (add one: --wildcards DIR, or Preferences → Your files)"
                unread = f" ({', '.join(skipped)} could not be read)" if skipped else ""
                raise WildcardError(f"The prompt's wildcard __{wildcard}__ is in no wildcards folder: no {wildcard}.txt "
                                    f"in {searched}{unread}.")
            return values

    existing = [Path(f).expanduser() for f in folders if Path(f).expanduser().is_dir()]
    return Manager(root_map={"": existing}) if existing else Manager()


class Resolver:
    """Resolves templates against ``folders`` (wildcards folders, in order); ``skipped`` names the files that could
    not be read."""

    def __init__(self, folders=()) -> None:
        self.folders = [str(f) for f in folders]
        self.skipped: list[str] = []
        self._manager = None

    def resolve(self, template: str, seed: int) -> str:
        """``template`` with every ``{…}`` and ``__name__`` chosen from ``seed``; the same seed, the same text."""
        if not has_wildcards(template):
            return template
        from dynamicprompts.sampling_context import SamplingContext
        from pyparsing import ParseBaseException
        from dynamicprompts.enums import SamplingMethod

        if self._manager is None:
            self._manager = _manager(self.folders, self.skipped)
        context = SamplingContext(wildcard_manager=self._manager, default_sampling_method=SamplingMethod.RANDOM,
                                  rand=random.Random(seed))
        try:
            return str(next(iter(context.sample_prompts(template, 1))))
        except WildcardError:
            raise
        except (ParseBaseException, ValueError, RecursionError, StopIteration) as exc:
            raise WildcardError(f"The prompt's wildcards cannot be read ({exc}): {template!r}.") from None

    def resolve_batch(self, prompt: str, negative: str, seed: int, count: int) -> list[tuple[str, str]]:
        """(prompt, negative) for each image of a batch: image i from seed + i."""
        return [(self.resolve(prompt, seed + i), self.resolve(negative, seed + i)) for i in range(count)]

    @property
    def note(self) -> str:
        return f"wildcard files that cannot be read were skipped: {', '.join(self.skipped)}" if self.skipped else ""
