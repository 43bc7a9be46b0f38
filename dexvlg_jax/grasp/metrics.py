"""Grasp quality metrics (the paper's dataset table) and the filter that marks each grasp ok or failed.

Per grasp (object frame; depths in millimetres):
  pen_mm       penetration depth: max over the object's surface points of their depth inside the hand
               (exact primitive SDF of the hand; all surface samples, no culling).
  hand_pen_mm  max depth of the hand's 1040 surface points inside the object (object SDF grid).
  spen_mm      self-penetration depth: max overlap of the hand's self-collision sphere pairs (all pairs).
  table_mm     hand-table penetration depth: how far the lowest hand primitive reaches below the table top
               (exact box/capsule extent, `energy.primitive_heights`; 0 without a table).
  contact_mm   (C,) |object SDF| at each contact of the mode's contact set.
  q1           Ferrari-Canny Q1 (grasp-math's convention: mu = 1, 8 cone edges, torque scale 10 / m, reference
               = object origin) of the contacts within `contact_threshold` of the surface, with the object's
               inward normals there; `q1.q1_reference` (qhull, the metric of record) or the JAX estimate.
  part_agreement  fraction of those in-contact contacts whose nearest object surface sample lies on the
               target part (1.0 = every touching contact on the instructed part; 0 when nothing touches).
  forces       (C,) LP-DFC contact-force magnitudes at the final pose (max = 1), for the force distribution.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import sdf_grid_query
from dexvlg_jax.grasp.energy import SynthObject, hand_contacts, object_normals, primitive_heights
from dexvlg_jax.grasp import force_closure as fc
from dexvlg_jax.grasp import q1 as q1_lib

OK = "ok"


@dataclasses.dataclass(frozen=True)
class FilterConfig:
    """Acceptance thresholds (mm for depths). A grasp passes if every check passes; the first failing check
    (in the order of the fields) is its failure reason."""

    max_pen_mm: float = 3.0
    max_hand_pen_mm: float = 3.0
    max_spen_mm: float = 1.0
    max_table_mm: float = 1.0
    contact_threshold_mm: float = 5.0  # a contact "touches" when |sdf| is below this
    min_contacts_wrap: int = 4  # touching contacts required (of 7)
    min_contacts_pinch: int = 3  # (of 4)
    min_q1: float = 0.01
    min_part_agreement: float = 0.5
    q1_backend: str = "reference"  # "reference" (qhull, exact) or "jax" (batched upper bound)


def shape_bucket(n: int, smallest: int = 64) -> int:
    """The padded batch size for n items: the next power of two at or above max(n, smallest). Batches of every
    object fall into a few buckets, so jitted metrics compile a few times per run instead of once per object."""
    return max(smallest, 1 << max(int(n) - 1, 0).bit_length())


@jax.jit
def _geometry_metrics(poses, obj: SynthObject, contact_idx, mode_is_wrap):
    """Batched geometric metrics; contacts are computed for both modes and selected by `mode_is_wrap` (G,)."""
    h = hand.load_hand()

    def one(pose, is_wrap):
        frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
        d_obj = jax.lax.map(lambda p: hand.hand_signed_distance(frames, p), obj.points.reshape(-1, 64, 3))
        pen = jnp.max(jax.nn.relu(-d_obj))
        hpts = hand.link_points_to_world(frames, h.surface_link, h.surface_pos)
        hpen = jnp.max(jax.nn.relu(-sdf_grid_query(obj.sdf, hpts)))
        spen = jnp.max(hand.self_penetration(frames))
        table = jnp.max(jax.nn.relu(-primitive_heights(frames, obj.table_up, obj.table_offset)))
        xw, _ = hand_contacts(frames, "wrap")
        xp, _ = hand_contacts(frames, "pinch")
        xp = jnp.concatenate([xp, jnp.full((xw.shape[0] - xp.shape[0], 3), jnp.nan)])
        x = jnp.where(is_wrap, xw, xp)
        dist = sdf_grid_query(obj.sdf, jnp.nan_to_num(x))
        normals = -object_normals(obj.sdf, jnp.nan_to_num(x))
        nearest = jnp.argmin(jnp.sum((x[:, None] - obj.points[None]) ** 2, -1), axis=1)
        return (pen * 1e3, hpen * 1e3, spen * 1e3, table * 1e3, x, jnp.abs(dist) * 1e3, normals,
                obj.part_ids[nearest])

    return jax.vmap(one)(poses, mode_is_wrap)


def _pad_points(obj: SynthObject) -> SynthObject:
    n = obj.points.shape[0]
    pad = (-n) % 64
    if pad == 0:
        return obj
    rep = lambda a: jnp.concatenate([a, jnp.repeat(a[:1], pad, 0)])  # noqa: E731
    return obj.replace(points=rep(obj.points), normals=rep(obj.normals), part_ids=rep(obj.part_ids))


def grasp_metrics(poses: Float[Array, "G 25"], obj: SynthObject, modes, part_ids,
                  cfg: FilterConfig = FilterConfig()) -> dict:
    """Metrics of G grasps (numpy arrays keyed as in the module docstring; C padded to 7 with NaN for pinch).

    modes: (G,) 'wrap'/'pinch'; part_ids: (G,) target parts. Non-finite poses give NaN metrics.
    """
    poses = np.asarray(poses, np.float32)
    modes = np.asarray(modes).astype(str)
    finite = np.all(np.isfinite(poses), axis=1)
    safe = np.where(finite[:, None], poses, 0.0).astype(np.float32)
    safe[~finite, 3] = safe[~finite, 7] = 1.0  # identity rotation for placeholders
    is_wrap = jnp.asarray(modes == "wrap")
    g = len(poses)
    bucket = shape_bucket(g)  # pad to a shared size: one compilation serves objects with different part counts
    padded = np.concatenate([safe, np.repeat(safe[:1], bucket - g, 0)]) if g else safe
    padded_wrap = jnp.concatenate([is_wrap, jnp.ones(bucket - g, bool)])
    pen, hpen, spen, table, x, dist, normals, near_part = (np.asarray(a)[:g] for a in _geometry_metrics(
        jnp.asarray(padded), _pad_points(obj), None, padded_wrap))
    num_c = np.where(modes == "wrap", 7, 4)
    valid_c = np.arange(7)[None] < num_c[:, None]
    touching = valid_c & (dist < cfg.contact_threshold_mm)
    q1 = np.zeros(len(poses))
    if cfg.q1_backend == "jax":
        xm = np.where(touching[..., None], x, 0.0)
        nm = np.where(touching[..., None], normals, 0.0)
        q1 = np.asarray(q1_lib.q1_metric_batch(jnp.asarray(xm, jnp.float32), jnp.asarray(nm, jnp.float32)))
    else:
        for i in range(len(poses)):
            if finite[i] and touching[i].sum() >= 2:
                q1[i] = q1_lib.q1_reference(x[i][touching[i]].astype(np.float64),
                                            normals[i][touching[i]].astype(np.float64))
    forces = np.full((len(poses), 7), np.nan, np.float32)
    for mode, c in (("wrap", 7), ("pinch", 4)):
        sel = np.flatnonzero(modes == mode)
        if len(sel):
            rows = np.resize(sel, shape_bucket(len(sel)))  # padded with repeats: one compilation per bucket
            sol = fc.lp_dfc_forces_batch(jnp.asarray(np.nan_to_num(x[rows, :c]), jnp.float32),
                                         jnp.asarray(np.nan_to_num(normals[rows, :c]), jnp.float32))
            forces[sel, :c] = np.asarray(sol.forces)[:len(sel)]
    on_part = touching & (near_part == np.asarray(part_ids)[:, None])
    agreement = np.where(touching.sum(1) > 0, on_part.sum(1) / np.maximum(touching.sum(1), 1), 0.0)
    out = {"pen_mm": pen, "hand_pen_mm": hpen, "spen_mm": spen, "table_mm": table, "contact_mm": np.where(valid_c, dist, np.nan),
           "num_touching": touching.sum(1), "q1": q1, "part_agreement": agreement, "forces": forces}
    nan = ~finite
    for k in ("pen_mm", "hand_pen_mm", "spen_mm", "table_mm", "q1", "part_agreement"):
        out[k] = np.where(nan, np.nan, out[k]).astype(np.float32)
    return out


def failure_reasons(metrics: dict, modes, cfg: FilterConfig = FilterConfig(), energy=None) -> np.ndarray:
    """(G,) strings: "ok" or the first failed check ("nonfinite", "penetration", "hand_penetration",
    "self_penetration", "table_penetration", "contacts_far", "low_q1", "off_part")."""
    modes = np.asarray(modes).astype(str)
    need = np.where(modes == "wrap", cfg.min_contacts_wrap, cfg.min_contacts_pinch)
    checks = [
        ("nonfinite", ~np.isfinite(metrics["pen_mm"]) | (np.zeros(len(modes), bool) if energy is None
                                                          else ~np.isfinite(energy) | (np.asarray(energy) >= 1e9))),
        ("penetration", metrics["pen_mm"] > cfg.max_pen_mm),
        ("hand_penetration", metrics["hand_pen_mm"] > cfg.max_hand_pen_mm),
        ("self_penetration", metrics["spen_mm"] > cfg.max_spen_mm),
        ("table_penetration", metrics["table_mm"] > cfg.max_table_mm),
        ("contacts_far", metrics["num_touching"] < need),
        ("low_q1", metrics["q1"] < cfg.min_q1),
        ("off_part", metrics["part_agreement"] < cfg.min_part_agreement),
    ]
    status = np.full(len(modes), OK, dtype=object)
    for name, bad in reversed(checks):
        status = np.where(bad, name, status)
    return status.astype(str)
