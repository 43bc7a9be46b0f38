"""Train DexVLG: `python -m launch.train --config configs/train/tiny.py[:arg] --workdir DIR [--set key=value ...]`.

Parses the ml_collections config file (big_vision style `get_config(arg)`), applies `--set` overrides
(dotted keys, Python literals: `--set optimizer.learning_rate=3e-4 --set data.path=/data/dexvlg`), converts it
to the library's frozen `TrainConfig` and calls `dexvlg_jax.train.train`. Rerunning the same command resumes
from the newest checkpoint in DIR/checkpoints (e.g. after preemption), with the compiled programs taken from the
persistent JAX cache (`dexvlg_jax.devices.enable_compilation_cache`).
"""
from __future__ import annotations

import argparse
import sys

from dexvlg_jax.cli_errors import run_main
from dexvlg_jax.config_files import apply_overrides, load_config_file, train_config
from dexvlg_jax.devices import enable_compilation_cache
from dexvlg_jax.train import train


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launch.train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="configs/train/NAME.py[:arg]")
    parser.add_argument("--workdir", required=True, help="run directory (checkpoints, metrics); resumes if present")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field (dotted key, Python literal); repeatable")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = parser.parse_args(argv)

    config = apply_overrides(load_config_file(args.config), args.overrides)
    enable_compilation_cache()  # a resumed run skips the compilations (~/.cache/dexvlg_jax/jax; DEXVLG_JAX_CACHE=0)
    result = train(train_config(config), args.workdir, progress=not args.no_progress)
    status = "preempted, checkpoint saved" if result.preempted else "done"
    print(f"train: {status} at step {result.step}; workdir {args.workdir}", flush=True)
    return 0


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.train")


if __name__ == "__main__":
    sys.exit(cli_main())
