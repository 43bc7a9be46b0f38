"""launch.synthesize end to end on a messy folder (issue 14's test), with real processing and synthesis:

    crash.obj         a good box whose watertightening segfaults (a worker that kills itself)
    open.obj          a cylinder without its top cap (open boundary edges)
    nonmanifold.obj   a cylinder with a stray triangle fan on one of its edges (non-manifold edges) and duplicated faces
    millimetres.obj   a cylinder written in millimetres (the annotator's size estimate rescales it)
    good.obj          a clean cylinder

The batch finishes; the good and the repairable meshes get grasps; the crash is recorded with its file name and
reason; a rerun resumes (nothing is synthesised again and the crash is not retried). Slow: it synthesises 4
objects (a short optimisation; ~3-5 min on a 2-core CPU).
"""
import json

import numpy as np
import pytest
import trimesh

from configs.synth import paper
from dexvlg_jax.objects import processing
from launch import synthesize
from tests.objects import native_faults


def _cylinder(radius=0.035, height=0.12):
    return trimesh.creation.cylinder(radius=radius, height=height, sections=24)


def _messy_folder(folder):
    folder.mkdir()
    trimesh.creation.box([0.06, 0.07, 0.11]).export(folder / "crash.obj")
    _cylinder().export(folder / "good.obj")
    _cylinder().apply_scale(1000.0).export(folder / "millimetres.obj")
    cyl = _cylinder()
    top = np.where(np.all(cyl.vertices[cyl.faces][:, :, 2] > 0.059, axis=1))[0]
    trimesh.Trimesh(cyl.vertices, np.delete(cyl.faces, top, axis=0), process=False).export(folder / "open.obj")
    cyl = _cylinder()
    a, b = cyl.faces[0][:2]  # an edge of the surface; two extra triangles on it make it non-manifold
    fan = np.vstack([cyl.vertices, [[0.08, 0.0, 0.0], [0.08, 0.02, 0.0]]])
    n = len(cyl.vertices)
    faces = np.vstack([cyl.faces, cyl.faces[:5], [[a, b, n], [b, a, n + 1]]])
    trimesh.Trimesh(fan, faces, process=False).export(folder / "nonmanifold.obj")
    return folder


@pytest.mark.slow
def test_a_messy_folder_finishes_with_grasps_and_recorded_failures(tmp_path, monkeypatch):
    folder = _messy_folder(tmp_path / "meshes")
    broken = trimesh.load(folder / "nonmanifold.obj", process=False)
    assert not broken.is_watertight and not trimesh.load(folder / "open.obj", process=False).is_watertight
    monkeypatch.setattr(processing, "make_watertight", native_faults.watertight_or_crash)
    config = paper.get_config("tiny")
    config.init.num_per_part = 16
    config.optimizer.num_iters = 300
    out = tmp_path / "out"
    summary = synthesize.run(config, str(out), objects_spec=str(folder), progress=False)
    assert list(summary["failed_objects"]) == ["crash"]
    reason = summary["failed_objects"]["crash"]
    assert "crash" in reason and "SIGSEGV" in reason and "watertight" in reason
    assert json.loads((out / "failures.json").read_text()) == summary["failed_objects"]
    with_grasps = sorted(f.stem for f in out.glob("*.npz") if np.asarray(np.load(f)["valid"]).any())
    assert with_grasps == ["good", "millimetres", "nonmanifold", "open"], with_grasps
    written = {f.name: f.stat().st_mtime_ns for f in out.glob("*.npz")}
    again = synthesize.run(config, str(out), objects_spec=str(folder), progress=False)
    assert again["failed_objects"] == summary["failed_objects"] and again["num_objects"] == 4
    assert {f.name: f.stat().st_mtime_ns for f in out.glob("*.npz")} == written  # resumed, not redone
