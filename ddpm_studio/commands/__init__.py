"""The headless commands behind ``ddpm-studio``, one module each; ``ddpm_studio.cli`` parses and dispatches."""
