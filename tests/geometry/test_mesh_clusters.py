"""Culled exact mesh distance (`mesh_clusters`) against the brute force (`mesh_sdf.mesh_signed_distance`) and
trimesh: equal values, every cluster holds its triangles, and bounds that are not tight still give exact values."""
import numpy as np
import pytest
import trimesh

from dexvlg_jax.geometry.mesh_clusters import cluster_gaps, cluster_triangles, culled_signed_distance
from dexvlg_jax.geometry.mesh_sdf import mesh_signed_distance


@pytest.fixture(scope="module")
def mesh(mug_like):
    """A non-convex watertight mesh with slivers (the cylinder's 10 cm side faces): tests/geometry/conftest.py."""
    return mug_like


@pytest.fixture(scope="module")
def points(mesh):
    """Points near the surface (normal offsets of +-1 cm) and a few far away: (1,500, 3) float32."""
    rng = np.random.default_rng(0)
    near, face = trimesh.sample.sample_surface(mesh, 1400, seed=2)
    near = near + rng.normal(scale=0.01, size=(1400, 1)) * mesh.face_normals[face]
    far = rng.normal(size=(100, 3)) * 0.2
    return np.concatenate([near, far]).astype(np.float32)


def test_clusters_partition_the_faces_and_bound_them(mesh):
    clusters = cluster_triangles(mesh.vertices, mesh.faces, size=8)
    faces = clusters.faces[clusters.faces >= 0]
    np.testing.assert_array_equal(np.sort(faces), np.arange(len(mesh.faces)))  # each face once
    k, slot = np.nonzero(clusters.faces >= 0)
    corners = np.asarray(mesh.vertices)[np.asarray(mesh.faces)[clusters.faces[k, slot]]]  # (F, 3, 3)
    assert np.all(corners >= clusters.low[k, None] - 1e-9) and np.all(corners <= clusters.high[k, None] + 1e-9)
    assert len(clusters.low) & (len(clusters.low) - 1) == 0  # a power of two


def test_culled_distance_equals_the_brute_force_and_trimesh(mesh, points):
    clusters = cluster_triangles(mesh.vertices, mesh.faces)
    ours = culled_signed_distance(points, clusters)
    brute = mesh_signed_distance(points, mesh.vertices, mesh.faces)
    np.testing.assert_array_equal(ours, brute)
    reference = -trimesh.proximity.signed_distance(mesh, points)  # trimesh: positive inside
    error = np.abs(ours - reference)  # as in test_mesh_sdf: a few points differ from trimesh by up to ~3e-5 m
    assert error.mean() < 1e-6 and error.max() < 5e-5
    clear = np.abs(reference) > 1e-4
    assert np.all(np.sign(ours[clear]) == np.sign(reference[clear]))


def test_a_loose_upper_bound_costs_time_not_accuracy(mesh, points):
    """Bounds at 10x the vertex distance: more clusters per point, the same values."""
    clusters = cluster_triangles(mesh.vertices, mesh.faces, size=32)
    upper, _ = clusters.vertex_tree.query(points)
    np.testing.assert_array_equal(culled_signed_distance(points, clusters, 10 * upper),
                                  mesh_signed_distance(points, mesh.vertices, mesh.faces))
    gaps = cluster_gaps(points, clusters)
    assert np.all(np.sum(gaps <= upper[:, None] + 1e-6, 1) >= 1)  # the nearest cluster is always a candidate
