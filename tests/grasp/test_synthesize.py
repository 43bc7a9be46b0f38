"""The per-object driver, the grasp file, the filter, and the CLI (resume without redoing finished objects)."""
import dataclasses
import os

import numpy as np
import pytest

from dexvlg_jax import grasp as G
from dexvlg_jax.objects.reference_shapes import cylinder_object

# Same optimiser/energy settings and shapes as test_optimizer (shared compilation within one pytest run).
CFG = G.SynthConfig(
    init=G.InitConfig(num_per_part=4),
    energy=G.EnergyConfig(fc_kind="dfc", points_per_primitive=8),
    optimizer=G.OptimizerConfig(num_iters=20, refresh_every=10, step_period=5, temperature_period=4),
    modes=("wrap",), batch_size=8, num_object_points=512, grid_shape=(52, 52, 52))


@pytest.fixture(scope="module")
def result():
    obj = cylinder_object(0.03, 0.16, num_points=512, resolution=32)
    bad = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    obj = dataclasses.replace(obj, part_names=["body", "tiny"], part_classes=["shaft", "disk"],
                              part_centroids=np.zeros((2, 3)), part_axes=np.stack([obj.part_axes[0], bad]),
                              part_extents=np.array([[0.16, 0.06, 0.06], [0.01, 0.005, 0.001]]),
                              surface_part_ids=(np.arange(len(obj.surface_points)) < 8).astype(np.int32))
    return G.synthesize_object(obj, dataclasses.replace(CFG, fill_batch=True), object_ref="objects/cylinder.npz",
                               part_ids=[0, 1, 7])


def test_rows_status_and_reasons(result):
    arrays, meta = result
    g = len(arrays["poses"])
    # part 0 is the only graspable part: its 4 poses fill the optimiser's batch of 8 (fill_batch), plus one failure
    # row each for the tiny part and the missing part 7
    assert g == 8 + 2 and (arrays["part_id"] == 0).sum() == 8
    for k in ("mode", "part_id", "status", "valid", "energy", "pen_mm", "spen_mm", "q1", "part_agreement",
              "e_fc", "e_dis"):
        assert len(arrays[k]) == g, k
    assert arrays["forces"].shape == (g, 7) and arrays["contact_mm"].shape == (g, 7)
    status = list(arrays["status"])
    assert any(s.startswith("part_too_small") for s in status)
    assert any(s.startswith("missing_part") for s in status)
    assert np.array_equal(arrays["valid"], arrays["status"] == "ok")
    failed_rows = ~np.isfinite(arrays["poses"]).all(1)
    assert not arrays["valid"][failed_rows].any()
    ok_rows = np.isfinite(arrays["poses"]).all(1)
    assert np.all(np.isfinite(arrays["spen_mm"][ok_rows])) and np.all(np.isfinite(arrays["q1"][ok_rows]))
    # penetration is measured exactly for the grasps that pass every other check (grasp_metrics screen=True)
    screened = ok_rows & ~np.isin(arrays["status"], ["self_penetration", "table_penetration", "contacts_far",
                                                       "low_q1", "off_part"])
    assert np.all(np.isfinite(arrays["pen_mm"][screened])) and np.all(arrays["pen_mm"][screened] >= 0)
    assert np.all(np.isnan(arrays["pen_mm"][ok_rows & ~screened]))
    assert meta["fc_kind"] == "dfc"


def test_poses_per_part_fills_the_padded_batches_without_adding_one():
    cfg = G.SynthConfig(init=G.InitConfig(num_per_part=32), batch_size=64, fill_batch=True)
    assert [G.poses_per_part(p, cfg) for p in range(1, 6)] == [64, 32, 42, 32, 38]
    for parts in range(1, 9):  # never more optimiser batches than num_per_part alone needs, never fewer poses
        n = G.poses_per_part(parts, cfg)
        assert n >= 32 and -(-parts * n // 64) == -(-parts * 32 // 64)
    assert G.poses_per_part(3, dataclasses.replace(cfg, fill_batch=False)) == 32
    assert not G.SynthConfig().fill_batch  # off by default (grasp/NOTES.md, "Filling the batch")


def test_grasp_file_roundtrip(result, tmp_path):
    arrays, meta = result
    path = tmp_path / "cyl.npz"
    G.save_grasps(path, arrays, meta)
    back = G.load_grasps(path)
    assert back["object"] == "objects/cylinder.npz"
    np.testing.assert_array_equal(back["poses"], arrays["poses"])
    assert list(back["status"]) == list(arrays["status"])
    assert back["meta"]["format_version"] == 1
    summary = G.summarize([back])
    assert summary["num_grasps"] == 10 and 0 <= summary["pass_rate"] <= 1


def test_failure_reason_order():
    m = {"pen_mm": np.array([np.nan, 5.0, 0.1, 0.1, 0.1, 0.1, 0.1]), "hand_pen_mm": np.zeros(7),
         "spen_mm": np.array([np.nan, 0, 2.0, 0, 0, 0, 0]), "table_mm": np.array([0, 0, 0, 3.0, 0, 0, 0]),
         "num_touching": np.array([7, 7, 7, 7, 1, 7, 7]), "q1": np.array([1, 1, 1, 1, 1, 0.0, 1]),
         "part_agreement": np.ones(7)}
    got = G.failure_reasons(m, ["wrap"] * 7)
    assert list(got) == ["nonfinite", "penetration", "self_penetration", "table_penetration", "contacts_far",
                         "low_q1", "ok"]


def test_cli_resume(tmp_path):
    import trimesh

    from launch import synthesize as cli

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.cylinder(radius=0.5, height=3.0, sections=24).export(meshes / "rod.obj")
    (meshes / "broken.obj").write_text("this is not a mesh\n")
    out = tmp_path / "out"
    args = ["--config", os.path.join("configs", "synth", "tiny.py"), "--out", str(out), "--objects", str(meshes),
            "--set", "init.num_per_part=4", "--set", "optimizer.num_iters=20", "--set", "optimizer.refresh_every=10",
            "--set", "optimizer.step_period=5", "--set", "optimizer.temperature_period=4",
            "--set", "energy.fc_kind='dfc'", "--set", "energy.points_per_primitive=8",
            "--set", "synth.batch_size=8", "--set", "synth.num_object_points=512", "--set", "synth.modes=['wrap']"]
    summary = cli.main(args)
    assert (out / "rod.npz").exists() and (out / "objects" / "rod.npz").exists()
    assert "broken" in summary["failed_objects"]
    assert summary["num_objects"] == 1
    stamp = os.stat(out / "rod.npz").st_mtime_ns
    cli.main(args)  # resume: nothing redone
    assert os.stat(out / "rod.npz").st_mtime_ns == stamp
    back = G.load_grasps(out / "rod.npz")
    assert back["poses"].shape[1] == 25 and back["object"] == os.path.join("objects", "rod.npz")
