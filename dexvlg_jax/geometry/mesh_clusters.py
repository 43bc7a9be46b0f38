"""Exact mesh signed distance with culling: the triangles in small spatial clusters, each with a bounding box.

`mesh_sdf.mesh_signed_distance` compares every point with every triangle (O(P F)). Near the surface, where the
grasp metrics need it (`grasp.metrics.penetration_depths`), almost all of that work is on triangles that cannot be
the nearest one. This module skips them without changing a value:

* `cluster_triangles(vertices, faces)`: the mesh's triangles split recursively at the median of their centroids
  along the longest axis until a cluster holds at most `size` triangles; each cluster gets the axis-aligned box
  of its triangles. Clusters are padded with the far-away degenerate triangles of `mesh_sdf` (zero
  pseudonormals: never the nearest).
* `culled_signed_distance(points, clusters, upper)`: `upper` (P,) is any certified upper bound on each point's
  distance to the surface (default: the distance to the nearest mesh vertex; `grasp.metrics` passes the nearest of
  its dense surface samples, which is tighter). A cluster can hold the nearest triangle only if the distance from
  the point to its box is at most `upper`; every point is compared with the triangles of its M clusters of
  smallest lower bound, M (a power of two) at least the number of such candidates for every point of a batch. The
  nearest triangle is therefore always compared, with the same arithmetic as the brute force, so the signed
  distance is the brute force's (the sign comes from the closest feature's pseudonormal, shared by the triangles
  that meet there). tests/geometry/test_mesh_clusters.py checks equality with `mesh_signed_distance`.

Frames and units: the mesh's frame (object frame), metres, negative inside.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
from jaxtyping import Array, Float, Int
from scipy.spatial import cKDTree

from dexvlg_jax.geometry.triangles import FAR_AWAY, closest_on_mesh
from dexvlg_jax.geometry.mesh_sign import feature_pseudonormals

_SLACK = 1e-6  # metres added to every upper bound: float32 rounding of the points and of the triangles
_POINTS_PER_CALL = 1024  # points per jitted call (the last padded): compiles once per (M, cluster-count bucket)
_CHUNK = 128  # points per `lax.map` step inside a call


@dataclasses.dataclass(frozen=True)
class TriangleClusters:
    """A mesh's triangles grouped in K clusters of `size` (host arrays, mesh frame, metres).

    triangles (K, size, 3, 3) float32 and normals (K, size, 7, 3) (`feature_pseudonormals`), padded with far
    degenerate triangles; faces (K, size) int: the mesh face of each slot, -1 for padding; low, high (K, 3) float64:
    each cluster's bounding box; vertex_tree: a k-d tree of the mesh's vertices (default bounds).
    K is padded to a power of two (empty clusters far away) so meshes share compiled programs.
    """

    triangles: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    low: np.ndarray
    high: np.ndarray
    vertex_tree: cKDTree


def _median_split(order: np.ndarray, centroids: np.ndarray, size: int) -> list[np.ndarray]:
    """Face indices `order` split into groups of at most `size`, spatially coherent (full groups where possible)."""
    groups, stack = [], [order]
    while stack:
        group = stack.pop()
        if len(group) <= size:
            groups.append(group)
            continue
        points = centroids[group]
        axis = int(np.argmax(np.ptp(points, axis=0)))
        group = group[np.argsort(points[:, axis], kind="stable")]
        half = size * -(-len(group) // (2 * size))  # a multiple of size: the lower half fills its clusters
        stack += [group[half:], group[:half]]
    return groups


def cluster_triangles(vertices: Float[Array, "V 3"], faces: Int[Array, "F 3"], size: int = 16) -> TriangleClusters:
    """The mesh's triangles in clusters of at most `size` with bounding boxes (module docstring); host numpy."""
    vertices = np.asarray(vertices, np.float32)
    faces = np.asarray(faces, np.int64)
    corners = vertices[faces].astype(np.float64)  # (F, 3, 3)
    groups = _median_split(np.arange(len(faces)), corners.mean(1), size)
    k = max(8, 1 << (len(groups) - 1).bit_length())
    face_slots = np.full((k, size), -1, np.int64)
    for i, group in enumerate(groups):
        face_slots[i, :len(group)] = group
    real = face_slots >= 0
    pseudonormals = feature_pseudonormals(vertices, faces)
    triangles = np.where(real[..., None, None], vertices[faces[np.maximum(face_slots, 0)]], FAR_AWAY)
    normals = np.where(real[..., None, None], pseudonormals[np.maximum(face_slots, 0)], 0.0)
    slot_corners = corners[np.maximum(face_slots, 0)]  # (K, size, 3, 3)
    low = np.where(real[..., None, None], slot_corners, np.inf).min((1, 2))
    high = np.where(real[..., None, None], slot_corners, -np.inf).max((1, 2))
    empty = ~real.any(1)[:, None]
    return TriangleClusters(triangles=triangles.astype(np.float32), normals=normals.astype(np.float32),
                            faces=face_slots, low=np.where(empty, FAR_AWAY, low), high=np.where(empty, FAR_AWAY, high),
                            vertex_tree=cKDTree(vertices))


