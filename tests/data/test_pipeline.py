"""The data engine end to end: records from synthesised grasps, and kill-and-resume of the build CLI."""
import glob
import os
import platform
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexvlg_jax import atomic_io, objects
from dexvlg_jax.data import pipeline
from dexvlg_jax.data.schema import decode_record, encode_record
from dexvlg_jax.data.writer import read_manifest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def bottle():
    cfg = objects.ProcessingConfig(grid_resolution=24, num_surface_points=256, coacd_max_pieces=4)
    return objects.process_object(objects.make_object("bottle", 0), cfg)


def _fake_grasps(obj):
    """Three grasps on part 0 (two pass the simulation) in the grasp-file layout."""
    rng = np.random.default_rng(0)
    rot = Rotation.random(3, random_state=0).as_matrix()  # non-identity palm rotations
    poses = np.concatenate([rng.normal(size=(3, 3)) * 0.05, rot[:, :, 0], rot[:, :, 1],
                            np.zeros((3, 16))], axis=1).astype(np.float32)
    return {"poses": poses, "valid": np.array([True, True, True]), "sim_success": np.array([True, False, True]),
            "part_id": np.zeros(3, int), "mode": np.array(["wrap", "wrap", "pinch"]),
            "energy": np.array([1.0, 0.5, 2.0]),
            "pen_mm": np.array([0.5, 0.1, 0.2]), "spen_mm": np.zeros(3), "q1": np.array([0.1, 0.2, 0.3])}


def test_records_pair_each_passing_grasp_with_each_view(bottle):
    cfg = pipeline.DatasetConfig(views_per_object=2, image_size=32)
    grasps = _fake_grasps(bottle)
    assert list(pipeline.select_grasps(grasps, 8)) == [0, 2]
    records = list(pipeline.object_records("bottle_0", "train", bottle, grasps, cfg))
    assert len(records) == 4 and {(r.grasp_index, r.view_index) for r in records} == {(0, 0), (2, 0), (0, 1), (2, 1)}
    for rec in records:
        back = decode_record(encode_record(rec))
        # pose_camera = object_to_camera @ (palm frame in the object), as 4x4 matrices built here (not transform_pose)
        pose = rec.pose_object.astype(np.float64)
        palm_to_object = np.eye(4)
        palm_to_object[:3, 0], palm_to_object[:3, 1] = pose[3:6], pose[6:9]
        palm_to_object[:3, 2], palm_to_object[:3, 3] = np.cross(pose[3:6], pose[6:9]), pose[:3]
        want = rec.object_to_camera.astype(np.float64) @ palm_to_object
        np.testing.assert_allclose(back.pose_camera[:3], want[:3, 3], atol=1e-5)
        np.testing.assert_allclose(back.pose_camera[3:9], np.r_[want[:3, 0], want[:3, 1]], atol=1e-5)
        np.testing.assert_array_equal(back.pose_camera[9:], rec.pose_object[9:])
        # The object is in view: its parts cover pixels, and the depth there is 0.5-1.1 m (camera 0.8 m away).
        on_object = back.part_mask >= 0
        assert on_object.sum() > 10
        assert 0.5 < back.depth[on_object].mean() < 1.1
        assert rec.part_name in rec.instruction or rec.category in rec.instruction
        assert np.isfinite(rec.object_to_camera).all() and rec.rgb.dtype == np.uint8


CONFIG = textwrap.dedent('''
    import ml_collections
    from configs.synth import tiny
    from tests.toy_budget import toy_budget


    def get_config(arg=None):
        c = ml_collections.ConfigDict()
        c.categories = ("bottle", "jar")
        c.instances_per_category = 1
        c.processing = dict(grid_resolution=24, num_surface_points=512, coacd_max_pieces=4)
        c.synth = tiny.get_config()
        toy_budget(c)  # every finite grasp kept, so that records exist
        c.objects_per_shard = 1
        c.unseen_category_fraction = 0.0
        c.unseen_instance_fraction = 0.0
        c.test_seen_fraction = 0.0
        return c
''')


def test_build_is_resumable_after_a_kill(tmp_path):
    config = tmp_path / "data_config.py"
    config.write_text(CONFIG)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "launch.build_dataset", "--config", str(config), "--out", str(out), "--no-progress"]
    # The CLI's persistent compilation cache, in this test's folder: the resumed build reuses what the killed one
    # compiled (as a user's would).
    env = dict(os.environ, PYTHONPATH=REPO, DEXVLG_JAX_CACHE="1", DEXVLG_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while not glob.glob(str(out / "*.array_record")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, f"build ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = sorted(glob.glob(str(out / "*.array_record")))
    assert len(first) == 1
    stamps = {p: os.stat(p).st_mtime_ns for p in first}
    # The kill can land while the state file is half written (CI saw it once): plant that temp, as the killed
    # process would have named it, so the resumed build's cleanup is tested every time.
    (out / f".build_state.json{atomic_io.TEMP_MARKER}{platform.node()}-{proc.pid}-0badcafe").write_text("{half")

    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    shards = sorted(glob.glob(str(out / "*.array_record")))
    assert len(shards) == 2 and not glob.glob(str(out / ".*tmp*"))
    assert all(os.stat(p).st_mtime_ns == t for p, t in stamps.items())  # finished shards were not redone
    from array_record.python.array_record_module import ArrayRecordReader

    keys = []
    for path in shards:
        reader = ArrayRecordReader(path)
        keys += [(r.object_id, r.grasp_index, r.view_index) for r in map(decode_record, reader.read_all())]
        reader.close()
    assert len(keys) == len(set(keys)) == read_manifest(out)["num_records"] > 0
