"""Optimisers: energy goes down, outputs finite, bad input survives, and 8 sharded devices == 1 device."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.devices import data_mesh
from dexvlg_jax.grasp import culling
from dexvlg_jax.grasp import energy as E
from dexvlg_jax.grasp import init as I
from dexvlg_jax.grasp import optimizer as O
from dexvlg_jax.objects.reference_shapes import cylinder_object

ECFG = O.EnergyConfig(mode="wrap", fc_kind="dfc", points_per_primitive=8)
OCFG = O.OptimizerConfig(num_iters=20, refresh_every=10, step_period=5, temperature_period=4)
# Shapes shared with test_synthesize (same jit cache entry): 512 object points, 52^3 grid, batch 8.
NUM_POINTS, GRID = 512, (52, 52, 52)


@pytest.fixture(scope="module")
def setup():
    obj = cylinder_object(0.03, 0.16, num_points=512, resolution=32)
    sobj = E.synth_object(obj, NUM_POINTS, GRID)
    poses = jnp.asarray(I.initial_poses(obj, 0, "wrap", 8, np.random.default_rng(0), I.InitConfig()))
    return sobj, poses


@pytest.fixture(scope="module")
def single_device(setup):
    sobj, poses = setup
    mesh = data_mesh(jax.devices()[:1])
    return O.optimize_sharded(poses, jax.random.PRNGKey(0), sobj, ECFG, OCFG, mesh=mesh)


def test_annealing_lowers_energy(setup, single_device):
    sobj, poses = setup
    near = jax.vmap(lambda p: culling.near_object_points(p, sobj, ECFG.points_per_primitive))(poses)
    e0 = jax.jit(jax.vmap(lambda p, n: E.grasp_energy(p, sobj, n, "wrap", ECFG.weights, "dfc")))(poses, near)
    pose, e, terms, acc = single_device
    assert pose.shape == (8, 25) and e.shape == (8,) and acc.shape == (8,)
    assert np.all(np.isfinite(pose)) and np.all(np.isfinite(e))
    assert np.all((acc >= 0) & (acc <= 1))
    assert float(jnp.mean(e)) < float(jnp.mean(e0))
    assert set(E.TERMS) <= set(terms)


def test_sharded_8_devices_matches_one(setup, single_device):
    assert jax.device_count() == 8, "tests/conftest.py forces 8 host devices"
    sobj, poses = setup
    out8 = O.optimize_sharded(poses, jax.random.PRNGKey(0), sobj, ECFG, OCFG, mesh=data_mesh())
    assert len(out8[0].sharding.device_set) == 8 or out8[0].shape[0] == 8
    np.testing.assert_allclose(np.asarray(out8[0]), np.asarray(single_device[0]), atol=1e-4)
    np.testing.assert_allclose(np.asarray(out8[1]), np.asarray(single_device[1]), rtol=1e-3, atol=1e-4)
    # Padding: 5 grasps on 8 devices give the first 5 results of the 8-grasp run.
    out5 = O.optimize_sharded(poses[:5], jax.random.PRNGKey(0), sobj, ECFG, OCFG, mesh=data_mesh())
    np.testing.assert_allclose(np.asarray(out5[0]), np.asarray(single_device[0][:5]), atol=1e-4)


@pytest.mark.slow
def test_adam_and_nonfinite_input(setup):
    sobj, poses = setup
    bad = poses.at[0, 0].set(jnp.nan)
    ocfg = O.OptimizerConfig(kind="adam", num_iters=10, refresh_every=10)
    pose, e, _, _ = O.optimize_batch(bad, O.grasp_keys(jax.random.PRNGKey(1), 8), sobj, ECFG, ocfg)
    assert np.all(np.isfinite(np.asarray(e[1:])))
    assert not np.isfinite(float(pose[0, 0])) or float(e[0]) >= 1e9  # flagged, never a silent good grasp
    with pytest.raises(ValueError):
        O.optimize_one(poses[0], jax.random.PRNGKey(0), sobj, ECFG, O.OptimizerConfig(kind="sgd"))


def test_per_grasp_contact_sets_match_each_grasps_own_set(setup):
    """Contact sets passed per grasp (a leading batch axis, sharded with the poses, padded for 5 grasps on 8
    devices) give each grasp the result of its own set passed for the whole batch; the two sets differ."""
    sobj, poses = setup
    full = E.contact_set("pinch", padded=True)
    free = E.contact_set("pinch", padded=True, palm_free=True)
    mixed = E.stacked_contact_sets("pinch", [False, True, False, True, True])
    key, mesh = jax.random.PRNGKey(3), data_mesh()
    a = O.optimize_sharded(poses[:5], key, sobj, ECFG, OCFG, mesh=mesh, contacts=full)
    b = O.optimize_sharded(poses[:5], key, sobj, ECFG, OCFG, mesh=mesh, contacts=free)
    c = O.optimize_sharded(poses[:5], key, sobj, ECFG, OCFG, mesh=mesh, contacts=mixed)
    assert mixed.valid.shape == (5, E.MAX_CONTACTS)
    for i, own in enumerate((a, b, a, b, b)):
        np.testing.assert_allclose(np.asarray(c[0][i]), np.asarray(own[0][i]), atol=1e-5)
        np.testing.assert_allclose(float(c[1][i]), float(own[1][i]), rtol=1e-4, atol=1e-5)
    assert not np.allclose(np.asarray(a[1]), np.asarray(b[1]))
