"""Closest points on triangles (the exact part of every mesh distance in dexvlg_jax), in JAX.

* `point_triangle_closest(point, triangles)`: the closest point of each triangle to one point, by Ericson's
  closest-point regions (Real-Time Collision Detection 5.1.5), branch-free so it vmaps; `_closest_and_region` also
  gives the feature it lies on (face interior, edge or vertex), whose pseudonormal gives the sign.
* `closest_on_mesh(point, triangles, normals)`: signed distance, outward normal and closest triangle of one point
  against a triangle set with its `mesh_sign.feature_pseudonormals` (used by `mesh_sdf` over all triangles and by
  `mesh_clusters` over each point's culled triangles).
Frames and units: the triangles' frame, metres; negative inside.
"""
from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float, Int

_TINY = 1e-30
FAR_AWAY = 1.0e3  # metres: where padding triangles live (degenerate, zero pseudonormals: never the nearest)
_ON_SURFACE = 1e-7  # metres: closer than this, the normal is the closest triangle's


def _safe_divide(numerator, denominator):
    safe = jnp.where(jnp.abs(denominator) > _TINY, denominator, 1.0)
    return jnp.where(jnp.abs(denominator) > _TINY, numerator / safe, 0.0)


def _closest_and_region(point: Float[Array, "3"], triangles: Float[Array, "F 3 3"]
                        ) -> tuple[Float[Array, "F 3"], Int[Array, "F"]]:
    """Closest point of each triangle to one point (closest-point regions after Ericson, RTCD 5.1.5) and the
    feature it lies on: 0 the face's interior, 1 / 2 / 3 the edge ab / bc / ca, 4 / 5 / 6 the vertex a / b / c."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    ab, ac, ap = b - a, c - a, point - a
    bp, cp = point - b, point - c
    d1 = jnp.sum(ab * ap, -1)
    d2 = jnp.sum(ac * ap, -1)
    d3 = jnp.sum(ab * bp, -1)
    d4 = jnp.sum(ac * bp, -1)
    d5 = jnp.sum(ab * cp, -1)
    d6 = jnp.sum(ac * cp, -1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    # Face interior (default), then the edge and vertex regions override in reverse priority.
    total = va + vb + vc
    v_face = _safe_divide(vb, total)
    w_face = _safe_divide(vc, total)
    closest = a + ab * v_face[:, None] + ac * w_face[:, None]
    region = jnp.zeros(a.shape[:1], jnp.int32)

    def override(inside, point_there, code):
        return jnp.where(inside[:, None], point_there, closest), jnp.where(inside, code, region)

    in_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    closest, region = override(in_bc, b + (c - b) * _safe_divide(d4 - d3, (d4 - d3) + (d5 - d6))[:, None], 2)
    in_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    closest, region = override(in_ac, a + ac * _safe_divide(d2, d2 - d6)[:, None], 3)
    closest, region = override((d6 >= 0) & (d5 <= d6), c, 6)
    in_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    closest, region = override(in_ab, a + ab * _safe_divide(d1, d1 - d3)[:, None], 1)
    closest, region = override((d3 >= 0) & (d4 <= d3), b, 5)
    return override((d1 <= 0) & (d2 <= 0), a, 4)


def point_triangle_closest(point: Float[Array, "3"], triangles: Float[Array, "F 3 3"]) -> Float[Array, "F 3"]:
    """Closest point of each triangle to one point (closest-point regions after Ericson, RTCD 5.1.5)."""
    return _closest_and_region(point, triangles)[0]


def point_triangle_squared_distance(
    point: Float[Array, "3"], triangles: Float[Array, "F 3 3"]
) -> Float[Array, "F"]:
    """Squared distance from one point to each triangle."""
    delta = point - point_triangle_closest(point, triangles)
    return jnp.sum(delta * delta, -1)


def closest_on_mesh(point: Float[Array, "3"], triangles: Float[Array, "F 3 3"], normals: Float[Array, "F 7 3"]):
    """(signed distance, outward unit normal (3,), closest triangle index) of one point; `normals`:
    `feature_pseudonormals` of the triangles (the sign comes from the closest feature's pseudonormal)."""
    squared = point_triangle_squared_distance(point, triangles)
    nearest = jnp.min(squared)
    # The first index attaining the minimum, as a plain min-reduction (argmin is several times slower on XLA:CPU).
    index = jnp.min(jnp.where(squared <= nearest, jnp.arange(squared.shape[0]), squared.shape[0]))
    unsigned = jnp.sqrt(nearest)
    closest, region = (x[0] for x in _closest_and_region(point, triangles[index][None]))
    sign = jnp.where(jnp.dot(point - closest, normals[index, region]) < 0.0, -1.0, 1.0)
    face = normals[index, 0]
    away = (point - closest) / jnp.maximum(unsigned, _TINY)
    normal = jnp.where(unsigned > _ON_SURFACE, sign * away, face)
    return sign * unsigned, normal, index
