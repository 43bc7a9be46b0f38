"""Signed distance functions of collision primitives, in the primitive's own frame.

Convention for every SDF in dexvlg_jax: metres, negative inside, positive outside, zero on the surface.
Each function takes one query point (3,) in the primitive frame; `jax.vmap` over points and primitives.
Gradients are finite everywhere (the `safe_norm` keeps the derivative of |x| defined at 0).
"""
import jax.numpy as jnp
from jaxtyping import Array, Float

BOX = 0
CAPSULE = 1


def safe_norm(x: Float[Array, "... 3"], axis: int = -1) -> Float[Array, "..."]:
    """Euclidean norm with a finite gradient at zero."""
    sq = jnp.sum(x * x, axis=axis)
    safe = jnp.where(sq > 1e-20, sq, 1.0)
    return jnp.where(sq > 1e-20, jnp.sqrt(safe), 0.0)


def box_sdf(point: Float[Array, "3"], half_size: Float[Array, "3"]) -> Float[Array, ""]:
    """Exact SDF of an axis-aligned box centred at the origin with half extents `half_size`."""
    q = jnp.abs(point) - half_size
    outside = safe_norm(jnp.maximum(q, 0.0))
    inside = jnp.minimum(jnp.max(q), 0.0)
    return outside + inside


def capsule_sdf(point: Float[Array, "3"], radius: Float[Array, ""], half_length: Float[Array, ""]) -> Float[Array, ""]:
    """Exact SDF of a capsule along the local z axis: segment z in [-half_length, half_length], given radius."""
    z = jnp.clip(point[2], -half_length, half_length)
    return safe_norm(point - jnp.array([0.0, 0.0, 1.0]) * z) - radius


def primitive_sdf(point: Float[Array, "3"], kind: Array, size: Float[Array, "3"]) -> Float[Array, ""]:
    """SDF of a primitive of type `kind` (BOX: size = half extents; CAPSULE: size = (radius, half_length, 0))."""
    return jnp.where(kind == BOX, box_sdf(point, size), capsule_sdf(point, size[0], size[1]))
