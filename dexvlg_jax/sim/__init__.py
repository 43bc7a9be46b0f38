"""Simulated grasp evaluation: scene assembly, six-direction / tabletop-lift protocols, MJX and C MuJoCo backends,
success / PTA / PGA metrics.

    result = evaluate(objects, poses, protocol="tabletop_lift", backend="c", part_ids=...)
    result.records[i]   # TrialRecord of object i;  result.summary  # per-split metrics;  result.table  # text
    record, trials = simulate(object_scene(obj, "tabletop_lift"), "tabletop_lift", poses)  # one compiled scene

objects: one object or a list; an object is anything with `convex_pieces` (list of (V_i, 3), V_i <= 64, object
frame, metres), `piece_part_ids` (K,) and optionally `part_names` (e.g. `dexvlg_jax.objects.ProcessedObject`).
poses: for each object, (G, 25) flat poses (translation 3, rot6d 6, joints 16; object frame) or a dict with
`translation` (G, 3), `rotation` (G, 3, 3), `joints` (G, 16). Backends: "c" (C MuJoCo rollout; the CPU default)
and "mjx" (JAX; accelerators; `impl="warp"` for MuJoCo Warp). Which to use where: README.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dexvlg_jax.hand.constants import NUM_JOINTS, POSE_DIM
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.scene import Tabletop, place_object
from dexvlg_jax.sim import c_backend, metrics, protocols, records, scene
from dexvlg_jax.sim.metrics import format_table, per_trial, summarize
from dexvlg_jax.sim.protocols import SixDirectionConfig, TabletopLiftConfig, build_schedule
from dexvlg_jax.sim.records import TrialRecord, judge
from dexvlg_jax.sim.scene import Scene, SceneConfig, box_pieces, build_scene, cylinder_piece

PROTOCOLS = {"six_direction": SixDirectionConfig, "tabletop_lift": TabletopLiftConfig}
BACKENDS = ("c", "mjx")


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """records: one TrialRecord per object; summary: `metrics.summarize` output; table: its text form."""

    records: list
    per_trial: dict
    summary: dict
    table: str


def split_pose(poses) -> tuple:
    """(G, 25) flat poses or a dict -> translation (G, 3), rotation (G, 3, 3), joints (G, 16) as float64 NumPy."""
    pose = hand_pose(poses)
    return pose.translation, pose.rotation, pose.joints


def hand_pose(poses) -> HandPose:
    """(G, 25) flat poses, or a dict / npz with 'poses' (G, 25) or translation/rotation/joints -> a float64 NumPy
    HandPose with batch shape (G,)."""
    if isinstance(poses, dict) or hasattr(poses, "files"):
        if "poses" in poses:
            return hand_pose(np.asarray(poses["poses"]))
        missing = [k for k in ("translation", "rotation", "joints") if k not in poses]
        if missing:
            raise ValueError(f"poses: need 'poses' (G, 25) or translation/rotation/joints; missing {missing}")
        return HandPose.from_arrays(np.asarray(poses["translation"], np.float64).reshape(-1, 3),
                                    np.asarray(poses["rotation"], np.float64).reshape(-1, 3, 3),
                                    np.asarray(poses["joints"], np.float64).reshape(-1, NUM_JOINTS))
    poses = np.asarray(poses, np.float64)
    if poses.ndim != 2 or poses.shape[1] != POSE_DIM:
        raise ValueError(f"poses: expected shape (G, {POSE_DIM}) = translation, rot6d, 16 joints; got {poses.shape}")
    return HandPose.from_vector(poses)


def make_protocol(protocol, **overrides):
    """A protocol config from a name ("six_direction", "tabletop_lift") or pass a config through."""
    if isinstance(protocol, (SixDirectionConfig, TabletopLiftConfig)):
        return dataclasses.replace(protocol, **overrides) if overrides else protocol
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(PROTOCOLS)}, got {protocol!r}")
    return PROTOCOLS[protocol](**overrides)


def object_scene(obj, protocol, config: SceneConfig = SceneConfig(), tabletop: Tabletop | None = None) -> Scene:
    """The compiled scene of one object for a protocol. Protocols with a table use `tabletop` (the placement the
    grasps were made for; default: `scene.place_object(obj, yaw=0)`, upright); others have no table."""
    names = getattr(obj, "part_names", None)
    table = None
    if make_protocol(protocol).table:
        table = tabletop if tabletop is not None else place_object(obj, yaw=0.0)
    return build_scene(obj.convex_pieces, obj.piece_part_ids, num_parts=len(names) if names else None,
                       table=table, config=config)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def simulate(scene: Scene, protocol, poses, part_ids=None, backend: str = "c", **backend_kwargs):
    """Run poses (B, 25) (object frame) through a compiled scene: (TrialRecord, per-trial metrics of B trials).

    part_ids: (B,) instructed part ids (default -1: none)."""
    _check_backend(backend)
    hand = hand_pose(poses)
    t, r, q = hand.translation, hand.rotation, hand.joints
    proto = make_protocol(protocol)
    if backend == "c":
        rec = c_backend.evaluate(scene, proto, t, r, q, **backend_kwargs)
    else:
        from dexvlg_jax.sim import mjx_backend

        rec = mjx_backend.evaluate(scene, proto, t, r, q, **backend_kwargs)
    pid = -np.ones(len(t), np.int64) if part_ids is None else part_ids
    return rec, per_trial(rec, pid)


def evaluate(objects, poses, protocol="six_direction", backend: str = "c", part_ids=None, splits=None,
             scene_config: SceneConfig = SceneConfig(), tabletops=None, **backend_kwargs) -> EvalResult:
    """Run every pose of every object through `protocol` on `backend`; per-trial records and metrics.

    part_ids / splits: per object, (G,) instructed part ids (-1: none) / split labels (optional).
    tabletops: per object, the `scene.Tabletop` its grasps were made for (tabletop protocols; default upright).
    Per-trial bad input (NaN, joints out of range, deep initial penetration) fails that trial with a reason.
    """
    single = not isinstance(objects, (list, tuple))
    objects = [objects] if single else list(objects)
    poses = [poses] if single else list(poses)
    if len(poses) != len(objects):
        raise ValueError(f"evaluate: {len(objects)} objects but {len(poses)} pose sets")
    _check_backend(backend)
    proto = make_protocol(protocol)
    recs, trial_metrics, labels = [], [], []
    for i, (obj, pose) in enumerate(zip(objects, poses)):
        tabletop = None if tabletops is None else (tabletops if single else tabletops[i])
        pid = None if part_ids is None else (part_ids if single else part_ids[i])
        rec, trial = simulate(object_scene(obj, proto, scene_config, tabletop), proto, pose, pid, backend,
                              **backend_kwargs)
        recs.append(rec)
        trial_metrics.append(trial)
        if splits is not None:
            labels.extend(list(splits if single else splits[i]))
    all_metrics = metrics.concat(trial_metrics)
    summary = summarize(all_metrics, labels if splits is not None else None)
    return EvalResult(records=recs, per_trial=all_metrics, summary=summary, table=format_table(summary))


__all__ = [
    "BACKENDS", "PROTOCOLS", "EvalResult", "Scene", "SceneConfig", "SixDirectionConfig", "TabletopLiftConfig",
    "TrialRecord", "box_pieces", "build_scene", "build_schedule", "c_backend", "cylinder_piece", "evaluate",
    "format_table", "hand_pose", "judge", "make_protocol", "metrics", "object_scene", "per_trial", "protocols",
    "records",
    "scene", "simulate", "split_pose", "summarize",
]
