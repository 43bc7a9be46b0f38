"""Make any labelled triangle soup watertight (closed, 2-manifold, outward, no overlapping pieces), keeping a
part label on every face: the ManifoldPlus role of the paper's data engine.

`make_watertight(vertices, faces, face_part_ids, source, resolution=96)`, in the input's units:

1. clean the soup (`clean_soup`): merge coincident vertices (1e-8 of the size), drop degenerate and duplicated
   faces (either winding), orient every connected piece consistently and outward (`remesh.orient_soup`);
2. exact repair, when the cleaned soup is edge-manifold: close each hole whose boundary is a simple loop with a
   fan around its centroid, check with manifold3d, and union the closed pieces with manifold3d's exact boolean
   (overlapping pieces, e.g. a mug's body and handle exported separately, become one surface with no inner
   walls). The surface is the input's own (Hausdorff 0 except across filled holes);
3. otherwise (non-manifold edges or vertices, fins, bow-tie holes, or manifold3d refuses the result) robust
   remeshing (`remesh.winding_remesh`): generalized winding number on a grid of `resolution` cells along the
   longest side, marching tetrahedra, manifold3d check and simplification. Its surface is within ~h = longest
   side / resolution of the input (bevelled edges), closing holes with a patch of minimal-ish area.

Why this remesher (measured on the broken meshes of tests/objects/messy_meshes.py: 12 household shapes x holes,
duplicated faces, non-manifold fins, 30% flipped faces, overlapping pieces; Hausdorff to the unbroken shape's
outer surface, 2-core CPU):
- winding number + marching tetrahedra at 96 cells: watertight 60/60; Hausdorff <= 0.9 h on every non-hole case
  (0.3-2.7 mm for 6-30 cm objects), <= 8 h across holes (the patch's depth: closing a hole on a torus);
  1-7 s per mesh; 84-27k faces after simplification;
- point-cloud-utils `make_mesh_watertight` (Huang et al. 2018, ManifoldPlus's predecessor), resolution 5k/20k:
  watertight 72/72 but it thickens: volume +1-24%, Hausdorff 1.2-58 mm, a mesh with a hole becomes a hollow
  shell (volume 0.1-0.7x), 12k-314k faces, 0.06-13 s;
- pymeshfix (MeshFix): fast (< 0.01 s) but keeps only the largest piece (a mug loses its handle: volume 0.07x,
  Hausdorff 60 mm) and leaves inside-out or partly flipped meshes inside out (negative volume in 17/72);
- point-cloud-utils' marching cubes on the same winding-number field left cracks (marching cubes' ambiguous
  faces): marching tetrahedra has no ambiguous case.

Labels: the exact path keeps manifold3d's per-triangle `face_id` (the input face each output triangle comes
from; a fan triangle takes the label of the face on its boundary edge); the remeshed path takes the label of the
nearest input face (exact closest point, libigl AABB tree).

Refused (ObjectError "cannot be made watertight: ..."): only input with no surface (no triangle of non-zero area)
or that encloses no volume at all (e.g. a single flat sheet). Native code (manifold3d, point-cloud-utils/libigl)
runs here: `processing` calls this function through `isolation.call_isolated`.
"""
from __future__ import annotations

import numpy as np
from manifold3d import Manifold, Mesh, OpType

from dexvlg_jax.objects.errors import ObjectError
from dexvlg_jax.objects.remesh import orient_soup, winding_remesh


def clean_soup(vertices: np.ndarray, faces: np.ndarray):
    """-> (vertices (V', 3), faces (F', 3), origin (F',) index of each kept face in the input), or raises
    ValueError when no face has area. Coincident vertices merged (1e-8 x size), degenerate and duplicate faces
    dropped (the first copy kept), unreferenced vertices removed; faces keep their input order and winding."""
    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    size = float(np.ptp(vertices[np.unique(faces)], axis=0).max()) if len(faces) else 0.0
    if not size > 0:
        raise ValueError("no surface: the faces span no extent")
    keys = np.round(vertices / (size * 1e-8)).astype(np.int64)
    _, first, vertex_of = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    faces = vertex_of.reshape(-1)[faces]
    vertices = vertices[first]
    triangles = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1)
    distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    keep = np.flatnonzero(distinct & (area > 1e-14 * size * size))
    if len(keep) == 0:
        raise ValueError("no surface: every face is degenerate (zero area)")
    _, unique_first = np.unique(np.sort(faces[keep], axis=1), axis=0, return_index=True)
    origin = keep[np.sort(unique_first)]
    faces = faces[origin]
    used, faces = np.unique(faces, return_inverse=True)
    return vertices[used], faces.reshape(-1, 3), origin


