"""Sharding: the FSDP size rule, mesh construction, and one train step on a (4, 2) mesh == on one device.

Tolerance of the equivalence: the sharded program reduces in a different order (batch split over 8 devices,
parameters over 2), so float32 results agree to rounding. Loss, grad norm, param norm: rtol 1e-5 (measured
<= 1.4e-6). Parameters and EMA after 2 AdamW steps: atol 5e-5 (measured max 8.6e-6). The step-1 learning rate is
2.5e-4 and Adam normalises each coordinate, so a rounding-level difference in a ~0 gradient can move a parameter by
up to ~lr; 5e-5 = lr / 5 still catches any real sharding error (a wrong update is ~lr everywhere).
"""
import jax
import numpy as np
import pytest

from dexvlg_jax.models.vlg import DexVLG, fake_batch
from dexvlg_jax.train import sharding
from dexvlg_jax.train.state import init_train_state
from dexvlg_jax.train.step import make_train_step
from tests.train.conftest import tiny_train_config


def test_fsdp_rule():
    assert sharding.fsdp_spec((1024, 4096), 4, 8, min_bytes=1) == jax.sharding.PartitionSpec(None, "fsdp")
    assert sharding.fsdp_spec((8, 8), 4, 8, min_bytes=1 << 20) == jax.sharding.PartitionSpec()  # too small
    assert sharding.fsdp_spec((7, 9), 4, 2, min_bytes=0) == jax.sharding.PartitionSpec()  # nothing divisible
    assert sharding.fsdp_spec((6, 9), 4, 2, min_bytes=0) == jax.sharding.PartitionSpec("fsdp", None)
    assert sharding.fsdp_spec((), 4, 2, min_bytes=0) == jax.sharding.PartitionSpec()
    assert sharding.fsdp_spec((64, 64), 4, 1, min_bytes=0) == jax.sharding.PartitionSpec()  # fsdp = 1


def test_make_mesh_and_batch_checks():
    mesh = sharding.make_mesh(2)
    assert dict(mesh.shape) == {"data": jax.device_count() // 2, "fsdp": 2}
    assert dict(sharding.make_mesh(-1).shape)["fsdp"] == jax.device_count()
    with pytest.raises(ValueError, match="divisor"):
        sharding.make_mesh(3)
    with pytest.raises(ValueError, match="divisible by the number of devices"):
        sharding.check_batch_size(6, mesh)


def _run(mesh, config, steps=2):
    model = DexVLG(config.model)
    state, shardings, optimizer = init_train_state(model.init, config.optimizer, config.seed, mesh,
                                                   config.min_fsdp_bytes)
    step_fn = make_train_step(model.compute_loss, optimizer, config.optimizer, shardings, mesh)
    metrics = []
    for i in range(steps):
        batch = fake_batch(config.model, config.batch_size, seed=100 + i)
        state, m = step_fn(state, sharding.shard_batch(batch, mesh))
        metrics.append(jax.device_get(m))
    return jax.device_get(state), metrics, state


@pytest.mark.skipif(jax.device_count() < 8, reason="needs 8 (fake) devices")
def test_sharded_step_matches_single_device():
    config = tiny_train_config()
    single_state, single_metrics, _ = _run(sharding.make_mesh(1, jax.devices()[:1]), config)
    mesh = sharding.make_mesh(2)
    assert dict(mesh.shape) == {"data": 4, "fsdp": 2}
    sharded_state, sharded_metrics, live = _run(mesh, config)
    # The (4, 2) run really is sharded: some parameter is split over "fsdp".
    specs = [s.sharding.spec for s in jax.tree.leaves(live.params)]
    assert any("fsdp" in tuple(spec) for spec in specs)
    for a, b in zip(single_metrics, sharded_metrics):
        for key in ("loss", "grad_norm", "param_norm"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, err_msg=key)
    assert int(single_state.step) == int(sharded_state.step) == 2
    for a, b in zip(jax.tree.leaves(single_state.params), jax.tree.leaves(sharded_state.params)):
        np.testing.assert_allclose(a, b, atol=5e-5, rtol=0)
    for a, b in zip(jax.tree.leaves(single_state.ema_params), jax.tree.leaves(sharded_state.ema_params)):
        np.testing.assert_allclose(a, b, atol=5e-5, rtol=0)
