"""Build the dataset: `python -m launch.build_dataset --config configs/data/<name>.py[:arg] --out DIR
[--shard i/n] [--set key=value ...]`.

Runs objects -> process -> annotate -> synthesise -> six-direction sim filter -> render -> ArrayRecord shards,
resumably (re-run the same command after an interruption). On a multi-host pod every process takes its share
of shards (jax.process_index() / process_count()); on one machine `--shard i/n` does the same. Prints the
manifest's counts and writes statistics (JSON + PNG histograms) next to the shards.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from launch.train import apply_overrides, load_config_file as load_config


def to_dataset_config(c):
    """ConfigDict (configs/data/*.py) -> dexvlg_jax.data.pipeline.DatasetConfig."""
    from dexvlg_jax.data.pipeline import DatasetConfig
    from dexvlg_jax.objects import ProcessingConfig
    from launch.synthesize import to_synth_config

    fields = {f.name for f in dataclasses.fields(DatasetConfig)}
    plain = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in c.items()
             if k in fields and k not in ("processing", "synth")}
    unknown = sorted(set(c.keys()) - fields)
    if unknown:
        raise ValueError(f"config: unknown dataset keys {unknown}; known: {sorted(fields)}")
    return DatasetConfig(processing=ProcessingConfig(**dict(c.get("processing", {}))),
                         synth=to_synth_config(c.synth), **plain)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m launch.build_dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="configs/data/<name>.py, optionally :arg")
    parser.add_argument("--out", required=True, help="dataset directory (created; re-run to resume)")
    parser.add_argument("--shard", default=None, help="i/n: build only shard share i of n (default: this "
                        "JAX process's share)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from dexvlg_jax.data import pipeline, statistics
    from dexvlg_jax.data.writer import parse_shard_flag

    config = apply_overrides(load_config(args.config), args.set)
    cfg = to_dataset_config(config)
    if args.shard:
        shard = parse_shard_flag(args.shard)
    else:
        import jax

        shard = (jax.process_index(), jax.process_count())
    manifest = pipeline.build_dataset(cfg, args.out, shard=shard, progress=not args.no_progress)
    stats = statistics.write_statistics(args.out)
    print(json.dumps({"out": args.out, "num_records": manifest["num_records"], "num_shards": manifest["num_shards"],
                      "counts": manifest["counts"]["split"], "failures": len(manifest["failures"]),
                      "statistics": stats["files"]}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
