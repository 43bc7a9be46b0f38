"""Shared pieces of the training configs: the base ConfigDict (every field of dexvlg_jax.train.TrainConfig with the
dataclass's default) and big_vision-style `arg` parsing ("key=value,key2=value2")."""
from __future__ import annotations

import ast

import ml_collections

from configs.args import ConfigArgError
from dexvlg_jax.config_convert import config_dict, unset_fields
from dexvlg_jax.models.variants import DEXVLG_TINY
from dexvlg_jax.train.run_config import TrainConfig

# DexVLGConfig fields a config may set over its variant's values (`--set model.head=ddim`).
MODEL_FIELDS = ("head", "dtype", "diffusion_timesteps", "beta_schedule", "default_steps", "depth_hidden",
                "num_pose_tokens", "max_text_len", "noise_samples", "remat_policy")


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
    """Parses "a=1,b=foo" into a ConfigDict over `defaults` (values keep the defaults' types)."""
    out = ml_collections.ConfigDict(defaults)
    if not arg:
        return out
    for item in arg.split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if key not in defaults or not sep:
            raise ConfigArgError(item, [f"{k}=VALUE" for k in sorted(defaults)] + [""], what="key")
        default = defaults[key]
        if isinstance(default, bool):
            if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError(f"config argument {key}={value!r}: expected true or false")
            out[key] = value.lower() in ("1", "true", "yes")
        elif default is None or isinstance(default, str):
            out[key] = value
        else:
            try:
                out[key] = type(default)(ast.literal_eval(value))
            except (ValueError, SyntaxError, TypeError):
                raise ValueError(f"config argument {key}={value!r}: expected a {type(default).__name__} "
                                 f"(default {default!r})") from None
    return out


def base_config() -> ml_collections.ConfigDict:
    """Every field of a training config with the library's default (dexvlg_jax.train.TrainConfig and the
    dataclasses it holds define each default once; a config file overrides only what differs).

    `model`: a variant of dexvlg_jax.models.variants plus overrides of its DexVLGConfig fields (None = the
    variant's own value). `optimizer.total_steps` is left out: the schedule runs for `num_steps`. `data.path`
    None = synthetic records (tests, smoke runs); a dataset dir from launch.build_dataset otherwise."""
    c = config_dict(TrainConfig, skip=("model", "optimizer.total_steps"))
    c.model = unset_fields(DEXVLG_TINY, MODEL_FIELDS)
    c.model.variant = "tiny"
    return c
