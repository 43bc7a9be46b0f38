"""Per-trial records, identical for both backends, and the protocol pass/fail rules applied to raw states.

A backend returns a `RawResult` (states at the end of every phase, hand-object contacts per part at the protocol's
contact phase, a stability flag); `judge` turns it into a `TrialRecord`. Frames: world, metres, radians.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from dexvlg_jax.sim import protocols
from dexvlg_jax.sim.scene import OBJECT_QPOS, PALM_QPOS


@dataclasses.dataclass(frozen=True)
class RawResult:
    """phase_qpos (B, nphase, nq): qpos at the end of each phase; part_contacts (B, num_parts) int: hand-object
    contacts (penetrating, dist < 0) per object part at the contact phase; stable (B,) bool: no NaN / reset."""

    phase_qpos: np.ndarray
    part_contacts: np.ndarray
    stable: np.ndarray


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One record per trial (arrays over B trials).

    success (B,) bool; reason: list of B strings, '' on success, else one of: non_finite_pose, invalid_rotation,
    joints_out_of_range, initial_penetration, unstable, moved, rotated (six_direction), not_lifted, slipped
    (tabletop_lift); displacement (B,) m and rotation (B,) rad: the protocol's measure (six_direction: max over
    force phases from the reference; tabletop_lift: change of the object pose in the palm frame);
    rise (B,) m: object height change from the reference to the end; penetration (B,) m at the grasp pose;
    part_contacts (B, num_parts) hand-object contact counts per part; phase_names; phase_object_pos
    (B, nphase, 3) and phase_object_quat (B, nphase, 4): object pose at the end of each phase (world).
    """

    success: np.ndarray
    reason: list
    displacement: np.ndarray
    rotation: np.ndarray
    rise: np.ndarray
    penetration: np.ndarray
    part_contacts: np.ndarray
    phase_names: tuple
    phase_object_pos: np.ndarray
    phase_object_quat: np.ndarray

    def __len__(self) -> int:
        return len(self.success)

    def to_json(self) -> dict:
        return {
            "success": self.success.tolist(), "reason": list(self.reason),
            "displacement": self.displacement.tolist(), "rotation": self.rotation.tolist(),
            "rise": self.rise.tolist(), "penetration": self.penetration.tolist(),
            "part_contacts": self.part_contacts.tolist(),
        }


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3)."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def rotation_angle(r_a: np.ndarray, r_b: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) between rotation matrices (..., 3, 3)."""
    cos = (np.einsum("...ji,...ji->...", r_a, r_b) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def judge(protocol: protocols.ProtocolConfig, schedule: protocols.Schedule, raw: RawResult) -> TrialRecord:
    """Apply the protocol's pass rules (see protocols module docstring) to a backend's raw result."""
    names = tuple(p.name for p in schedule.phases)
    qpos = np.asarray(raw.phase_qpos, np.float64)
    obj_pos, obj_quat = qpos[:, :, OBJECT_QPOS][..., :3], qpos[:, :, OBJECT_QPOS][..., 3:]
    palm_pos, palm_quat = qpos[:, :, PALM_QPOS][..., :3], qpos[:, :, PALM_QPOS][..., 3:]
    finite = np.all(np.isfinite(qpos), axis=(1, 2))
    stable = np.asarray(raw.stable, bool) & finite
    with np.errstate(invalid="ignore"):
        obj_rot = quat_to_mat(np.where(np.isfinite(obj_quat), obj_quat, [1.0, 0, 0, 0]))
        palm_rot = quat_to_mat(np.where(np.isfinite(palm_quat), palm_quat, [1.0, 0, 0, 0]))
    ref = names.index(protocols.contact_phase(protocol))
    rise = obj_pos[:, -1, 2] - obj_pos[:, ref, 2]
    if isinstance(protocol, protocols.SixDirectionConfig):
        force = [i for i, n in enumerate(names) if n.startswith("force")]
        disp = np.linalg.norm(obj_pos[:, force] - obj_pos[:, ref:ref + 1], axis=-1).max(1)
        rot = rotation_angle(obj_rot[:, force], obj_rot[:, ref:ref + 1]).max(1)
        checks = [(disp < protocol.max_displacement, "moved"), (rot < protocol.max_rotation, "rotated")]
    else:
        def in_palm(k):
            rel_pos = np.einsum("bji,bj->bi", palm_rot[:, k], obj_pos[:, k] - palm_pos[:, k])
            return rel_pos, np.einsum("bji,bjk->bik", palm_rot[:, k], obj_rot[:, k])
        p0, r0 = in_palm(ref)
        p1, r1 = in_palm(-1)
        disp = np.linalg.norm(p1 - p0, axis=-1)
        rot = rotation_angle(r1, r0)
        checks = [(rise >= protocol.min_rise, "not_lifted"), (disp < protocol.max_displacement, "slipped"),
                  (rot < protocol.max_rotation, "slipped")]
    reason = []
    for i in range(len(qpos)):
        if schedule.reason[i]:
            reason.append(schedule.reason[i])
        elif not stable[i]:
            reason.append("unstable")
        else:
            reason.append(next((why for ok, why in checks if not ok[i]), ""))
    success = np.array([r == "" for r in reason])
    return TrialRecord(success=success, reason=reason, displacement=np.nan_to_num(disp, nan=np.inf),
                       rotation=np.nan_to_num(rot, nan=np.pi), rise=np.nan_to_num(rise, nan=0.0),
                       penetration=schedule.penetration, part_contacts=np.asarray(raw.part_contacts, np.int64),
                       phase_names=names, phase_object_pos=obj_pos, phase_object_quat=obj_quat)
