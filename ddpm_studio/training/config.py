"""What both trainers' recipes share: reading and writing one (a plain dict for settings and JSON, a
``train_config.json`` file, unknown settings refused by name), saying which trainer made a run and what it starts
from, and the mixed precision choices. Each trainer's recipe is a dataclass in its own package
(``ddpm/config.py``, ``lora/config.py``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

MIXED_PRECISION = ("auto", "no", "fp16", "bf16")  # auto: the fastest of those the device has, measured


class Recipe:
    """What both trainers' recipes do: a plain dict (for settings and JSON), read back with unknown settings
    refused by name, and a ``train_config.json`` file.

    A recipe class also says which trainer its runs are: ``trainer`` is how its ``train_config.json`` marks it (its
    ``"trainer"`` value; "" for a recipe that writes none), ``kind`` what such a run trains, in words, and
    ``starts_from`` the model one starts from. Each recipe class is listed in ``Recipe.trainers`` by its mark as it
    is defined, so that a run's saved recipe can be told by whichever trainer made it (``earlier_run.py``).
    """

    what = "training"  # the recipe's name in messages
    trainer = ""  # the "trainer" value its train_config.json holds; "" for none
    kind = "a training run"  # what its runs train, in words ("it trained a pixel DDPM")
    short_kind = "a training"  # the same, shorter ("holds a LoRA run")
    trainers: ClassVar[dict[str, type[Recipe]]] = {}  # mark → the recipe class whose runs carry it

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Recipe.trainers.setdefault(cls.trainer, cls)

    @classmethod
    def starts_from(cls, recipe: dict[str, Any]) -> str:
        """The model a run of this recipe (its saved dict, ``recipe``) starts from: its base model by default."""
        return str(recipe.get("base_model") or "")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"Unknown {cls.what} setting(s): {', '.join(unknown)}.")
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path):
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
