"""Where things live on disk: bundled resources, user config and output folders. No torch, no Qt."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resources_dir() -> Path:
    """``ddpm_studio/resources`` in an installed wheel; the repository's ``resources/`` in a source checkout."""
    installed = _PACKAGE / "resources"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / "resources"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def default_output_dir() -> Path:
    from platformdirs import user_pictures_dir

    return Path(user_pictures_dir()) / "DDPM Studio"


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("ddpm-studio", appauthor=False))


def trained_models_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("ddpm-studio", appauthor=False)) / "trained"


def cache_dir() -> Path:
    """Things worth keeping but safe to lose (file hashes); ``DDPM_STUDIO_CACHE`` points elsewhere (tests)."""
    import os

    override = os.environ.get("DDPM_STUDIO_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ddpm-studio", appauthor=False))
