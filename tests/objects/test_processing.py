"""process_object / process_many: watertight rescaled object frame, pieces, samples, SDF, parts, cache, failures."""
import json

import numpy as np
import pytest
import trimesh
from scipy.spatial import ConvexHull

from dexvlg_jax.geometry.mesh_sdf import mesh_signed_distance, sdf_grid_query
from dexvlg_jax.objects import (
    ProcessedObject,
    ProcessingConfig,
    farthest_point_sample,
    load_processed,
    make_object,
    process_many,
    process_object,
    save_processed,
)
from dexvlg_jax.objects import processing

SMALL = ProcessingConfig(grid_resolution=32, num_surface_points=512, seed=3)


@pytest.fixture(scope="module")
def kettle():
    return make_object("kettle", 0)


@pytest.fixture(scope="module")
def processed(kettle):
    return process_object(kettle, SMALL)


def test_object_frame_and_scale(processed, kettle):
    assert isinstance(processed, ProcessedObject)
    mesh = processed.to_trimesh()
    assert mesh.is_watertight and mesh.volume > 0
    assert 0.20 <= processed.bbox_diagonal <= 0.50
    np.testing.assert_allclose(mesh.bounds.mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(processed.bbox_diagonal, processing.target_diagonal_for(kettle.name, SMALL), rtol=1e-5)
    source_diagonal = np.linalg.norm(np.ptp(kettle.vertices, axis=0))
    np.testing.assert_allclose(processed.scale * source_diagonal, processed.bbox_diagonal, rtol=1e-5)


def test_labels_survive_processing(processed, kettle):
    assert processed.part_names == kettle.part_names
    assert processed.part_classes == kettle.part_classes
    # Every face keeps the label of the source face it came from (compare by position after the transform).
    source = (kettle.vertices - (kettle.vertices.min(0) + kettle.vertices.max(0)) / 2) * processed.scale
    centres = processed.vertices[processed.faces].mean(1)
    _, _, nearest = trimesh.proximity.closest_point(trimesh.Trimesh(source, kettle.faces, process=False), centres)
    agreement = np.mean(kettle.face_part_ids[nearest] == processed.face_part_ids)
    assert agreement > 0.97, f"only {agreement:.3f} of faces keep their part"


def test_convex_pieces(processed):
    pieces = processed.convex_pieces
    assert 1 <= len(pieces) <= SMALL.coacd_max_pieces
    assert all(p.shape[1] == 3 and 4 <= len(p) <= 64 for p in pieces)
    assert processed.piece_part_ids.shape == (len(pieces),)
    assert set(processed.piece_part_ids.tolist()) <= set(range(processed.num_parts))
    # The pieces cover the surface: every surface sample lies within a few mm of some piece.
    outside = np.full(len(processed.surface_points), np.inf)
    for piece in pieces:
        equations = ConvexHull(piece).equations
        distance = (processed.surface_points @ equations[:, :3].T + equations[:, 3]).max(1)
        outside = np.minimum(outside, distance)
    print(f"\n{len(pieces)} pieces; surface outside pieces: p99 {np.percentile(outside, 99) * 1e3:.2f} mm, "
          f"max {outside.max() * 1e3:.2f} mm")
    assert np.percentile(outside, 99) < 2.5e-3 and outside.max() < 5e-3


def test_surface_samples(processed):
    points, normals, parts = processed.surface_points, processed.surface_normals, processed.surface_part_ids
    assert points.shape == normals.shape == (SMALL.num_surface_points, 3) and parts.shape == (len(points),)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
    distance = np.asarray(mesh_signed_distance(points, processed.vertices, processed.faces))
    assert np.abs(distance).max() < 1e-5
    assert set(np.unique(parts)) == set(range(processed.num_parts))
    # Farthest-point thinning spreads points: no two closer than a small fraction of the size.
    from scipy.spatial import cKDTree

    nearest, _ = cKDTree(points).query(points, k=2)
    assert nearest[:, 1].min() > 1e-3


def test_sdf_grid_of_processed_object(processed):
    grid = processed.sdf
    assert SMALL.grid_resolution <= max(grid.shape) <= SMALL.grid_resolution + 3
    inside = processed.part_centroids[:1] * 0.0  # the bbox centre of a kettle is inside its body
    assert float(sdf_grid_query(grid, inside)[0]) < 0
    outward = processed.surface_points + 0.01 * processed.surface_normals
    values = np.asarray(sdf_grid_query(grid, outward))
    assert np.median(np.abs(values - 0.01)) < float(grid.spacing) * 0.5


def test_part_frames(processed):
    n = processed.num_parts
    assert processed.part_centroids.shape == (n, 3) and processed.part_axes.shape == (n, 3, 3)
    assert processed.part_extents.shape == (n, 3)
    for axes, extents in zip(processed.part_axes, processed.part_extents):
        np.testing.assert_allclose(axes.T @ axes, np.eye(3), atol=1e-5)
        assert np.linalg.det(axes) > 0 and np.all(np.diff(extents) <= 1e-7)
    handle = processed.part_names.index("handle")
    assert processed.part_centroids[handle, 0] > 0.05  # the handle is on the +x side


def test_save_load_roundtrip(processed, tmp_path):
    path = tmp_path / "kettle.npz"
    save_processed(processed, path)
    with np.load(path, allow_pickle=False) as data:
        json.loads(str(data["meta_json"]))
    loaded = load_processed(path)
    assert loaded.part_names == processed.part_names and loaded.part_classes == processed.part_classes
    assert loaded.name == processed.name and loaded.scale == processed.scale
    for field in ("vertices", "faces", "face_part_ids", "surface_points", "piece_part_ids", "part_axes"):
        np.testing.assert_array_equal(getattr(loaded, field), getattr(processed, field))
    assert len(loaded.convex_pieces) == len(processed.convex_pieces)
    for a, b in zip(loaded.convex_pieces, processed.convex_pieces):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.sdf.values, processed.sdf.values)
    assert float(loaded.sdf.spacing) == float(processed.sdf.spacing)


