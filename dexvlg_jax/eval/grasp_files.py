"""Simulated evaluation of a grasp file, and the object references grasp files hold.

Grasp file (.npz, loadable with allow_pickle=False); object frame, metres, radians (`grasp.io` writes a superset):
  poses        (G, 25) float: translation (3), rot6d (6: first two columns of the wrist rotation), 16 joints in
               dexvlg_jax.hand.JOINT_NAMES order; or instead the three arrays
  translation  (G, 3), rotation (G, 3, 3), joints (G, 16)
  object       str: a processed-object .npz (`dexvlg_jax.objects.save_processed`; a relative path is resolved
               against the grasp file's folder) or an embedded object "category:seed" (processed on the fly);
               a scalar for all grasps, or (G,) strings (grasps are grouped by object)
  part_id      optional (G,) int: instructed part (-1 = none), for PTA / PGA
  split        optional (G,) str: split labels for per-split tables
  tabletop     optional str: JSON of the `scene.Tabletop` the grasps were made for (tabletop protocols simulate
               in that placement; without it the object rests upright with yaw 0)
Result: {"protocol", "backend", "summary" (per split), "table", "trials": [per-trial records]}.
A bad grasp (NaN, joints out of range, deep penetration) is a failed trial with a reason, not an error.
"""
from __future__ import annotations

import os
import zipfile

import numpy as np

from dexvlg_jax import objects, sim
from dexvlg_jax.cli_errors import UserFileNotFoundError, UserValueError
from dexvlg_jax.scene import Tabletop

FORMAT_HINT = "give an .npz in the format of dexvlg_jax/eval/grasp_files.py's docstring (no pickled objects)"


def load_object(name: str, base_dir: str):
    """A processed object from an .npz path (relative paths against `base_dir`) or an embedded "category:seed"."""
    path = name if os.path.isabs(name) else os.path.join(base_dir, name)
    if name.endswith(".npz"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"object: processed-object file {path!r} does not exist")
        return objects.load_processed(path)
    category, _, seed = name.partition(":")
    if category not in objects.CATEGORIES:
        raise ValueError(f"object: {name!r} is neither an .npz path nor 'category:seed' with a category in "
                         f"{list(objects.CATEGORIES)}")
    return objects.process_object(objects.make_object(category, int(seed or 0)), objects.ProcessingConfig())


def read_grasp_file(path: str) -> dict:
    """The grasp file's arrays, validated for presence and shapes (per-trial values are checked in simulation);
    a missing file raises `UserFileNotFoundError`, an unreadable or empty one `UserValueError`, naming it.

    Returns {"translation", "rotation", "joints", "object" (G,) str, "part_id" (G,), "split" (G,) or None,
    "tabletop" (a Tabletop or None)}.
    """
    if not os.path.isfile(path):
        raise UserFileNotFoundError(f"--poses: {path!r} does not exist or is not a file",
                        "give a grasp file (.npz), e.g. one written by launch.synthesize")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise UserValueError(f"--poses: {path} is not a readable grasp file ({type(err).__name__}: {err})",
                        FORMAT_HINT) from err
    if "object" not in data:
        raise UserValueError(f"{path}: missing 'object' (processed-object .npz path or 'category:seed')",
                        "add an 'object' entry to the file (format: dexvlg_jax/eval/grasp_files.py)")
    pose = sim.hand_pose(data)
    g = pose.batch_shape[0]
    if g == 0:
        raise UserValueError(f"--poses: {path} holds 0 grasps; there is nothing to evaluate",
                        "give a grasp file with at least one grasp")
    objs = np.broadcast_to(np.asarray(data["object"]).astype(str), (g,))
    part = np.asarray(data.get("part_id", -np.ones(g)), np.int64).reshape(-1)
    split = np.asarray(data["split"]).astype(str) if "split" in data else None
    if len(part) != g or (split is not None and len(split) != g):
        raise ValueError(f"{path}: part_id / split must have one entry per grasp ({g})")
    placement = str(data["tabletop"]) if "tabletop" in data else ""
    tabletop = Tabletop.from_json(placement) if placement else None
    return {"translation": pose.translation, "rotation": pose.rotation, "joints": pose.joints, "object": objs,
            "part_id": part, "split": split, "tabletop": tabletop}


def evaluate_grasp_file(path: str, protocol, backend: str = "c", scene_config: sim.SceneConfig = sim.SceneConfig(),
                        **backend_kwargs) -> dict:
    """Simulate every grasp of a grasp file (`protocol`: a name or a protocol config; `backend_kwargs` go to the
    backend, e.g. nthread for "c", impl for "mjx"); returns the result dict of the module docstring."""
    grasps = read_grasp_file(path)
    protocol = sim.make_protocol(protocol)
    base = os.path.dirname(os.path.abspath(path))
    names = list(dict.fromkeys(grasps["object"].tolist()))
    groups = [np.flatnonzero(grasps["object"] == n) for n in names]
    objs = [load_object(n, base) for n in names]
    result = sim.evaluate(
        objs, [{k: grasps[k][ix] for k in ("translation", "rotation", "joints")} for ix in groups],
        protocol=protocol, backend=backend, part_ids=[grasps["part_id"][ix] for ix in groups],
        splits=None if grasps["split"] is None else [grasps["split"][ix] for ix in groups],
        scene_config=scene_config, tabletops=None if grasps["tabletop"] is None else [grasps["tabletop"]] * len(objs),
        **backend_kwargs)
    trials = []
    for name, ix, rec in zip(names, groups, result.records):
        js = rec.to_json()
        for k, i in enumerate(ix):
            trials.append({"index": int(i), "object": name, "part_id": int(grasps["part_id"][i]),
                           **{key: js[key][k] for key in js}})
    trials.sort(key=lambda x: x["index"])
    return {"protocol": protocol.name, "backend": backend, "summary": result.summary, "table": result.table,
            "trials": trials}
