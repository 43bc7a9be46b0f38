"""launch.synthesize under faults, on a folder whose only mesh is bad (so no synthesis runs: fast).

- the bad mesh is an input failure recorded in failures.json (written atomically), and the run goes on;
- a truncated failures.json (0 bytes, as a non-atomic writer left it on a full disk) is named, moved aside and
  rebuilt instead of failing every rerun;
- a full disk while writing output is a run error naming the path (exit status 1, one line), not a per-object
  input failure, and leaves no half-written file;
- resume: a native crash (a worker that segfaults on purpose) is a permanent failure that a rerun does not retry
  (until the file changes); an annotator outage is transient and retried;
- scale: --units mm keeps a millimetre mesh's real size, --size-m sets it, a wrong unit is a named failure.
"""
import errno
import json
import os

import numpy as np
import pytest
import trimesh

from configs.synth import paper
from dexvlg_jax import atomic_io, objects
from dexvlg_jax.cli_errors import RunError
from dexvlg_jax.data import annotate
from dexvlg_jax.objects import processing
from launch import synthesize
from tests.objects import native_faults


@pytest.fixture
def bad_folder(tmp_path):
    folder = tmp_path / "meshes"
    folder.mkdir()
    (folder / "broken.obj").write_text("this is not an OBJ file\n")
    return str(folder)


def _run(bad_folder, out):
    return synthesize.run(paper.get_config("tiny"), str(out), objects_spec=bad_folder, progress=False)


def test_bad_mesh_is_recorded_and_a_truncated_failure_log_is_rebuilt(bad_folder, tmp_path, capsys):
    out = tmp_path / "out"
    summary = _run(bad_folder, out)
    assert list(summary["failed_objects"]) == ["broken"]
    assert list(json.loads((out / "failures.json").read_text())) == ["broken"]
    (out / "failures.json").write_bytes(b"")  # what a crash of a non-atomic writer leaves
    with pytest.warns(RuntimeWarning, match="failures.json is corrupt"):
        summary = _run(bad_folder, out)
    assert list(summary["failed_objects"]) == ["broken"]
    assert list(json.loads((out / "failures.json").read_text())) == ["broken"]
    assert [f for f in os.listdir(out) if f.startswith("failures.json.corrupt-")]


def test_disk_full_on_output_is_a_run_error_naming_the_path(bad_folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_io.os, "fsync", full)
    with pytest.raises(RunError, match="failures.json: No space left on device"):
        _run(bad_folder, out)
    assert not (out / "failures.json").exists()
    assert not [f for f in os.listdir(out) if ".tmp-" in f]  # no half-written temp file either
    code = synthesize.cli_main(["--config", "configs/synth/paper.py:tiny", "--out", str(out),
                                "--objects", bad_folder])
    err = capsys.readouterr().err
    assert code == 1 and "failures.json" in err and "No space left" in err and "Traceback" not in err


# ------------------------------------------------------------------ resume after permanent / transient failures
@pytest.fixture
def native_calls(tmp_path, monkeypatch):
    """Names of the faulty native steps that ran (written by the isolated workers)."""
    path = tmp_path / "calls.txt"
    monkeypatch.setenv(native_faults.CALLS, str(path))
    return lambda: path.read_text().split() if path.exists() else []


def _box_folder(tmp_path, name="crash.obj"):
    folder = tmp_path / "boxes"
    folder.mkdir(exist_ok=True)
    trimesh.creation.box([0.05, 0.06, 0.08]).export(folder / name)
    return folder


def test_a_native_crash_is_permanent_and_a_rerun_does_not_retry_it(tmp_path, monkeypatch, native_calls):
    folder = _box_folder(tmp_path)
    monkeypatch.setattr(processing, "make_watertight", native_faults.segfault)  # the worker segfaults
    out = tmp_path / "out"
    summary = synthesize.run(paper.get_config("tiny"), str(out), objects_spec=str(folder), progress=False)
    assert "crash" in summary["failed_objects"] and "SIGSEGV" in summary["failed_objects"]["crash"]
    state = json.loads((out / "build_state.json").read_text())["objects"]["crash"]["failure"]
    assert state["permanent"] and state["stage"] == "process" and "StepCrashed" in state["reason"]
    assert native_calls() == ["segfault"]
    summary = synthesize.run(paper.get_config("tiny"), str(out), objects_spec=str(folder), progress=False)
    assert native_calls() == ["segfault"], "the rerun retried a permanent failure"
    assert "SIGSEGV" in summary["failed_objects"]["crash"]
    assert "SIGSEGV" in json.loads((out / "failures.json").read_text())["crash"]
    trimesh.creation.box([0.05, 0.06, 0.09]).export(folder / "crash.obj")  # the file changed: try it again
    synthesize.run(paper.get_config("tiny"), str(out), objects_spec=str(folder), progress=False)
    assert native_calls() == ["segfault", "segfault"]


def test_a_transient_failure_is_retried(tmp_path, monkeypatch):
    folder = _box_folder(tmp_path, "box.obj")
    asked = []

    def outage(self, obj, views=()):
        asked.append(obj.name)
        raise annotate.AnnotationError("real_size", obj.name, "endpoint unreachable")

    monkeypatch.setattr(annotate.HeuristicAnnotator, "real_size", outage)
    out = tmp_path / "out"
    for run in (1, 2):
        summary = synthesize.run(paper.get_config("tiny"), str(out), objects_spec=str(folder), progress=False)
        assert "endpoint unreachable" in summary["failed_objects"]["box"] and len(asked) == run
    assert json.loads((out / "build_state.json").read_text())["objects"]["box"]["failure"]["permanent"] is False


# ------------------------------------------------------------------ scale: real size from --units / --size-m
def test_units_keep_the_real_size_and_size_m_sets_it(tmp_path, monkeypatch, capsys):
    """A 45 x 45 x 60 mm lemon saved in millimetres: --units mm keeps it at 4.5 cm (the annotator's default
    would make it a 20-50 cm diagonal), --size-m 0.12 makes its longest side 12 cm, --units m (wrong) is a
    recorded failure that names the size. Synthesis is stopped (this is about scale)."""
    folder = tmp_path / "fruit"
    folder.mkdir()
    lemon = trimesh.creation.icosphere(2, radius=0.5).apply_scale([45.0, 45.0, 60.0])  # millimetres
    lemon.export(folder / "lemon.obj")

    def stop(*args, **kwargs):
        raise ValueError("synthesis skipped in this test")

    monkeypatch.setattr(synthesize.grasp, "synthesize_object", stop)
    config = ["--config", "configs/synth/paper.py:tiny", "--objects", str(folder)]
    for flags, expected in ((["--units", "mm"], [0.045, 0.045, 0.060]), (["--size-m", "0.12"], [0.09, 0.09, 0.12])):
        out = tmp_path / flags[0].strip("-")
        summary = synthesize.main(config + ["--out", str(out)] + flags)
        assert "synthesis skipped" in summary["failed_objects"]["lemon"]
        obj = objects.load_processed(str(out / "objects" / "lemon.npz"))
        extents = np.ptp(obj.vertices, axis=0)
        np.testing.assert_allclose(extents, expected, rtol=0.02)
    summary = synthesize.main(config + ["--out", str(tmp_path / "wrong"), "--units", "m"])
    assert "is that the file's unit?" in summary["failed_objects"]["lemon"]
    capsys.readouterr()