def test_process_many_records_failures_and_caches(tmp_path, monkeypatch):
    knife = make_object("knife", 1)
    jar_path = tmp_path / "jar.obj"
    jar = make_object("jar", 2)
    jar.to_trimesh().export(jar_path)
    (tmp_path / "jar.parts.json").write_text(json.dumps({"part_names": jar.part_names,
                                                         "face_part_ids": jar.face_part_ids.tolist()}))
    (tmp_path / "empty.stl").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("not a mesh")
    items = [knife, tmp_path / "empty.stl", jar_path, tmp_path / "readme.txt", tmp_path / "missing.ply"]
    cfg = ProcessingConfig(grid_resolution=24, num_surface_points=256, target_diagonal=0.3)
    results, failures = process_many(items, cfg, progress=False, cache_dir=tmp_path / "cache")
    assert [r.name for r in results] == ["knife_0001", "jar"]
    assert [f["source"] for f in failures] == [str(tmp_path / n) for n in ("empty.stl", "readme.txt", "missing.ply")]
    assert [f["reason"] for f in failures] == ["empty file", "unsupported file type '.txt' (use one of .obj, .glb, "
                                               ".gltf, .stl, .ply, .off)", "file not found"]
    # Classes of an imported mesh without declared classes come from the geometric classifier.
    assert results[1].part_classes == jar.part_classes
    np.testing.assert_allclose(results[0].bbox_diagonal, 0.3, rtol=1e-5)
    # Second run: everything comes from the cache, coacd is never called.
    monkeypatch.setattr(processing, "convex_decomposition", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    cached, _ = process_many(items[:1] + items[2:3], cfg, progress=False, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(cached[0].vertices, results[0].vertices)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2


def test_farthest_point_sample():
    points = np.random.default_rng(0).normal(size=(500, 3))
    chosen = farthest_point_sample(points, 50, seed=1)
    assert len(set(chosen.tolist())) == 50
    np.testing.assert_array_equal(chosen, farthest_point_sample(points, 50, seed=1))
