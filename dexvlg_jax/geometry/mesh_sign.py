"""Inside or outside a closed triangle mesh: the tests behind `mesh_sdf`'s sign.

* `feature_pseudonormals(vertices, faces)`: per triangle, the pseudonormals of its face, edges and vertices
  (Baerentzen & Aanaes, "Signed distance computation using the angle weighted pseudonormal", IEEE TVCG 2005). For
  a closed, consistently outward-oriented manifold mesh, a point is inside exactly when (point - its closest
  surface point) . (the pseudonormal of the feature that closest point lies on) < 0. `mesh_sdf` takes its sign
  this way: one dot product per point once the closest triangle is known.
* `winding_number(point, triangles)`: the generalised winding number (Jacobson et al. 2013), the sum of the
  triangles' solid angles over 4 pi (1 inside, 0 outside). It tolerates small holes but costs O(F) per point, as
  much as the distance itself; kept as the independent reference the tests compare the pseudonormal sign with.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int


def feature_pseudonormals(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"]) -> np.ndarray:
    """(F, 7, 3) float32 pseudonormals of every triangle's features, in `triangles._closest_and_region`'s order:
    the face's unit normal; the edges ab, bc, ca (sum of the unit normals of the faces that share the edge); the
    vertices a, b, c (sum of the incident faces' unit normals, each weighted by the face's angle at the vertex).

    Degenerate (zero-area) faces add nothing; the module docstring says when the sign is exact."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area2 = np.linalg.norm(cross, axis=1, keepdims=True)
    unit = np.where(area2 > 0, cross / np.maximum(area2, 1e-300), 0.0)
    out = np.zeros((len(f), 7, 3))
    out[:, 0] = unit
    edges = np.sort(np.stack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], 1).reshape(-1, 2), axis=1)
    keys, inverse = np.unique(edges, axis=0, return_inverse=True)
    edge_sum = np.zeros((len(keys), 3))
    np.add.at(edge_sum, inverse.ravel(), np.repeat(unit, 3, axis=0))
    out[:, 1:4] = edge_sum[inverse.reshape(-1, 3)]
    vertex_sum = np.zeros((len(v), 3))
    for k in range(3):
        e1, e2 = tri[:, (k + 1) % 3] - tri[:, k], tri[:, (k + 2) % 3] - tri[:, k]
        cosine = np.sum(e1 * e2, 1) / np.maximum(np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1), 1e-300)
        np.add.at(vertex_sum, f[:, k], np.arccos(np.clip(cosine, -1.0, 1.0))[:, None] * unit)
    out[:, 4:7] = vertex_sum[f]
    return out.astype(np.float32)


def winding_number(point: Float[Array, "3"], triangles: Float[Array, "F 3 3"]) -> Float[Array, ""]:
    """Generalised winding number of a point (1 inside a closed outward-oriented mesh, 0 outside).

    Solid angle of each triangle by Van Oosterom & Strackee: tan(omega / 2) = det / denominator.
    """
    a = triangles[:, 0] - point
    b = triangles[:, 1] - point
    c = triangles[:, 2] - point
    la, lb, lc = (jnp.sqrt(jnp.sum(v * v, -1)) for v in (a, b, c))
    det = jnp.sum(a * jnp.cross(b, c), -1)
    denominator = la * lb * lc + jnp.sum(a * b, -1) * lc + jnp.sum(b * c, -1) * la + jnp.sum(c * a, -1) * lb
    solid_angle = 2.0 * jnp.arctan2(det, denominator)
    return jnp.sum(solid_angle) / (4.0 * jnp.pi)
