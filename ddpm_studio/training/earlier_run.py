"""A run folder that already holds a run. A new run is never mixed into it (its checkpoints would sit beside the
earlier ones, and a later resume would take the earlier run's higher step); and before a run is resumed, what
differs from the recipe it was started with — the pictures, the base model, the resolution, the trainer — is said
in words, read from its ``train_config.json``. Which trainer made a run, and what it starts from, its recipe class
says (``config.Recipe``): this module knows neither trainer. No Qt."""

from __future__ import annotations

import json
from pathlib import Path

from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training.config import Recipe
from ddpm_studio.training.events import TrainingError


class EarlierRunError(TrainingError):
    """A new run (not a resume) into a folder that holds one: ``output``, and what it holds in words
    (``earlier``), for the caller to say in its own terms."""

    def __init__(self, output: Path, earlier: str) -> None:
        self.output, self.earlier = Path(output), earlier
        super().__init__(f"{output} already holds a training run ({earlier}): resume it, move it aside, or choose "
                         "another output folder.")


def check_output_folder(output: str | Path, resume: bool, config: Recipe) -> None:
    """What both trainers check before a run: a resumed run must be this trainer's (``config``'s); a new one must
    not land beside an earlier run's checkpoints (it would mix with them)."""
    if resume:
        refuse_other_trainers_run(output, config)
    else:
        refuse_a_new_run_over(output)


def refuse_a_new_run_over(output: str | Path) -> None:
    """Raise ``EarlierRunError`` when ``output`` holds checkpoints or an exported model of an earlier run."""
    earlier = ckpt.describe_run(output)
    if earlier:
        raise EarlierRunError(Path(output), earlier)


class OtherTrainersRun(TrainingError):
    """A resume of a run the other trainer made (a LoRA run with the pixel DDPM trainer, or the reverse):
    ``output``, and the trainer that made the run there (``run_trainer``, its recipe's ``"trainer"`` mark), for the
    caller to say in its own terms."""

    def __init__(self, output: Path, run_trainer: str) -> None:
        self.output, self.run_trainer = Path(output), run_trainer
        made_by = Recipe.trainers.get(run_trainer)
        super().__init__(f"{output} holds {made_by.short_kind if made_by else 'another trainer’s'} run; resume it as "
                         "one, or choose another output folder.")

    @property
    def run_is_lora(self) -> bool:
        """Whether the run there is a LoRA one (its recipe is marked "lora"), as the Train tab asks."""
        return self.run_trainer == "lora"


def refuse_other_trainers_run(output: str | Path, config: Recipe) -> None:
    """Raise ``OtherTrainersRun`` when the run in ``output`` was made by another trainer than ``config``'s."""
    saved = saved_recipe(output)
    if saved is not None and _trainer(saved) != _trainer(config.to_dict()):
        raise OtherTrainersRun(Path(output), _trainer(saved))


def saved_recipe(output: str | Path) -> dict | None:
    """The recipe a run in ``output`` was started with (its ``train_config.json``), or None."""
    try:
        saved = json.loads((Path(output).expanduser() / "train_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) else None


def other_trainer(output: str | Path, config) -> bool:
    """Whether the run in ``output`` was made by the other trainer than ``config``'s: it cannot be resumed with it."""
    saved = saved_recipe(output)
    return saved is not None and _trainer(saved) != _trainer(config.to_dict())


def recipe_changes(output: str | Path, config) -> list[str]:
    """How ``config`` (a ``TrainConfig`` or ``LoraTrainConfig``) differs from the recipe of the run in ``output``:
    one phrase per difference of trainer, pictures, base model and resolution ("its pictures were /a, these are
    /b"); [] when they agree or the folder has no readable recipe."""
    saved = saved_recipe(output)
    if saved is None:
        return []
    mine = config.to_dict()
    changes = []
    if _trainer(saved) != _trainer(mine):
        changes.append(f"it trained {_kind(saved)}, this is {_kind(mine)}")
    data = str(saved.get("data_dir") or "")
    if not _same_place(data, config.data_dir):
        changes.append(f"its pictures were {data or 'not named'}, these are {config.data_dir}")
    base = _base(saved)
    if not _same_place(base, _base(mine)):
        changes.append(f"its base model was {base or 'not named'}, this one is {_base(mine)}")
    if saved.get("resolution") != config.resolution:
        changes.append(f"its resolution was {saved.get('resolution')}, this is {config.resolution}")
    return changes


def _trainer(recipe: dict) -> str:
    """The trainer a recipe (a saved one, or a recipe's dict) is for: its "trainer" mark, "" when it has none."""
    return str(recipe.get("trainer") or "")


def _made_by(recipe: dict) -> type[Recipe]:
    """The recipe class of the trainer that made ``recipe``; ``Recipe`` itself for a trainer not known here."""
    return Recipe.trainers.get(_trainer(recipe), Recipe)


def _kind(recipe: dict) -> str:
    """What a run of ``recipe`` trains, in words."""
    return _made_by(recipe).kind


def _base(recipe: dict) -> str:
    """The model a run starts from: a LoRA's base, a DDPM fine-tune's model, or "a new <preset> UNet"."""
    return _made_by(recipe).starts_from(recipe)


def _same_place(a: str, b: str) -> bool:
    """The same text, or two spellings of one folder or file."""
    if a == b:
        return True
    if not a or not b:
        return False
    try:
        return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
