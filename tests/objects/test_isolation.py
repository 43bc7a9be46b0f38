"""Crash isolation of the native processing steps (objects/isolation.py, processing.decompose).

The failing steps live in tests/objects/native_faults.py: a worker is a fresh interpreter, so it runs whatever
function the parent names (monkeypatching `processing.convex_decomposition` in the parent reaches it by name).
A worker start costs ~0.5 s here (numpy + scipy + coacd or manifold3d imports), so these tests take ~20 s.
"""
import dataclasses
import sys
import warnings

import numpy as np
import pytest
import trimesh

from dexvlg_jax.objects import LabeledMesh, ObjectError, ProcessingConfig, process_object, processing
from dexvlg_jax.objects.isolation import ProcessingWarning, StepCrashed, StepTimedOut, call_isolated
from tests.objects import native_faults

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SMALL = ProcessingConfig(grid_resolution=16, num_surface_points=128, coacd_max_pieces=2, target_diagonal=0.3)


def _labeled(mesh: trimesh.Trimesh, name: str) -> LabeledMesh:
    return LabeledMesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), np.zeros(len(mesh.faces), np.int64),
                       ["body"], [""], "thing", name)


@pytest.fixture
def calls(tmp_path, monkeypatch):
    """Names of the faulty steps that ran, in order (written by the workers)."""
    path = tmp_path / "calls.txt"
    monkeypatch.setenv(native_faults.CALLS, str(path))
    return lambda: path.read_text().split() if path.exists() else []


def test_segfault_is_an_object_error_naming_the_file_and_signal_and_the_parent_goes_on():
    with pytest.raises(StepCrashed) as info:
        call_isolated(native_faults.segfault, source="meshes/bad.obj", step="convex decomposition")
    assert isinstance(info.value, ObjectError) and info.value.source == "meshes/bad.obj"
    assert info.value.reason.startswith("convex decomposition crashed (signal 11, SIGSEGV)")
    assert str(info.value).startswith("meshes/bad.obj: ")
    # This process is alive and the next worker works; arrays travel both ways intact.
    array = np.random.default_rng(0).normal(size=(50, 3))
    (back,), kwargs = call_isolated(native_faults.echo, (array,), {"k": "v"}, source="x", step="echo")
    np.testing.assert_array_equal(back, array)
    assert kwargs == {"k": "v"}


def test_timeout_kills_the_worker():
    with pytest.raises(StepTimedOut, match=r"slow\.obj: watertightening timed out after 0\.5 s"):
        call_isolated(native_faults.sleep, (60,), source="slow.obj", step="watertightening", timeout=0.5)
    assert call_isolated(native_faults.sleep, (0,), source="x", step="s", timeout=30) == "woke up"


def test_exceptions_come_back_as_themselves():
    with pytest.raises(ObjectError) as info:
        call_isolated(native_faults.raise_object_error, ("open.obj", "cannot be made watertight"), source="open.obj",
                      step="watertightening")
    assert (info.value.source, info.value.reason) == ("open.obj", "cannot be made watertight")
    assert not isinstance(info.value, StepCrashed)
    with pytest.raises(ValueError, match="no good"):
        call_isolated(native_faults.raise_value_error, ("no good",), source="x", step="s")
    with pytest.raises(TypeError, match="module-level function"):
        call_isolated(lambda: None, source="x", step="s")


def test_isolated_processing_gives_the_in_process_result():
    mesh = _labeled(trimesh.creation.cylinder(radius=0.03, height=0.12, sections=12), "can")
    isolated = process_object(mesh, SMALL)
    local = process_object(mesh, dataclasses.replace(SMALL, isolate=False))
    np.testing.assert_array_equal(isolated.vertices, local.vertices)
    assert len(isolated.convex_pieces) == len(local.convex_pieces)
    for a, b in zip(isolated.convex_pieces, local.convex_pieces):
        np.testing.assert_array_equal(a, b)
    assert SMALL.fingerprint() == dataclasses.replace(SMALL, isolate=False).fingerprint()


