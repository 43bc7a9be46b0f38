"""dexvlg_jax.atomic_io: complete files or nothing; the temp file never survives an error; output errors name
the destination; a corrupt file is moved aside with a warning. Plus the callers that read cache files back:
a truncated processed-object cache is named (CorruptFileError) and `load_cached_processed` moves it aside."""
import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from dexvlg_jax import atomic_io


def _listing(folder):
    return sorted(os.listdir(folder))


def test_writes_bytes_text_json_npz(tmp_path):
    atomic_io.write_bytes(tmp_path / "a.bin", b"\x00\x01")
    atomic_io.write_text(tmp_path / "b.txt", "h\u00e9")
    atomic_io.write_json(tmp_path / "c.json", {"x": [1, 2]}, indent=1)
    atomic_io.write_npz(tmp_path / "d.npz", compressed=True, x=np.arange(3))
    atomic_io.write_npz(tmp_path / "e", compressed=False, y=np.ones(2))  # no ".npz" appended
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_text(encoding="utf-8") == "h\u00e9"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2]}
    with np.load(tmp_path / "d.npz", allow_pickle=False) as f:
        np.testing.assert_array_equal(f["x"], np.arange(3))
    with np.load(tmp_path / "e", allow_pickle=False) as f:
        np.testing.assert_array_equal(f["y"], np.ones(2))
    assert _listing(tmp_path) == ["a.bin", "b.txt", "c.json", "d.npz", "e"]  # no temp files left


def test_an_error_mid_write_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "f.json"
    atomic_io.write_json(path, {"old": True})
    with pytest.raises(RuntimeError):
        with atomic_io.atomic_open(path, "w") as f:
            f.write('{"new": ')
            raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"old": True} and _listing(tmp_path) == ["f.json"]
    with pytest.raises(TypeError):  # unserialisable payload: nothing is opened
        atomic_io.write_json(path, {"x": object()})
    assert json.loads(path.read_text()) == {"old": True} and _listing(tmp_path) == ["f.json"]


def test_disk_full_names_the_destination(tmp_path, monkeypatch):
    path = tmp_path / "out.json"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic_io.os, "fsync", full)
    with pytest.raises(OSError) as info:
        atomic_io.write_json(path, {"a": 1})
    assert info.value.errno == errno.ENOSPC and str(path) in str(info.value)
    assert atomic_io.is_disk_error(info.value)
    assert _listing(tmp_path) == []  # neither the destination nor a temp file


def test_temps_of_killed_writers_of_this_host_are_removed_and_no_others(tmp_path):
    killed = ("import os, signal\nfrom dexvlg_jax import atomic_io\n"
              f"with atomic_io.atomic_open({str(tmp_path / 'state.json')!r}, 'w') as f:\n"
              "    f.write('{half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", killed], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    dead = [str(p) for p in tmp_path.glob(".state.json.tmp-*")]
    assert len(dead) == 1
    live = atomic_io.temp_path(tmp_path / "live.json")  # this process is running
    elsewhere = tmp_path / f".other.json{atomic_io.TEMP_MARKER}another-host-1-abcd"
    for path in (live, elsewhere):
        open(path, "w").close()
    assert atomic_io.remove_dead_temps(tmp_path) == dead
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(live), elsewhere.name])


def test_move_aside(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{trunc")
    with pytest.warns(RuntimeWarning, match="x.json is corrupt"):
        target = atomic_io.move_aside(path, "JSONDecodeError")
    assert not path.exists() and os.path.basename(target).startswith("x.json.corrupt-")


def test_truncated_processed_object_is_named_and_moved_aside(tmp_path):
    from dexvlg_jax import objects

    path = tmp_path / "mug_0000.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(objects.CorruptFileError, match="mug_0000.npz"):
        objects.load_processed(path)
    with pytest.warns(RuntimeWarning, match="mug_0000.npz is corrupt"):
        assert objects.load_cached_processed(path) is None
    assert not path.exists() and [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
    assert objects.load_cached_processed(tmp_path / "missing.npz") is None
