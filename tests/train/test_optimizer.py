"""Optimiser: schedule, frozen / trainable groups, weight-decay mask, clipping, EMA, config errors."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dexvlg_jax.train.optimizer import (OptimizerConfig, count_trainable, ema_update, make_optimizer, make_schedule,
                                        param_labels)

PARAMS = {"img": {"embedding": {"kernel": jnp.ones((4, 3)), "bias": jnp.ones((3,))}},
          "llm": {"layers": {"w": jnp.ones((2, 5))}},
          "expert": {"out": {"kernel": jnp.ones((5, 2))}}}


def test_schedule_warmup_then_cosine():
    config = OptimizerConfig(learning_rate=1.0, warmup_steps=10, total_steps=110, end_lr_fraction=0.1)
    schedule = make_schedule(config)
    np.testing.assert_allclose([schedule(0), schedule(5), schedule(10)], [0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(schedule(60), 0.1 + 0.9 * 0.5, atol=1e-6)  # half way through the cosine
    np.testing.assert_allclose(schedule(110), 0.1, atol=1e-6)


def test_frozen_and_trainable_labels():
    labels = param_labels(PARAMS, OptimizerConfig(frozen=("img/.*",)))
    assert labels["img"]["embedding"]["kernel"] == "frozen" and labels["llm"]["layers"]["w"] == "trainable"
    labels = param_labels(PARAMS, OptimizerConfig(trainable=("expert/.*",)))
    assert labels["expert"]["out"]["kernel"] == "trainable" and labels["llm"]["layers"]["w"] == "frozen"
    assert count_trainable(PARAMS, OptimizerConfig(frozen=("img/.*",))) == (20, 35)
    with pytest.raises(ValueError, match="nothing would train"):
        param_labels(PARAMS, OptimizerConfig(frozen=(".*",)))
    with pytest.raises(ValueError, match="bad parameter regex"):
        OptimizerConfig(frozen=("img/[",))


def test_frozen_parameters_do_not_move_and_decay_skips_vectors():
    config = OptimizerConfig(learning_rate=0.1, warmup_steps=0, total_steps=10, frozen=("img/embedding/kernel",),
                             weight_decay=0.5, clip_norm=1.0, ema_decay=None)
    optimizer = make_optimizer(config, PARAMS)
    opt_state = optimizer.init(PARAMS)
    grads = jax.tree.map(jnp.zeros_like, PARAMS)  # zero gradient: only weight decay moves parameters
    updates, _ = optimizer.update(grads, opt_state, PARAMS)
    new = optax.apply_updates(PARAMS, updates)
    np.testing.assert_array_equal(new["img"]["embedding"]["kernel"], 1.0)  # frozen
    np.testing.assert_array_equal(new["img"]["embedding"]["bias"], 1.0)  # vector: no decay
    np.testing.assert_allclose(new["llm"]["layers"]["w"], 1.0 - 0.1 * 0.5, rtol=1e-6)  # decayed kernel


def test_clipping_bounds_the_update():
    # b1 = b2 = 0 and eps = 1 make Adam's update ~ lr * g for small g, so the clip shows in the update's norm.
    config = OptimizerConfig(learning_rate=1.0, warmup_steps=0, total_steps=10, clip_norm=1e-3, weight_decay=0.0,
                             b1=0.0, b2=0.0, eps=1.0, ema_decay=None)
    params = {"w": jnp.zeros((3,))}
    optimizer = make_optimizer(config, params)
    updates, _ = optimizer.update({"w": jnp.array([300.0, 400.0, 0.0])}, optimizer.init(params), params)
    np.testing.assert_allclose(optax.global_norm(updates), 1e-3, rtol=1e-2)


def test_ema_update():
    ema = ema_update({"w": jnp.zeros(2)}, {"w": jnp.ones(2)}, 0.9)
    np.testing.assert_allclose(ema["w"], 0.1, rtol=1e-6)


def test_config_errors():
    with pytest.raises(ValueError, match="ema_decay"):
        OptimizerConfig(ema_decay=1.0)
    with pytest.raises(ValueError, match="total_steps"):
        OptimizerConfig(total_steps=0)
