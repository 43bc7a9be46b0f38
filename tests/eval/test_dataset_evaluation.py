"""Evaluation on a dataset (tests/eval/tiny_dataset.py): it uses the dataset's objects, placements and splits;
a known-good grasp succeeds and a known-bad one fails through the evaluation path (the retrieval baseline executes
the dataset's one train grasp); conditions without a sim-passing grasp are skipped with the grasp file's reason;
the model's observations show the object where the dataset placed it (non-identity camera and placement)."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexvlg_jax import eval as evaluation
from dexvlg_jax.data import pipeline, writer
from dexvlg_jax.render.camera import backproject
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.scene import Tabletop
from tests.eval import tiny_dataset
from tests.sim import cases

RETRIEVAL = evaluation.EvalConfig(policy="retrieval", samples=2, pictures=0)


@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory):
    return tiny_dataset.write_dataset(str(tmp_path_factory.mktemp("good")))


def test_scenes_are_the_datasets_objects_placements_and_splits(good_dataset):
    manifest = writer.read_manifest(good_dataset)
    scenes = {s.object_id: s for s in evaluation.load_scenes(good_dataset)}
    assert sorted(scenes) == sorted(manifest["objects"])
    report = evaluation.evaluate_retrieval(good_dataset, RETRIEVAL)
    for object_id, entry in manifest["objects"].items():
        scene, row = scenes[object_id], report["objects"][object_id]
        assert scene.split == row["split"] == manifest["splits"][object_id]
        assert row["label"] == {"train": "seen", "test_seen": "seen",
                                "test_unseen_instance": "unseen_instance"}[scene.split]
        # size: the cached object's (20 cm tall, 6 cm wide cylinder), not a re-processed one
        assert row["diagonal_m"] == pytest.approx(np.sqrt(0.06 ** 2 + 0.06 ** 2 + 0.2 ** 2), abs=2e-3)
        # placement: the manifest's transform (yawed, off-centre), resting on the table
        expected = Tabletop.from_json(entry["tabletop"]).object_to_world
        np.testing.assert_allclose(scene.tabletop.object_to_world, expected, atol=1e-9)
        np.testing.assert_allclose(row["tabletop"]["object_to_world"], expected, atol=1e-9)
        yaw, xy = tiny_dataset.PLACEMENTS[object_id]
        np.testing.assert_allclose(expected[:2, 3], xy, atol=1e-6)
        np.testing.assert_allclose(expected[:2, 0], [np.cos(yaw), np.sin(yaw)], atol=1e-6)
        assert scene.tabletop.to_world(scene.obj.convex_pieces[0])[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert {t["label"] for t in report["trials"]} == {"seen", "unseen_instance"}
    assert set(report["summary"]) == {"seen/wrap", "unseen_instance/wrap", "seen", "unseen_instance", "all"}


@pytest.mark.parametrize("train_pose, succeeds", [(tiny_dataset.GOOD_POSE, True),
                                                  (tiny_dataset.FAR_OPEN_POSE, False)], ids=["good", "far_open"])
def test_known_good_grasp_succeeds_and_far_open_hand_fails(tmp_path, train_pose, succeeds):
    dataset = tiny_dataset.write_dataset(str(tmp_path), train_pose=train_pose)
    report = evaluation.evaluate_retrieval(dataset, RETRIEVAL, out_dir=str(tmp_path / "eval"))
    retrieved = [t for t in report["trials"] if t["object"] in ("shaft_0", "shaft_1")]
    assert len(retrieved) == 2 * RETRIEVAL.samples  # (shaft_0, wrap) and (shaft_1, wrap), K each
    assert all(t["success"] == succeeds for t in retrieved), [t["reason"] for t in retrieved]
    assert report["summary"]["all"]["success_rate"] == (1.0 if succeeds else 0.0)
    if not succeeds:
        assert all(t["reason"] in ("not_lifted", "dropped", "moved") for t in retrieved), retrieved
    assert (tmp_path / "eval" / "eval_results.json").exists()
    assert "unseen_instance/wrap" in (tmp_path / "eval" / "eval_table.txt").read_text()


def test_uncovered_conditions_are_skipped_with_their_reason(good_dataset):
    report = evaluation.evaluate_retrieval(good_dataset, RETRIEVAL)
    skipped = {(s["object_id"], s["mode"]): s["reason"] for s in report["skipped"]}
    assert skipped == {
        ("shaft_0", "pinch"): "part_too_big: body is 6.0 cm across",
        ("shaft_1", "pinch"): "no grasp was synthesised for this part and mode",
        ("shaft_2", "wrap"): "no grasp passed the simulation filter (tabletop_lift: dropped)",
        ("shaft_2", "pinch"): "no grasp was synthesised for this part and mode",
    }
    assert report["coverage"] == {"conditions": 6, "evaluated": 2, "skipped": 4}
    assert not any(t["object"] == "shaft_2" or t["mode"] == "pinch" for t in report["trials"])
    assert report["summary"]["all"]["trials"] == 2 * RETRIEVAL.samples
    assert "skipped 4" in report["table"]


def test_retrieval_without_a_train_grasp_fails_its_trials(good_dataset):
    """A condition the dataset covers but no train object of its category/part/mode does: failed trials."""
    scene = evaluation.load_scenes(good_dataset, splits=("test_unseen_instance",))[0]
    policy = evaluation.RetrievalPolicy([], trials=3)
    [(poses, notes)] = policy.propose([(scene, evaluation.scene_conditions(scene)[0])])
    assert poses.shape == (1, 3, 25) and np.isnan(poses).all() and notes[0]["source"] == "no_train_grasp"
    with pytest.raises(ValueError, match="not 'train'"):
        evaluation.RetrievalPolicy([scene])


def test_yaw_unknown_retrieval_turns_the_pick_about_the_vertical(good_dataset):
    """The image-free baseline: the same picks as the pose-given one (same seed), each turned about the world
    vertical through the object's bounding-box centre: height above the table and distance from that line kept,
    the hand's own frame turned by the same angle, angles differing between trials."""
    train = evaluation.load_scenes(good_dataset, splits=("train",))
    scene = [s for s in train if s.object_id == "shaft_0"][0]
    items = [(scene, evaluation.scene_conditions(scene)[0])]
    [(known, _)] = evaluation.RetrievalPolicy(train, trials=6).propose(items)
    [(blind, notes)] = evaluation.RetrievalPolicy(train, trials=6, yaw="unknown").propose(items)
    assert known.shape == blind.shape == (1, 6, 25) and notes[0]["source"].startswith("retrieval")
    up, offset = scene.tabletop.table_plane()
    vertices = np.asarray(scene.obj.vertices)
    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    a, b = known[0].astype(np.float64), blind[0].astype(np.float64)
    np.testing.assert_allclose(a[:, :3] @ up, b[:, :3] @ up, atol=1e-5)  # height kept

    def radial(t):
        rel = t - centre
        return rel - np.outer(rel @ up, up)

    np.testing.assert_allclose(np.linalg.norm(radial(a[:, :3]), axis=1), np.linalg.norm(radial(b[:, :3]), axis=1),
                               atol=1e-5)
    angles = []
    for ra, rb, pa, pb in zip(radial(a[:, :3]), radial(b[:, :3]), a, b):
        angle = np.arctan2(np.cross(ra, rb) @ up, ra @ rb)
        turn = Rotation.from_rotvec(angle * up).as_matrix()
        np.testing.assert_allclose(turn @ pa[3:6], pb[3:6], atol=1e-4)  # rot6d columns turned alike
        np.testing.assert_allclose(pa[9:], pb[9:], atol=1e-6)          # joints untouched
        angles.append(angle)
    assert np.ptp(angles) > 0.5
    with pytest.raises(ValueError, match="yaw must be one of"):
        evaluation.RetrievalPolicy(train, yaw="half")


