"""One side of a side-by-side measurement in a fresh Python process, so that what one side sets for its whole
process (glibc's malloc tuning, torch's thread pool, caches) cannot reach the other."""

from __future__ import annotations

import json
import subprocess
import sys


def in_own_process(script: str, *args) -> dict:
    """Run ``python script *args``, show what it prints, and return the JSON object on its last line."""
    done = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"{script} {' '.join(map(str, args))} failed with exit code {done.returncode}")
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print("   ", line)
    return json.loads(lines[-1])
