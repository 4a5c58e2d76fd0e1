"""Take the T5 and Qwen3 tokenizers that ship in ``resources/tokenizers/t5`` and ``resources/tokenizers/qwen3`` out of
InvokeAI's wheel on PyPI (Apache-2.0), which carries both as package data for offline use.

The single files artists keep hold weights only: a T5-XXL encoder (``t5xxl_fp16.safetensors``: Flux.1, SD 3.5,
Chroma) and a Qwen3 one (``qwen_3_4b.safetensors``: Z-Image, Flux.2 Klein) need a tokenizer that no file of theirs
holds. Both are Apache-2.0: T5's is google/t5-v1_1-xxl's (32,100 pieces + 100 sentinels = 32,128 ids, 512 tokens),
Qwen3's is Qwen/Qwen3-4B's (the same byte-level BPE for every Qwen3 size; ~11 MB, kept gzip-compressed as InvokeAI
keeps it). Qwen2.5-VL (Qwen-Image) has the same byte-level vocabulary and the same special tokens up to id 151,664;
Qwen3 adds four after them (``<tool_response>``, ``</tool_response>``, ``<think>``, ``</think>``), so text without
those words tokenizes the same. The files are copied as they are (no re-encoding), and the wheel's sha256 is written
into ``resources/licenses/T5-Qwen3-tokenizers-Apache-2.0.txt`` with the licence text.

    pip download invokeai==6.14.2 --no-deps -d /tmp/inv
    python tools/derive_text_tokenizers.py /tmp/inv/invokeai-6.14.2-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# our folder → (the wheel's folder, the files taken from it)
TOKENIZERS = {
    "t5": ("invokeai/backend/t5/tokenizer/", ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")),
    "qwen3": ("invokeai/backend/qwen3/tokenizer/",
              ("tokenizer.json.gz", "tokenizer_config.json", "special_tokens_map.json")),
}
LICENSE_NAME = "T5-Qwen3-tokenizers-Apache-2.0.txt"
HEADER = """The T5 tokenizer in resources/tokenizers/t5 (google/t5-v1_1-xxl's, Copyright Google LLC) and the Qwen3
tokenizer in resources/tokenizers/qwen3 (Qwen/Qwen3-4B's, Copyright Alibaba Cloud, the Qwen team) are licensed under the Apache
License 2.0. DDPM Studio's tools/derive_text_tokenizers.py copies them unchanged from the package data of InvokeAI's
wheel on PyPI ({wheel},
sha256 {sha256}), which is itself Apache-2.0; its licence text follows.

"""


def derive(wheel: Path, out: Path, licenses: Path) -> list[Path]:
    written = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for folder, (source, files) in TOKENIZERS.items():
            (out / folder).mkdir(parents=True, exist_ok=True)
            for name in files:
                if source + name not in names:
                    raise SystemExit(f"{wheel} has no {source + name}: not the InvokeAI wheel this tool expects.")
                (out / folder / name).write_bytes(archive.read(source + name))
                written.append(out / folder / name)
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        text = archive.read(licence).decode("utf-8")
    if "Apache License" not in text or "Version 2.0" not in text:
        raise SystemExit(f"{wheel}'s LICENSE is not the Apache License 2.0 text.")
    sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (licenses / LICENSE_NAME).write_text(HEADER.format(wheel=wheel.name, sha256=sha256) + text, encoding="utf-8")
    return [*written, licenses / LICENSE_NAME]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="invokeai-*.whl")
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "tokenizers")
    parser.add_argument("--licenses", type=Path, default=ROOT / "resources" / "licenses")
    args = parser.parse_args()
    for path in derive(args.wheel, args.out, args.licenses):
        print(path)


if __name__ == "__main__":
    main()