def test_observations_show_the_object_where_the_dataset_placed_it(good_dataset):
    """Object pixels of the model's input (resized like training), back-projected and mapped camera -> object
    with the evaluation's transform, lie on the shaft's surface (1 cm: about a pixel at 32 px)."""
    scene = evaluation.load_scenes(good_dataset, splits=("test_unseen_instance",))[0]
    conditions, _ = evaluation.scene_conditions(scene)
    config = pipeline.DatasetConfig(image_size=tiny_dataset.IMAGE_SIZE, views_per_object=2)
    rows, to_camera, texts = evaluation.observation_rows(scene, conditions, config, 32, Tokenizer(), 40,
                                                         np.random.default_rng(0))
    assert len(rows) == 2 and rows[0]["image"].shape == (32, 32, 3) and "body" in texts[0]
    assert not np.allclose(to_camera[0], to_camera[1])  # two azimuths
    for row, object_to_camera in zip(rows, to_camera):
        points = backproject(row["depth"], row["intrinsics"])
        mask = row["depth"] > 0
        camera = points[mask]
        homogeneous = np.c_[camera, np.ones(len(camera))] @ np.linalg.inv(object_to_camera).T
        p = homogeneous[:, :3]
        on_object = (np.abs(p[:, 2]) < cases.HALF_HEIGHT + 0.01) & (np.hypot(p[:, 0], p[:, 1]) < cases.RADIUS + 0.01)
        assert on_object.sum() >= 4, "the shaft is not where the placement says"
        # every pixel near the shaft is on its surface (side or top cap), none inside or floating off it
        radial = np.hypot(p[on_object, 0], p[on_object, 1])
        side = np.abs(radial - cases.RADIUS) < 0.01
        cap = np.abs(p[on_object, 2] - cases.HALF_HEIGHT) < 0.01
        assert np.all(side | cap)
        # the rest is the table top: world z = 0
        world = homogeneous[~on_object] @ scene.tabletop.object_to_world.T
        assert np.abs(world[:, 2]).max() < 0.01


def test_camera_to_object_inverts_a_non_identity_transform():
    from dexvlg_jax.data.schema import transform_pose

    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation *= np.sign(np.linalg.det(rotation))
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, rng.normal(size=3)
    pose = np.concatenate([rng.normal(size=3) * 0.1, [0.6, 0.0, 0.8], [0.0, 1.0, 0.0], rng.uniform(0, 1, 16)])
    camera = transform_pose(pose, transform)
    assert not np.allclose(camera[3:9], pose[3:9])
    np.testing.assert_allclose(evaluation.camera_to_object(camera[None], transform)[0], pose, atol=1e-5)
    # a transform with the transposed rotation does not round-trip (R_T R vs R R_T would be caught)
    wrong = transform.copy()
    wrong[:3, :3] = rotation.T
    assert not np.allclose(evaluation.camera_to_object(camera[None], wrong)[0], pose, atol=1e-3)
