"""Benchmarks, one per stage: `python -m launch.benchmark NAME [flags]`, NAME one of BENCHMARKS below; `dataset`
judges a built dataset where it is used (yield, tabletop ceiling, coverage); `variant` re-runs its grasp stage
with another config and compares the kept grasps per condition; `compare` puts evaluations side by side on the
conditions they all evaluate; `learning` trains and evaluates
the learning benchmark over heads and seeds (the ablation table); `accelerator`
runs synthesis, simulation, the 3B model and rendering at accelerator sizes in one timed command.

Each prints one JSON object on stdout. The stage's code lives in `launch/bench_<name>.py`, which
defines `main(argv: list[str]) -> dict`; this module only dispatches and prints.
"""
import importlib
import json
import sys

from dexvlg_jax.cli_errors import run_main

BENCHMARKS = ("fk", "synth", "sim", "model", "render", "dataset", "variant", "compare", "learning", "accelerator")
USAGE = f"usage: python -m launch.benchmark {{{','.join(BENCHMARKS)}}} [flags]"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(f"{USAGE}\n\n{__doc__}`python -m launch.benchmark NAME --help` explains each.")
        sys.exit(0)
    if not argv or argv[0] not in BENCHMARKS:
        sys.exit(f"{USAGE}; got {argv[:1] or 'nothing'}")
    module = importlib.import_module(f"launch.bench_{argv[0]}")
    result = module.main(argv[1:])
    print(json.dumps(result, indent=2, sort_keys=True))
    return result


def cli_main(argv=None) -> int:
    """`main` with user errors (a missing file, a bad flag value) as one line and exit status 2
    (`dexvlg_jax.cli_errors.run_main`), as `dexvlg benchmark` does."""
    return run_main(main, argv, prog="python -m launch.benchmark")


if __name__ == "__main__":
    sys.exit(cli_main())
