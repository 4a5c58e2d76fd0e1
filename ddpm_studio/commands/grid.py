"""``grid``: A1111's X/Y/Z plot — one to three parameters on axes (``--x steps=10,25``), every cell a normal run
saved with its own metadata into DIR, and the labelled sheet ``DIR/grid.png`` whose metadata names the axes
(``engine/series/xyz_grid.py``)."""

from __future__ import annotations

import sys


def cmd_grid(args) -> int:
    from ddpm_studio.commands.progress import SeriesProgress
    from ddpm_studio.commands.race import base_job
    from ddpm_studio.commands.sample import addon_folders
    from ddpm_studio.engine.runner import Engine
    from ddpm_studio.engine.series.xyz_grid import cell_jobs, parse_axis, run_grid, save_sheet

    axes = [parse_axis(text) for text in (args.x, args.y, args.z) if text]
    base = base_job(args, args.scheduler, args.steps, args.guidance)
    total = len(cell_jobs(base, axes))  # every cell checked before anything runs
    engine = Engine(device=args.device, allow_pickle=args.allow_pickle, precision=args.precision,
                    folders=addon_folders(args))
    progress = SeriesProgress("cell", total)
    grid = run_grid(engine, base, axes, args.out, progress)
    progress.close()
    for cell in grid.cells:
        print(cell.result.saved_paths[0])
    sheet = save_sheet(grid, args.out)
    print(sheet)
    print(f"{total} cells and the sheet {sheet.name} written to {sheet.parent}", file=sys.stderr)
    return 0