def test_coacd_crash_is_retried_with_the_next_preprocess_mode(monkeypatch, calls):
    monkeypatch.setattr(processing, "convex_decomposition", native_faults.off_crashes)
    with pytest.warns(ProcessingWarning, match=r"box\.obj: .*'off'\) crashed \(signal 11, SIGSEGV\); "
                                               r"used preprocess_mode='auto' instead"):
        result = process_object(_labeled(trimesh.creation.box(extents=(0.1, 0.2, 0.3)), "box.obj"), SMALL)
    assert calls() == ["off", "segfault", "auto"]
    (piece,) = result.convex_pieces  # the second mode's answer: the hull of the (rescaled) box itself
    assert len(piece) == len(result.vertices) == 8
    np.testing.assert_allclose(np.unique(piece, axis=0), np.unique(result.vertices, axis=0), atol=1e-6)


def test_coacd_exception_is_retried_in_process_too(monkeypatch, calls):
    monkeypatch.setattr(processing, "convex_decomposition", native_faults.off_raises)
    cfg = dataclasses.replace(SMALL, isolate=False, coacd_preprocess_modes=("off", "on"))
    with pytest.warns(ProcessingWarning, match="RuntimeError: coacd: bad input; used preprocess_mode='on'"):
        result = process_object(_labeled(trimesh.creation.box(extents=(0.1, 0.2, 0.3)), "box.obj"), cfg)
    assert calls() == ["off", "on"] and len(result.convex_pieces) == 1


def test_every_mode_failing_names_each_failure(monkeypatch):
    monkeypatch.setattr(processing, "convex_decomposition", native_faults.segfault)
    cfg = dataclasses.replace(SMALL, coacd_preprocess_modes=("off", "auto"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "used ... instead" warning when nothing worked
        with pytest.raises(ObjectError) as info:
            process_object(_labeled(trimesh.creation.box(), "box.obj"), cfg)
    assert info.value.source == "box.obj"
    assert info.value.reason == ("convex decomposition (coacd, preprocess_mode='off') crashed (signal 11, SIGSEGV); "
                                 "convex decomposition (coacd, preprocess_mode='auto') crashed (signal 11, SIGSEGV)")


def test_config_checks_the_modes():
    with pytest.raises(ValueError, match="coacd_preprocess_modes"):
        ProcessingConfig(coacd_preprocess_modes=("off", "sometimes"))
    assert ProcessingConfig(coacd_preprocess_modes=["on"]).coacd_preprocess_modes == ("on",)


def test_data_engine_records_a_crashing_mesh_and_does_not_retry_it(tmp_path, monkeypatch, calls):
    from dexvlg_jax.data import pipeline
    from tests.data.test_build_faults import CFG, _fake_synthesis, _records

    monkeypatch.setattr(pipeline, "synthesize_cached", _fake_synthesis)
    monkeypatch.setattr(processing, "convex_decomposition", native_faults.boxes_crash)  # boxes segfault
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.cylinder(radius=0.03, height=0.2, sections=16).export(meshes / "can.obj")
    trimesh.creation.box(extents=(0.06, 0.06, 0.1)).export(meshes / "box.obj")
    cfg = pipeline.dataclasses.replace(CFG, mesh_folder=str(meshes))
    out = str(tmp_path / "ds")
    first = pipeline.build_dataset(cfg, out, progress=False)
    (failure,) = first["failures"]
    assert failure["object_id"] == "box" and failure["permanent"] and failure["stage"] == "process"
    assert failure["reason"].startswith("ObjectError: box: convex decomposition (coacd, preprocess_mode='off') "
                                        "crashed (signal 11, SIGSEGV)")
    assert {key[0] for key in _records(out)} == {"can"} and first["num_records"] == 2
    assert calls().count("segfault") == 3  # every preprocess mode was tried
    seen = calls()
    second = pipeline.build_dataset(cfg, out, progress=False)
    assert calls() == seen  # nothing ran again: the crash is a recorded, permanent failure
    assert second["failures"] == first["failures"] and second["num_records"] == 2
