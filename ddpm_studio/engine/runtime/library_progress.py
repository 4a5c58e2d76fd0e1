"""diffusers and transformers draw tqdm bars of their own on stderr while a pipeline loads ("Loading pipeline
components...", "Loading weights"); DDPM Studio reports its own progress (the CLI's bar, the GUI's canvas), so theirs
are turned off, once, before the first latent pipeline is loaded. Their warnings and errors still show."""

from __future__ import annotations

import functools


@functools.cache
def hide_library_progress() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
