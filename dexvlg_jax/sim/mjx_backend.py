"""MJX backend: one trial written unbatched, `jax.vmap` over trials, `jax.jit`, sharded over devices.

`trial(mx, qpos0, ctrl, mocap_pos, mocap_quat, wrench, ...)` is a pure function of the mjx.Model, the initial
state and the per-step control schedule (the same arrays the C backend feeds to `mujoco.rollout`): one
`lax.scan` over all T steps (a single compiled copy of `mjx.step`), qpos kept per step and gathered at the phase
ends; hand-object contacts per part come from one `mjx.forward` at the protocol's contact phase (contacts
depend on qpos only, exactly as in the C backend). Trials are padded to a multiple of the device count and
sharded along a 1-D mesh axis "data" (`NamedSharding`); the model is replicated.

impl: "jax" (default; CPU/GPU/TPU) or "warp" (MuJoCo Warp, NVIDIA GPUs; needs the `warp-lang` and
`mujoco-warp` packages: a clear error is raised when they are missing). MJX runs float32 unless x64 is on.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Bool, Float, Int

from dexvlg_jax.devices import data_mesh
from dexvlg_jax.sim import protocols
from dexvlg_jax.sim import records
from dexvlg_jax.sim.scene import Scene


def _mjx():
    from mujoco import mjx  # imported lazily: importing mjx is slow and prints warp warnings

    return mjx


def put_model(scene: Scene, impl: str = "jax"):
    """The scene's mjx.Model for `impl` ("jax" or "warp")."""
    if impl not in ("jax", "warp"):
        raise ValueError(f"impl must be 'jax' or 'warp', got {impl!r}")
    if impl == "warp":
        missing = [p for p in ("warp", "mujoco_warp") if importlib.util.find_spec(p) is None]
        if missing:
            raise RuntimeError(f"impl='warp' needs MuJoCo Warp on an NVIDIA GPU; missing Python packages: {missing} "
                               "(pip install warp-lang mujoco-warp)")
    return _mjx().put_model(scene.model, impl=impl)


def part_contact_counts(contact_geom: Int[Array, "N 2"], contact_dist: Float[Array, "N"],
                        hand_mask: Bool[Array, "G"], geom_part: Int[Array, "G"],
                        num_parts: int) -> Int[Array, "P"]:
    """Hand-object contacts with dist < 0 per object part, from MJX contact arrays (unbatched)."""
    g1, g2 = contact_geom[:, 0], contact_geom[:, 1]
    part = jnp.where(hand_mask[g1] & (geom_part[g2] >= 0), geom_part[g2],
                     jnp.where(hand_mask[g2] & (geom_part[g1] >= 0), geom_part[g1], -1))
    hit = (contact_dist < 0) & (part >= 0)
    return jnp.zeros(num_parts, jnp.int32).at[jnp.where(hit, part, 0)].add(hit.astype(jnp.int32))


def trial(mx, qpos0: Float[Array, "Q"], ctrl: Float[Array, "T 16"], mocap_pos: Float[Array, "T 3"],
          mocap_quat: Float[Array, "T 4"], wrench: Float[Array, "T 6"], *, phase_ends: tuple, contact_phase: int,
          object_body: int, hand_mask: np.ndarray, geom_part: np.ndarray, num_parts: int):
    """One trial (unbatched). Returns phase_qpos (nphase, Q), part_contacts (num_parts,), stable () bool."""
    mjx = _mjx()
    d = mjx.make_data(mx)
    d = d.replace(qpos=qpos0.astype(d.qpos.dtype), mocap_pos=mocap_pos[:1], mocap_quat=mocap_quat[:1])
    nbody = d.xfrc_applied.shape[0]

    def step(data, x):
        c, p, q, w = x
        xfrc = jnp.zeros((nbody, 6), data.xfrc_applied.dtype).at[object_body].set(w)
        data = data.replace(ctrl=c, mocap_pos=p[None], mocap_quat=q[None], xfrc_applied=xfrc)
        data = mjx.step(mx, data)
        return data, data.qpos

    _, qpos = jax.lax.scan(step, d, (ctrl, mocap_pos, mocap_quat, wrench))
    phase_qpos = qpos[jnp.asarray(phase_ends)]
    stable = jnp.all(jnp.isfinite(qpos))
    at_contact = mjx.forward(mx, d.replace(qpos=phase_qpos[contact_phase], qvel=jnp.zeros_like(d.qvel)))
    contact = at_contact._impl.contact
    counts = part_contact_counts(contact.geom, contact.dist, jnp.asarray(hand_mask), jnp.asarray(geom_part),
                                 num_parts)
    return phase_qpos, counts, stable


