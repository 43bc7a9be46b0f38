"""Make a labelled triangle soup watertight with manifold3d, keeping a part label on every face.

Steps: merge coincident vertices; flip inside-out meshes; try manifold3d; if it refuses (open or non-manifold
edges), repair with trimesh (merge, drop degenerate / duplicate faces, fix winding) and close every boundary loop
with a fan around its centroid, then try again. What still fails raises ObjectError ("cannot be made watertight").
Labels travel through manifold3d's per-triangle `face_id` (the input triangle each output triangle comes from);
triangles added by hole filling take the label of the nearest original face.
"""
from __future__ import annotations

import numpy as np
from manifold3d import Manifold, Mesh
from scipy.spatial import cKDTree

from dexvlg_jax.objects.errors import ObjectError


def _to_manifold(vertices: np.ndarray, faces: np.ndarray) -> Manifold | None:
    mesh = Mesh(vert_properties=np.ascontiguousarray(vertices, np.float32),
                tri_verts=np.ascontiguousarray(faces, np.uint32),
                face_id=np.arange(len(faces), dtype=np.uint32))
    mesh.merge()
    solid = Manifold(mesh)
    if solid.status().name != "NoError" or solid.is_empty():
        return None
    return solid


def boundary_loops(faces: np.ndarray) -> list[np.ndarray] | None:
    """Closed loops of boundary edges (edges used by one face), or None if they do not form simple loops."""
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    unique, inverse, counts = np.unique(edges, axis=0, return_inverse=True, return_counts=True)
    if np.any(counts > 2):
        return None  # non-manifold edges: holes cannot be closed by fans
    boundary = directed[counts[inverse.reshape(-1)] == 1]
    successor = {}
    for a, b in boundary:
        if a in successor:
            return None  # a boundary vertex touched twice (bow tie)
        successor[a] = b
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
        loops.append(np.array(loop))
    return loops


def _fill_holes(vertices: np.ndarray, faces: np.ndarray):
    loops = boundary_loops(faces)
    if loops is None:
        return None
    vertices, new_faces = list(vertices), [faces]
    for loop in loops:
        center_index = len(vertices)
        vertices.append(np.mean([vertices[i] for i in loop], axis=0))
        # Boundary edges run a->b in the existing faces; the cap uses b->a to match orientation.
        new_faces.append(np.stack([np.roll(loop, -1), loop, np.full(len(loop), center_index)], 1))
    return np.asarray(vertices), np.concatenate(new_faces, 0)


def _repair(vertices: np.ndarray, faces: np.ndarray):
    import trimesh  # here: isolated workers import this module, and most meshes never need the repair

    mesh = trimesh.Trimesh(vertices, faces, process=True, validate=True)
    mesh.merge_vertices(digits_vertex=8)
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.update_faces(mesh.unique_faces())
    mesh.remove_unreferenced_vertices()
    trimesh.repair.fix_winding(mesh)
    filled = _fill_holes(np.asarray(mesh.vertices), np.asarray(mesh.faces))
    if filled is None:
        return None
    repaired = trimesh.Trimesh(*filled, process=False)
    trimesh.repair.fix_winding(repaired)
    if repaired.volume < 0:
        repaired.invert()
    return np.asarray(repaired.vertices), np.asarray(repaired.faces)


def _nearest_face_labels(query_centers, reference_centers, reference_labels):
    _, nearest = cKDTree(reference_centers).query(query_centers)
    return reference_labels[nearest]


def make_watertight(vertices: np.ndarray, faces: np.ndarray, face_part_ids: np.ndarray, source: str):
    """-> (vertices (V', 3) float64, faces (F', 3) int64, face_part_ids (F',) int64) of a closed 2-manifold.

    Raises ObjectError(source, "cannot be made watertight: ...") when repair fails or nothing solid remains.
    """
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    face_part_ids = np.asarray(face_part_ids, np.int64)
    face_centers = vertices[faces].mean(1)
    work_vertices, work_faces = vertices, faces
    same_face_order = True  # face_id then indexes the input faces directly
    solid = _to_manifold(work_vertices, work_faces)
    if solid is None:
        same_face_order = False
        repaired = _repair(vertices, faces)
        if repaired is None:
            raise ObjectError(source, "cannot be made watertight: non-manifold edges or vertices")
        work_vertices, work_faces = repaired
        solid = _to_manifold(work_vertices, work_faces)
        if solid is None:
            raise ObjectError(source, "cannot be made watertight: manifold3d rejects the repaired mesh")
    if solid.volume() < 0:
        work_faces = work_faces[:, ::-1]
        solid = _to_manifold(work_vertices, work_faces)
    if solid is None or solid.volume() <= 0:
        raise ObjectError(source, "cannot be made watertight: the closed mesh has no volume")
    out = solid.to_mesh()
    out_vertices = np.asarray(out.vert_properties, np.float64)[:, :3]
    out_faces = np.asarray(out.tri_verts, np.int64)
    face_id = np.asarray(out.face_id, np.int64)
    out_centers = out_vertices[out_faces].mean(1)
    if same_face_order and len(face_id) == len(out_faces) and face_id.size and face_id.max() < len(faces):
        labels = face_part_ids[face_id]
    else:
        labels = _nearest_face_labels(out_centers, face_centers, face_part_ids)
    return out_vertices, out_faces, labels
