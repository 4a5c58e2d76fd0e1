"""A run folder that already holds a run. A new run is never mixed into it (its checkpoints would sit beside the
earlier ones, and a later resume would take the earlier run's higher step); and before a run is resumed, what
differs from the recipe it was started with — the pictures, the base model, the resolution, the trainer — is said
in words, read from its ``train_config.json``. No Qt."""

from __future__ import annotations

import json
from pathlib import Path

from ddpm_studio.training import checkpoints as ckpt
from ddpm_studio.training.events import TrainingError
from ddpm_studio.training.lora.config import LORA_TRAINER

KIND_WORDS = {False: "a pixel DDPM", True: "a Stable Diffusion LoRA"}


class EarlierRunError(TrainingError):
    """A new run (not a resume) into a folder that holds one: ``output``, and what it holds in words
    (``earlier``), for the caller to say in its own terms."""

    def __init__(self, output: Path, earlier: str) -> None:
        self.output, self.earlier = Path(output), earlier
        super().__init__(f"{output} already holds a training run ({earlier}): resume it, move it aside, or choose "
                         "another output folder.")


def check_output_folder(output: str | Path, resume: bool, lora: bool) -> None:
    """What both trainers check before a run: a resumed run must be this trainer's; a new one must not land beside
    an earlier run's checkpoints (it would mix with them)."""
    if resume:
        refuse_other_trainers_run(output, lora=lora)
    else:
        refuse_a_new_run_over(output)


def refuse_a_new_run_over(output: str | Path) -> None:
    """Raise ``EarlierRunError`` when ``output`` holds checkpoints or an exported model of an earlier run."""
    earlier = ckpt.describe_run(output)
    if earlier:
        raise EarlierRunError(Path(output), earlier)


class OtherTrainersRun(TrainingError):
    """A resume of a run the other trainer made (a LoRA run with the pixel DDPM trainer, or the reverse):
    ``output``, and whether the run there is a LoRA one (``run_is_lora``), for the caller to say in its own terms."""

    def __init__(self, output: Path, run_is_lora: bool) -> None:
        self.output, self.run_is_lora = Path(output), run_is_lora
        super().__init__(f"{output} holds {'a LoRA' if run_is_lora else 'a pixel DDPM'} run; resume it as one, or "
                         "choose another output folder.")


def refuse_other_trainers_run(output: str | Path, lora: bool) -> None:
    """Raise ``OtherTrainersRun`` when the run in ``output`` was made by the other trainer than ``lora`` says."""
    saved = saved_recipe(output)
    if saved is not None and _is_lora(saved) != lora:
        raise OtherTrainersRun(Path(output), not lora)


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
    return saved is not None and _is_lora(saved) != _is_lora(config.to_dict())


def recipe_changes(output: str | Path, config) -> list[str]:
    """How ``config`` (a ``TrainConfig`` or ``LoraTrainConfig``) differs from the recipe of the run in ``output``:
    one phrase per difference of trainer, pictures, base model and resolution ("its pictures were /a, these are
    /b"); [] when they agree or the folder has no readable recipe."""
    saved = saved_recipe(output)
    if saved is None:
        return []
    mine = config.to_dict()
    theirs_lora, ours_lora = _is_lora(saved), _is_lora(mine)
    changes = []
    if theirs_lora != ours_lora:
        changes.append(f"it trained {KIND_WORDS[theirs_lora]}, this is {KIND_WORDS[ours_lora]}")
    data = str(saved.get("data_dir") or "")
    if not _same_place(data, config.data_dir):
        changes.append(f"its pictures were {data or 'not named'}, these are {config.data_dir}")
    base = _base(saved)
    if not _same_place(base, _base(mine)):
        changes.append(f"its base model was {base or 'not named'}, this one is {_base(mine)}")
    if saved.get("resolution") != config.resolution:
        changes.append(f"its resolution was {saved.get('resolution')}, this is {config.resolution}")
    return changes


def _is_lora(recipe: dict) -> bool:
    return recipe.get("trainer") == LORA_TRAINER


def _base(recipe: dict) -> str:
    """The model a run starts from: a LoRA's base, a DDPM fine-tune's model, or "a new <preset> UNet"."""
    base = str(recipe.get("base_model") or "")
    if base or _is_lora(recipe):
        return base
    return f"a new {recipe.get('preset', 'small')} UNet"


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
