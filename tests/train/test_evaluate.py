"""evaluate_checkpoint on a tiny trained checkpoint: renders, samples, simulates (C MuJoCo, short tabletop-lift
phases) and writes the table, JSON and grasp pictures. Objects are two hand-made 2-part boxes (no mesh
processing), one labelled seen and one unseen_category.

Sampling runs on one device: with jax 0.10.2 on CPU, a multi-device (4, 2)-sharded sampling executable loaded
from the persistent compilation cache (which conftest enables) aborts the process; compiled fresh it works."""
import dataclasses
import json
import os

import jax
import numpy as np
import pytest
import trimesh

from dexvlg_jax import sim
from dexvlg_jax.train import sharding, train
from dexvlg_jax.train.evaluate import EvalConfig, camera_to_object, evaluate_checkpoint
from tests.train.conftest import tiny_train_config

TINY_LIFT = dict(settle_time=0.05, approach_time=0.1, close_time=0.1, squeeze_time=0.1, lift_time=0.3, hold_time=0.1)


@dataclasses.dataclass
class BoxObject:
    """The fields of ProcessedObject that rendering, sampling and simulation read."""

    name: str
    category: str
    vertices: np.ndarray
    faces: np.ndarray
    face_part_ids: np.ndarray
    convex_pieces: list
    piece_part_ids: np.ndarray
    part_names: list

    @property
    def num_parts(self):
        return len(self.part_names)


def box_object(name, size=(0.06, 0.06, 0.16)):
    """A box whose lower half is part 0 ("body") and upper half part 1 ("lid"), bbox-centred, metres."""
    half = np.asarray(size) / 2
    lower = trimesh.creation.box(extents=(size[0], size[1], size[2] / 2))
    lower.apply_translation((0, 0, -half[2] / 2))
    upper = trimesh.creation.box(extents=(size[0], size[1], size[2] / 2))
    upper.apply_translation((0, 0, half[2] / 2))
    mesh = trimesh.util.concatenate([lower, upper])
    pieces = [sim.box_pieces((half[0], half[1], half[2] / 2), (0, 0, -half[2] / 2)),
              sim.box_pieces((half[0], half[1], half[2] / 2), (0, 0, half[2] / 2))]
    return BoxObject(name=name, category="jar", vertices=np.asarray(mesh.vertices, np.float32),
                     faces=np.asarray(mesh.faces, np.int32), face_part_ids=np.repeat([0, 1], 12).astype(np.int32),
                     convex_pieces=pieces, piece_part_ids=np.array([0, 1]), part_names=["body", "lid"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("eval_run"))
    train(tiny_train_config(), workdir, progress=False)
    return workdir


def test_camera_to_object_inverts_the_transform():
    from dexvlg_jax.data.schema import transform_pose

    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation *= np.sign(np.linalg.det(rotation))
    transform = np.eye(4)
    transform[:3, :3], transform[:3, 3] = rotation, rng.normal(size=3)
    pose = np.concatenate([rng.normal(size=3) * 0.1, [1, 0, 0, 0, 1, 0], rng.uniform(0, 1, 16)])
    camera = transform_pose(pose, transform)
    np.testing.assert_allclose(camera_to_object(camera[None], transform)[0], pose, atol=1e-5)


def test_evaluate_writes_the_table(trained, tmp_path):
    out = str(tmp_path / "eval")
    config = EvalConfig(modes=("wrap", "pinch"), max_parts=1, samples=2, views=1, pictures=2, num_steps=4)
    report = evaluate_checkpoint(trained, config, out_dir=out, protocol=sim.TabletopLiftConfig(**TINY_LIFT),
                                 objects_list=[(box_object("box_a"), "seen"), (box_object("box_b"), "unseen_category")],
                                 mesh=sharding.make_mesh(1, jax.devices()[:1]))
    assert report["step"] == 4 and report["head"] == "flow"
    assert len(report["trials"]) == 2 * 2 * 2  # objects x modes x samples
    for row in ("seen/wrap", "seen/pinch", "unseen_category/wrap", "seen", "unseen_category", "all"):
        assert row in report["summary"], row
        assert 0.0 <= report["summary"][row]["success_rate"] <= 1.0
    assert report["summary"]["all"]["trials"] == 8 and report["summary"]["seen"]["trials"] == 4
    with open(os.path.join(out, "eval_results.json")) as f:
        assert json.load(f)["summary"].keys() == report["summary"].keys()
    assert "seen/wrap" in open(os.path.join(out, "eval_table.txt")).read()
    assert report["pictures"] and all(os.path.exists(p) for p in report["pictures"])


@pytest.mark.parametrize("arg", [None, "smoke"])
def test_eval_config_converts(arg):
    from configs.eval import model_tiny

    config, protocol, scene = model_tiny.to_dataclasses(model_tiny.get_config(arg))
    assert isinstance(config, EvalConfig) and isinstance(protocol, sim.TabletopLiftConfig)
    assert isinstance(scene, sim.SceneConfig) and config.categories
