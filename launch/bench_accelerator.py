"""The accelerator benchmark: `python -m launch.benchmark accelerator --out DIR [--tiny] [--budget-s 480]`.

Runs synthesis, simulation, the 3B model and rendering on whatever devices JAX sees within one time budget and
writes DIR/accelerator.json (after every section) and DIR/accelerator.txt; what each section measures and how the
time guard works: `dexvlg_jax.bench.accelerator`. `--tiny` runs every section at CPU sizes (tests); `--prepare`
only processes the objects into DIR/objects (coacd: ~40 s on CPU) so that the accelerator run finds them cached.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

from configs.eval.sim import get_config, to_dataclasses
from dexvlg_jax.bench import accelerator


def tabletop_lift_configs(settings: str):
    """(sim.SceneConfig, sim.TabletopLiftConfig) of `configs/eval/sim.py:<settings>` ("" full, "tiny")."""
    cfg = get_config(settings)
    cfg.protocol = "tabletop_lift"
    return to_dataclasses(cfg)


def main(argv) -> dict:
    p = argparse.ArgumentParser(prog="python -m launch.benchmark accelerator", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for accelerator.json / accelerator.txt and objects/")
    p.add_argument("--tiny", action="store_true", help="CPU sizes (tests)")
    p.add_argument("--budget-s", type=float, default=480.0, help="global deadline for all sections (seconds)")
    p.add_argument("--sections", default=",".join(accelerator.SECTIONS),
                   help=f"comma-separated subset of {accelerator.SECTIONS}")
    p.add_argument("--size", action="append", default=[], metavar="KEY=VALUE",
                   help="override one of the sizes (dexvlg_jax.bench.accelerator.FULL / TINY), a Python literal: "
                        "e.g. --size 'synth_batches=(4096,)' --size \"synth_kinds=('dfc',)\"; repeatable")
    p.add_argument("--prepare", action="store_true", help="only process the objects into OUT/objects and exit")
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.prepare:
        start = time.perf_counter()
        objs = accelerator.benchmark_objects(out, args.tiny)
        return {"prepared": [o.name for o in objs], "dir": str(out / "objects"),
                "seconds": round(time.perf_counter() - start, 1)}
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(accelerator.SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {unknown}; known: {accelerator.SECTIONS}")
    try:
        accelerator.override_sizes(accelerator.FULL, args.size)  # fail before any work
    except ValueError as error:
        raise SystemExit(str(error)) from None
    result = accelerator.run(out, sections, args.budget_s, args.tiny, tabletop_lift_configs, args.size)
    print(accelerator.table(result), end="", file=sys.stderr, flush=True)
    return result
