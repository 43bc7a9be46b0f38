"""Watertight solid builders for the procedural library, and the labelled union of parts.

Builders take centimetres (easier to read against real objects) and return `manifold3d.Manifold` solids; the
assembled object is converted to metres. Frame: z up. `assemble_parts` unions the parts with manifold3d and
keeps a part label on every output triangle through manifold's original-ID tracking (each part is made
an "original" before the union, and every output triangle run names the original it came from).
"""
from __future__ import annotations

import numpy as np
import trimesh
from manifold3d import Manifold, Mesh

from dexvlg_jax.objects.containers import PART_CLASSES, LabeledMesh

CENTIMETRE = 0.01
DEFAULT_SECTIONS = 40


def manifold_from_trimesh(mesh: trimesh.Trimesh) -> Manifold:
    """Convert a watertight trimesh to a Manifold (raises RuntimeError if manifold3d rejects it)."""
    solid = Manifold(Mesh(vert_properties=np.asarray(mesh.vertices, np.float32),
                          tri_verts=np.asarray(mesh.faces, np.uint32)))
    if solid.status().name != "NoError" or solid.is_empty():
        raise RuntimeError(f"manifold3d rejected a builder mesh: {solid.status()}")
    return solid


def cylinder(radius: float, start, end, sections: int = DEFAULT_SECTIONS) -> Manifold:
    """Solid cylinder between two axis end points (cm)."""
    segment = np.array([start, end], np.float64)
    return manifold_from_trimesh(trimesh.creation.cylinder(radius=radius, segment=segment, sections=sections))


def box(extents, center) -> Manifold:
    """Axis-aligned solid box with side lengths `extents`, centred at `center` (cm)."""
    return Manifold.cube(tuple(float(e) for e in extents), center=True).translate(tuple(float(c) for c in center))


def capsule(radius: float, start, end) -> Manifold:
    """Capsule whose hemisphere centres are `start` and `end` (cm)."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    axis = end - start
    length = float(np.linalg.norm(axis))
    mesh = trimesh.creation.capsule(height=length, radius=radius, count=[24, 24])
    transform = trimesh.geometry.align_vectors([0, 0, 1], axis / length)
    mesh.apply_translation(-mesh.bounds.mean(axis=0))  # centre it (trimesh versions differ on the origin)
    mesh.apply_transform(transform)
    mesh.apply_translation((start + end) / 2.0)
    return manifold_from_trimesh(mesh)


def revolve(profile_rz, sections: int = DEFAULT_SECTIONS) -> Manifold:
    """Solid of revolution about z of a closed profile [(r, z), ...] that starts and ends on the axis (cm)."""
    profile = np.asarray(profile_rz, np.float64)
    return manifold_from_trimesh(trimesh.creation.revolve(profile, sections=sections))


def tube(path_points, radius: float, sections: int = 20) -> Manifold:
    """Closed tube (flat end caps) of given radius swept along a polyline (cm), frames by parallel transport."""
    path = np.asarray(path_points, np.float64)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    helper = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.cross(tangents[0], helper)
    normal /= np.linalg.norm(normal)
    angles = np.linspace(0.0, 2.0 * np.pi, sections, endpoint=False)
    rings = []
    for point, tangent in zip(path, tangents):
        normal = normal - tangent * np.dot(normal, tangent)
        normal /= np.linalg.norm(normal)
        binormal = np.cross(tangent, normal)
        rings.append(point + radius * (np.cos(angles)[:, None] * normal + np.sin(angles)[:, None] * binormal))
    n_rings = len(rings)
    vertices = np.concatenate(rings + [path[:1], path[-1:]], 0)
    start_center, end_center = n_rings * sections, n_rings * sections + 1
    faces = []
    for i in range(n_rings - 1):
        for j in range(sections):
            a, b = i * sections + j, i * sections + (j + 1) % sections
            c, d = a + sections, b + sections
            faces += [[a, b, d], [a, d, c]]
    last = (n_rings - 1) * sections
    for j in range(sections):
        faces.append([start_center, (j + 1) % sections, j])
        faces.append([end_center, last + j, last + (j + 1) % sections])
    mesh = trimesh.Trimesh(vertices, np.array(faces), process=False)
    if mesh.volume < 0:
        mesh.invert()
    return manifold_from_trimesh(mesh)


def arc_path(center, radius_x: float, radius_z: float, angle_start: float, angle_end: float, count: int = 24):
    """Points on an elliptic arc in the x-z plane (cm, radians measured from +x towards +z)."""
    angles = np.linspace(angle_start, angle_end, count)
    center = np.asarray(center, float)
    return center + np.stack([radius_x * np.cos(angles), np.zeros_like(angles), radius_z * np.sin(angles)], 1)


def bent_path(corner, first_direction, second_direction, first_length: float, second_length: float,
              bend_radius: float, count: int = 10):
    """Polyline of an L: a leg ending at `corner` along `first_direction`, a rounded bend, a second leg (cm)."""
    corner = np.asarray(corner, float)
    u = np.asarray(first_direction, float) / np.linalg.norm(first_direction)
    v = np.asarray(second_direction, float) / np.linalg.norm(second_direction)
    start = corner - u * first_length
    fillet_start, fillet_end = corner - u * bend_radius, corner + v * bend_radius
    t = np.linspace(0.0, 1.0, count)[:, None]
    # Quadratic Bezier through the corner: a smooth bend tangent to both legs.
    fillet = (1 - t) ** 2 * fillet_start + 2 * (1 - t) * t * corner + t ** 2 * fillet_end
    first_leg = np.linspace(start, fillet_start, 6)[:-1]
    second_leg = np.linspace(fillet_end, corner + v * second_length, 6)[1:]
    return np.concatenate([first_leg, fillet, second_leg], 0)


def assemble_parts(parts, category: str, name: str) -> LabeledMesh:
    """Union part solids (cm) into one watertight LabeledMesh (metres) with per-face part labels.

    parts: list of (part_name, part_class, Manifold). A part whose every face ends up inside the others
    raises RuntimeError (a builder bug), so every declared part is present in the result.
    """
    for _, part_class, _ in parts:
        if part_class not in PART_CLASSES:
            raise ValueError(f"{name}: unknown part class {part_class!r}")
    originals = [solid.as_original() for _, _, solid in parts]
    part_of_original = {solid.original_id(): index for index, solid in enumerate(originals)}
    union = Manifold.batch_boolean(originals, _union_op()) if len(originals) > 1 else originals[0]
    out = union.to_mesh()
    faces = np.asarray(out.tri_verts, np.int64)
    run_index = np.asarray(out.run_index, np.int64) // 3
    face_part_ids = np.empty(len(faces), np.int64)
    for run, original in enumerate(np.asarray(out.run_original_id)):
        face_part_ids[run_index[run]:run_index[run + 1]] = part_of_original[int(original)]
    missing = sorted(set(range(len(parts))) - set(face_part_ids.tolist()))
    if missing:
        raise RuntimeError(f"{name}: parts {[parts[i][0] for i in missing]} vanished in the union")
    vertices = np.asarray(out.vert_properties[:, :3], np.float64) * CENTIMETRE
    return LabeledMesh(
        vertices=vertices,
        faces=faces,
        face_part_ids=face_part_ids,
        part_names=[p[0] for p in parts],
        part_classes=[p[1] for p in parts],
        category=category,
        name=name,
    )


def _union_op():
    from manifold3d import OpType

    return OpType.Add
