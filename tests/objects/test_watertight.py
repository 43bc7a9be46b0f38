"""Watertightening of meshes broken on purpose (tests/objects/messy_meshes.py): holes, duplicated faces,
non-manifold fins, flipped normals, inside-out meshes, overlapping pieces. Each output must be watertight
(trimesh), outward (positive volume) and close to the unbroken shape's outer surface (symmetric Hausdorff
distance on 4,000 seeded surface samples each way):

- exact repair (manifold, possibly with simple holes): the input surface itself, Hausdorff < 1e-4 of the size
  away from holes (float32 vertices, boolean intersections); across a fan-closed hole within 10 % of the size;
- remeshed (non-manifold input): within 1.0 h, h = longest side / resolution (measured <= 0.86 h).
"""
import numpy as np
import pytest
import trimesh
from manifold3d import Manifold, Mesh, OpType

from dexvlg_jax.objects.errors import ObjectError
from dexvlg_jax.objects.isolation import call_isolated
from dexvlg_jax.objects.remesh import winding_remesh
from dexvlg_jax.objects.watertight import clean_soup, make_watertight
from tests.objects import messy_meshes

RESOLUTION = 64


def outer_surface(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The union of a mesh's closed pieces (the reference surface without the inner walls of overlaps)."""
    pieces = [Manifold(Mesh(vert_properties=np.asarray(p.vertices, np.float32),
                            tri_verts=np.asarray(p.faces, np.uint32)))
              for p in mesh.split(only_watertight=False)]
    union = Manifold.batch_boolean(pieces, OpType.Add) if len(pieces) > 1 else pieces[0]
    out = union.to_mesh()
    return trimesh.Trimesh(np.asarray(out.vert_properties)[:, :3], np.asarray(out.tri_verts), process=False)


def hausdorff(a: trimesh.Trimesh, b: trimesh.Trimesh, count: int = 4000) -> float:
    points_a, _ = trimesh.sample.sample_surface(a, count, seed=0)
    points_b, _ = trimesh.sample.sample_surface(b, count, seed=1)
    return max(float(np.abs(trimesh.proximity.closest_point(b, points_a)[1]).max()),
               float(np.abs(trimesh.proximity.closest_point(a, points_b)[1]).max()))


def _watertight(vertices, faces, labels=None):
    labels = np.zeros(len(faces), np.int64) if labels is None else labels
    out_vertices, out_faces, out_labels = make_watertight(vertices, faces, labels, "broken.obj", RESOLUTION)
    mesh = trimesh.Trimesh(out_vertices, out_faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume > 0
    assert out_labels.shape == (len(out_faces),)
    return mesh, out_labels


@pytest.mark.parametrize("shape,breaker", [
    ("can", "duplicate"), ("box", "flipped"), ("apple", "inside_out"), ("mug", "none"), ("duck", "flipped"),
    ("hammer", "duplicate")])
def test_exact_repair_keeps_the_surface(shape, breaker):
    clean, vertices, faces = messy_meshes.broken(shape, breaker, seed=3)
    reference = outer_surface(clean)
    mesh, _ = _watertight(vertices, faces)
    size = float(np.ptp(clean.vertices, 0).max())
    assert hausdorff(mesh, reference) < 1e-4 * size
    assert mesh.volume == pytest.approx(reference.volume, rel=1e-4)  # overlaps counted once (no inner walls)


@pytest.mark.parametrize("shape", ["can", "box", "apple", "ring"])
def test_holes_are_closed_near_the_original_surface(shape):
    clean, vertices, faces = messy_meshes.broken(shape, "hole", seed=3)
    assert not trimesh.Trimesh(vertices, faces).is_watertight
    mesh, _ = _watertight(vertices, faces)
    assert hausdorff(mesh, outer_surface(clean)) < 0.10 * float(np.ptp(clean.vertices, 0).max())


@pytest.mark.parametrize("shape", ["box", "rock", "hammer", "ring"])
def test_non_manifold_fins_are_remeshed_within_one_cell(shape):
    clean, vertices, faces = messy_meshes.broken(shape, "nonmanifold", seed=3)
    edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    assert np.unique(edges, axis=0, return_counts=True)[1].max() == 3  # the fin: an edge of three faces
    mesh, _ = _watertight(vertices, faces)
    cell = float(np.ptp(vertices, 0).max()) / RESOLUTION
    assert hausdorff(mesh, outer_surface(clean)) <= 1.0 * cell


def test_remesher_on_everything_broken_at_once():
    """Overlapping pieces + fin + 30% flipped faces + duplicates + STL-style unmerged vertices."""
    clean = messy_meshes.mug()
    rng = np.random.default_rng(0)
    vertices, faces = messy_meshes.nonmanifold(clean, rng)
    vertices, faces = messy_meshes.flipped(trimesh.Trimesh(vertices, faces, process=False), rng)
    vertices, faces = messy_meshes.duplicate(trimesh.Trimesh(vertices, faces, process=False), rng)
    soup_vertices, soup_faces = vertices[faces].reshape(-1, 3), np.arange(3 * len(faces)).reshape(-1, 3)
    mesh, _ = _watertight(soup_vertices, soup_faces)
    cleaned_vertices, cleaned_faces, _ = clean_soup(soup_vertices, soup_faces)
    out_vertices, out_faces, cell = winding_remesh(cleaned_vertices, cleaned_faces, RESOLUTION)
    assert trimesh.Trimesh(out_vertices, out_faces, process=False).is_watertight
    for result in (mesh, trimesh.Trimesh(out_vertices, out_faces, process=False)):
        assert hausdorff(result, outer_surface(clean)) <= 1.0 * cell


def test_labels_follow_the_parts():
    """A two-part object (box body, cylinder handle overlapping it) with a fin: each output face keeps the label
    of the part it lies on."""
    body = trimesh.creation.box([0.1, 0.1, 0.1])
    handle = trimesh.creation.cylinder(radius=0.015, height=0.12).apply_translation([0.0, 0.0, 0.1])
    joined = trimesh.util.concatenate([body, handle])
    labels = np.concatenate([np.zeros(len(body.faces), int), np.ones(len(handle.faces), int)])
    vertices, faces = messy_meshes.nonmanifold(joined, np.random.default_rng(1))
    labels = np.concatenate([labels, [labels[-1]]])
    mesh, out_labels = _watertight(vertices, faces, labels)
    z = mesh.triangles_center[:, 2]
    assert set(np.unique(out_labels)) == {0, 1}
    assert np.all(out_labels[z > 0.08] == 1) and np.all(out_labels[z < 0.0] == 0)


def test_only_input_without_surface_or_volume_is_refused():
    with pytest.raises(ObjectError, match=r"sliver\.obj: cannot be made watertight: no surface"):
        make_watertight(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0.0]]), np.array([[0, 1, 2], [0, 1, 1]]),
                        np.zeros(2, int), "sliver.obj")
    sheet = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])  # an open flat square encloses nothing
    with pytest.raises(ObjectError, match=r"sheet\.obj: cannot be made watertight: .*encloses no volume"):
        make_watertight(sheet, np.array([[0, 1, 2], [0, 2, 3]]), np.zeros(2, int), "sheet.obj", RESOLUTION)


def test_runs_in_an_isolated_worker():
    """The native libraries (manifold3d, point-cloud-utils) load in the light worker (no JAX import)."""
    _, vertices, faces = messy_meshes.broken("rock", "nonmanifold", seed=0)
    out_vertices, out_faces, labels = call_isolated(make_watertight, (vertices, faces, np.zeros(len(faces), int),
                                                                      "rock.obj", 32),
                                                    source="rock.obj", step="watertightening", timeout=120)
    assert trimesh.Trimesh(out_vertices, out_faces, process=False).is_watertight and len(labels) == len(out_faces)
