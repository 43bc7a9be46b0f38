"""A dataset directory written by hand in the data engine's layout (manifest + cache/objects + cache/grasps), with
the shaft of `tests/sim/cases.py` (radius 3 cm, 20 cm tall, one part "body") placed off-centre and yawed, and
grasp files whose verdicts the tests choose (no synthesis, no simulation filter: known answers).

Objects ("flashlight" category):
  shaft_0  train                 wrap: one grasp, passing (TRAIN_POSE);  pinch: "part_too_big: ..." (not valid)
  shaft_1  test_unseen_instance  wrap: the known-good grasp, passing;    pinch: no row at all
  shaft_2  test_seen             wrap: valid but failed the filter ("tabletop_lift: dropped"); pinch: none
"""
import json
import os

import numpy as np
import trimesh

from dexvlg_jax import objects
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.scene import place_object
from dexvlg_jax.sim import cylinder_piece
from tests.sim import cases

GOOD_POSE = np.concatenate([cases.GOOD_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1],
                            cases.GOOD_JOINTS]).astype(np.float32)
FAR_OPEN_POSE = np.concatenate([cases.FAR_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1],
                                cases.OPEN_JOINTS]).astype(np.float32)
PLACEMENTS = {"shaft_0": (0.3, (0.25, -0.15)), "shaft_1": (1.2, (-0.1, 0.2)), "shaft_2": (2.5, (0.0, 0.0))}
SPLITS = {"shaft_0": "train", "shaft_1": "test_unseen_instance", "shaft_2": "test_seen"}
IMAGE_SIZE = 64  # the "dataset's" render size (the tiny model resizes to 32, as in training)


def shaft_object(name: str) -> objects.ProcessedObject:
    """The shaft as a ProcessedObject: mesh = hull of the simulator's convex piece (render, placement and physics
    agree); a dummy SDF grid (evaluation does not read it)."""
    piece = cylinder_piece(cases.RADIUS, cases.HALF_HEIGHT)
    hull = trimesh.convex.convex_hull(piece)
    return objects.ProcessedObject(
        name=name, category="flashlight", vertices=np.asarray(hull.vertices, np.float32),
        faces=np.asarray(hull.faces, np.int32), face_part_ids=np.zeros(len(hull.faces), np.int32), scale=1.0,
        source_center=np.zeros(3), convex_pieces=[piece.astype(np.float32)], piece_part_ids=np.zeros(1, np.int64),
        surface_points=np.zeros((1, 3)), surface_normals=np.zeros((1, 3)), surface_part_ids=np.zeros(1, np.int32),
        sdf=objects.containers.SDFGrid(origin=np.zeros(3, np.float32), spacing=np.float32(0.01),
                                       values=np.zeros((2, 2, 2), np.float32)),
        part_names=["body"], part_classes=["shaft"], part_centroids=np.zeros((1, 3)), part_axes=np.eye(3)[None],
        part_extents=np.ones((1, 3)))


def _grasp_arrays(rows) -> dict:
    """rows: (pose, mode, status, sim_success, sim_reason) -> grasp.io arrays (part 0)."""
    n = len(rows)
    return {"poses": np.stack([r[0] for r in rows]).astype(np.float32), "mode": np.array([r[1] for r in rows]),
            "part_id": np.zeros(n, np.int32), "part_name": np.array(["body"] * n),
            "part_class": np.array(["shaft"] * n), "status": np.array([r[2] for r in rows]),
            "valid": np.array([r[2] == "ok" for r in rows]), "sim_success": np.array([r[3] for r in rows]),
            "sim_reason": np.array([r[4] for r in rows]), "energy": np.zeros(n, np.float32)}


def write_dataset(root: str, train_pose: np.ndarray = GOOD_POSE) -> str:
    """Write the dataset under `root`; `train_pose` is shaft_0's one (passing) wrap grasp. Returns root."""
    nan = np.full(25, np.nan, np.float32)
    grasps = {
        "shaft_0": [(train_pose, "wrap", "ok", True, ""),
                    (nan, "pinch", "part_too_big: body is 6.0 cm across", False, "not_simulated")],
        "shaft_1": [(GOOD_POSE, "wrap", "ok", True, "")],
        "shaft_2": [(GOOD_POSE, "wrap", "ok", False, "tabletop_lift: dropped")],
    }
    table = {}
    for object_id, (yaw, xy) in PLACEMENTS.items():
        obj = shaft_object(object_id)
        tabletop = place_object(obj, yaw=yaw, xy=xy)
        objects.save_processed(obj, os.path.join(root, "cache", "objects", f"{object_id}.npz"))
        grasp_io.save_grasps(os.path.join(root, "cache", "grasps", f"{object_id}.npz"),
                             dict(_grasp_arrays(grasps[object_id]), object=f"../objects/{object_id}.npz",
                                  category="flashlight", tabletop=json.dumps(tabletop.to_json())), {})
        table[object_id] = {"split": SPLITS[object_id], "tabletop": tabletop.to_json()}
    manifest = {"config": {"image_size": IMAGE_SIZE, "fov_y_deg": 45.0}, "splits": dict(SPLITS), "objects": table}
    with open(os.path.join(root, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    return root
