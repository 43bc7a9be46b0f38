"""Robust watertight remeshing of any triangle soup: generalized winding number + marching tetrahedra.

`winding_remesh(vertices, faces, resolution)` -> (vertices (V', 3) float64, faces (F', 3) int64) of a closed,
2-manifold, outward-oriented surface (the ManifoldPlus role, for what `watertight.make_watertight` cannot repair
exactly: non-manifold edges and vertices, bow ties, holes whose boundary is not a simple loop, stray fins):

1. a regular grid of cubic cells, `resolution` cells along the soup's longest side (h = longest side /
   resolution, metres or whatever unit the input has), padded by 2 cells;
2. inside/outside at every node from the generalized winding number of the soup (Jacobson et al. 2013, the fast
   Barnes-Hut evaluation of point-cloud-utils / libigl): w > 0.5 is inside. It fills holes with a minimal-ish
   surface, ignores zero-thickness fins, and counts overlapping pieces once (w >= 1 is inside either way); it
   needs consistently outward faces, so `orient_soup` first orients each connected piece (libigl's BFS
   orientation, then the sign of the piece's volume);
3. near the surface (nodes with a neighbour of the other sign) the value is the exact unsigned distance to the
   soup (libigl AABB tree) times the sign, so surface vertices land where the input surface is; elsewhere +-2h;
4. marching tetrahedra (each cube cut into the 6 Kuhn tetrahedra around its main diagonal, so neighbouring cubes
   share faces; one vertex per crossed grid edge): the zero level set of a piecewise-linear field on a simplicial
   grid, closed and 2-manifold by construction (no ambiguous cases, unlike marching cubes: pcu's sparse marching
   cubes left cracks on the test meshes);
5. manifold3d checks it (`Manifold`) and simplifies it within `0.25 h` (coplanar regions collapse to few
   triangles).

Tolerance: away from sharp features the surface is within a small fraction of h of the input; edges and corners
are bevelled by at most ~h (measured on the broken test meshes: Hausdorff to the unbroken shape <= 1.2 h plus,
over a hole, the depth of the patch that closes it). `resolution=96` costs ~1-2 s per object on one CPU core.
"""
from __future__ import annotations

import numpy as np

# Corner offsets of a cube, and its 6 Kuhn tetrahedra (corners by index into _CORNERS) around diagonal 0-7.
_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]])
_TETS = np.array([[0, 1, 3, 7], [0, 3, 2, 7], [0, 2, 6, 7], [0, 6, 4, 7], [0, 4, 5, 7], [0, 5, 1, 7]])


def orient_soup(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """faces (F, 3) with a consistent winding within each connected piece, each piece's volume made positive
    (outward normals). Works on non-manifold and open soups (libigl's BFS orientation via point-cloud-utils)."""
    import point_cloud_utils as pcu

    oriented, components = pcu.orient_mesh_faces(np.ascontiguousarray(faces, np.int32))
    oriented, components = np.asarray(oriented, np.int64), np.asarray(components, np.int64)
    triangles = vertices[oriented]
    center = vertices[np.unique(faces)].mean(0)
    a, b, c = triangles[:, 0] - center, triangles[:, 1] - center, triangles[:, 2] - center
    signed = np.einsum("ij,ij->i", a, np.cross(b, c))
    volume = np.bincount(components, weights=signed)
    flip = volume[components] < 0
    oriented[flip] = oriented[flip][:, ::-1]
    return oriented


def _node_values(vertices, faces, lower, spacing, dims):
    """Signed values (N,) at the grid nodes, node (i, j, k) at lower + spacing * (i, j, k): negative inside."""
    import point_cloud_utils as pcu

    axes = [lower[i] + spacing * np.arange(dims[i]) for i in range(3)]
    nodes = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    winding = np.asarray(pcu.triangle_soup_fast_winding_number(
        np.ascontiguousarray(vertices, np.float64), np.ascontiguousarray(faces, np.int32), nodes))
    if not winding.max(initial=0.0) >= 0.75:
        raise ValueError("winding_remesh: the soup encloses no volume (winding number < 0.75 everywhere)")
    inside = (winding > 0.5).reshape(dims)
    near = np.zeros(dims, bool)
    for axis in range(3):  # a neighbour along this axis has the other sign
        change = inside[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))] != \
            inside[tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))]
        near[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))] |= change
        near[tuple(slice(None, -1) if a == axis else slice(None) for a in range(3))] |= change
    near, inside = near.reshape(-1), inside.reshape(-1)
    distance = np.full(len(nodes), 2.0 * spacing)
    if near.any():
        d, _, _ = pcu.closest_points_on_mesh(nodes[near], np.ascontiguousarray(vertices, np.float64),
                                             np.ascontiguousarray(faces, np.int32))
        # Never exactly zero, so that no vertex sits on a node (the level set stays a manifold).
        distance[near] = np.clip(np.asarray(d), 1e-6 * spacing, 2.0 * spacing)
    return nodes, np.where(inside, -distance, distance)


