"""Grasp optimisers: DexGraspNet's annealed RMSProp + Metropolis, and an optax (Adam) alternative.

The single-grasp step is written once, `jax.vmap`ped over grasps and `lax.scan`ned over iterations; the batch
is sharded over devices with a `jax.sharding.Mesh` (axes ("data", "fsdp"), grasps on "data"). Every grasp is
independent (its own RMS statistics, its own key = fold_in(rng, grasp index), fold_in(key, step) per step), so
results do not depend on the batch composition or the number of devices.

Iterations run in blocks of `refresh_every`: at each block start the culling sets (`culling.near_object_points`,
`culling.near_part_points`) and, for LP-DFC, the best LP face (all C LPs) are recomputed; inside a block each step
re-solves only that face's LP at the current pose (exact within the face; see force_closure). The final energy and
terms are evaluated without the E_part culling.

Annealing (DexGraspNet `optimizer.py`): step s_t = step_size * decay^floor(t / step_period); RMS
v <- mu g^2 + (1 - mu) v (mu = 0.98 weights the *new* gradient, as in DexGraspNet); x' = x - s_t g / (sqrt(v) + 1e-6);
accept with probability min(1, exp((E - E') / T_t)), T_t = temperature * decay^floor(t / temperature_period).
Deviation: DexGraspNet averages g^2 over the batch; we keep v per grasp so grasps stay independent.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jaxtyping import Array, Float

from dexvlg_jax.devices import data_mesh
from dexvlg_jax.grasp.culling import near_hand_points, near_object_points, near_part_points, near_sphere_pairs
from dexvlg_jax.grasp.energy import ContactSet, EnergyConfig, SynthObject, energy_terms, total_energy

OPTIMIZERS = ("annealing", "adam")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Optimiser settings. num_iters is rounded up to a multiple of refresh_every."""

    kind: str = "annealing"
    num_iters: int = 6000
    refresh_every: int = 25
    step_size: float = 0.005
    step_period: int = 50
    temperature: float = 18.0
    temperature_period: int = 30
    decay: float = 0.95
    mu: float = 0.98
    learning_rate: float = 0.003  # adam: peak step (metres / radians per coordinate), cosine-decayed to 5%


def _energy_fn(obj, ecfg: EnergyConfig, part, mode):
    def fn(pose, near, face):
        near, near_part, hand_points, sphere_pairs = near
        terms = energy_terms(pose, obj, near, mode, ecfg.fc_kind, face, ecfg.hand_point_stride, part, near_part,
                             hand_points, sphere_pairs)
        return total_energy(terms, ecfg.weights), terms
    return jax.value_and_grad(fn, has_aux=True)


def _refresh(pose, obj, ecfg: EnergyConfig, part, mode):
    """Block-start auxiliaries of one grasp: the culled sets ((Gp, K, 3) object points per hand primitive; per
    contact the K nearest target-part samples, or None when `part_points_per_contact` is 0; the hand points and
    sphere pairs of E_hpen / E_spen, or None when `hand_points_per_block` / `sphere_pairs_per_block` is 0) and the
    LP-DFC face."""
    near = near_object_points(pose, obj, ecfg.points_per_primitive)
    k = ecfg.part_points_per_contact
    near_part = near_part_points(pose, obj, mode, part, k) if k else None
    if ecfg.fc_kind == "lp_dfc":
        face = energy_terms(pose, obj, near, mode, ecfg.fc_kind, None, ecfg.hand_point_stride, part,
                            near_part)["face"]
    else:
        face = jnp.asarray(-1, jnp.int32)
    hand_points = near_hand_points(pose, obj, ecfg.hand_points_per_block) if ecfg.hand_points_per_block else None
    pairs = near_sphere_pairs(pose, ecfg.sphere_pairs_per_block) if ecfg.sphere_pairs_per_block else None
    return (near, near_part, hand_points, pairs), jax.lax.stop_gradient(face)


def _finite(g):
    return jnp.where(jnp.isfinite(g), g, 0.0)


