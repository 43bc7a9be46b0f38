"""evaluate() API, metrics (PTA / PGA), the grasp-file CLI, scene filtering."""
import json

import mujoco
import numpy as np
import pytest

from dexvlg_jax import sim
from dexvlg_jax.geometry import matrix_to_rot6d
from dexvlg_jax.scene import TabletopConfig, place_object
from dexvlg_jax.sim import metrics, records
from tests.sim import cases


def _flat(t, r, q):
    return np.concatenate([t, np.asarray(matrix_to_rot6d(r)), q], -1)


def test_scene_filtering_mass_and_bad_pieces():
    shaft = cases.Shaft(halves=True)
    placed = place_object(shaft, yaw=0.7)
    sc = sim.build_scene(shaft.convex_pieces, [0, 1], table=placed)
    m = sc.model
    # mass = volume x density (TabletopConfig: 150 kg/m^3); a 16-gon prism has 0.9745 of the cylinder's area
    cylinder = np.pi * cases.RADIUS ** 2 * 2 * cases.HALF_HEIGHT * 0.9745
    assert m.body_mass[sc.object_body] == pytest.approx(cylinder * TabletopConfig().density, rel=1e-3)
    kinds = set()
    for g1 in range(m.ngeom):
        for g2 in range(g1 + 1, m.ngeom):
            if m.geom_bodyid[g1] == m.geom_bodyid[g2]:
                continue
            if (m.geom_contype[g1] & m.geom_conaffinity[g2]) or (m.geom_contype[g2] & m.geom_conaffinity[g1]):
                kind = lambda g: "hand" if sc.is_hand_geom[g] else ("object" if sc.geom_part[g] >= 0 else "table")
                kinds.add(tuple(sorted((kind(g1), kind(g2)))))
    assert kinds == {("hand", "object"), ("object", "table"), ("hand", "table")}
    assert m.opt.gravity.tolist() == [0, 0, 0] and m.opt.disableflags & mujoco.mjtDisableBit.mjDSBL_EULERDAMP
    with pytest.raises(ValueError, match="64"):
        sim.build_scene([np.random.default_rng(0).normal(size=(65, 3))], [0])
    with pytest.raises(ValueError, match="piece_part_ids"):
        sim.build_scene([sim.box_pieces([0.1, 0.1, 0.1])], [0, 1])


def test_metrics_pta_pga():
    rec = records.TrialRecord(
        success=np.array([True, True, False, True]), reason=["", "", "moved", ""],
        displacement=np.zeros(4), rotation=np.zeros(4), rise=np.zeros(4), penetration=np.array([0, 1e-3, 0, 0.0]),
        part_contacts=np.array([[3, 1], [1, 3], [4, 0], [2, 2]]), phase_names=(), phase_object_pos=None,
        phase_object_quat=None)
    m = metrics.per_trial(rec, [0, 0, 0, 1])
    assert m["pta"].tolist() == [True, True, True, True]
    assert m["pga"].tolist() == [True, False, False, False]  # tie (2 of 4) is not a strict majority
    s = metrics.summarize(m, ["a", "a", "b", "b"])
    assert s["all"]["success_rate"] == 0.75 and s["a"]["pga"] == 0.5 and s["b"]["trials"] == 2
    assert s["all"]["penetration_mm_max"] == pytest.approx(1.0)
    assert "PGA" in metrics.format_table(s)


def test_evaluate_api_two_part_object():
    t = np.stack([cases.GOOD_TRANSLATION, cases.FAR_TRANSLATION])
    r = np.stack([cases.GOOD_ROTATION] * 2)
    q = np.stack([cases.GOOD_JOINTS, cases.OPEN_JOINTS])
    out = sim.evaluate(cases.Shaft(halves=True), _flat(t, r, q), protocol="six_direction", backend="c",
                       part_ids=np.array([0, 1]))
    rec = out.records[0]
    assert rec.success.tolist() == [True, False] and rec.part_contacts.shape == (2, 2)
    assert out.per_trial["pta"][0] and not out.per_trial["pta"][1]
    assert out.summary["all"]["success_rate"] == 0.5


def test_cli_on_grasp_file(tmp_path):
    from launch import evaluate as cli

    names, t, r, q = cases.mixed_set()
    path = tmp_path / "grasps.npz"
    # the embedded-object path needs dexvlg_jax.objects; a processed .npz works the same way, so write one
    objects = pytest.importorskip("dexvlg_jax.objects")
    shaft = cases.Shaft()
    obj = objects.ProcessedObject(
        name="shaft", category="test", vertices=np.zeros((4, 3), np.float32), faces=np.zeros((1, 3), np.int32),
        face_part_ids=np.zeros(1, np.int32), scale=1.0, source_center=np.zeros(3), convex_pieces=shaft.convex_pieces,
        piece_part_ids=shaft.piece_part_ids, surface_points=np.zeros((1, 3)), surface_normals=np.zeros((1, 3)),
        surface_part_ids=np.zeros(1, np.int32), sdf=objects.containers.SDFGrid(
            origin=np.zeros(3, np.float32), spacing=np.float32(0.01), values=np.zeros((2, 2, 2), np.float32)),
        part_names=["shaft"], part_classes=["shaft"], part_centroids=np.zeros((1, 3)), part_axes=np.eye(3)[None],
        part_extents=np.ones((1, 3)))
    objects.save_processed(obj, tmp_path / "shaft.npz")
    np.savez(path, poses=_flat(t, r, q), object="shaft.npz", part_id=np.zeros(len(t), np.int64),
             split=np.array(["seen"] * 4 + ["unseen"] * 4))
    out_json = tmp_path / "out.json"
    out = cli.main(["--poses", str(path), "--protocol", "tabletop_lift", "--backend", "c",
                    "--config", cli.DEFAULT_CONFIG + ":tiny", "--out", str(out_json)])
    saved = json.loads(out_json.read_text())
    assert saved["protocol"] == "tabletop_lift" and len(saved["trials"]) == 8
    assert saved["trials"][0]["success"] and saved["trials"][4]["reason"] == "non_finite_pose"
    assert set(out["summary"]) == {"all", "seen", "unseen"}
