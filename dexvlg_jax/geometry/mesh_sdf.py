"""Signed distance of a triangle mesh in JAX: exact brute force, and a precomputed trilinear grid.

Convention (as every SDF in dexvlg_jax): metres, **negative inside, positive outside**, zero on the surface.
Note that `trimesh.proximity.signed_distance` uses the opposite sign (positive inside).

* `mesh_signed_distance(points, vertices, faces)`: exact unsigned distance to the nearest triangle (closest
  point on each triangle, Ericson's region test, branch-free) with the sign of the closest feature's angle-weighted
  pseudonormal (Baerentzen & Aanaes 2005: face, edge or vertex, `feature_pseudonormals`), exact for the closed,
  outward-oriented meshes that `objects.processing` makes (watertight, consistently oriented). Cost O(P F); points
  are processed in chunks with `lax.map` so memory stays O(chunk * F). It replaced the generalised winding
  number's sign (`mesh_sign.winding_number`, which tolerates small holes but costs as much as the distance): the
  two agree at all 99,827 off-surface test points around the demo's 10 processed meshes, whose exact grasp metrics
  then took 37.2 s instead of 47.7 s (2026-12-02, 2-core CPU, every value equal).
* `mesh_closest(points, vertices, faces)`: the same exact signed distance plus the exact outward normal (the unit
  SDF gradient: the direction from the closest surface point, the closest triangle's normal on the surface) and
  the closest triangle's index. What reported quality metrics use instead of the grid (`grasp.metrics`).
* `SDFGrid` + `build_sdf_grid(vertices, faces)`: the SDF sampled on a regular grid that covers the mesh's
  bounding box plus a padding (3 cm by default), exact within a band of 4 cells around the surface (coarse-to-
  fine: far nodes are interpolated from coarser exact levels; the exact nodes by `mesh_clusters`, the brute
  force's values at a third less time on the demo's meshes). Coordinates in the mesh's frame (object frame).
* `sdf_grid_query(grid, points)`: trilinear interpolation; jit/vmap/grad-able. A point outside the grid box
  gets the value at its projection onto the box plus its distance to the box, so the field stays positive
  and continuous away from the object.
* `sdf_grid_gradient(grid, points)`: d sdf / d point of the trilinear field (via `jax.grad`).
* `sdf_grid_lower_bound(grid, points)`: max over the cell's 8 nodes of (node value - distance to the node), a
  certified lower bound of the exact SDF (1-Lipschitz) wherever those nodes are exact (the band, so any point
  with sdf < sqrt(3) cell), and at least the distance to the grid's box for a point outside it: a cheap filter
  for which points can be inside at all. `sdf_grid_bounds` adds the upper bound min over the nodes of (node
  value + distance to the node).
"""
from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from dexvlg_jax.geometry.mesh_clusters import cluster_triangles, culled_signed_distance
from dexvlg_jax.geometry.mesh_sign import feature_pseudonormals
from dexvlg_jax.geometry.primitives import safe_sqrt
from dexvlg_jax.geometry.triangles import FAR_AWAY, closest_on_mesh, point_triangle_squared_distance  # noqa: F401

_TRIANGLE_BUCKET = 256


