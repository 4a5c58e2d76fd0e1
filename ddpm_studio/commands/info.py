"""``info``: the parameters stored in one of our PNGs (A1111 text, or the whole job as JSON)."""

from __future__ import annotations

import json


def cmd_info(args) -> int:
    from ddpm_studio.engine.output.metadata import read_metadata, read_png_text

    if args.json:
        print(json.dumps(read_metadata(args.image), indent=2, sort_keys=True))
        return 0
    text = read_png_text(args.image, ("parameters",))  # found before the pixels: they are not decoded
    if "parameters" not in text:
        raise ValueError(f"{args.image} carries no generation parameters.")
    print(text["parameters"])
    return 0
