"""Force closure: grasp matrix, DexGraspNet's DFC energy, DexVLG's LP-DFC, friction cones, force statistics.

Frames and units. Contacts ``x_i`` are points in the object frame (metres); ``c_i`` are unit contact normals
pointing **into** the object (the direction of the force the finger applies to it). Torques are taken about
``ref`` (default: the object-frame origin, which is the object's centre after the objects stage normalises
meshes) and multiplied by ``torque_scale`` (default 1: DexGraspNet's DFC uses metres with no scaling, so with
object sizes of 0.1-0.5 m the torque rows weigh ~0.1 of the force rows). Normals are used as given (no
renormalisation), so a zero normal is a contact that pushes with nothing and never produces NaN.

Grasp matrix ``G`` (6, C): column i is ``[c_i; torque_scale * (x_i - ref) x c_i]``, the wrench of a unit force
along c_i. With contact-force magnitudes f (C,), the net wrench is ``G f``.

* DFC (DexGraspNet): unit forces, ``E_fc = ||G 1||^2 = ||sum c_i||^2 + ||sum (x_i - ref) x c_i||^2``.
* LP-DFC (DexVLG): with the hand fixed, find magnitudes ``f*`` in

      min_f ||G f||_1   s.t.  max_i f_i = 1,  f_i >= 0,

  then ``E_fc = ||G(x, c) stop_gradient(f*)||_2^2`` (gradients flow through x and c, not through the solve; at
  f* = 1 this is exactly DFC, so the two energies share units and weights).

Formulation chosen (and why it is exact). The feasible set ``{f >= 0, max_i f_i = 1}`` is the union over k of the
faces ``F_k = {f_k = 1, 0 <= f <= 1}``, and the minimum of a function over a union is the minimum of the minima
over the pieces. So we solve one LP per contact k and keep the best::

    LP_k:  min  1^T p + 1^T q   s.t.  G f - p + q = 0,   f_k = 1,  0 <= f <= 1,  p, q >= 0

(p - q = G f splits the residual wrench so 1^T(p + q) = ||G f||_1 at the optimum). This is the paper's problem
verbatim, not a relaxation: a single LP cannot express ``max_i f_i = 1`` (the set is not convex), and
normalisations such as ``sum f = 1`` change the optimum because ||G f|| is homogeneous in f. The L1 norm makes
each piece an LP (the paper's "LP"-DFC); the 2-norm version would be a QP with the same structure. Each LP has
6 equality rows and C + 12 variables, solved by `dexvlg_jax.grasp.lp.solve_lp` (interior point), vmapped over k.
Passing ``k`` solves only that face (a warm start: the best face rarely changes between optimiser steps).

Batching: every public function is single-grasp; `grasp_matrix_batch`, `dfc_energy_batch` and
`lp_dfc_forces_batch` are the jitted vmaps. In an optimiser, solve `lp_dfc_forces_batch` once per step (or every
few steps, passing ``k=previous.face`` in between, which is C times cheaper) and pass ``forces`` to
`lp_dfc_energy` inside the differentiated energy, so the LP is never traced under `jax.grad`.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from dexvlg_jax.grasp.lp import solve_lp


def grasp_matrix(
    contacts: Float[Array, "C 3"],
    normals: Float[Array, "C 3"],
    ref: Float[Array, "3"] | None = None,
    torque_scale: float = 1.0,
) -> Float[Array, "6 C"]:
    """Grasp matrix (6, C): columns ``[c_i; torque_scale * (x_i - ref) x c_i]`` (object frame, metres)."""
    rel = contacts if ref is None else contacts - ref
    torques = torque_scale * jnp.cross(rel, normals)
    return jnp.concatenate([normals, torques], axis=-1).T


def net_wrench(
    contacts: Float[Array, "C 3"],
    normals: Float[Array, "C 3"],
    forces: Float[Array, "C"],
    ref: Float[Array, "3"] | None = None,
    torque_scale: float = 1.0,
) -> Float[Array, "6"]:
    """Net wrench ``G f`` (force, N per unit magnitude; torque about ``ref``, scaled) of magnitudes ``forces``."""
    return grasp_matrix(contacts, normals, ref, torque_scale) @ forces


def dfc_energy(contacts: Float[Array, "C 3"], normals: Float[Array, "C 3"], ref: Float[Array, "3"] | None = None,
               torque_scale: float = 1.0) -> Float[Array, ""]:
    """DexGraspNet's DFC energy ``||G 1||^2`` (unit forces along the inward normals). Differentiable."""
    w = net_wrench(contacts, normals, jnp.ones(contacts.shape[0], contacts.dtype), ref, torque_scale)
    return jnp.sum(w * w)


