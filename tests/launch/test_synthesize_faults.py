"""launch.synthesize under faults, on a folder whose only mesh is bad (so no synthesis runs: fast).

- the bad mesh is an input failure recorded in failures.json (written atomically), and the run goes on;
- a truncated failures.json (0 bytes, as a non-atomic writer left it on a full disk) is named, moved aside and
  rebuilt instead of failing every rerun;
- a full disk while writing output is a run error naming the path (exit status 1, one line), not a per-object
  input failure, and leaves no half-written file.
"""
import errno
import json
import os

import pytest

from configs.synth import paper
from dexvlg_jax import atomic_io
from dexvlg_jax.cli_errors import RunError
from launch import synthesize


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
