"""Shared pieces of the training configs: the base ConfigDict (every training hyperparameter, defined once with
its default) and big_vision-style `arg` parsing ("key=value,key2=value2")."""
from __future__ import annotations

import ast

import ml_collections

from configs.args import ConfigArgError


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
    """All fields of a training config with defaults (see dexvlg_jax.train.loop.TrainConfig for meanings)."""
    c = ml_collections.ConfigDict()
    # Model: a variant of dexvlg_jax.models.variants plus field overrides of DexVLGConfig.
    c.model = ml_collections.ConfigDict({"variant": "tiny", "head": "flow", "dtype": "float32",
                                         "diffusion_timesteps": 50, "default_steps": 10})
    # Optimiser (total_steps of the schedule = num_steps).
    c.optimizer = ml_collections.ConfigDict({
        "learning_rate": 1e-4, "warmup_steps": 100, "init_lr_fraction": 0.0, "end_lr_fraction": 0.1,
        "b1": 0.9, "b2": 0.95, "eps": 1e-8, "weight_decay": 1e-4, "clip_norm": 1.0, "ema_decay": 0.999,
        "frozen": (), "trainable": ()})
    # Data: path None = synthetic records (tests, smoke runs); a dataset dir from launch.build_dataset otherwise.
    c.data = ml_collections.ConfigDict({"path": ml_collections.FieldReference(None, field_type=str),
                                        "split": "train", "num_synthetic": 256, "worker_count": 0,
                                        "tokenizer_path": ml_collections.FieldReference(None, field_type=str),
                                        "use_pose_statistics": True})
    c.batch_size = 8  # global
    c.num_steps = 1000
    c.seed = 0
    c.fsdp = -1  # devices per FSDP group; -1 = all
    c.min_fsdp_bytes = 4 * 2**20
    c.log_every = 10
    c.checkpoint_every = 200
    c.keep_checkpoints = 3
    c.async_checkpoint = True
    c.pretrained = ml_collections.FieldReference(None, field_type=str)
    c.stop_after = ml_collections.FieldReference(None, field_type=int)
    return c
