"""The grasp file: one compressed .npz per object, loadable with `allow_pickle=False`.

Frames and units: the object frame of the processed object (metres, z up, origin = bounding-box centre),
radians, depths in millimetres. G grasps (rows), C = 7 contact slots (pinch rows use the first 4, rest NaN).

  object        str ()      processed-object reference, as `launch.evaluate` reads it: a .npz path relative to
                            this file's folder (e.g. "objects/mug_0.npz") or an embedded "category:seed"
  object_name   str ()      the object's name;  category  str ()
  poses         (G, 25) f32 translation (3), rot6d (6: first two columns of the wrist rotation), 16 joints in
                            `hand.JOINT_NAMES` order; NaN rows for grasps that never existed (failed parts)
  init_poses    (G, 25) f32 the part-aligned initial poses
  mode          (G,) str    "wrap" | "pinch"
  part_id       (G,) i32    target part (index into part_names);  part_name, part_class  (G,) str
  status        (G,) str    "ok" or the failure reason ("missing_part: ...", "part_too_small: ...",
                            "part_too_big: ...", "nonfinite", "penetration", "hand_penetration",
                            "not_reachable_on_table: ...", "self_penetration", "table_penetration",
                            "contacts_far", "low_q1", "off_part")
  valid         (G,) bool   status == "ok"
  energy        (G,) f32    final total energy;  e_fc, e_dis, e_pen, e_hpen, e_spen, e_limit, e_dir, e_table (G,)
  tabletop      str ()      JSON of the `scene.Tabletop` the grasps were made for ("" = no table): placement
                            object_to_world (4x4), yaw, mass, friction; sim/eval rebuild the same scene from it
  accept_rate   (G,) f32    Metropolis acceptance rate (1 for adam)
  pen_mm, hand_pen_mm, spen_mm, table_mm, q1, part_agreement  (G,) f32 (see `grasp.metrics`);  num_touching (G,) i32
  contact_mm    (G, C) f32  |sdf| at each contact;  forces  (G, C) f32  LP-DFC force magnitudes (max 1)
  meta_json     str ()      {"format_version", "config": the SynthConfig as a dict, "fc_kind", "seconds", ...}
"""
from __future__ import annotations

import json
import os

import numpy as np

from dexvlg_jax import atomic_io

FORMAT_VERSION = 1
STRING_FIELDS = ("mode", "part_name", "part_class", "status")


def save_grasps(path: str | os.PathLike, arrays: dict, meta: dict) -> None:
    """Write one object's grasps atomically (temp file + rename): a crash never leaves a partial file."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    out = {}
    for k, v in arrays.items():
        v = np.asarray(v)
        out[k] = v.astype(str) if (k in STRING_FIELDS or v.dtype == object) else v
    meta = dict(meta, format_version=FORMAT_VERSION)
    atomic_io.write_npz(path, compressed=True, meta_json=np.array(json.dumps(meta, default=str)), **out)


def load_grasps(path: str | os.PathLike) -> dict:
    """Read a grasp file: {field: array} plus "meta" (the decoded meta_json dict)."""
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data.pop("meta_json")))
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported grasp-file format {meta.get('format_version')}")
    for k in ("object", "object_name", "category", "tabletop"):
        if k in data:
            data[k] = str(data[k])
    data["meta"] = meta
    return data
