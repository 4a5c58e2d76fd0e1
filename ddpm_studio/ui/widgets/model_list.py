"""The model list of a sampling panel, mixed into SamplingPanel: what the panel takes from the bundled models, the
user's folders and the Hugging Face cache; choosing one, which brings its recommended settings; adding a folder or a
checkpoint file, with a message that counts what it holds and says which panels take the rest."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from ddpm_studio.engine.models.catalogue import (
    ModelError,
    ModelInfo,
    folder_models,
    inspect_model,
    panels_of,
)
from ddpm_studio.engine.models.defaults import recommended_settings


class ModelList:
    """Needs the panel's ``model_box`` (a ModelPicker), ``scheduler_box``, ``schedule`` (a ScheduleBox), ``steps``,
    ``settings``, ``ready``, ``accepts``, ``refuse_reason``, ``model_changed``, ``apply_defaults``,
    ``status_message``, ``show_error`` and ``_update_buttons``."""

    _refreshing: bool  # True while the list is emptied and filled again

    @property
    def model_infos(self) -> dict[str, ModelInfo]:
        """ref → info of what the list shows."""
        return self.model_box.infos

    def current_model_info(self) -> ModelInfo | None:
        return self.model_box.current_info()

    def refresh_models(self, include_hf_cache: bool = False) -> None:
        self._refreshing = True  # model_changed is told it is a re-listing (Generate keeps the guide chosen)
        try:
            changed = self.model_box.refresh(include_hf_cache)
            if changed or self.model_box.count():
                self.model_changed(self.current_model_info())
        finally:
            self._refreshing = False
        if changed:
            self._model_selected()
        self._update_buttons()

    def _model_selected(self, *_) -> None:
        """A newly chosen model brings its recommended scheduler and steps (its family's, or its folder's), as
        InvokeAI's per-model default settings do; a restored job (settings, a dropped PNG) sets its own afterwards."""
        info = self.current_model_info() if not self._refreshing else None
        if info is None:
            return
        defaults = recommended_settings(info)
        applied = self.put_settings(info, defaults)
        if applied:
            self.status_message.emit(f"{info.label}: its recommended settings, {', '.join(applied)}")

    def put_settings(self, info, defaults: dict) -> list[str]:
        """Put recommended settings (a model's, a few-step preset's: models/presets.py) into the form; what was set,
        in words. A scheduler comes with its schedule type ("" when it names none: the model's own spacing)."""
        from ddpm_studio.engine.jobs.schedule_types import SCHEDULE_TYPES, split_name

        applied = [defaults["preset"]] if defaults.get("preset") else []
        name, schedule = split_name(defaults.get("scheduler") or "", defaults.get("schedule", ""))
        index = self.scheduler_box.findData(name)
        if index >= 0:
            self.scheduler_box.setCurrentIndex(index)
            applied.append(self.scheduler_box.itemText(index))
            if self.schedule.set(schedule) and schedule:
                applied[-1] += f" {SCHEDULE_TYPES[schedule].label}"
        if "steps" in defaults:
            self.steps.setValue(defaults["steps"])
            applied.append(f"{defaults['steps']} steps")
        return applied + self.apply_defaults(info, defaults)

    def select_model(self, ref: str) -> bool:
        return self.model_box.select(ref)

    def add_model_folder(self, folder: str) -> None:
        """Remember ``folder`` (a pipeline, a folder of pipelines, or a checkpoint file); explain if it holds no usable
        model, and then do not remember it (it would be listed, and read, at every start)."""
        before = {self.model_box.itemData(i) for i in range(self.model_box.count())}
        new = folder not in self.settings.model_folders
        self.settings.add_model_folder(folder)
        self.refresh_models(include_hf_cache=self.ready)
        added = [self.model_box.itemData(i) for i in range(self.model_box.count()) if self.model_box.itemData(i) not in before]
        found = folder_models(folder, self.settings.allow_pickle)
        if not found and new:
            self.settings.remove_model_folder(folder)
        what = "file" if Path(folder).is_file() else "folder"
        elsewhere = panels_of([info for info in found if not self.accepts(info)])
        if added:
            self.select_model(added[0])
            total = max(len(found), len(added))
            text = f"Added {total} model{'s' if total != 1 else ''} from {folder}"
            self.status_message.emit(text + (f": {len(added)} for this panel, {elsewhere}" if elsewhere else ""))
            return
        if found and not any(self.accepts(info) for info in found):
            reason = self.refuse_reason(found[0]) if len(found) == 1 else f"{folder} holds {elsewhere}."
            self.show_error(f"This {what} holds no model for this panel", reason)
            return
        try:
            info = inspect_model(folder, self.settings.allow_pickle)
        except ModelError as exc:
            self.show_error(f"This {what} holds no model DDPM Studio can use", str(exc))
            return
        if self.accepts(info):
            self.status_message.emit(f"{folder} is already in the list")
        else:
            self.show_error(f"This {what} holds no model for this panel", self.refuse_reason(info))

    def add_trained_model(self, folder: str) -> None:
        """A model the Train panel just exported: list it and select it, ready to sample."""
        self.settings.add_model_folder(folder)
        self.refresh_models(include_hf_cache=self.ready)
        self.select_model(str(Path(folder).resolve()))

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder (a diffusers pipeline, or a folder of them)")
        if folder:
            self.add_model_folder(folder)

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a single-file checkpoint", "",
                                              "Checkpoints (*.safetensors *.gguf *.ckpt)")
        if path:
            self.add_model_folder(path)
