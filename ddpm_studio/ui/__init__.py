"""The PySide6 front end. Imports neither torch nor diffusers at module level: they load on the sampler thread."""
