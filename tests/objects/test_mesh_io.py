"""Mesh import, label sidecars and every bad-input case: each raises ObjectError naming the file and reason."""
import json

import numpy as np
import pytest
import trimesh

from dexvlg_jax.objects import LabeledMesh, ObjectError, load_mesh, make_object, read_part_labels
from dexvlg_jax.objects.mesh_io import validate_mesh
from dexvlg_jax.objects.watertight import make_watertight


@pytest.fixture(scope="module")
def mug():
    return make_object("mug", 0)


def _expect_error(path, reason_fragment, **kwargs):
    with pytest.raises(ObjectError) as info:
        load_mesh(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    assert reason_fragment in message, message
    assert isinstance(info.value, ValueError)
    return message


def test_missing_and_empty_files(tmp_path):
    _expect_error(tmp_path / "nothing.obj", "file not found")
    empty = tmp_path / "empty.obj"
    empty.write_bytes(b"")
    _expect_error(empty, "empty file")


def test_non_mesh_files(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("this is a shopping list, not a mesh\n")
    _expect_error(notes, "unsupported file type '.txt'")
    prose = tmp_path / "prose.obj"
    prose.write_text("Once upon a time there was no geometry.\nThe end.\n")
    _expect_error(prose, "contains no triangles")


def test_corrupt_files(tmp_path):
    glb = tmp_path / "broken.glb"
    glb.write_bytes(b"glTF" + np.random.default_rng(0).bytes(300))
    _expect_error(glb, "could not be parsed as a mesh")
    ply = tmp_path / "broken.ply"
    ply.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 10\nproperty float x\n"
                    b"property float y\nproperty float z\nelement face 4\n"
                    b"property list uchar int vertex_indices\nend_header\n" + b"\x01\x02")
    with pytest.raises(ObjectError, match="broken.ply"):
        load_mesh(ply)


def test_degenerate_meshes(tmp_path):
    two = trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], [[0, 1, 2], [0, 1, 3]], process=False)
    path = tmp_path / "two.stl"
    two.export(path)
    _expect_error(path, "only 2 faces")
    grid = trimesh.creation.box(extents=[1, 1, 1e-9])  # flat: zero volume
    flat = trimesh.Trimesh(grid.vertices * [1, 1, 0], grid.faces, process=False)
    path = tmp_path / "flat.obj"
    flat.export(path)
    _expect_error(path, "zero volume")
    with pytest.raises(ObjectError, match="zero surface area"):
        validate_mesh(np.zeros((4, 3)), np.array([[0, 1, 2], [0, 2, 3], [1, 2, 3], [0, 1, 3]]), "points.obj")


def test_huge_meshes(tmp_path):
    header = tmp_path / "huge.ply"
    header.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
                       b"property float y\nproperty float z\nelement face 2000001\n"
                       b"property list uchar int vertex_indices\nend_header\n")
    _expect_error(header, "2000001 faces, more than the limit of 2000000")
    faces = np.zeros((2_000_001, 3), np.int32)
    with pytest.raises(ObjectError, match="big_in_memory: has 2000001 faces"):
        validate_mesh(np.zeros((3, 3)), faces, "big_in_memory")
    small_limit = tmp_path / "small.stl"
    trimesh.creation.box().export(small_limit)
    _expect_error(small_limit, "more than the limit of 10", max_faces=10)


def test_sidecar_parts_roundtrip(tmp_path, mug):
    path = tmp_path / "mug.obj"
    mug.to_trimesh().export(path)
    parts = [{"name": n, "faces": np.flatnonzero(mug.face_part_ids == i).tolist(), "class": c}
             for i, (n, c) in enumerate(zip(mug.part_names, mug.part_classes))]
    (tmp_path / "mug.parts.json").write_text(json.dumps({"parts": parts}))
    loaded = load_mesh(path)  # sidecar found next to the mesh
    assert loaded.part_names == mug.part_names and loaded.part_classes == mug.part_classes
    np.testing.assert_array_equal(loaded.face_part_ids, mug.face_part_ids)
    np.testing.assert_allclose(loaded.vertices[loaded.faces], mug.vertices[mug.faces], atol=1e-6)
    other = tmp_path / "labels.json"
    other.write_text(json.dumps({"part_names": ["all"], "face_part_ids": [0] * len(mug.faces)}))
    assert load_mesh(path, labels_path=other).part_names == ["all"]