def marching_tetrahedra(values: np.ndarray, nodes: np.ndarray, dims) -> tuple[np.ndarray, np.ndarray]:
    """Zero level set of node values (N,) (negative inside, never 0) on a grid of dims (nx, ny, nz) nodes
    (positions nodes (N, 3), C order) -> (vertices (V, 3), faces (F, 3)) with normals pointing to positive
    values, one vertex per crossed grid edge (shared by every triangle on it)."""
    dims = tuple(int(d) for d in dims)
    index = np.arange(int(np.prod(dims))).reshape(dims)
    base = index[:-1, :-1, :-1].reshape(-1)
    stride = np.array([dims[1] * dims[2], dims[2], 1])
    corner = base[:, None] + _CORNERS @ stride  # (cubes, 8) node ids
    negative = values < 0
    mixed = negative[corner].any(1) & ~negative[corner].all(1)
    tets = corner[mixed][:, _TETS].reshape(-1, 4)  # (T, 4) node ids
    inside = negative[tets]
    count = inside.sum(1)
    tets, inside, count = tets[(count > 0) & (count < 4)], inside[(count > 0) & (count < 4)], \
        count[(count > 0) & (count < 4)]
    # Order each tetrahedron's nodes inside-first (stable), so every case reads the same way.
    order = np.argsort(~inside, axis=1, kind="stable")
    ordered = np.take_along_axis(tets, order, 1)
    edges, sides = [], []
    one = count == 1  # a = inside; b, c, d outside: triangle on ab, ac, ad
    three = count == 3  # a, b, c inside; d outside: triangle on ad, bd, cd
    two = count == 2  # a, b inside; c, d outside: quad ac, ad, bd, bc
    t = ordered[one]
    edges.append(np.stack([t[:, [0, 1]], t[:, [0, 2]], t[:, [0, 3]]], 1)); sides.append(t)
    t = ordered[three]
    edges.append(np.stack([t[:, [0, 3]], t[:, [1, 3]], t[:, [2, 3]]], 1)); sides.append(t)
    t = ordered[two]
    quad = [t[:, [0, 2]], t[:, [0, 3]], t[:, [1, 3]], t[:, [1, 2]]]
    edges.append(np.stack([quad[0], quad[1], quad[2]], 1)); sides.append(t)
    edges.append(np.stack([quad[0], quad[2], quad[3]], 1)); sides.append(t)
    edges = np.concatenate(edges)  # (F, 3 vertices, 2 nodes)
    tet_of_face = np.concatenate(sides)
    inside_of_face = np.concatenate([negative[s] for s in sides])
    if len(edges) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    keys = np.sort(edges.reshape(-1, 2), axis=1)
    unique, vertex_of = np.unique(keys, axis=0, return_inverse=True)
    va, vb = values[unique[:, 0]], values[unique[:, 1]]
    weight = (va / (va - vb))[:, None]
    vertices = nodes[unique[:, 0]] + weight * (nodes[unique[:, 1]] - nodes[unique[:, 0]])
    faces = vertex_of.reshape(-1, 3)
    # Orient: the normal points from the tetrahedron's inside nodes to its outside nodes.
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    tet_points = nodes[tet_of_face]
    inside_mean = (tet_points * inside_of_face[..., None]).sum(1) / inside_of_face.sum(1, keepdims=True)
    outside_mean = (tet_points * ~inside_of_face[..., None]).sum(1) / (~inside_of_face).sum(1, keepdims=True)
    flip = np.einsum("ij,ij->i", normal, outside_mean - inside_mean) < 0
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces.astype(np.int64)


def winding_remesh(vertices: np.ndarray, faces: np.ndarray, resolution: int = 96, simplify: float = 0.25):
    """Closed 2-manifold remesh of a soup (see module docstring) -> (vertices (V', 3), faces (F', 3), spacing h).

    vertices (V, 3), faces (F, 3) int: a soup with coincident vertices merged and duplicated faces removed
    (`watertight.clean_soup`: the orientation step follows shared edges, and a duplicated face counts twice in the
    winding number), otherwise anything: open, non-manifold, inconsistently wound, overlapping.
    resolution: cells along the longest side. simplify: manifold3d simplification tolerance in cells.
    Raises ValueError when the soup encloses no volume (no grid node has a winding number >= 0.75: beside a flat
    sheet it is ~0.5, inside a closed or holed solid ~1).
    """
    from manifold3d import Manifold, Mesh

    if resolution < 8:
        raise ValueError(f"winding_remesh: resolution {resolution} < 8 cells along the longest side")
    vertices = np.asarray(vertices, np.float64)
    faces = orient_soup(vertices, np.asarray(faces, np.int64))
    used = vertices[np.unique(faces)]
    lower, upper = used.min(0), used.max(0)
    spacing = float((upper - lower).max()) / resolution
    if not spacing > 0:
        raise ValueError("winding_remesh: the soup has no extent")
    lower = lower - 2 * spacing
    dims = np.ceil((upper + 2 * spacing - lower) / spacing).astype(int) + 1
    nodes, values = _node_values(vertices, faces, lower, spacing, dims)
    out_vertices, out_faces = marching_tetrahedra(values, nodes, dims)
    if len(out_faces) == 0:
        raise ValueError("winding_remesh: the soup encloses no volume (winding number <= 0.5 everywhere)")
    mesh = Mesh(vert_properties=np.ascontiguousarray(out_vertices, np.float32),
                tri_verts=np.ascontiguousarray(out_faces, np.uint32))
    solid = Manifold(mesh)
    if solid.status().name != "NoError" or solid.is_empty():
        raise ValueError(f"winding_remesh: manifold3d rejects the level set ({solid.status().name})")
    if simplify > 0:
        solid = solid.simplify(simplify * spacing)
    out = solid.to_mesh()
    return np.asarray(out.vert_properties, np.float64)[:, :3], np.asarray(out.tri_verts, np.int64), spacing