def optimize_one(pose: Float[Array, "25"], key, obj: SynthObject, ecfg: EnergyConfig, ocfg: OptimizerConfig,
                 part: Array | int = -1, contacts: ContactSet | None = None):
    """Optimise one grasp for target part `part` (-1: none). Returns (final pose (25,), final energy (), terms
    dict, acceptance rate ()). contacts: the mode's contact set as data (`energy.contact_set(mode, padded=True)`;
    `ecfg.mode` is then not read), None: `ecfg.mode`'s."""
    if ocfg.kind not in OPTIMIZERS:
        raise ValueError(f"optimizer kind must be one of {OPTIMIZERS}, got {ocfg.kind!r}")
    mode = ecfg.mode if contacts is None else contacts
    vg = _energy_fn(obj, ecfg, part, mode)
    num_blocks = -(-ocfg.num_iters // ocfg.refresh_every)
    total = num_blocks * ocfg.refresh_every
    schedule = optax.cosine_decay_schedule(ocfg.learning_rate, max(total, 1), alpha=0.05)
    adam = optax.adam(schedule)

    def step(carry, t, near, face):
        pose, energy, grad, state, accepted = carry
        if ocfg.kind == "annealing":
            s = ocfg.step_size * ocfg.decay ** jnp.floor(t / ocfg.step_period)
            state = ocfg.mu * grad * grad + (1.0 - ocfg.mu) * state
            new = pose - s * grad / (jnp.sqrt(state) + 1e-6)
        else:
            updates, state = adam.update(grad, state, pose)
            new = optax.apply_updates(pose, updates)
        (e_new, _), g_new = vg(new, near, face)
        g_new = _finite(g_new)
        if ocfg.kind == "annealing":
            temp = ocfg.temperature * ocfg.decay ** jnp.floor(t / ocfg.temperature_period)
            u = jax.random.uniform(jax.random.fold_in(key, t))
            accept = u < jnp.exp(jnp.minimum((energy - e_new) / temp, 0.0))
        else:
            accept = jnp.isfinite(e_new) & (e_new < 1e9)
        pose = jnp.where(accept, new, pose)
        energy = jnp.where(accept, e_new, energy)
        grad = jnp.where(accept, g_new, grad)
        return (pose, energy, grad, state, accepted + accept), None

    def block(carry, b):
        near, face = _refresh(carry[0], obj, ecfg, part, mode)
        (e, _), g = vg(carry[0], near, face)  # energy at the refreshed auxiliaries
        carry = (carry[0], e, _finite(g)) + carry[3:]
        ts = b * ocfg.refresh_every + jnp.arange(ocfg.refresh_every)
        carry, _ = jax.lax.scan(lambda c, t: step(c, t, near, face), carry, ts)
        return carry, None

    state0 = jnp.zeros_like(pose) if ocfg.kind == "annealing" else adam.init(pose)
    carry = (pose, jnp.zeros(()), jnp.zeros_like(pose), state0, jnp.zeros((), jnp.int32))
    carry, _ = jax.lax.scan(block, carry, jnp.arange(num_blocks))
    pose = carry[0]
    near = near_object_points(pose, obj, ecfg.points_per_primitive)
    (energy, terms), _ = vg(pose, (near, None, None, None), None)  # all LP faces, part samples, hand points, pairs
    return pose, energy, terms, carry[4] / total


def grasp_keys(rng, num: int, offset: int = 0):
    """Per-grasp keys fold_in(rng, offset + i): a grasp's randomness depends only on its global index."""
    return jax.vmap(lambda i: jax.random.fold_in(rng, i))(offset + jnp.arange(num))


@functools.partial(jax.jit, static_argnames=("ecfg", "ocfg"))
def optimize_batch(poses: Float[Array, "G 25"], keys, obj: SynthObject, ecfg: EnergyConfig, ocfg: OptimizerConfig,
                   parts=None, contacts: ContactSet | None = None):
    """`optimize_one` vmapped over grasps (jitted). keys: (G,) per-grasp keys (see `grasp_keys`); parts: (G,)
    target part ids (None: no target part); contacts: see `optimize_one` (as data, one compilation serves every
    mode when `ecfg` is the same): one set for every grasp, or one per grasp (a leading G axis: `valid` (G, C))."""
    parts = -jnp.ones(poses.shape[0], jnp.int32) if parts is None else parts
    per_grasp = contacts is not None and contacts.valid.ndim == 2
    return jax.vmap(lambda p, k, t, c: optimize_one(p, k, obj, ecfg, ocfg, t, c),
                    in_axes=(0, 0, 0, 0 if per_grasp else None))(poses, keys, parts, contacts)


def optimize_sharded(poses: Float[Array, "G 25"], rng, obj: SynthObject, ecfg: EnergyConfig,
                     ocfg: OptimizerConfig, mesh: Mesh | None = None, offset: int = 0, parts=None,
                     contacts: ContactSet | None = None):
    """Optimise G grasps sharded over the mesh's "data" axis (object replicated). G is padded to a multiple of
    the device count; the padding is dropped from the outputs. Returns the same tuple as `optimize_batch`."""
    mesh = data_mesh() if mesh is None else mesh
    n_dev = mesh.shape["data"]
    g = poses.shape[0]
    pad = (-g) % n_dev
    poses = jnp.concatenate([jnp.asarray(poses, jnp.float32), jnp.repeat(jnp.asarray(poses[:1], jnp.float32), pad, 0)])
    keys = grasp_keys(rng, g + pad, offset)
    parts = -np.ones(g, np.int32) if parts is None else np.asarray(parts, np.int32)
    parts = jnp.asarray(np.concatenate([parts, np.repeat(parts[:1], pad)]))
    batch = NamedSharding(mesh, PartitionSpec("data"))
    replicated = NamedSharding(mesh, PartitionSpec())
    poses = jax.device_put(poses, batch)
    keys = jax.device_put(keys, batch)
    parts = jax.device_put(parts, batch)
    obj = jax.device_put(obj, replicated)
    if contacts is not None and np.ndim(contacts.valid) == 2:  # one set per grasp: padded and sharded like poses
        contacts = jax.device_put(jax.tree.map(lambda a: jnp.concatenate([jnp.asarray(a), jnp.repeat(
            jnp.asarray(a)[:1], pad, 0)]), contacts), batch)
    elif contacts is not None:
        contacts = jax.device_put(jax.tree.map(jnp.asarray, contacts), replicated)
    out = optimize_batch(poses, keys, obj, ecfg, ocfg, parts, contacts)
    return jax.tree.map(lambda x: x[:g], out)
