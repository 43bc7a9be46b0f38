"""Train state (a flax.struct pytree) and its sharded initialisation.

`TrainState` leaves: step (int32 scalar), params (the model tree, float32), opt_state (optax), ema_params
(same tree as params, or None without EMA), rng (uint32 (2,) raw key data; typed keys are rebuilt with
`jax.random.wrap_key_data` inside the step so checkpoints stay plain arrays).
"""
from __future__ import annotations

from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dexvlg_jax.models.weights import check_shapes, flatten_tree
from dexvlg_jax.train import sharding as sharding_lib
from dexvlg_jax.train.optimizer import OptimizerConfig, make_optimizer, path_str


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: Any
    opt_state: Any
    ema_params: Any
    rng: jax.Array

    def key(self) -> jax.Array:
        """The state's base PRNG key (typed)."""
        return jax.random.wrap_key_data(self.rng)


def _make_state(params, rng_data, optimizer: optax.GradientTransformation, use_ema: bool) -> TrainState:
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=optimizer.init(params),
                      ema_params=jax.tree.map(jnp.copy, params) if use_ema else None, rng=rng_data)


def state_shapes(init_params: Callable[[jax.Array], Any], optimizer: optax.GradientTransformation,
                 use_ema: bool) -> TrainState:
    """ShapeDtypeStructs of the full state, without allocating anything."""
    def build(rng):
        return _make_state(init_params(rng), jax.random.key_data(rng), optimizer, use_ema)
    return jax.eval_shape(build, jax.random.key(0))


def merge_pretrained_leaves(params: Any, pretrained: dict, shardings: Any) -> tuple[Any, int]:
    """Replaces leaves of (sharded) `params` by those present in `pretrained` (a nested dict, subset of the tree).

    Shapes must match (ValueError naming the key otherwise); dtypes follow `params`. Returns (params, number of
    leaves replaced). Arrays are placed directly with the target shardings, so a 3B tree never sits twice on
    one device.
    """
    check_shapes(params, pretrained, source="pretrained checkpoint", allow_missing=True)
    flat = flatten_tree(pretrained)
    replaced = 0

    def one(path, leaf, sharding):
        nonlocal replaced
        key = path_str(path)
        if key not in flat:
            return leaf
        replaced += 1
        host = np.asarray(flat[key]).astype(leaf.dtype)
        return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])

    merged = jax.tree_util.tree_map_with_path(one, params, shardings)
    return merged, replaced


def train_state_layout(init_params: Callable[[jax.Array], Any], config: OptimizerConfig, mesh,
                       min_fsdp_bytes: int = sharding_lib.DEFAULT_MIN_FSDP_BYTES
                       ) -> tuple[TrainState, TrainState, optax.GradientTransformation]:
    """(state ShapeDtypeStructs, state NamedShardings, optimizer) without allocating: what a restore needs."""
    param_shapes = jax.eval_shape(init_params, jax.random.key(0))
    optimizer = make_optimizer(config, param_shapes)
    shapes = state_shapes(init_params, optimizer, config.use_ema)
    return shapes, sharding_lib.fsdp_shardings(shapes, mesh, min_fsdp_bytes), optimizer


def init_train_state(init_params: Callable[[jax.Array], Any], config: OptimizerConfig, seed: int, mesh,
                     min_fsdp_bytes: int = sharding_lib.DEFAULT_MIN_FSDP_BYTES,
                     pretrained: dict | None = None) -> tuple[TrainState, TrainState, optax.GradientTransformation]:
    """Builds the sharded initial state.

    Args:
      init_params: rng -> parameter tree (e.g. `DexVLG(config).init`).
      config: optimiser hyperparameters (its frozen/trainable regexes shape the optimizer state).
      seed: integer seed; the params key and the training key are split from `jax.random.key(seed)`.
      mesh: the (data, fsdp) mesh.
      min_fsdp_bytes: size threshold of the FSDP rule.
      pretrained: optional nested dict of numpy arrays (e.g. a PaliGemma `{img, llm}` tree) merged into the
        fresh parameters before the optimizer state and EMA are built.

    Returns:
      (state, state_shardings, optimizer): the state is laid out by `state_shardings` (a TrainState of
      NamedShardings).
    """
    params_rng, train_rng = jax.random.split(jax.random.key(seed))
    _, shardings, optimizer = train_state_layout(init_params, config, mesh, min_fsdp_bytes)

    params = jax.jit(init_params, out_shardings=shardings.params)(params_rng)
    if pretrained:
        params, replaced = merge_pretrained_leaves(params, pretrained, shardings.params)
        if replaced == 0:
            raise ValueError("init_train_state: the pretrained checkpoint shares no parameter path with the model")
    build = jax.jit(lambda p, r: _make_state(p, r, optimizer, config.use_ema), out_shardings=shardings,
                    donate_argnums=(0,))
    state = build(params, jax.random.key_data(train_rng))
    return state, shardings, optimizer
