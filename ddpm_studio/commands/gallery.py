"""``search`` and ``index``: the gallery index from the command line (``engine/gallery/index.py``).

``ddpm-studio search [WORDS…] [--seed N] [--model M] [--since DATE] [--json]`` prints the matching paths, newest
first, one a line (or JSON rows); ``ddpm-studio index FOLDER`` adds a folder of PNGs — ours, or A1111's and other
tools' that write its parameters text."""

from __future__ import annotations

import json
import sys

JSON_FIELDS = ("path", "prompt", "negative", "seed", "model", "scheduler", "steps", "guidance", "kind", "width",
               "height", "loras", "created", "rating", "tags", "source")


def cmd_search(args) -> int:
    from ddpm_studio.engine.gallery.index import GalleryIndex
    from ddpm_studio.engine.gallery.query import day, parse_query

    query = parse_query(" ".join(args.words))
    if args.seed is not None:
        query.seed = args.seed
    if args.model:
        query.model = args.model
    if args.since:
        query.since = day(args.since)
    if args.until:
        query.until = day(args.until, end=True)
    index = GalleryIndex()
    for note in index.notes:
        print(f"note: {note}", file=sys.stderr)
    rows = index.search(query, limit=args.limit or None)
    index.close()
    if args.json:
        print(json.dumps([{key: row[key] for key in JSON_FIELDS} for row in rows], indent=1))
    else:
        for row in rows:
            print(row["path"])
    print(f"{len(rows)} image(s)", file=sys.stderr)
    return 0


def cmd_index(args) -> int:
    from pathlib import Path

    from ddpm_studio.engine.gallery.index import GalleryIndex

    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder.")
    index = GalleryIndex()
    for note in index.notes:
        print(f"note: {note}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if done == total or done % 200 == 0:
            print(f"\r{done}/{total} files", end="", file=sys.stderr, flush=True)

    report = index.add_folder(folder, progress)
    index.close()
    print(file=sys.stderr)
    for _path, why in report.partial:
        print(f"read in part: {why}", file=sys.stderr)
    for _path, why in report.skipped:
        print(f"skipped: {why}", file=sys.stderr)
    print(f"{folder}: {report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
          f"{report.removed} gone, {len(report.skipped)} skipped", file=sys.stderr)
    return 0