def boundary_loops(faces: np.ndarray):
    """Closed loops of boundary edges (edges used by one face) as [(loop vertices (n,), face of each loop edge
    (n,))], or None if the boundary is not a set of simple loops (non-manifold edge or bow-tie vertex)."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    face_of_edge = np.tile(np.arange(len(faces)), 3)
    _, inverse, counts = np.unique(np.sort(directed, axis=1), axis=0, return_inverse=True, return_counts=True)
    if np.any(counts > 2):
        return None  # non-manifold edges: holes cannot be closed by fans
    on_boundary = counts[inverse.reshape(-1)] == 1
    successor, edge_face = {}, {}
    for (a, b), face in zip(directed[on_boundary], face_of_edge[on_boundary]):
        if a in successor:
            return None  # a boundary vertex touched twice (bow tie)
        successor[a], edge_face[a] = b, face
    loops, seen = [], set()
    for start in list(successor):
        if start in seen:
            continue
        loop, current = [], start
        while current not in seen:
            seen.add(current)
            loop.append(current)
            current = successor.get(current)
            if current is None:
                return None
        if current != start:
            return None
        loops.append((np.array(loop), np.array([edge_face[v] for v in loop])))
    return loops


def _fill_holes(vertices, faces, face_ids):
    """Fan-close every boundary loop -> (vertices, faces, face_ids) or None (see boundary_loops)."""
    loops = boundary_loops(faces)
    if loops is None:
        return None
    vertices, new_faces, new_ids = list(vertices), [faces], [face_ids]
    for loop, loop_faces in loops:
        center = len(vertices)
        vertices.append(np.mean([vertices[i] for i in loop], axis=0))
        # Boundary edges run a->b in the existing faces; the cap uses b->a to match orientation.
        new_faces.append(np.stack([np.roll(loop, -1), loop, np.full(len(loop), center)], 1))
        new_ids.append(face_ids[loop_faces])
    return np.asarray(vertices), np.concatenate(new_faces), np.concatenate(new_ids)


def _manifold(vertices, faces, face_ids) -> Manifold | None:
    mesh = Mesh(vert_properties=np.ascontiguousarray(vertices, np.float32),
                tri_verts=np.ascontiguousarray(faces, np.uint32), face_id=np.ascontiguousarray(face_ids, np.uint32))
    mesh.merge()
    solid = Manifold(mesh)
    if solid.status().name != "NoError" or solid.is_empty():
        return None
    pieces = solid.decompose()
    if any(piece.volume() <= 0 for piece in pieces):
        return None  # a piece still inside out (orientation failed): let the remesher decide
    return Manifold.batch_boolean(pieces, OpType.Add) if len(pieces) > 1 else solid


def exact_repair(vertices, faces, origin) -> Manifold | None:
    """Holes fan-closed, pieces unioned (manifold3d), face_id = input face index; None where that cannot work."""
    solid = _manifold(vertices, faces, origin)
    if solid is None:
        filled = _fill_holes(vertices, faces, origin)
        if filled is None:
            return None
        solid = _manifold(*filled)
    return solid


def _nearest_face(points, vertices, faces):
    import point_cloud_utils as pcu

    _, face, _ = pcu.closest_points_on_mesh(np.ascontiguousarray(points, np.float64),
                                            np.ascontiguousarray(vertices, np.float64),
                                            np.ascontiguousarray(faces, np.int32))
    return np.asarray(face, np.int64)


def make_watertight(vertices: np.ndarray, faces: np.ndarray, face_part_ids: np.ndarray, source: str,
                    resolution: int = 96):
    """-> (vertices (V', 3) float64, faces (F', 3) int64, face_part_ids (F',) int64) of a closed, outward 2-manifold
    in the input's units (see the module docstring). resolution: cells along the longest side for the robust
    remesher (only used when the exact repair fails).

    Raises ObjectError(source, "cannot be made watertight: ...") only for input with no surface or no volume.
    """
    face_part_ids = np.asarray(face_part_ids, np.int64)
    try:
        vertices, faces, origin = clean_soup(vertices, faces)
    except ValueError as error:
        raise ObjectError(source, f"cannot be made watertight: {error}") from None
    faces = orient_soup(vertices, faces)
    solid = exact_repair(vertices, faces, origin)
    if solid is not None:
        out = solid.to_mesh()
        out_vertices = np.asarray(out.vert_properties, np.float64)[:, :3]
        out_faces, face_id = np.asarray(out.tri_verts, np.int64), np.asarray(out.face_id, np.int64)
        if len(face_id) == len(out_faces) and face_id.size and face_id.max() < len(face_part_ids):
            return out_vertices, out_faces, face_part_ids[face_id]
        labels = face_part_ids[origin[_nearest_face(out_vertices[out_faces].mean(1), vertices, faces)]]
        return out_vertices, out_faces, labels
    try:
        out_vertices, out_faces, _ = winding_remesh(vertices, faces, resolution)
    except ValueError as error:
        raise ObjectError(source, f"cannot be made watertight: {error}") from None
    labels = face_part_ids[origin[_nearest_face(out_vertices[out_faces].mean(1), vertices, faces)]]
    return out_vertices, out_faces, labels
