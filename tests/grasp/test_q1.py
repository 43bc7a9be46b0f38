"""Q1 (Ferrari-Canny): JAX estimate against the NumPy + qhull reference; symmetric and non-closure grasps."""
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.grasp import q1 as q1m

B, C = 48, 4


def _random_grasps(seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(size=(B, C, 3))
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    x = d * rng.uniform(0.05, 0.15, (B, 1, 1)) + rng.normal(size=(B, 1, 3)) * 0.02
    n = -d + 0.3 * rng.normal(size=(B, C, 3))
    return x, n / np.linalg.norm(n, axis=-1, keepdims=True)


def _axis_grasp(r=0.1):
    """Six contacts at +-r on each axis with inward normals (octahedral symmetry)."""
    a = np.concatenate([np.eye(3), -np.eye(3)])
    return a * r, -a


@pytest.fixture(scope="module")
def batch():
    """One compiled batch: random grasps, with special grasps in the first rows (C = 4 contacts each)."""
    x, n = _random_grasps(0)
    # Row 0: non-closure (all normals +z: the origin is outside the wrench hull).
    x[0] = np.array([[0.05, 0, 0], [-0.05, 0, 0], [0, 0.05, 0], [0, -0.05, 0]])
    n[0] = np.tile([0.0, 0.0, 1.0], (4, 1))
    # Row 1: coincident contacts, opposite normals (flat wrench set: Q1 = 0).
    x[1] = 0.03
    n[1] = np.array([[1.0, 0, 0], [-1.0, 0, 0], [1.0, 0, 0], [-1.0, 0, 0]])
    # Row 2: non-finite contact.
    x[2, 0, 0] = np.nan
    q = np.asarray(q1m.q1_metric_batch(jnp.asarray(x, jnp.float32), jnp.asarray(n, jnp.float32)))
    ref = np.array([q1m.q1_reference(x[i], n[i]) for i in range(B)])
    return q, ref


def test_special_grasps_give_zero(batch):
    q, ref = batch
    assert ref[0] == 0.0 and q[0] == 0.0  # non-closure
    assert ref[1] == 0.0 and q[1] < 1e-3  # degenerate (flat)
    assert ref[2] == 0.0 and q[2] == 0.0  # NaN input
    assert np.all(np.isfinite(q))


def test_jax_q1_matches_qhull(batch):
    q, ref = batch
    q, ref = q[3:], ref[3:]
    assert np.array_equal(q == 0, ref == 0)  # same force-closure verdict
    nz = ref > 0
    assert nz.sum() > 10
    rel = (q[nz] - ref[nz]) / ref[nz]
    assert rel.min() > -1e-4  # an upper bound up to float32 rounding
    assert np.median(rel) < 1e-4 and np.mean(rel < 1e-3) >= 0.85, (np.median(rel), np.mean(rel < 1e-3))
    assert rel.max() < 0.5


def test_symmetric_axis_grasp():
    """Hand check: h(d) = 1 for d = (e_x, 0) and d = (0, e_x) (see module text), so 0 < Q1 <= 1; Q1 is invariant
    under the octahedral symmetry (axis permutation) and under (x, torque_scale) -> (x / s, s torque_scale)."""
    x, n = _axis_grasp()
    q = q1m.q1_reference(x, n)
    assert 0.0 < q <= 1.0
    perm = [1, 2, 0]
    assert abs(q1m.q1_reference(x[:, perm], n[:, perm]) - q) < 1e-9
    assert abs(q1m.q1_reference(x / 2.0, n, q1m.WrenchConvention(torque_scale=20.0)) - q) < 1e-9
    w = q1m._wrenches_numpy(x, n)
    assert abs(np.max(w @ np.array([1.0, 0, 0, 0, 0, 0])) - 1.0) < 1e-12
    assert abs(np.max(w @ np.array([0, 0, 0, 1.0, 0, 0])) - 1.0) < 1e-12
    # The qhull value is attained: some unit direction has support exactly q (brute-force over facet normals).
    from scipy.spatial import ConvexHull

    eq = ConvexHull(w).equations
    assert abs(np.min(np.max(w @ eq[:, :6].T, axis=0)) - q) < 1e-9
    # Adding contacts cannot lower Q1 (hull grows).
    q_more = q1m.q1_reference(np.concatenate([x, x[:2] * 0.5]), np.concatenate([n, n[:2]]))
    assert q_more >= q - 1e-12
