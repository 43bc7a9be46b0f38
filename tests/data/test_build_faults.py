"""Fault injection for the data engine: failure is a state, never "done".

Synthesis is replaced by fixed grasps (this is about the build's bookkeeping, not grasp quality), so each build
takes seconds: annotator outage then recovery, a bad mesh fixed between runs, a quality-filter rejection, a disk
error on output, and a corrupt cache file.
"""
import errno
import glob
import os

import numpy as np
import pytest
import trimesh
from scipy.spatial.transform import Rotation

from dexvlg_jax import objects
from dexvlg_jax.cli_errors import RunError
from dexvlg_jax.data import annotate, pipeline
from dexvlg_jax.data.schema import decode_record

CFG = pipeline.DatasetConfig(
    processing=objects.ProcessingConfig(grid_resolution=16, num_surface_points=128, coacd_max_pieces=2),
    sim_filter=False, views_per_object=1, image_size=16, objects_per_shard=1, unseen_category_fraction=0.0,
    unseen_instance_fraction=0.0, test_seen_fraction=0.0)


def _fake_synthesis(object_id, obj, cfg, cache_dir, tabletop):
    rot = Rotation.random(2, random_state=0).as_matrix()
    poses = np.concatenate([np.zeros((2, 3)), rot[:, :, 0], rot[:, :, 1], np.zeros((2, 16))], 1).astype(np.float32)
    return {"poses": poses, "valid": np.ones(2, bool), "sim_success": np.ones(2, bool), "part_id": np.zeros(2, int),
            "mode": np.array(["wrap", "pinch"]), "energy": np.zeros(2), "pen_mm": np.zeros(2), "spen_mm": np.zeros(2),
            "q1": np.ones(2)}


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(pipeline, "synthesize_cached", _fake_synthesis)


class Outage(annotate.HeuristicAnnotator):
    """An endpoint that is down: every naming request fails (as annotate_http does on 500s and timeouts)."""

    calls = 0

    def name_parts(self, obj, *args, **kwargs):
        Outage.calls += 1
        raise annotate.AnnotationError("name_parts", obj.name, "HTTP 500 from the endpoint")


class Picky(annotate.HeuristicAnnotator):
    def filter_quality(self, obj, views=()):
        return (False, "too blurry") if obj.category == "jar" else (True, "")


def _records(out):
    keys = []
    from array_record.python.array_record_module import ArrayRecordReader

    for path in sorted(glob.glob(os.path.join(out, "*.array_record"))):
        reader = ArrayRecordReader(path)
        keys += [(r.object_id, r.grasp_index, r.view_index) for r in map(decode_record, reader.read_all())]
        reader.close()
    return keys


def test_annotator_outage_is_retried_after_recovery(tmp_path):
    cfg = pipeline.dataclasses.replace(CFG, categories=("bottle", "jar"), instances_per_category=1)
    out = str(tmp_path / "ds")
    first = pipeline.build_dataset(cfg, out, progress=False, annotator=Outage())
    assert first["num_records"] == 0 and len(first["failures"]) == 2
    assert all(not f["permanent"] and f["stage"] == "process" for f in first["failures"])
    second = pipeline.build_dataset(cfg, out, progress=False)  # the endpoint is back
    keys = _records(out)
    assert second["num_records"] == len(keys) == len(set(keys)) == 4  # 2 objects x 2 grasps x 1 view
    assert second["failures"] == []
    again = pipeline.build_dataset(cfg, out, progress=False, annotator=Outage())  # all done: no request at all
    calls = Outage.calls
    assert again["num_records"] == 4 and Outage.calls == calls


def test_rejection_is_recorded_with_its_reason_and_the_build_goes_on(tmp_path):
    cfg = pipeline.dataclasses.replace(CFG, categories=("bottle", "jar"), instances_per_category=1)
    manifest = pipeline.build_dataset(cfg, str(tmp_path / "ds"), progress=False, annotator=Picky())
    assert manifest["num_records"] == 2
    (failure,) = manifest["failures"]
    assert failure["object_id"] == "jar_0" and failure["permanent"] and "too blurry" in failure["reason"]


def test_a_fixed_mesh_is_built_and_nothing_is_duplicated(tmp_path):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.cylinder(radius=0.03, height=0.2, sections=16).export(meshes / "can.obj")
    (meshes / "cup.obj").write_text("this is not a mesh\n")
    cfg = pipeline.dataclasses.replace(CFG, mesh_folder=str(meshes))
    out = str(tmp_path / "ds")
    first = pipeline.build_dataset(cfg, out, progress=False)
    assert [f["object_id"] for f in first["failures"]] == ["cup"] and first["failures"][0]["permanent"]
    assert first["num_records"] == 2
    trimesh.creation.box(extents=(0.06, 0.06, 0.1)).export(meshes / "cup.obj")  # the user fixes the file
    second = pipeline.build_dataset(cfg, out, progress=False)
    keys = _records(out)
    assert second["failures"] == [] and second["num_records"] == len(keys) == len(set(keys)) == 4
    assert {k[0] for k in keys} == {"can", "cup"}


def test_disk_error_stops_the_run_with_the_path_and_commits_nothing(tmp_path, monkeypatch):
    cfg = pipeline.dataclasses.replace(CFG, categories=("bottle",), instances_per_category=1)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "ds" / "cache" / "objects"))

    monkeypatch.setattr(objects, "save_processed", full)
    with pytest.raises(RunError, match="bottle_0.*No space left"):
        pipeline.build_dataset(cfg, str(tmp_path / "ds"), progress=False)
    assert not glob.glob(str(tmp_path / "ds" / "*.array_record"))


def test_corrupt_cache_file_is_moved_aside_and_rebuilt(tmp_path):
    cfg = pipeline.dataclasses.replace(CFG, categories=("bottle",), instances_per_category=1)
    out = tmp_path / "ds"
    pipeline.build_dataset(cfg, str(out), progress=False)
    cache = out / "cache" / "objects" / "bottle_0.npz"
    cache.write_bytes(cache.read_bytes()[:100])  # truncated
    for shard in glob.glob(str(out / "train-*")):
        os.remove(shard)  # the shard must be rebuilt, which needs the cache
    manifest = pipeline.build_dataset(cfg, str(out), progress=False)
    assert manifest["num_records"] == 2 and manifest["failures"] == []
    assert objects.load_processed(str(cache)).name and glob.glob(str(out / "cache" / "objects" / "*corrupt*"))
