"""The bundle's entry point: the same command line as the installed `ddpm-studio` (no arguments opens the app)."""

import sys

from ddpm_studio.cli import main

if __name__ == "__main__":
    sys.exit(main())
