"""The jitted train step: loss from the model, gradients, optax update, EMA, metrics. The state is donated.

Metrics (float32 scalars, replicated): loss, grad_norm (global L2 over all gradients before clipping),
param_norm, update_norm, learning_rate, plus whatever the model's loss returns.
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from dexvlg_jax.train import sharding as sharding_lib
from dexvlg_jax.train.optimizer import OptimizerConfig, ema_update, make_schedule
from dexvlg_jax.train.state import TrainState

LossFn = Callable[[Any, jax.Array, dict], tuple[jax.Array, dict]]  # (params, rng, batch) -> (loss, metrics)


def train_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, config: OptimizerConfig,
               state: TrainState, batch: dict) -> tuple[TrainState, dict]:
    """One optimisation step (unjitted). The step's key is `fold_in(state.key(), state.step)`."""
    rng = jax.random.fold_in(state.key(), state.step)
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, rng, batch)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema = ema_update(state.ema_params, params, config.ema_decay) if state.ema_params is not None else None
    metrics = {k: jnp.asarray(v, jnp.float32) for k, v in aux.items()}
    metrics.update(loss=jnp.asarray(loss, jnp.float32), grad_norm=optax.global_norm(grads),
                   param_norm=optax.global_norm(params), update_norm=optax.global_norm(updates),
                   learning_rate=jnp.asarray(make_schedule(config)(state.step), jnp.float32))
    new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema)
    return new_state, metrics


def make_train_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, config: OptimizerConfig,
                    state_shardings: TrainState, mesh) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """`jax.jit` of `train_step` with the state laid out by `state_shardings` (donated), the batch split over
    ("data", "fsdp") and replicated metrics."""
    def step(state, batch):
        return train_step(loss_fn, optimizer, config, state, batch)

    return jax.jit(step, in_shardings=(state_shardings, sharding_lib.batch_sharding(mesh)),
                   out_shardings=(state_shardings, sharding_lib.replicated(mesh)), donate_argnums=(0,))