class ForceSolution(NamedTuple):
    """LP-DFC solution for one grasp. forces: (C,) magnitudes in [0, 1] with max 1 (the best face); residual:
    ``||G f||_1`` (the LP optimum); face: the contact k with f_k = 1 whose LP won; status: `lp` status of that
    LP (0 = solved); per_face: (K,) LP optima of every face solved (K = C, or 1 with a warm-start ``k``)."""

    forces: Float[Array, "C"]
    residual: Float[Array, ""]
    face: Int[Array, ""]
    status: Int[Array, ""]
    per_face: Float[Array, "K"]


def _face_lp(Gm: Float[Array, "6 C"], k: Int[Array, ""], max_iter: int, tol, polish: bool,
             force_upper: Float[Array, "C"]):
    """LP_k of the module docstring; returns the `LPSolution` (variables [f (C), p (6), q (6)]). force_upper: (C,)
    1 for a contact, 0 for a padding row (its force is then fixed at 0: the solver removes fixed variables)."""
    C = Gm.shape[1]
    dtype = Gm.dtype
    eye = jnp.eye(6, dtype=dtype)
    A = jnp.concatenate([Gm, -eye, eye], axis=1)
    cost = jnp.concatenate([jnp.zeros(C, dtype), jnp.ones(12, dtype)])
    onehot = jnp.arange(C) == k
    lower = jnp.concatenate([onehot.astype(dtype), jnp.zeros(12, dtype)])
    upper = jnp.concatenate([force_upper.astype(dtype), jnp.full(12, jnp.inf, dtype)])
    return solve_lp(cost, A, jnp.zeros(6, dtype), lower, upper, max_iter=max_iter, tol=tol, polish=polish)


@functools.partial(jax.jit, static_argnames=("max_iter", "polish"))
def lp_dfc_forces(
    contacts: Float[Array, "C 3"],
    normals: Float[Array, "C 3"],
    ref: Float[Array, "3"] | None = None,
    torque_scale: float = 1.0,
    k: Int[Array, ""] | None = None,
    max_iter: int = 30,
    tol: float | None = None,
    polish: bool = True,
    valid: Array | None = None,
) -> ForceSolution:
    """LP-DFC contact-force magnitudes (see the module docstring); no gradient flows through it.

    contacts, normals: (C, 3) object frame. k: if given, solve only face k (warm start), else all C faces.
    valid: (C,) bool, the contacts that exist (None: all); the others get force 0 and are never the face (a mode's
    padded contact set, `energy.ContactSet`). Non-finite inputs give forces = 1 at valid contacts (the DFC
    fallback) and status `lp.INVALID_INPUT`.
    """
    contacts, normals = jax.lax.stop_gradient(contacts), jax.lax.stop_gradient(normals)
    Gm = grasp_matrix(contacts, normals, ref, torque_scale)
    finite = jnp.all(jnp.isfinite(Gm))
    Gm = jnp.where(finite, Gm, 0.0)
    C = Gm.shape[1]
    ones = jnp.ones(C, Gm.dtype) if valid is None else jnp.where(valid, 1.0, 0.0).astype(Gm.dtype)
    faces = jnp.arange(C) if k is None else jnp.reshape(jnp.asarray(k), (1,))
    sols = jax.vmap(lambda kk: _face_lp(Gm, kk, max_iter, tol, polish, ones))(faces)
    # Score each face by its exact L1 residual at the returned forces (robust to an inexact solve).
    f_all = jnp.clip(sols.x[:, :C], 0.0, 1.0) * ones
    f_all = jnp.where(jnp.arange(C)[None, :] == faces[:, None], 1.0, f_all)
    scores = jnp.sum(jnp.abs(f_all @ Gm.T), axis=-1)
    scores = jnp.where(ones[faces] > 0, scores, jnp.inf)  # a padding row is never the face
    best = jnp.argmin(scores)
    forces = jnp.where(finite, f_all[best], ones)
    status = jnp.where(finite, sols.status[best], 4).astype(jnp.int32)
    return ForceSolution(forces, scores[best], faces[best], status, scores)