@jax.jit
def _culled_chunked(points, cluster_ids, triangles, normals):
    """Signed distance (B,) of points (B, 3), each against the triangles of its clusters `cluster_ids` (B, M)."""
    def chunk(args):
        p, ids = args
        tri = triangles[ids].reshape(p.shape[0], -1, 3, 3)
        nrm = normals[ids].reshape(p.shape[0], -1, 7, 3)
        return jax.vmap(closest_on_mesh)(p, tri, nrm)[0]

    m = cluster_ids.shape[1]
    out = jax.lax.map(chunk, (points.reshape(-1, _CHUNK, 3), cluster_ids.reshape(-1, _CHUNK, m)))
    return out.reshape(-1)


def cluster_gaps(points: np.ndarray, clusters: TriangleClusters) -> np.ndarray:
    """(P, K) distances (m) from each point to each cluster's box: lower bounds on the distance to its triangles."""
    p = points[:, None].astype(np.float64)
    return np.linalg.norm(np.maximum(np.maximum(clusters.low - p, p - clusters.high), 0.0), axis=-1)


def culled_signed_distance(points: Float[Array, "P 3"], clusters: TriangleClusters,
                           upper: np.ndarray | None = None) -> np.ndarray:
    """Exact signed distance (P,) (metres, negative inside; equal to `mesh_sdf.mesh_signed_distance`) of points
    in the mesh frame. upper (P,): certified upper bounds on the unsigned distances (default: to the nearest mesh
    vertex). Points are grouped by how many clusters they must see, rounded up to a power of two. Host numpy."""
    points = np.asarray(points, np.float32).reshape(-1, 3)
    if upper is None:
        upper, _ = clusters.vertex_tree.query(points)
    upper = np.asarray(upper, np.float64) + _SLACK
    num_clusters = len(clusters.low)
    need = np.empty(len(points), np.int64)  # clusters each point is compared with
    order = np.empty((len(points), num_clusters), np.int32)  # clusters by increasing lower bound
    for start in range(0, len(points), _POINTS_PER_CALL):  # bounds in blocks: memory O(block * K)
        rows = slice(start, start + _POINTS_PER_CALL)
        gap = cluster_gaps(points[rows], clusters)
        count = np.maximum((gap <= upper[rows, None]).sum(1), 1)  # the candidates sort first
        need[rows] = np.minimum(np.left_shift(1, np.ceil(np.log2(count)).astype(np.int64)), num_clusters)
        order[rows] = np.argsort(gap, axis=1, kind="stable")
    out = np.empty(len(points), np.float32)
    for m in np.unique(need):  # one compiled program per (m, K)
        rows = np.flatnonzero(need == m)
        for start in range(0, len(rows), _POINTS_PER_CALL):
            call = np.resize(rows[start:start + _POINTS_PER_CALL], _POINTS_PER_CALL)  # the last call padded
            values = _culled_chunked(points[call], order[call, :m], clusters.triangles, clusters.normals)
            out[call] = np.asarray(values)
    return out
