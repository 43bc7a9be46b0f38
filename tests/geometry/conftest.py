"""Shared geometry fixtures."""
import numpy as np
import pytest
import trimesh


@pytest.fixture(scope="module")
def mug_like():
    """A cylinder with a torus handle (non-convex, genus 1), ~1k faces, metres, centred."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.1, sections=32)
    handle = trimesh.creation.torus(0.03, 0.007, major_sections=24, minor_sections=12)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.045, 0, 0])
    mesh = trimesh.boolean.union([body, handle], engine="manifold")
    assert mesh.is_watertight
    return mesh
