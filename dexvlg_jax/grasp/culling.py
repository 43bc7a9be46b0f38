"""The culling sets the optimiser refreshes at the start of every block of steps (`optimizer._refresh`): which
object points, target-part samples, hand points and sphere pairs each energy term looks at until the next refresh.
Every set is taken without gradient at the block's first pose, so each culled term is exact there
(`grasp.energy`'s module docstring, per term). Distances are written one coordinate at a time and the k nearest are
found with `geometry.topk.smallest_k`: a 64-grasp refresh on 2 CPU cores 44 -> 22 ms (2026-12-06)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import sdf_grid_query
from dexvlg_jax.geometry.primitives import squared_distances
from dexvlg_jax.geometry.topk import smallest_k
from dexvlg_jax.grasp.energy import SynthObject, active_pair_overlaps, hand_contacts


def near_object_points(pose: Float[Array, "25"], obj: SynthObject, k: int) -> Float[Array, "Gp K 3"]:
    """For each hand collision primitive, the k object surface points nearest its centre (no gradient).

    This is the culling behind E_pen: each primitive is tested only against its own k nearest object points
    (Gp x k primitive SDFs instead of N x Gp). The optimiser refreshes the sets every few iterations.
    """
    pose = jax.lax.stop_gradient(pose)
    frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
    centres, _ = hand.primitive_frames(frames)
    return obj.points[smallest_k(squared_distances(centres, obj.points), k)[1]]


def near_part_points(pose: Float[Array, "25"], obj: SynthObject, mode, part: Array | int, k: int):
    """For each contact of the mode, the k samples of target part `part` nearest to it (no gradient): the culling
    behind E_part. Returns (points (C, k, 3), valid (C, k) bool); entries are invalid when the part has fewer than k
    samples or part < 0. With these, `part_distance` equals the exact one at this pose."""
    pose = jax.lax.stop_gradient(pose)
    x, _ = hand_contacts(hand.forward_kinematics(*hand.pose_from_vector(pose)), mode)
    d2 = squared_distances(x, obj.points)  # (C, N)
    on_part = (obj.part_ids == part) & (jnp.asarray(part) >= 0)
    d2, idx = smallest_k(jnp.where(on_part[None], d2, jnp.inf), k)
    return obj.points[idx], jnp.isfinite(d2)


def near_hand_points(pose: Float[Array, "25"], obj: SynthObject, k: int, per_link: int = 8) -> Array:
    """Indices (max(k, 17 per_link),) of hand surface points at `pose` (no gradient): the `per_link` with the
    smallest object SDF of every link, so that a broad contact (the palm on a body) cannot crowd out fingers on a
    thin part, then the rest of the k smallest. E_hpen's culling between refreshes (`near_object_points`: E_pen's)."""
    h = hand.load_hand()
    frames = hand.forward_kinematics(*hand.pose_from_vector(jax.lax.stop_gradient(pose)))
    d = sdf_grid_query(obj.sdf, hand.link_points_to_world(frames, h.surface_link, h.surface_pos))
    links = np.unique(h.surface_link)
    picks = [jnp.asarray(np.flatnonzero(h.surface_link == link))[jax.lax.top_k(-d[h.surface_link == link],
                                                                                per_link)[1]] for link in links]
    first = jnp.concatenate(picks)
    rest = jax.lax.top_k(-d.at[first].set(jnp.inf), max(k - len(first), 0))[1]
    return jnp.concatenate([first, rest])


def near_sphere_pairs(pose: Float[Array, "25"], k: int) -> Array:
    """Indices (k,) into `active_sphere_pairs` of the k pairs with the largest overlap (smallest gap) at `pose`
    (no gradient): the culling behind E_spen between refreshes."""
    overlap = active_pair_overlaps(hand.forward_kinematics(*hand.pose_from_vector(jax.lax.stop_gradient(pose))))
    return jax.lax.top_k(overlap, min(k, overlap.shape[0]))[1]