def test_sidecar_mismatches(tmp_path, mug):
    path = tmp_path / "cup.obj"
    mug.to_trimesh().export(path)
    num_faces = len(mug.faces)
    cases = {
        "short.json": ({"part_names": ["a"], "face_part_ids": [0] * (num_faces - 3)},
                       f"face_part_ids has {num_faces - 3} entries but the mesh has {num_faces} faces"),
        "range.json": ({"part_names": ["a"], "face_part_ids": [0] * (num_faces - 1) + [4]}, "part id 4 out of range"),
        "faces.json": ({"parts": [{"name": "a", "faces": [0, num_faces + 7]}]},
                       f"lists face {num_faces + 7} but the mesh has {num_faces} faces"),
        "twice.json": ({"parts": [{"name": "a", "faces": [0, 1]}, {"name": "b", "faces": [1]}]}, "reuses faces"),
        "class.json": ({"part_names": ["a"], "face_part_ids": [0] * num_faces, "part_classes": ["blob"]},
                       "unknown part class 'blob'"),
        "keys.json": ({"labels": []}, "needs either 'parts'"),
    }
    for name, (spec, reason) in cases.items():
        (tmp_path / name).write_text(json.dumps(spec))
        message = _expect_error(path, reason, labels_path=tmp_path / name)
        assert name in message
    (tmp_path / "bad.json").write_text("{not json")
    _expect_error(path, "could not be read as JSON", labels_path=tmp_path / "bad.json")


def test_partial_parts_get_rest_and_scene_parts(tmp_path, mug):
    (tmp_path / "partial.json").write_text(json.dumps({"parts": [{"name": "top", "faces": [0, 1, 2]}]}))
    ids, names, classes = read_part_labels(tmp_path / "partial.json", 10)
    assert names == ["top", "rest"] and classes == ["", ""] and ids.tolist() == [0] * 3 + [1] * 7
    scene = trimesh.Scene()
    scene.add_geometry(trimesh.creation.box(extents=[0.1, 0.1, 0.1]), geom_name="base", node_name="base")
    cap = trimesh.creation.cylinder(radius=0.02, height=0.03)
    cap.apply_translation([0, 0.065, 0])  # y up in glTF: the cap sits on top
    scene.add_geometry(cap, geom_name="cap", node_name="cap")
    path = tmp_path / "two_parts.glb"
    scene.export(path)
    loaded = load_mesh(path)
    assert sorted(loaded.part_names) == ["base", "cap"]
    cap_id = loaded.part_names.index("cap")
    cap_z = loaded.vertices[np.unique(loaded.faces[loaded.face_part_ids == cap_id])][:, 2]
    assert cap_z.min() > 0.04, "GLB (y up) was not turned to z up"


def test_a_fin_is_made_watertight_and_a_flat_sheet_refused(tmp_path):
    box = trimesh.creation.box()
    vertices = np.vstack([box.vertices, [[0.0, 0.0, 2.0]]])
    fin = [box.faces[0][0], box.faces[0][1], 8]  # a triangle hanging off an edge: the edge has 3 faces
    faces = np.vstack([box.faces, [fin]])
    out_vertices, out_faces, _ = make_watertight(vertices, faces, np.zeros(len(faces), int), "fin.obj", 32)
    repaired = trimesh.Trimesh(out_vertices, out_faces, process=False)
    assert repaired.is_watertight and repaired.volume == pytest.approx(1.0, rel=0.05)  # the box, fin dropped
    sheet = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0.0]])
    with pytest.raises(ObjectError, match="sheet.obj: cannot be made watertight: .*no volume"):
        make_watertight(sheet, np.array([[0, 1, 2], [0, 2, 3]]), np.zeros(2, int), "sheet.obj")


def test_open_mesh_is_closed_and_labels_kept():
    cylinder = trimesh.creation.cylinder(radius=1.0, height=2.0, sections=16)
    side = np.abs(cylinder.face_normals[:, 2]) < 0.5
    labels = np.where(cylinder.triangles_center[:, 2] > 0, 1, 0)[side]
    vertices, faces, out_labels = make_watertight(cylinder.vertices, cylinder.faces[side], labels, "open.obj")
    closed = trimesh.Trimesh(vertices, faces, process=False)
    assert closed.is_watertight and closed.volume > 0
    centers = closed.triangles_center
    assert np.all(out_labels[centers[:, 2] > 0.5] == 1) and np.all(out_labels[centers[:, 2] < -0.5] == 0)


def test_labeled_mesh_fields(mug):
    assert isinstance(mug, LabeledMesh)
    assert mug.vertices.shape[1] == 3 and mug.faces.shape[1] == 3 and mug.face_part_ids.shape == (len(mug.faces),)
