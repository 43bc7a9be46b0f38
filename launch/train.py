"""Train DexVLG: `python -m launch.train --config configs/train/tiny.py[:arg] --workdir DIR [--set key=value ...]`.

Parses the ml_collections config file (big_vision style `get_config(arg)`), applies `--set` overrides
(dotted keys, Python literals: `--set optimizer.learning_rate=3e-4 --set data.path=/data/dexvlg`), converts it
to the library's frozen `TrainConfig` and calls `dexvlg_jax.train.train`. Rerunning the same command resumes
from the newest checkpoint in DIR/checkpoints (e.g. after preemption).
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import sys

import ml_collections

from dexvlg_jax.cli_errors import UserFileNotFoundError, UserKeyError, UserValueError, run_main


def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """'path/to/config.py[:arg]' -> the file's `get_config(arg)`; a missing file, a file without `get_config` or
    an argument the file does not accept raise `UserError` saying what to type instead."""
    from configs.args import ConfigArgError

    path, _, arg = spec.partition(":")
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        near = sorted(f for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_")) \
            if os.path.isdir(folder) else []
        hint = (f"config files in {folder}: {', '.join(near)}" if near
                else "give a config file such as configs/train/tiny.py (run from the repository root)")
        raise UserFileNotFoundError(f"--config: {path!r} does not exist", hint)
    module_spec = importlib.util.spec_from_file_location(f"_dexvlg_config_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise UserValueError(f"--config: {path!r} defines no get_config(arg)", "give a file from configs/")
    try:
        return module.get_config(arg or None)
    except ConfigArgError as err:
        fix = f"type --config {path}:{err.suggestion}" if err.suggestion else f"type --config {path}"
        raise UserKeyError(f"--config {spec}: {err}", fix) from err
    except KeyError as err:
        raise UserKeyError(f"--config {spec}: {err.args[0] if err.args else err}",
                           f"see the arguments in {path}'s docstring") from err
    except ValueError as err:
        raise UserValueError(f"--config {spec}: {err}", f"see the arguments in {path}'s docstring") from err


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string (paths, names)


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
    """Applies "a.b=value" overrides in order; unknown keys raise KeyError naming the key."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserValueError(f"--set {item!r}: expected key=value", f"type e.g. --set {item or 'seed'}=1")
        *parents, leaf = key.split(".")
        node, where = config, ""
        for part in parents:
            if part not in node or not hasattr(node[part], "keys"):
                raise UserKeyError(f"--set {key}: no field {where + part!r}",
                                f"fields{' of ' + where.rstrip('.') if where else ''}: {', '.join(sorted(node.keys()))}")
            node, where = node[part], where + part + "."
        if leaf not in node:
            raise UserKeyError(f"--set {key}: no field {where + leaf!r}",
                            f"fields{' of ' + where.rstrip('.') if where else ''}: {', '.join(sorted(node.keys()))}")
        parsed = _parse_value(value)
        if isinstance(parsed, list):
            parsed = tuple(parsed)
        if isinstance(node[leaf], float) and isinstance(parsed, int):
            parsed = float(parsed)
        try:
            node[leaf] = parsed
        except TypeError as err:  # ml_collections' type check
            raise UserValueError(f"--set {item}: {err}", f"give a value of the type of {node[leaf]!r}") from err
    return config


def to_train_config(c: ml_collections.ConfigDict):
    """ConfigDict (configs/train/common.py layout) -> dexvlg_jax.train.TrainConfig."""
    from dexvlg_jax.models.variants import get_variant
    from dexvlg_jax.train import DataConfig, OptimizerConfig, TrainConfig

    model_fields = dict(c.model.to_dict())
    model = get_variant(model_fields.pop("variant"), **model_fields)
    optimizer = OptimizerConfig(total_steps=int(c.num_steps),
                                **{k: (tuple(v) if isinstance(v, (list, tuple)) else v)
                                   for k, v in c.optimizer.to_dict().items()})
    data = DataConfig(**c.data.to_dict())
    top = {k: c[k] for k in ("batch_size", "num_steps", "seed", "fsdp", "min_fsdp_bytes", "log_every",
                             "checkpoint_every", "keep_checkpoints", "async_checkpoint", "pretrained", "stop_after")}
    return TrainConfig(model=model, optimizer=optimizer, data=data, **top)


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
    train_config = to_train_config(config)

    from dexvlg_jax.train import train

    result = train(train_config, args.workdir, progress=not args.no_progress)
    status = "preempted, checkpoint saved" if result.preempted else "done"
    print(f"train: {status} at step {result.step}; workdir {args.workdir}", flush=True)
    return 0


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.train")


if __name__ == "__main__":
    sys.exit(cli_main())