@flax.struct.dataclass
class SDFGrid:
    """A signed-distance field sampled on a regular grid (object frame, metres, negative inside).

    origin: (3,) position of grid node (0, 0, 0). spacing: () cell size (same on every axis).
    values: (nx, ny, nz) signed distance at node (i, j, k) = origin + spacing * (i, j, k).
    Fields may hold numpy or jax arrays; the query functions convert.
    """

    origin: Float[Array, "3"]
    spacing: Float[Array, ""]
    values: Float[Array, "nx ny nz"]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.values.shape)

    @property
    def upper_corner(self) -> Float[Array, "3"]:
        """Position of the last grid node (nx-1, ny-1, nz-1)."""
        return self.origin + self.spacing * (jnp.asarray(self.values.shape, jnp.float32) - 1.0)


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def _closest_chunked(points, triangles, normals, chunk_size: int):
    num_points = points.shape[0]
    num_chunks = -(-num_points // chunk_size)
    padded = jnp.concatenate([points, jnp.broadcast_to(points[:1], (num_chunks * chunk_size - num_points, 3))])
    chunks = padded.reshape(num_chunks, chunk_size, 3)
    per_chunk = jax.vmap(closest_on_mesh, in_axes=(0, None, None))
    values = jax.lax.map(lambda chunk: per_chunk(chunk, triangles, normals), chunks)
    return jax.tree.map(lambda v: v.reshape((-1,) + v.shape[2:])[:num_points], values)


def _bucketed(points, vertices, faces, chunk_size):
    """Points and triangles padded to bucketed sizes, so a stream of different meshes and point counts reuses
    a few compiled programs. Padding triangles are degenerate and far away: they never are the nearest one (their
    pseudonormals are zero). Host arrays (numpy), so a new mesh size compiles no eager op. Returns (points,
    triangles, their `feature_pseudonormals`, chunk_size, number of real points)."""
    points = np.asarray(points, np.float32).reshape(-1, 3)
    triangles = np.asarray(vertices, np.float32)[np.asarray(faces, np.int32)]
    normals = feature_pseudonormals(vertices, faces)
    chunk_size = int(max(1, min(chunk_size, points.shape[0])))
    num_triangles = triangles.shape[0]
    padded_triangles = -(-num_triangles // _TRIANGLE_BUCKET) * _TRIANGLE_BUCKET
    far = np.full((padded_triangles - num_triangles, 3, 3), FAR_AWAY, np.float32)
    triangles = np.concatenate([triangles, far], 0)
    normals = np.concatenate([normals, np.zeros((len(far), 7, 3), np.float32)], 0)
    num_points = points.shape[0]
    padded_points = max(chunk_size * 8, 1 << int(np.ceil(np.log2(max(num_points, 1)))))  # powers of two
    points = np.concatenate([points, np.broadcast_to(points[:1], (padded_points - num_points, 3))], 0)
    return points, triangles, normals, chunk_size, num_points


def mesh_closest(
    points: Float[Array, "P 3"],
    vertices: Float[Array, "V 3"],
    faces: Int[Array, "F 3"],
    chunk_size: int = 256,
) -> tuple[Float[Array, "P"], Float[Array, "P 3"], Int[Array, "P"]]:
    """Exact signed distance (m, negative inside), outward unit normal and closest triangle of each point
    (host numpy arrays (P,), (P, 3), (P,)).

    The normal is the exact SDF gradient: the unit vector from the closest surface point towards the point
    (away from it inside), and the closest triangle's normal (vertices counter-clockwise seen from outside)
    for points within 1e-7 m of the surface. Brute force over all triangles, jitted, chunked with `lax.map`;
    keep the mesh near the origin for float32 accuracy (the object frame is centred on its bounding box).
    """
    padded, triangles, normals, chunk_size, n = _bucketed(points, vertices, faces, chunk_size)
    distance, normal, index = _closest_chunked(padded, triangles, normals, chunk_size)
    return np.asarray(distance)[:n], np.asarray(normal)[:n], np.asarray(index)[:n]  # host: no slice op to compile


def mesh_signed_distance(
    points: Float[Array, "P 3"],
    vertices: Float[Array, "V 3"],
    faces: Int[Array, "F 3"],
    chunk_size: int = 256,
) -> Float[Array, "P"]:
    """Exact signed distance (metres, negative inside) from points to a triangle mesh, same frame as the mesh
    (`mesh_closest` without the normals; XLA drops their computation). Host numpy array (P,)."""
    padded, triangles, normals, chunk_size, n = _bucketed(points, vertices, faces, chunk_size)
    return np.asarray(_signed_distance_chunked(padded, triangles, normals, chunk_size))[:n]


@functools.partial(jax.jit, static_argnames=("chunk_size",))
def _signed_distance_chunked(points, triangles, normals, chunk_size: int):
    return _closest_chunked(points, triangles, normals, chunk_size)[0]


def _exact_grid_values(axes, vertices, faces, chunk_size):
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    values = mesh_signed_distance(nodes.astype(np.float32), vertices, faces, chunk_size)
    return np.asarray(values, np.float64).reshape(tuple(len(a) for a in axes))


def _coarse_to_fine_values(axes, vertices, faces, clusters, chunk_size, levels, band):
    """SDF on the grid `axes` (odd node counts), exact wherever |sdf| <= band, interpolated elsewhere.

    The grid with every second node is solved first (recursively, with a band wider by 4 fine cells), then
    each fine node gets a lower bound on |sdf| from the 8 coarse corners (1-Lipschitz: |d(x)| >= |d(c)| - |x - c|);
    only nodes whose bound is <= band are evaluated exactly (`mesh_clusters.culled_signed_distance`: the brute
    force's values, each node compared only with the triangles near it), the rest take the trilinear
    interpolation of the coarse corners (same sign: band >= the largest corner distance 2 sqrt(3) h).
    """
    counts = [len(a) for a in axes]
    spacing = float(axes[0][1] - axes[0][0])
    if levels == 0 or min(counts) < 5:
        return _exact_grid_values(axes, vertices, faces, chunk_size)
    coarse = _coarse_to_fine_values([a[::2] for a in axes], vertices, faces, clusters, chunk_size, levels - 1,
                                    band + 4 * spacing)
    cell, offset = [], []
    for n in counts:
        index = np.arange(n)
        lower = np.minimum(index // 2, (n - 1) // 2 - 1)
        cell.append(lower)
        offset.append(index - 2 * lower)  # 0, 1 or 2 fine cells above the coarse cell's lower corner
    grids = np.meshgrid(*cell, indexing="ij")
    offsets = np.meshgrid(*offset, indexing="ij")
    interpolated = np.zeros(counts)
    lower_bound = np.full(counts, -np.inf)
    for corner in np.ndindex(2, 2, 2):
        value = coarse[grids[0] + corner[0], grids[1] + corner[1], grids[2] + corner[2]]
        weight = np.ones(counts)
        squared = np.zeros(counts)
        for d in range(3):
            fraction = offsets[d] / 2.0
            weight *= fraction if corner[d] else 1.0 - fraction
            squared += ((2 - offsets[d]) if corner[d] else offsets[d]) ** 2
        interpolated += weight * value
        lower_bound = np.maximum(lower_bound, np.abs(value) - spacing * np.sqrt(squared))
    on_coarse = (offsets[0] % 2 == 0) & (offsets[1] % 2 == 0) & (offsets[2] % 2 == 0)
    values = interpolated  # exact already on coarse nodes (weight 1 on one corner)
    need = (lower_bound <= band) & ~on_coarse
    if need.any():
        index = np.nonzero(need)
        nodes = np.stack([axes[d][index[d]] for d in range(3)], -1)
        values[index] = culled_signed_distance(nodes.astype(np.float32), clusters)  # the brute force's values
    return values


def build_sdf_grid(
    vertices: Float[Array, "V 3"],
    faces: Int[Array, "F 3"],
    resolution: int = 48,
    padding: float = 0.03,
    chunk_size: int = 256,
    exact_band_cells: float | None = 4.0,
) -> SDFGrid:
    """Sample the SDF on a grid with cubic cells covering the mesh bounds + `padding` (metres).

    `resolution` sets the spacing: (resolution - 1) cells along the longest axis. Node counts are rounded up
    to 4 m + 1 (at most 3 extra nodes) for the two-level coarse-to-fine build: values are exact (brute force)
    wherever |sdf| <= exact_band_cells * spacing and trilinearly interpolated from coarser exact levels farther
    out (same sign, error well below a cell). `exact_band_cells=None` evaluates every node exactly.
    Returns an SDFGrid holding numpy arrays (float32).
    """
    vertices = np.asarray(vertices, np.float64)
    lower = vertices.min(0) - padding
    upper = vertices.max(0) + padding
    spacing = float((upper - lower).max() / (resolution - 1))
    counts = np.maximum(np.ceil((upper - lower) / spacing - 1e-6).astype(int) + 1, 2)
    if exact_band_cells is not None:
        counts = 4 * (-(-(counts - 1) // 4)) + 1
    # Centre the grid on the mesh box so the padding is symmetric.
    origin = (lower + upper) / 2.0 - spacing * (counts - 1) / 2.0
    axes = [origin[d] + spacing * np.arange(counts[d]) for d in range(3)]
    triangle_vertices, faces = vertices.astype(np.float32), np.asarray(faces)
    if exact_band_cells is None:
        values = _exact_grid_values(axes, triangle_vertices, faces, chunk_size)
    else:
        clusters = cluster_triangles(triangle_vertices, faces)
        values = _coarse_to_fine_values(axes, triangle_vertices, faces, clusters, chunk_size, 2,
                                        exact_band_cells * spacing)
    return SDFGrid(
        origin=origin.astype(np.float32),
        spacing=np.float32(spacing),
        values=np.asarray(values, np.float32),
    )


def _cell(values, origin, spacing, x, y, z):
    """The grid cell of points given as three same-shape coordinate arrays (any shape; XLA vectorises these, not a
    trailing axis of 3: 3x faster with the gradient): node(offset) gives the value at the cell's first corner +
    a flat offset, base (3 arrays) the corner's node coordinates, clamped (3) the points clipped into the box."""
    n = values.shape
    clamped, base = [], []
    for d, coord in enumerate((x, y, z)):
        clamped.append(jnp.clip(coord, origin[d], origin[d] + spacing * (n[d] - 1)))
        base.append(jnp.clip(jnp.floor((clamped[d] - origin[d]) / spacing), 0.0, n[d] - 2.0))
    index = [b.astype(jnp.int32) for b in base]
    flat, corner = values.reshape(-1), (index[0] * n[1] + index[1]) * n[2] + index[2]

    def node(offset):  # clipped indices are in bounds
        return flat.at[corner + offset].get(mode="promise_in_bounds")

    return node, base, clamped


def _trilinear(values, origin, spacing, x, y, z):
    """Trilinear field at points given as three same-shape coordinate arrays (`_cell`), plus the distance to the
    grid box outside it."""
    node, base, clamped = _cell(values, origin, spacing, x, y, z)
    fx, fy, fz = ((c - origin[d]) / spacing - base[d] for d, c in enumerate(clamped))
    sx, sy = values.shape[1] * values.shape[2], values.shape[2]
    c00 = node(0) * (1 - fx) + node(sx) * fx
    c01 = node(1) * (1 - fx) + node(sx + 1) * fx
    c10 = node(sy) * (1 - fx) + node(sx + sy) * fx
    c11 = node(sy + 1) * (1 - fx) + node(sx + sy + 1) * fx
    c0 = c00 * (1 - fy) + c10 * fy
    c1 = c01 * (1 - fy) + c11 * fy
    return c0 * (1 - fz) + c1 * fz + safe_sqrt(sum((c - q) ** 2 for c, q in zip(clamped, (x, y, z))))


@jax.jit
def _query_points(values, origin, spacing, points):
    return _trilinear(values, origin, spacing, points[..., 0], points[..., 1], points[..., 2])


@jax.jit
def _gradient_points(values, origin, spacing, points):
    # each value depends on its own point only: the gradient of the sum is every point's gradient
    return jax.grad(lambda p: jnp.sum(_query_points(values, origin, spacing, p)))(points)


def _grid_arrays(grid: SDFGrid):
    return (jnp.asarray(grid.values, jnp.float32), jnp.asarray(grid.origin, jnp.float32),
            jnp.asarray(grid.spacing, jnp.float32))


def sdf_grid_query(grid: SDFGrid, points: Float[Array, "P 3"]) -> Float[Array, "P"]:
    """Trilinear signed distance (metres, negative inside) of object-frame points; jit/vmap/grad-able."""
    return _query_points(*_grid_arrays(grid), jnp.asarray(points, jnp.float32))


def sdf_grid_gradient(grid: SDFGrid, points: Float[Array, "P 3"]) -> Float[Array, "P 3"]:
    """Gradient of the trilinear field w.r.t. each point (roughly the outward normal near the surface)."""
    return _gradient_points(*_grid_arrays(grid), jnp.asarray(points, jnp.float32))


def _bounds(values, origin, spacing, x, y, z):
    """(lower, upper) bounds of the exact SDF (`sdf_grid_bounds`) at points given as coordinate arrays (`_cell`)."""
    node, base, clamped = _cell(values, origin, spacing, x, y, z)
    lower, upper = -jnp.inf, jnp.inf
    for i, j, k in np.ndindex(2, 2, 2):
        value = node((i * values.shape[1] + j) * values.shape[2] + k)
        corner = (origin[d] + spacing * (base[d] + offset) for d, offset in enumerate((i, j, k)))
        distance = jnp.sqrt(sum((c - q) ** 2 for c, q in zip(corner, (x, y, z))))
        lower, upper = jnp.maximum(lower, value - distance), jnp.minimum(upper, value + distance)
    # The mesh lies inside the grid's box (its padding), so a point outside the box is at least its distance to
    # the box away from the mesh: without this, far points get max(v - d) < 0 and look possibly inside.
    outside = jnp.sqrt(sum((c - q) ** 2 for c, q in zip(clamped, (x, y, z))))
    return jnp.where(outside > 0.0, jnp.maximum(lower, outside), lower), upper


@jax.jit
def _bounds_points(values, origin, spacing, points):
    return _bounds(values, origin, spacing, points[..., 0], points[..., 1], points[..., 2])


def sdf_grid_lower_bound(grid: SDFGrid, points: Float[Array, "P 3"]) -> Float[Array, "P"]:
    """Certified lower bound (m) of the exact SDF at each point from the 8 nodes of its cell (module docstring):
    a point whose bound is >= 0 is not inside the mesh, provided the nodes near the surface are exact."""
    return sdf_grid_bounds(grid, points)[0]


def sdf_grid_bounds(grid: SDFGrid, points: Float[Array, "P 3"]) -> tuple[Float[Array, "P"], Float[Array, "P"]]:
    """(lower, upper) bounds (m) of the exact SDF at each point, from the 8 nodes v_i of its cell and the distances
    d_i to them: an SDF is 1-Lipschitz, so max_i (v_i - d_i) <= sdf <= min_i (v_i + d_i), provided the nodes are
    exact (those near the surface are; farther ones carry the coarse-to-fine build's small error). A point outside
    the grid's box has lower bound at least its distance to the box (the mesh is inside the box)."""
    return _bounds_points(*_grid_arrays(grid), jnp.asarray(points, jnp.float32))
