"""Derive the CLIP BPE tokenizer files that ship in ``resources/tokenizers/clip`` from CLIP's own byte-pair list.

Stable Diffusion 1.x, 2.x and SDXL all tokenize with the vocabulary of OpenAI's CLIP (MIT licence), and a single-file
checkpoint does not hold it. CLIP distributes it as ``bpe_simple_vocab_16e6.txt.gz``, a list of byte-pair merges, and
PyPI packages carry that file (open-clip-torch: ``open_clip/bpe_simple_vocab_16e6.txt.gz``). Hugging Face's
``CLIPTokenizer`` reads the same vocabulary as ``vocab.json`` (token → id) and ``merges.txt``. The layout, as OpenAI's
``simple_tokenizer.py`` builds it:

- the merges are lines 2 … 48,895 of the file (49,152 − 256 − 2 of them; the first line is a header);
- the ids: the 256 byte symbols of GPT-2's byte-to-unicode table, in that table's order (printable bytes first);
  the same 256 with ``</w>`` (end of word); one token per merge, its two halves joined; then ``<|startoftext|>``
  and ``<|endoftext|>`` — 49,408 in all.

Checked against CLIP's ids: "a photo of a" → 49406, 320, 1125, 539, 320, 49407.

    pip download open_clip_torch --no-deps -d /tmp/oc && unzip -o /tmp/oc/*.whl 'open_clip/bpe_*' -d /tmp/oc
    python tools/derive_clip_tokenizer.py /tmp/oc/open_clip/bpe_simple_vocab_16e6.txt.gz --out resources/tokenizers/clip
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

MERGES = 49152 - 256 - 2  # 48,894: how many of the file's merges CLIP uses (its simple_tokenizer.py's count)
START, END = "<|startoftext|>", "<|endoftext|>"
CONTEXT = 77  # CLIP's text context: 75 tokens between the start and end tokens


def byte_symbols() -> list[str]:
    """GPT-2's byte-to-unicode table, as a list in its order: bytes that print stand for themselves, the others are
    moved to code points from 256 on, so that every byte has a visible symbol."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {byte: chr(byte) for byte in printable}
    moved = (byte for byte in range(256) if byte not in symbols)
    symbols.update({byte: chr(256 + n) for n, byte in enumerate(moved)})
    return [symbols[byte] for byte in [*printable, *(b for b in range(256) if b not in printable)]]


def derive(bpe_gz: Path) -> tuple[dict[str, int], list[str]]:
    """(vocab: token → id, merges: "left right" lines) from CLIP's byte-pair file."""
    lines = gzip.decompress(bpe_gz.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : MERGES + 1]
    if len(merges) != MERGES or any(len(line.split()) != 2 for line in merges):
        raise ValueError(f"{bpe_gz} is not CLIP's byte-pair file: expected {MERGES} merges after one header line.")
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(line.split()) for line in merges] + [START, END]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError(f"{bpe_gz}: two merges make the same token; this is not CLIP's byte-pair file.")
    return vocab, merges


def write(vocab: dict[str, int], merges: list[str], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": CONTEXT, "bos_token": START, "eos_token": END,
              "unk_token": END, "pad_token": END}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bpe", type=Path, help="bpe_simple_vocab_16e6.txt.gz")
    parser.add_argument("--out", type=Path, default=Path("resources/tokenizers/clip"))
    args = parser.parse_args()
    vocab, merges = derive(args.bpe)
    write(vocab, merges, args.out)
    print(f"{len(vocab)} tokens, {len(merges)} merges written to {args.out}")


if __name__ == "__main__":
    main()
