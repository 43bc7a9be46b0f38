"""Optimiser: AdamW + linear warmup / cosine decay + global-norm clipping, with frozen parameter groups and EMA.

Parameter paths are the "/"-joined keys of the parameter tree (big_vision layout), e.g.
`img/Transformer/encoderblock_0/MlpBlock_0/Dense_0/kernel` or `llm/layers/attn/q_einsum/w`. Groups are chosen by
regular expressions matched with `re.fullmatch` against these paths:

- `frozen`: parameters that never change (their gradients are dropped, no Adam moments are kept for them);
- `trainable`: if given, ONLY these parameters train (everything else is frozen) - the "LoRA-style" setting of
  training a small named subset (e.g. the pose expert and the depth encoder) on top of a frozen VLM.

Weight decay (decoupled, AdamW) applies to parameters with ndim >= 2 (kernels and embeddings), not to
norms/biases, following big_vision. Clipping is over the trainable gradients only.
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import jax
import optax


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Hyperparameters of the optimiser and learning-rate schedule.

    Attributes:
      learning_rate: peak learning rate (after warmup).
      warmup_steps: linear warmup from `init_lr_fraction * learning_rate` to the peak.
      total_steps: schedule length; cosine decays from the peak to `end_lr_fraction * learning_rate` at this step.
      init_lr_fraction, end_lr_fraction: start and end of the schedule as fractions of the peak.
      b1, b2, eps: Adam moments.
      weight_decay: decoupled weight decay (AdamW), applied to ndim >= 2 parameters, in optax's units: each step
        subtracts lr(t) * weight_decay * param. big_vision's `config.wd` is not multiplied by the learning rate
        (its step subtracts wd * schedule(t) * param), so big_vision's wd equals weight_decay * peak lr: its
        usual 1e-4 at lr 1e-3 is weight_decay = 0.1 here.
      clip_norm: global gradient-norm clip (None or <= 0: no clipping).
      ema_decay: EMA of the parameters, `ema = d * ema + (1 - d) * params`; None or 0 disables EMA.
      frozen: regexes (fullmatch on "/"-joined paths) of parameters that stay fixed.
      trainable: if non-empty, only parameters matching one of these regexes train.
    """

    learning_rate: float = 1e-4
    warmup_steps: int = 100
    total_steps: int = 10_000
    init_lr_fraction: float = 0.0
    end_lr_fraction: float = 0.1
    b1: float = 0.9                 # Adam moments
    b2: float = 0.95
    eps: float = 1e-8
    weight_decay: float = 1e-4      # AdamW, ndim >= 2 only
    clip_norm: float | None = 1.0
    ema_decay: float | None = 0.999
    frozen: tuple[str, ...] = ()
    trainable: tuple[str, ...] = ()

    def __post_init__(self):
        if self.total_steps <= 0 or self.warmup_steps < 0 or self.learning_rate < 0:
            raise ValueError(f"OptimizerConfig: need total_steps > 0, warmup_steps >= 0, learning_rate >= 0; got "
                             f"{self.total_steps}, {self.warmup_steps}, {self.learning_rate}")
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"OptimizerConfig: ema_decay must be in [0, 1), got {self.ema_decay}")
        for pattern in self.frozen + self.trainable:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"OptimizerConfig: bad parameter regex {pattern!r}: {err}") from err

    @property
    def use_ema(self) -> bool:
        return bool(self.ema_decay)


def path_str(path: tuple) -> str:
    """A jax tree path -> "a/b/c"."""
    parts = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                parts.append(str(getattr(entry, attr)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


def make_schedule(config: OptimizerConfig) -> optax.Schedule:
    """Linear warmup then cosine decay; step -> learning rate (float32 scalar)."""
    peak = config.learning_rate
    warmup = min(config.warmup_steps, config.total_steps)
    return optax.warmup_cosine_decay_schedule(
        init_value=config.init_lr_fraction * peak, peak_value=peak, warmup_steps=warmup,
        decay_steps=max(config.total_steps, warmup + 1), end_value=config.end_lr_fraction * peak)


def is_trainable(path: str, config: OptimizerConfig) -> bool:
    """Whether the parameter at "/"-joined `path` is updated under `config`'s frozen/trainable regexes."""
    if config.trainable and not any(re.fullmatch(p, path) for p in config.trainable):
        return False
    return not any(re.fullmatch(p, path) for p in config.frozen)


def param_labels(params: Any, config: OptimizerConfig) -> Any:
    """A tree like `params` with "trainable" or "frozen" at each leaf. Raises if nothing trains."""
    labels = jax.tree_util.tree_map_with_path(
        lambda path, _: "trainable" if is_trainable(path_str(path), config) else "frozen", params)
    if "trainable" not in jax.tree.leaves(labels):
        raise ValueError(f"OptimizerConfig: frozen={config.frozen} / trainable={config.trainable} freeze every "
                         "parameter; nothing would train")
    return labels


def make_optimizer(config: OptimizerConfig, params: Any) -> optax.GradientTransformation:
    """The optax transformation for `params` (arrays or ShapeDtypeStructs; only paths/ndim are read)."""
    decay_mask = jax.tree.map(lambda p: len(p.shape) >= 2, params)
    chain = []
    if config.clip_norm is not None and config.clip_norm > 0:
        chain.append(optax.clip_by_global_norm(config.clip_norm))
    chain.append(optax.adamw(make_schedule(config), b1=config.b1, b2=config.b2, eps=config.eps,
                             weight_decay=config.weight_decay, mask=decay_mask))
    trainable = optax.chain(*chain)
    labels = param_labels(params, config)
    if "frozen" not in jax.tree.leaves(labels):
        return trainable
    return optax.multi_transform({"trainable": trainable, "frozen": optax.set_to_zero()}, labels)


def ema_update(ema: Any, params: Any, decay: float) -> Any:
    """`decay * ema + (1 - decay) * params`, leafwise, in the EMA's dtype."""
    return jax.tree.map(lambda e, p: (decay * e + (1.0 - decay) * p.astype(e.dtype)).astype(e.dtype), ema, params)


def count_trainable(params: Any, config: OptimizerConfig) -> tuple[int, int]:
    """(trainable scalars, total scalars) of `params` under `config`."""
    labels = param_labels(params, config)
    sizes = jax.tree.map(lambda p: math.prod(p.shape), params)
    total = sum(jax.tree.leaves(sizes))
    trainable = sum(s for s, l in zip(jax.tree.leaves(sizes), jax.tree.leaves(labels)) if l == "trainable")
    return trainable, total
