"""Shared fixtures: a three-part labelled test object built from trimesh primitives (object frame, metres)."""
import numpy as np
import pytest
import trimesh


def three_part_object():
    """A 'mug-like' soup of watertight primitives: body (cylinder, part 0), handle (box, part 1), knob (sphere,
    part 2); z up, bbox-centred. Returns (vertices (V, 3), faces (F, 3), face_part_ids (F,))."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.12, sections=32)
    handle = trimesh.creation.box(extents=(0.03, 0.015, 0.07))
    handle.apply_translation((0.05, 0.0, 0.0))
    knob = trimesh.creation.icosphere(subdivisions=2, radius=0.02)
    knob.apply_translation((0.0, 0.0, 0.07))
    parts = [body, handle, knob]
    vertices, faces, part_ids, offset = [], [], [], 0
    for part_id, mesh in enumerate(parts):
        vertices.append(mesh.vertices)
        faces.append(mesh.faces + offset)
        part_ids.append(np.full(len(mesh.faces), part_id))
        offset += len(mesh.vertices)
    vertices = np.concatenate(vertices)
    vertices -= (vertices.min(0) + vertices.max(0)) / 2
    return vertices, np.concatenate(faces), np.concatenate(part_ids)


@pytest.fixture(scope="module")
def test_object():
    return three_part_object()
