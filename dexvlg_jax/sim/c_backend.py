"""C MuJoCo backend: the protocol's per-step controls run with `mujoco.rollout` (multi-threaded, open loop).

`mujoco.rollout` expresses the whole schedule: its control vector is chosen with `control_spec` =
CTRL | XFRC_APPLIED | MOCAP_POS | MOCAP_QUAT (in that order, MuJoCo's mjtState bit order), i.e. per step the 16
finger targets, the wrench on every body (only the object's row is non-zero) and the wrist mocap pose. Trials run
in chunks of `chunk` (bounding memory: control + state arrays of chunk x steps), each chunk over `nthread` MjData
copies. One rollout per chunk covers all phases, so the solver warm start carries across phases as in MJX.
Unstable trials are detected by a time reset (MuJoCo's automatic reset on divergence) or non-finite states.
"""
from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout

from dexvlg_jax.sim import protocols
from dexvlg_jax.sim import records
from dexvlg_jax.sim.scene import Scene

CONTROL_SPEC = (mujoco.mjtState.mjSTATE_CTRL | mujoco.mjtState.mjSTATE_XFRC_APPLIED
                | mujoco.mjtState.mjSTATE_MOCAP_POS | mujoco.mjtState.mjSTATE_MOCAP_QUAT)
STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS


def count_part_contacts(scene: Scene, data: mujoco.MjData) -> np.ndarray:
    """Hand-object contacts (dist < 0) per object part (num_parts,) for a data with contacts computed."""
    counts = np.zeros(scene.num_parts, np.int64)
    hand = scene.is_hand_geom
    for c in data.contact[:data.ncon]:
        g1, g2 = c.geom
        if c.dist >= 0:
            continue
        if hand[g1] and scene.geom_part[g2] >= 0:
            counts[scene.geom_part[g2]] += 1
        elif hand[g2] and scene.geom_part[g1] >= 0:
            counts[scene.geom_part[g1]] += 1
    return counts


def control_array(scene: Scene, schedule: protocols.Schedule, rows: slice) -> np.ndarray:
    """Per-step rollout controls (b, T, 16 + 6 nbody + 7) for trials `rows`, all phases concatenated."""
    m = scene.model
    parts = []
    for i in range(len(schedule.phases)):
        ctrl, pos, quat, wrench = schedule.step_controls(i)
        ctrl, pos, quat = ctrl[rows], pos[rows], quat[rows]
        b, n = ctrl.shape[:2]
        xfrc = np.zeros((b, n, m.nbody, 6))
        xfrc[:, :, scene.object_body] = wrench
        parts.append(np.concatenate([ctrl, xfrc.reshape(b, n, -1), pos, quat], -1))
    return np.ascontiguousarray(np.concatenate(parts, 1))


def initial_states(scene: Scene, schedule: protocols.Schedule, rows: slice) -> np.ndarray:
    """FULLPHYSICS initial states (b, nstate): qpos from the schedule, zero velocity, time 0."""
    m = scene.model
    d = mujoco.MjData(m)
    out = []
    for qpos in schedule.qpos0[rows]:
        mujoco.mj_resetData(m, d)
        d.qpos[:] = qpos
        state = np.zeros(mujoco.mj_stateSize(m, STATE_SPEC))
        mujoco.mj_getState(m, d, state, STATE_SPEC)
        out.append(state)
    return np.stack(out)


def run(scene: Scene, schedule: protocols.Schedule, protocol: protocols.ProtocolConfig, nthread: int | None = None,
        chunk: int = 32) -> records.RawResult:
    """Run every trial of `schedule` on C MuJoCo; returns the raw per-phase states and contacts."""
    m = scene.model
    nthread = nthread or os.cpu_count() or 1
    datas = [mujoco.MjData(m) for _ in range(nthread)]
    b = len(schedule.qpos0)
    ends = np.cumsum([p.steps for p in schedule.phases]) - 1
    contact_idx = [p.name for p in schedule.phases].index(protocols.contact_phase(protocol))
    qpos_cols = slice(1, 1 + m.nq)  # FULLPHYSICS state = time, qpos, qvel, act, ...
    phase_qpos = np.zeros((b, len(ends), m.nq))
    stable = np.zeros(b, bool)
    times = (ends + 1) * m.opt.timestep
    for start in range(0, b, chunk):
        rows = slice(start, min(b, start + chunk))
        state, _ = rollout.rollout(m, datas, initial_states(scene, schedule, rows),
                                   control_array(scene, schedule, rows), control_spec=CONTROL_SPEC)
        at_ends = state[:, ends]
        phase_qpos[rows] = at_ends[..., qpos_cols]
        ok = np.all(np.isfinite(at_ends), axis=(1, 2)) & np.all(np.abs(at_ends[..., 0] - times) < 1e-6, axis=1)
        stable[rows] = ok
    part_contacts = np.zeros((b, scene.num_parts), np.int64)
    d = datas[0]
    for i in range(b):
        if not stable[i]:
            continue
        mujoco.mj_resetData(m, d)
        d.qpos[:] = phase_qpos[i, contact_idx]
        mujoco.mj_fwdPosition(m, d)
        part_contacts[i] = count_part_contacts(scene, d)
    return records.RawResult(phase_qpos=phase_qpos, part_contacts=part_contacts, stable=stable)


def evaluate(scene: Scene, protocol: protocols.ProtocolConfig, translation, rotation, joints,
             **kwargs) -> records.TrialRecord:
    """Schedule, run and judge B poses (object frame) on C MuJoCo."""
    schedule = protocols.build_schedule(protocol, scene, translation, rotation, joints)
    return records.judge(protocol, schedule, run(scene, schedule, protocol, **kwargs))