def lp_dfc_energy(
    contacts: Float[Array, "C 3"],
    normals: Float[Array, "C 3"],
    forces: Float[Array, "C"] | None = None,
    ref: Float[Array, "3"] | None = None,
    torque_scale: float = 1.0,
    max_iter: int = 30,
) -> Float[Array, ""]:
    """LP-DFC energy ``||G(x, c) f*||^2`` with f* = stop_gradient(LP solution). Differentiable in x and c.

    forces: precomputed f* (e.g. from `lp_dfc_forces`, solved once per step for the whole batch); if None the
    LP is solved here (all C faces).
    """
    if forces is None:
        forces = lp_dfc_forces(contacts, normals, ref, torque_scale, max_iter=max_iter).forces
    w = net_wrench(contacts, normals, jax.lax.stop_gradient(forces), ref, torque_scale)
    return jnp.sum(w * w)


def friction_cone_edges(
    normals: Float[Array, "C 3"], mu: float = 1.0, num_edges: int = 8
) -> Float[Array, "C K 3"]:
    """Linearised friction cones: ``n + mu (cos t_j u + sin t_j v)``, t_j = 2 pi j / K, (u, v) tangent basis.

    u = normalised (-n_y, n_x, 0) (or (1, 0, 0) when n is along z), v = n x u: the UniDexGrasp/DexGraspNet
    evaluator's basis. Edges are not renormalised (|edge| = sqrt(1 + mu^2) for a unit normal).
    """
    u1 = jnp.stack([-normals[:, 1], normals[:, 0], jnp.zeros_like(normals[:, 0])], axis=-1)
    nrm = jnp.linalg.norm(u1, axis=-1, keepdims=True)
    u = jnp.where(nrm > 1e-8, u1 / jnp.maximum(nrm, 1e-8), jnp.array([1.0, 0.0, 0.0], normals.dtype))
    v = jnp.cross(normals, u)
    t = 2.0 * jnp.pi * jnp.arange(num_edges, dtype=normals.dtype) / num_edges
    return normals[:, None, :] + mu * (jnp.cos(t)[None, :, None] * u[:, None, :]
                                       + jnp.sin(t)[None, :, None] * v[:, None, :])


def force_stats(forces: Float[Array, "C"], active: float = 0.05) -> dict[str, Float[Array, ""]]:
    """Reporting statistics of one force distribution: min, mean, std, min/max ratio, number of contacts with
    f > ``active`` (times max), and the normalised entropy of f / sum f (1 = perfectly even)."""
    fmax = jnp.maximum(jnp.max(forces), 1e-12)
    p = forces / jnp.maximum(jnp.sum(forces), 1e-12)
    ent = -jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.maximum(p, 1e-30)), 0.0)) / jnp.log(forces.shape[0])
    return {
        "min": jnp.min(forces), "mean": jnp.mean(forces), "std": jnp.std(forces),
        "min_over_max": jnp.min(forces) / fmax, "num_active": jnp.sum(forces > active * fmax).astype(jnp.float32),
        "entropy": ent,
    }


# Batched helpers (leading grasp axis B on every argument; ref/torque_scale shared).
grasp_matrix_batch = jax.jit(jax.vmap(grasp_matrix, in_axes=(0, 0, None, None)))
dfc_energy_batch = jax.jit(jax.vmap(dfc_energy, in_axes=(0, 0, None, None)))


@functools.partial(jax.jit, static_argnames=("max_iter", "polish"))
def lp_dfc_forces_batch(contacts, normals, ref=None, torque_scale=1.0, k=None, **options) -> ForceSolution:
    """`lp_dfc_forces` vmapped over a leading grasp axis B: contacts, normals (B, C, 3), k (B,) or None; ref (3,)
    and torque_scale shared by the batch; `options` (max_iter, tol, polish) are `lp_dfc_forces`'s."""
    fn = lambda x, n, kk: lp_dfc_forces(x, n, ref, torque_scale, kk, **options)  # noqa: E731
    return jax.vmap(fn, in_axes=(0, 0, None if k is None else 0))(contacts, normals, k)
