"""Experiment config files (`configs/**.py` with `get_config(arg)`, big_vision style) -> the library's dataclasses.

- `load_config_file("path.py[:arg]")` -> the file's ConfigDict; `apply_overrides(config, ["a.b=value", ...])`
  applies the CLIs' `--set` overrides. Both raise `cli_errors.UserError`s that say what to type instead.
- One builder per config layout, each a thin layer over the generic `config_convert.to_dataclass`:

  | layout (files)                       | builder            | result                                  |
  | ------------------------------------ | ------------------ | --------------------------------------- |
  | configs/train/*.py                   | `train_config`     | `train.TrainConfig`                     |
  | configs/synth/*.py                   | `synth_config`     | `grasp.SynthConfig`                     |
  | configs/data/*.py                    | `dataset_config`   | `data.pipeline.DatasetConfig`           |
  | configs/eval/sim.py                  | `sim_configs`      | (`sim.SceneConfig`, protocol config)    |
  | configs/eval/model_tiny.py           | `eval_configs`     | (`eval.EvalConfig`, protocol, scene)    |
"""
from __future__ import annotations

import ast
import importlib.util
import os

import ml_collections

from dexvlg_jax.cli_errors import UserFileNotFoundError, UserKeyError, UserValueError
from dexvlg_jax.config_convert import given, to_dataclass
from dexvlg_jax.data.pipeline import DatasetConfig
from dexvlg_jax.eval import EvalConfig
from dexvlg_jax.grasp import SynthConfig
from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.sim import SceneConfig, SixDirectionConfig, TabletopLiftConfig
from dexvlg_jax.train.optimizer import OptimizerConfig
from dexvlg_jax.train.run_config import TrainConfig

PROTOCOL_CONFIGS = {"six_direction": SixDirectionConfig, "tabletop_lift": TabletopLiftConfig}


# ----------------------------------------------------------------------------------------- files and --set
def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """'path/to/config.py[:arg]' -> the file's `get_config(arg)`; a missing file, a file without `get_config` or
    an argument the file does not accept (`configs.args.ConfigArgError`, a KeyError with a `suggestion`) raise
    `UserError` saying what to type instead."""
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
    except KeyError as err:
        suggestion = getattr(err, "suggestion", None)
        if hasattr(err, "valid"):  # configs.args.ConfigArgError
            fix = f"type --config {path}:{suggestion}" if suggestion else f"type --config {path}"
            raise UserKeyError(f"--config {spec}: {err}", fix) from err
        raise UserKeyError(f"--config {spec}: {err.args[0] if err.args else err}",
                           f"see the arguments in {path}'s docstring") from err
    except ValueError as err:
        raise UserValueError(f"--config {spec}: {err}", f"see the arguments in {path}'s docstring") from err


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare string (paths, names)


def _no_field(key: str, where: str, node) -> UserKeyError:
    return UserKeyError(f"--set {key}: no field {where!r}",
                        f"fields{' of ' + where.rsplit('.', 1)[0] if '.' in where else ''}: "
                        f"{', '.join(sorted(node.keys()))}")


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
    """Applies "a.b=value" overrides (values are Python literals or bare strings) in order; an unknown key raises
    `UserKeyError` naming the key and the fields there are."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserValueError(f"--set {item!r}: expected key=value", f"type e.g. --set {item or 'seed'}=1")
        *parents, leaf = key.split(".")
        node, where = config, ""
        for part in parents:
            if part not in node or not hasattr(node[part], "keys"):
                raise _no_field(key, where + part, node)
            node, where = node[part], where + part + "."
        if leaf not in node:
            raise _no_field(key, where + leaf, node)
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


# ------------------------------------------------------------------------------------------------ builders
def _as_dict(c) -> dict:
    return dict(c.to_dict() if hasattr(c, "to_dict") else c)


def train_config(c) -> TrainConfig:
    """configs/train layout -> TrainConfig: `model` is a variant name (`models.variants`) plus the fields set
    (None = the variant's value); the optimiser's schedule length is `num_steps` unless given."""
    values = _as_dict(c)
    model = given(values.pop("model"))
    model = get_variant(model.pop("variant"), **model)
    num_steps = values.get("num_steps", TrainConfig.num_steps)
    default = TrainConfig(model=model, optimizer=OptimizerConfig(total_steps=int(num_steps)))
    return to_dataclass(TrainConfig, values, default)


def synth_config(c) -> SynthConfig:
    """configs/synth layout -> SynthConfig: SynthConfig's own fields under `synth`, its parts beside it
    (`init`, `energy` with its `weights` beside it, `optimizer`, `filter`); `objects` is the CLI's object list."""
    values = _as_dict(c)
    parts = {"init": values["init"], "energy": dict(values["energy"], weights=values["weights"]),
             "optimizer": values["optimizer"], "filter": values["filter"]}
    return to_dataclass(SynthConfig, dict(values["synth"], **parts), where="synth config")


def dataset_config(c) -> DatasetConfig:
    """configs/data layout -> DatasetConfig: DatasetConfig's fields, `synth` in the configs/synth layout."""
    values = _as_dict(c)
    if "synth" in values:
        values["synth"] = synth_config(values["synth"])
    return to_dataclass(DatasetConfig, values)


def sim_configs(c) -> tuple[SceneConfig, SixDirectionConfig | TabletopLiftConfig]:
    """configs/eval/sim.py layout -> (SceneConfig, the config of protocol `c.protocol`)."""
    if c["protocol"] not in PROTOCOL_CONFIGS:
        raise ValueError(f"config protocol {c['protocol']!r}: not one of {sorted(PROTOCOL_CONFIGS)}")
    protocol = to_dataclass(PROTOCOL_CONFIGS[c["protocol"]], c[c["protocol"]], where=c["protocol"])
    return to_dataclass(SceneConfig, c["scene"], where="scene"), protocol


def eval_configs(c) -> tuple[EvalConfig, TabletopLiftConfig | SixDirectionConfig, SceneConfig]:
    """configs/eval/model_tiny.py layout -> (EvalConfig, protocol config, SceneConfig) for
    `eval.evaluate_checkpoint`."""
    scene, protocol = sim_configs(c["sim"])
    return to_dataclass(EvalConfig, c["eval"], where="eval"), protocol, scene