@functools.lru_cache(maxsize=16)
def _compiled(phase_ends: tuple, contact_phase: int, object_body: int, hand_mask: tuple, geom_part: tuple,
              num_parts: int):
    fn = functools.partial(trial, phase_ends=phase_ends, contact_phase=contact_phase, object_body=object_body,
                           hand_mask=np.array(hand_mask), geom_part=np.array(geom_part), num_parts=num_parts)
    return jax.jit(jax.vmap(fn, in_axes=(None, 0, 0, 0, 0, None)))


# On the XLA CPU backend (jax 0.10.2), this program deadlocks (all threads idle, never returns) once a call
# holds more than ~16 trials per device; 16 runs fine. On CPU we therefore run fixed-size chunks of trials, one
# compiled shape for all of them. Accelerators take the whole batch in one call.
CPU_TRIALS_PER_DEVICE = 16


def run(scene: Scene, schedule: protocols.Schedule, protocol: protocols.ProtocolConfig, mx=None, impl: str = "jax",
        mesh: Mesh | None = None, trials_per_call: int | None = None) -> records.RawResult:
    """Run every trial of `schedule` with MJX (vmapped, jitted, sharded over `mesh`, default all devices).

    trials_per_call: split the batch into calls of this many trials (padded, one compilation); default: the whole
    batch on accelerators, CPU_TRIALS_PER_DEVICE x devices on CPU (see the note above).
    """
    mx = put_model(scene, impl) if mx is None else mx
    mesh = data_mesh() if mesh is None else mesh
    ndev = mesh.devices.size
    b = len(schedule.qpos0)
    if trials_per_call is None and jax.default_backend() == "cpu":
        trials_per_call = CPU_TRIALS_PER_DEVICE * ndev
    if trials_per_call is not None and b > trials_per_call:
        parts = [_run_batch(scene, _subschedule(schedule, start, trials_per_call), protocol, mx, mesh,
                            pad_to=trials_per_call) for start in range(0, b, trials_per_call)]
        return records.RawResult(phase_qpos=np.concatenate([p.phase_qpos for p in parts])[:b],
                           part_contacts=np.concatenate([p.part_contacts for p in parts])[:b],
                           stable=np.concatenate([p.stable for p in parts])[:b])
    return _run_batch(scene, schedule, protocol, mx, mesh)


def _subschedule(schedule: protocols.Schedule, start: int, count: int) -> protocols.Schedule:
    """The trials [start, start + count) of a schedule (per-trial arrays sliced along their first axis)."""
    cut = slice(start, start + count)
    phases = [dataclasses.replace(p, ctrl=p.ctrl[cut], mocap_pos=p.mocap_pos[cut], mocap_quat=p.mocap_quat[cut])
              for p in schedule.phases]
    return dataclasses.replace(schedule, qpos0=schedule.qpos0[cut], phases=phases, valid=schedule.valid[cut],
                               reason=list(schedule.reason[cut]), penetration=schedule.penetration[cut])


def _run_batch(scene, schedule, protocol, mx, mesh, pad_to: int | None = None) -> records.RawResult:
    b = len(schedule.qpos0)
    ndev = mesh.devices.size
    pad = (-b) % ndev if pad_to is None else pad_to - b
    per_phase = [schedule.step_controls(i) for i in range(len(schedule.phases))]
    ctrl, pos, quat, wrench = (np.concatenate([p[k] for p in per_phase], axis=1 if k < 3 else 0) for k in range(4))
    batched = [schedule.qpos0, ctrl, pos, quat]
    batched = [np.concatenate([x, np.repeat(x[-1:], pad, 0)]) if pad else x for x in batched]
    shard = NamedSharding(mesh, PartitionSpec("data"))
    batched = [jax.device_put(jnp.asarray(x, jnp.float32), shard) for x in batched]
    ends = tuple(int(e) for e in np.cumsum([p.steps for p in schedule.phases]) - 1)
    contact_phase = [p.name for p in schedule.phases].index(protocols.contact_phase(protocol))
    fn = _compiled(ends, contact_phase, scene.object_body, tuple(scene.is_hand_geom.tolist()),
                   tuple(scene.geom_part.tolist()), scene.num_parts)
    mx = jax.device_put(mx, NamedSharding(mesh, PartitionSpec()))
    phase_qpos, counts, stable = fn(mx, batched[0], *batched[1:], jnp.asarray(wrench, jnp.float32))
    return records.RawResult(phase_qpos=np.asarray(phase_qpos)[:b].astype(np.float64),
                       part_contacts=np.asarray(counts)[:b].astype(np.int64), stable=np.asarray(stable)[:b])


def evaluate(scene: Scene, protocol: protocols.ProtocolConfig, translation, rotation, joints,
             **kwargs) -> records.TrialRecord:
    """Schedule, run and judge B poses (object frame) with MJX."""
    schedule = protocols.build_schedule(protocol, scene, translation, rotation, joints)
    return records.judge(protocol, schedule, run(scene, schedule, protocol, **kwargs))
