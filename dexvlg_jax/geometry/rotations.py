"""Rotations: unit quaternions (w, x, y, z), 3x3 matrices, the 6D representation, axis-angle.

All functions act on a single item and broadcast over leading axes where noted; `jax.vmap` them for batches.
Matrices rotate column vectors: `p_world = R @ p_local`. The 6D representation (Zhou et al. 2019) is the
first two columns of R, concatenated as (r00, r10, r20, r01, r11, r21).
"""
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

_EPS = 1e-9


def quat_to_matrix(quat: Float[Array, "... 4"]) -> Float[Array, "... 3 3"]:
    """Unit quaternion (w, x, y, z), normalised here, -> rotation matrix."""
    q = quat / jnp.linalg.norm(quat, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ]
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def matrix_to_quat(rot: Float[Array, "3 3"]) -> Float[Array, "4"]:
    """Rotation matrix -> unit quaternion (w, x, y, z) with w >= 0 (branchless, jit-friendly)."""
    m = rot
    t = jnp.trace(m)
    candidates = jnp.stack([
        jnp.array([1 + t, m[2, 1] - m[1, 2], m[0, 2] - m[2, 0], m[1, 0] - m[0, 1]]),
        jnp.array([m[2, 1] - m[1, 2], 1 + m[0, 0] - m[1, 1] - m[2, 2], m[0, 1] + m[1, 0], m[0, 2] + m[2, 0]]),
        jnp.array([m[0, 2] - m[2, 0], m[0, 1] + m[1, 0], 1 - m[0, 0] + m[1, 1] - m[2, 2], m[1, 2] + m[2, 1]]),
        jnp.array([m[1, 0] - m[0, 1], m[0, 2] + m[2, 0], m[1, 2] + m[2, 1], 1 - m[0, 0] - m[1, 1] + m[2, 2]]),
    ])
    diag = jnp.array([t, m[0, 0], m[1, 1], m[2, 2]])
    q = candidates[jnp.argmax(diag)]
    q = q / jnp.linalg.norm(q)
    return q * jnp.where(q[0] < 0, -1.0, 1.0)


def axis_angle_to_matrix(axis: Float[Array, "3"], angle: Float[Array, ""]) -> Float[Array, "3 3"]:
    """Rodrigues' formula; `axis` need not be unit length (zero axis -> identity)."""
    n = jnp.linalg.norm(axis)
    k = axis / jnp.maximum(n, _EPS)
    kx = jnp.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    s, c = jnp.sin(angle), jnp.cos(angle)
    return jnp.eye(3) + s * kx + (1 - c) * (kx @ kx)


def array_module(*arrays):
    """`jax.numpy` if any argument is a JAX array (or a tracer), else `numpy`: NumPy in, NumPy out (dtype kept)."""
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def rot6d_to_matrix(rot6d: Float[Array, "... 6"]) -> Float[Array, "... 3 3"]:
    """6D (first two columns of R) -> rotation matrix by Gram-Schmidt; any non-degenerate input is valid.

    The project's only 6D -> matrix conversion. NumPy input gives a NumPy result in its own dtype; JAX input
    (or a tracer) gives a JAX array. A zero column gives zero columns (not NaN); NaN input stays NaN.
    """
    xp = array_module(rot6d)
    rot6d = xp.asarray(rot6d)
    a1, a2 = rot6d[..., 0:3], rot6d[..., 3:6]
    b1 = a1 / xp.maximum(xp.linalg.norm(a1, axis=-1, keepdims=True), _EPS)
    a2 = a2 - xp.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / xp.maximum(xp.linalg.norm(a2, axis=-1, keepdims=True), _EPS)
    b3 = xp.cross(b1, b2)
    return xp.stack([b1, b2, b3], axis=-1)


def matrix_to_rot6d(rot: Float[Array, "... 3 3"]) -> Float[Array, "... 6"]:
    """Rotation matrix -> 6D: its first two columns, concatenated (NumPy in, NumPy out; JAX in, JAX out)."""
    xp = array_module(rot)
    rot = xp.asarray(rot)
    return xp.concatenate([rot[..., :, 0], rot[..., :, 1]], axis=-1)


def random_rotation(rng) -> Float[Array, "3 3"]:
    """Uniformly distributed rotation (normalised Gaussian quaternion)."""
    return quat_to_matrix(jax.random.normal(rng, (4,)))


def rotation_angle_between(rot_a: Float[Array, "3 3"], rot_b: Float[Array, "3 3"]) -> Float[Array, ""]:
    """Geodesic angle (radians) between two rotations."""
    cos = (jnp.trace(rot_a.T @ rot_b) - 1.0) / 2.0
    return jnp.arccos(jnp.clip(cos, -1.0, 1.0))
