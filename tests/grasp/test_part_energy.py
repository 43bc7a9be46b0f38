"""E_part: contacts on the instructed part cost nothing, contacts elsewhere are pulled onto it."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.geometry.mesh_sdf import SDFGrid
from dexvlg_jax.grasp.energy import PART_TOLERANCE, SynthObject, part_distance


def _two_part_object():
    """Surface samples of two parts: part 0 on the plane z = 0 (x < 0), part 1 on z = 0 (x > 0.1)."""
    xs = np.linspace(-0.1, 0.0, 11)
    left = np.stack([xs, np.zeros_like(xs), np.zeros_like(xs)], 1)
    right = left + np.array([0.2, 0.0, 0.0])
    points = np.concatenate([left, right]).astype(np.float32)
    grid = SDFGrid(origin=jnp.zeros(3), spacing=jnp.float32(0.01), values=jnp.zeros((2, 2, 2)))
    return SynthObject(sdf=grid, points=jnp.asarray(points), normals=jnp.zeros_like(jnp.asarray(points)),
                       part_ids=jnp.asarray(np.r_[np.zeros(11), np.ones(11)], jnp.int32),
                       table_up=jnp.array([0.0, 0.0, 1.0]), table_offset=jnp.float32(-1e3))


def test_part_distance_values_and_gradient():
    obj = _two_part_object()
    on_left = jnp.array([[-0.05, 0.003, 0.0], [-0.02, 0.0, 0.002]])
    assert float(part_distance(on_left, obj, 0)) == 0.0  # within PART_TOLERANCE of part 0's samples
    assert float(part_distance(on_left, obj, -1)) == 0.0  # no target part
    # On part 1's side, 0.1 m (nearest part-1 sample at x = 0.1) and 0.12 m from part 1 at x = 0.0 / -0.02
    far = float(part_distance(on_left, obj, 1))
    assert far == pytest.approx((0.15 - PART_TOLERANCE) + (0.12 - PART_TOLERANCE), abs=1e-3)
    grad = jax.grad(lambda x: part_distance(x, obj, 1))(on_left)
    assert np.all(np.asarray(grad)[:, 0] < 0)  # moving towards +x (part 1) lowers the energy
    assert np.all(np.isfinite(np.asarray(jax.grad(lambda x: part_distance(x, obj, 0))(on_left))))
