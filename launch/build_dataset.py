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

import ml_collections

from dexvlg_jax.cli_errors import run_main
from launch.train import apply_overrides, load_config_file as load_config


def with_all_fields(c):
    """Adds every DatasetConfig field (and every field of its nested dataclasses, e.g. `processing`,
    `tabletop`) that the config file leaves out, with the library's default, so each one can be changed with
    `--set` (`--set mesh_folder=/data/meshes`, `--set processing.grid_resolution=64`). `synth` keeps the layout
    of configs/synth/*.py. Returns `c`."""
    from dexvlg_jax.data.pipeline import DatasetConfig

    _fill(c, DatasetConfig(), skip=("synth",))
    return c


def _fill(node, default, skip=()) -> None:
    for field in dataclasses.fields(default):
        if field.name in skip:
            continue
        value = getattr(default, field.name)
        if dataclasses.is_dataclass(value):
            if field.name not in node:
                node[field.name] = ml_collections.ConfigDict()
            elif not isinstance(node[field.name], ml_collections.ConfigDict):
                node[field.name] = ml_collections.ConfigDict(dict(node[field.name]))
            _fill(node[field.name], value)
        elif field.name not in node:
            # A None default accepts a value of any type later (ml_collections would otherwise lock it to None).
            node[field.name] = ml_collections.FieldReference(None, field_type=object) if value is None else value


def _build(cls, values: dict, default):
    """A (nested) dataclass from a plain dict; lists become tuples; unknown keys raise ValueError."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ValueError(f"config: unknown {cls.__name__} fields {unknown}; known: {sorted(fields)}")
    out = {}
    for key, value in values.items():
        current = getattr(default, key)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            out[key] = _build(type(current), value, current)
        else:
            out[key] = tuple(value) if isinstance(value, (list, tuple)) else value
    return cls(**out)


def to_dataset_config(c):
    """ConfigDict (configs/data/*.py) -> dexvlg_jax.data.pipeline.DatasetConfig (nested dataclasses such as
    `processing` and `tabletop` from nested dicts; `synth` from the configs/synth layout)."""
    from dexvlg_jax.data.pipeline import DatasetConfig
    from launch.synthesize import to_synth_config

    values = c.to_dict()
    synth = to_synth_config(c.synth) if "synth" in values else DatasetConfig().synth
    values.pop("synth", None)
    try:
        config = _build(DatasetConfig, values, DatasetConfig())
    except TypeError as err:  # a nested field given a value of the wrong kind
        raise ValueError(f"config: {err}") from err
    return dataclasses.replace(config, synth=synth)


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

    from dexvlg_jax.data import pipeline, statistics
    from dexvlg_jax.data.writer import parse_shard_flag

    config = apply_overrides(with_all_fields(load_config(args.config)), args.set)
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


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.build_dataset")


if __name__ == "__main__":
    sys.exit(cli_main())
