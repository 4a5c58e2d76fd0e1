"""Settings and last-used parameters, in an ini file under the user's config folder (QSettings)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from ddpm_studio.paths import config_dir, default_output_dir


class Settings:
    def __init__(self, path: str | Path | None = None) -> None:
        path = path or os.environ.get("DDPM_STUDIO_SETTINGS") or (config_dir() / "settings.ini")
        self.path = Path(path)
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def get_json(self, key: str, default: Any) -> Any:
        raw = self._qs.value(key)
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except (TypeError, json.JSONDecodeError):
            return default

    def set_json(self, key: str, value: Any) -> None:
        self._qs.setValue(key, json.dumps(value))

    @property
    def output_dir(self) -> str:
        return self.get_json("generate/output_dir", str(default_output_dir()))

    @output_dir.setter
    def output_dir(self, value: str) -> None:
        self.set_json("generate/output_dir", value)

    def panel_output_dir(self, panel: str) -> str:
        """The output folder of one sampling panel (``generate``, ``txt2img``, ``edit``, ``upscale``); a panel that has
        none saved yet starts in the Generate panel's (``output_dir``)."""
        value = self.get_json(f"{panel}/output_dir", None)
        return value if isinstance(value, str) and value else self.output_dir

    def set_panel_output_dir(self, panel: str, value: str) -> None:
        self.set_json(f"{panel}/output_dir", value)

    def random_seed(self, panel: str) -> bool:
        """Whether a panel draws a new seed for every run (A1111's seed −1); on unless the user turned it off."""
        return bool(self.get_json(f"{panel}/random_seed", True))

    def set_random_seed(self, panel: str, value: bool) -> None:
        self.set_json(f"{panel}/random_seed", bool(value))

    @property
    def model_folders(self) -> list[str]:
        """Where models are listed from: the user's folders, then the models home's checkpoint folders."""
        return _unique(self.user_model_folders + list(self.home_folders("checkpoints"))
                       + list(self.home_folders("diffusion_models")) + list(self.home_folders("upscalers")))

    @property
    def user_model_folders(self) -> list[str]:
        return [str(p) for p in self.get_json("models/user_folders", [])]

    def add_model_folder(self, folder: str) -> None:
        if folder not in self.model_folders:
            self.set_json("models/user_folders", self.user_model_folders + [folder])

    def remove_model_folder(self, folder: str) -> None:
        self.set_json("models/user_folders", [f for f in self.user_model_folders if f != folder])

    def set_user_model_folders(self, folders: list[str]) -> None:
        self.set_json("models/user_folders", _unique(folders))

    # ---- the user's own add-on files: LoRAs, embeddings, VAEs, and an A1111 / ComfyUI install used in place ----
    @property
    def models_home(self) -> str:
        """An A1111 or ComfyUI folder whose checkpoints, LoRAs, embeddings and VAEs are listed where they are."""
        value = self.get_json("addons/models_home", "")
        return value if isinstance(value, str) else ""

    @models_home.setter
    def models_home(self, folder: str) -> None:
        self.set_json("addons/models_home", folder)

    def home_folders(self, kind: str) -> tuple[str, ...]:
        """The models home's folders of one kind (``checkpoints``, ``loras``, ``embeddings``, ``vaes``); none when
        no home is set or it is gone."""
        if not self.models_home:
            return ()
        from ddpm_studio.engine.models.catalogue import ModelError
        from ddpm_studio.engine.models.home import models_home

        try:
            return getattr(models_home(self.models_home), kind)
        except ModelError:
            return ()

    def own_folders(self, kind: str) -> list[str]:
        """The folders of one add-on kind (``loras``, ``embeddings``, ``vaes``) the user added."""
        value = self.get_json(f"addons/{kind}", [])
        return [str(f) for f in value if isinstance(f, str) and f] if isinstance(value, list) else []

    def set_own_folders(self, kind: str, folders: list[str]) -> None:
        self.set_json(f"addons/{kind}", _unique([str(f) for f in folders]))

    def add_own_folder(self, kind: str, folder: str) -> None:
        self.set_own_folders(kind, self.own_folders(kind) + [folder])

    def addon_folder_list(self, kind: str) -> list[str]:
        """Where one add-on kind is looked for: the models home's folders, then the user's own."""
        return _unique(list(self.home_folders(kind)) + self.own_folders(kind))

    @property
    def addon_folders(self):
        """The engine's AddonFolders: where LoRAs, embeddings and VAEs named by name (prompt tags) are found."""
        from ddpm_studio.engine.addons.resources import AddonFolders

        return AddonFolders(**{kind: self.addon_folder_list(kind)
                               for kind in ("loras", "embeddings", "vaes", "controlnets", "wildcards")})

    @property
    def styles_files(self) -> list[str]:
        """A1111 styles files (``styles.csv``) the Styles row reads: the models home's, then those the user opened."""
        home = ""
        if self.models_home:
            from ddpm_studio.engine.prompts.styles import home_styles_file

            home = home_styles_file(self.models_home)
        value = self.get_json("addons/styles_files", [])
        own = [str(f) for f in value if isinstance(f, str) and f] if isinstance(value, list) else []
        return _unique(([home] if home else []) + own)

    def add_styles_file(self, path: str) -> None:
        value = self.get_json("addons/styles_files", [])
        own = [str(f) for f in value if isinstance(f, str) and f] if isinstance(value, list) else []
        self.set_json("addons/styles_files", _unique(own + [str(path)]))

    def model_vae(self, ref: str) -> str:
        """The VAE last chosen for the model ``ref``; "" for the model's own."""
        chosen = self.get_json("addons/vae_per_model", {})
        return str(chosen.get(ref, "")) if isinstance(chosen, dict) else ""

    def set_model_vae(self, ref: str, vae: str) -> None:
        chosen = self.get_json("addons/vae_per_model", {})
        chosen = {k: v for k, v in chosen.items() if k != ref} if isinstance(chosen, dict) else {}
        if vae:
            chosen[ref] = vae
        self.set_json("addons/vae_per_model", chosen)

    def model_parts(self, ref: str) -> dict:
        """The files last chosen for a diffusion-model file ``ref``: part (text_encoder…, vae) → path."""
        chosen = self.get_json("models/split_parts", {})
        parts = chosen.get(ref, {}) if isinstance(chosen, dict) else {}
        return {str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {}

    def set_model_parts(self, ref: str, parts: dict) -> None:
        chosen = self.get_json("models/split_parts", {})
        chosen = {k: v for k, v in chosen.items() if k != ref} if isinstance(chosen, dict) else {}
        if parts:
            chosen[ref] = dict(parts)
        self.set_json("models/split_parts", chosen)

    @property
    def allow_pickle(self) -> bool:
        return bool(self.get_json("models/allow_pickle", False))

    @allow_pickle.setter
    def allow_pickle(self, value: bool) -> None:
        self.set_json("models/allow_pickle", bool(value))

    @property
    def theme(self) -> str:
        value = str(self.get_json("view/theme", "system"))
        return value if value in ("system", "light", "dark") else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self.set_json("view/theme", value)

    @property
    def history_budget_mb(self) -> int:
        """Memory for each run's step history (previews kept for scrubbing and export)."""
        try:
            return max(16, int(self.get_json("history/budget_mb", 256)))
        except (TypeError, ValueError):
            return 256

    @history_budget_mb.setter
    def history_budget_mb(self, value: int) -> None:
        self.set_json("history/budget_mb", int(value))

    @property
    def engine_options(self) -> dict:
        """What the sampler's Engine is built with: device, precision, pickle policy, memory savers."""
        from ddpm_studio.engine.runtime.options import MemoryOptions

        memory = MemoryOptions.from_dict(self.get_json("engine/memory", {}))
        return dict(device=str(self.get_json("engine/device", "auto")), precision=str(self.get_json("engine/precision", "auto")),
                    allow_pickle=self.allow_pickle, memory=memory, taesd=str(self.get_json("engine/taesd", "")))

    def set_engine_options(self, device: str, precision: str, allow_pickle: bool, memory, taesd: str = "") -> None:
        from dataclasses import asdict

        self.set_json("engine/taesd", taesd)
        self.set_json("engine/device", device)
        self.set_json("engine/precision", precision)
        self.allow_pickle = allow_pickle
        self.set_json("engine/memory", asdict(memory))

    def sync(self) -> None:
        self._qs.sync()

    def layout_state(self, key: str):
        """A splitter's saved sizes (QSplitter.saveState), or None."""
        return self._qs.value(f"layout/{key}")

    def set_layout_state(self, key: str, data) -> None:
        self._qs.setValue(f"layout/{key}", data)

    def geometry(self):
        return self._qs.value("window/geometry")

    def set_geometry(self, data) -> None:
        self._qs.setValue("window/geometry", data)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
