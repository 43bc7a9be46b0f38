"""Build the dataset: `python -m launch.build_dataset --config configs/data/<name>.py[:arg] --out DIR
[--shard i/n] [--set key=value ...]`.

Runs objects -> process -> annotate -> synthesise on the table -> tabletop-lift sim filter -> render -> ArrayRecord
shards, resumably (re-run the same command after an interruption). On a multi-host pod every process takes its share
of shards (jax.process_index() / process_count()); on one machine `--shard i/n` does the same. Prints the
manifest's counts and writes statistics (JSON + PNG histograms) next to the shards. Compiled programs are kept in
the persistent JAX cache (`dexvlg_jax.devices.enable_compilation_cache`: ~/.cache/dexvlg_jax/jax; DEXVLG_JAX_CACHE=0
turns it off), so a resumed build does not compile again what the interrupted one compiled.
"""
from __future__ import annotations

import argparse
import json
import sys

import jax

from dexvlg_jax.cli_errors import run_main
from dexvlg_jax.config_files import apply_overrides, dataset_config, load_config_file
from dexvlg_jax.data import pipeline, statistics
from dexvlg_jax.data.shards import parse_shard_flag
from dexvlg_jax.devices import enable_compilation_cache


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m launch.build_dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="configs/data/<name>.py, optionally :arg")
    parser.add_argument("--out", required=True, help="dataset directory (created; re-run to resume)")
    parser.add_argument("--shard", default=None, help="i/n: build only shard share i of n (default: this "
                        "JAX process's share)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any DatasetConfig field (dexvlg_jax/data/pipeline.py), e.g. "
                        "--set mesh_folder=/data/meshes --set processing.grid_resolution=64")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = parser.parse_args(argv)

    cfg = dataset_config(apply_overrides(load_config_file(args.config), args.set))
    enable_compilation_cache()  # a resumed (or repeated) build skips the compilations of the first
    if args.shard:
        shard = parse_shard_flag(args.shard)
    else:
        shard = (jax.process_index(), jax.process_count())
    manifest = pipeline.build_dataset(cfg, args.out, shard=shard, progress=not args.no_progress)
    stats = statistics.write_statistics(args.out)
    print(json.dumps({"out": args.out, "num_records": manifest["num_records"], "num_shards": manifest["num_shards"],
                      "counts": manifest["counts"]["split"], "failures": len(manifest["failures"]),
                      "statistics": stats["files"]}, indent=2))
    return 0


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.build_dataset")


if __name__ == "__main__":
    sys.exit(cli_main())
