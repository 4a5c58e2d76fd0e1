"""Render the Noto Color Emoji glyphs into a folder of small RGB PNGs on white: the bundled model's training data.

The font is Debian's `fonts-noto-color-emoji` (SIL Open Font License 1.1). Every single-code-point emoji in the
font's character map is drawn at the font's native bitmap size (109 px), cropped to its ink, centred on a white
square with a small margin and resized with Lanczos. Output names are the code points (u1F600.png), so a run is
reproducible and re-running it overwrites the same files. `captions.tsv` holds the Unicode name of each.

    apt-get install fonts-noto-color-emoji && pip install fonttools
    python tools/render_emoji.py --out data/emoji-32 --size 32
"""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
NATIVE_SIZE = 109  # the only size of the font's embedded bitmaps


def emoji_code_points(font_path: str) -> list[int]:
    from fontTools.ttLib import TTFont

    cmap = TTFont(font_path, lazy=True).getBestCmap()
    # skip ASCII-range keycap bases (#, *, 0-9), regional indicators (flags need pairs) and skin-tone modifiers
    return sorted(
        cp for cp in cmap
        if cp > 0x7F and not 0x1F1E6 <= cp <= 0x1F1FF and not 0x1F3FB <= cp <= 0x1F3FF and cp not in (0x200D, 0xFE0F, 0x20E3)
    )


def render(cp: int, font: ImageFont.FreeTypeFont, size: int, margin: float) -> Image.Image | None:
    canvas = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((8, 8), chr(cp), font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    glyph = canvas.crop(box)
    side = int(max(glyph.size) * (1 + 2 * margin))
    square = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/emoji-32")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--margin", type=float, default=0.06, help="white border, as a fraction of the glyph")
    parser.add_argument("--font", default=FONT)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    font = ImageFont.truetype(args.font, NATIVE_SIZE)
    captions = []
    for cp in emoji_code_points(args.font):
        image = render(cp, font, args.size, args.margin)
        if image is None:
            continue
        name = f"u{cp:04X}"
        image.save(out / f"{name}.png")
        captions.append(f"{name}\t{unicodedata.name(chr(cp), '').lower()}")
    (out / "captions.tsv").write_text("\n".join(captions) + "\n", encoding="utf-8")
    print(f"{len(captions)} emoji rendered at {args.size} px into {out}")


if __name__ == "__main__":
    main()
