"""Which parts the hand can grasp, and why not: the checks before any pose is drawn (`part_failure`).

Frames and part axes as in `grasp.init` (object frame, metres; A0, A1, A2 by decreasing extent). Reasons:
  missing_part, unknown_class, nonfinite: the part's data is broken.
  part_too_small: largest extent below `InitConfig.min_part_size`.
  part_too_big: smallest extent above `max_grasp_width`; on a table also a part wider than `max_table_span` in
      every horizontal direction: resting on the table (or on the object's body, like a pot's lid) it can only be
      closed across sideways, and the open LEAP Hand's thumb and index pads are 21.8 cm apart
      (`init.OPEN_JOINTS["pinch"]`; the limit is 20 cm).
  not_reachable_on_table: every approach direction of the part's class rule comes from below the table.
  below_fingertip_reach: the part's side surface (normals within 45 deg of horizontal) ends lower above the table
      than a sideways thumb pad can reach (`lowest_pad_height`: 1.1 cm, the fingertip's primitives beyond the pad):
      no opposed squeeze can hold it (a knife blade lying flat).
The last four are `NOT_PRODUCIBLE`: the dataset reports such a condition with its reason instead of a grasp.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from dexvlg_jax import hand
from dexvlg_jax.geometry.primitives import BOX
from dexvlg_jax.grasp.energy import primitive_reach, site_normal_local
from dexvlg_jax.grasp.init import PART_CLASSES, InitConfig, PartSpec, placement

# `part_failure` reasons that say the hand cannot grasp the part (not that its data is broken).
NOT_PRODUCIBLE = ("part_too_small", "part_too_big", "not_reachable_on_table", "below_fingertip_reach")


def part_failure(obj, part_id: int, cfg: InitConfig, table_plane=None) -> str | None:
    """Why the part cannot be grasped (a failure reason string), or None if it can. table_plane: (up (3,),
    offset) of the table top in the object frame (`scene.Tabletop.table_plane`), None without a table."""
    if not 0 <= part_id < obj.num_parts:
        return f"missing_part: part {part_id} not in 0..{obj.num_parts - 1}"
    if not np.any(np.asarray(obj.surface_part_ids) == part_id):
        return f"missing_part: part {part_id} ({obj.part_names[part_id]}) has no surface samples"
    if obj.part_classes[part_id] not in PART_CLASSES:
        return f"unknown_class: part {part_id} has class {obj.part_classes[part_id]!r}"
    ext = np.asarray(obj.part_extents[part_id])
    if not np.all(np.isfinite(ext)) or not np.all(np.isfinite(obj.part_centroids[part_id])):
        return f"nonfinite: part {part_id} geometry is not finite"
    if ext.max() < cfg.min_part_size:
        return f"part_too_small: largest extent {ext.max():.4f} m < {cfg.min_part_size} m"
    if ext.min() > cfg.max_grasp_width:
        return f"part_too_big: smallest extent {ext.min():.4f} m > {cfg.max_grasp_width} m"
    if table_plane is not None:
        span = horizontal_span(obj.part_axes[part_id], ext, table_plane[0])
        if span > cfg.max_table_span:
            return (f"part_too_big: narrowest horizontal span {span:.4f} m > {cfg.max_table_span} m (it rests on the "
                    "table, so the hand must close across it sideways)")
        part = PartSpec.from_processed(obj, part_id, table_plane[0], cfg.handles_from_above)
        _, d, _ = placement(part, 64, np.random.default_rng(0), dataclasses.replace(cfg, placement="rule"))
        if len(d) == 0:
            return "not_reachable_on_table: every approach direction of the part's rule comes from below the table"
        side_top, reach = side_height(obj, part_id, table_plane), lowest_pad_height()
        if side_top < reach:
            return (f"below_fingertip_reach: the part's sides end {100 * side_top:.1f} cm above the table, below "
                    f"the lowest a sideways thumb pad can touch ({100 * reach:.1f} cm: its fingertip reaches below it)")
    return None


def side_height(obj, part_id: int, table_plane, side_cone: float = np.pi / 4) -> float:
    """Height (m) above the table top of the part's highest *side* surface sample: one whose outward normal is
    within `side_cone` of horizontal (pi / 4 = the friction angle of mu = 1: a pad pressing there squeezes the part
    rather than only pushing it down or up). -inf if the part has none. table_plane: (up (3,), offset), object
    frame."""
    up, offset = table_plane
    mine = np.asarray(obj.surface_part_ids) == part_id
    normal_up = np.asarray(obj.surface_normals)[mine] @ np.asarray(up)
    heights = np.asarray(obj.surface_points)[mine] @ np.asarray(up) - offset
    side = np.abs(normal_up) <= np.sin(side_cone)
    return float(heights[side].max()) if side.any() else -np.inf


@functools.lru_cache(maxsize=None)
def lowest_pad_height(sites: tuple = ("th_pad", "if_pad", "mf_pad")) -> float:
    """A lower bound (m) on how high above the table every one of `sites` must be to touch a part's side: per pad,
    the least reach of its link's exact collision primitives (boxes, capsules) beyond the pad centre over the
    directions of the pad's plane (the pad facing sideways, its palmar normal horizontal, the link pointing down
    in its least-reaching direction); the max over the pads. Both modes oppose the thumb to the fingers, so a part
    whose sides all lie lower cannot be squeezed. LEAP: thumb 1.07 cm, index and middle 1.00 cm.
    """
    h = hand.load_hand()
    angles = np.linspace(0.0, 2 * np.pi, 360, endpoint=False)
    heights = []
    for site in sites:
        directions = in_plane_directions(site_normal_local(site), angles)  # (360, 3) in the pad's plane, link frame
        reach = np.full(len(directions), -np.inf)
        for g in np.flatnonzero(np.asarray(h.geom_link) == h.site_link[site]):
            along = np.abs(directions @ np.asarray(h.geom_rot[g]))  # (360, 3): |d . a_j| per primitive axis
            extent = np.asarray(primitive_reach(along, np.asarray(h.geom_size[g]), h.geom_kind[g] == BOX))
            reach = np.maximum(reach, directions @ (np.asarray(h.geom_pos[g]) - np.asarray(h.site_pos[site])) + extent)
        heights.append(reach.min())
    return float(max(heights))


def horizontal_span(axes: np.ndarray, extents: np.ndarray, up: np.ndarray, directions: int = 90) -> float:
    """The narrowest width (m) of a part's oriented box (axes (3, 3) columns, extents (3,)) over horizontal
    directions, i.e. orthogonal to `up` (3,): min over unit u in that plane of sum_i e_i |A_i . u|."""
    u = in_plane_directions(up, np.linspace(0.0, np.pi, directions, endpoint=False))  # (D, 3)
    return float(np.min(np.abs(u @ np.asarray(axes, np.float64)) @ np.asarray(extents, np.float64)))


def in_plane_directions(normal: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Unit directions (A, 3) orthogonal to `normal` (3,), at `angles` (A,) rad from a fixed in-plane axis."""
    normal = np.asarray(normal, np.float64) / np.linalg.norm(normal)
    a = np.cross(normal, [1.0, 0.0, 0.0]) if abs(normal[0]) < 0.9 else np.cross(normal, [0.0, 1.0, 0.0])
    a = a / np.linalg.norm(a)
    angles = np.asarray(angles, np.float64)[:, None]
    return np.cos(angles) * a + np.sin(angles) * np.cross(normal, a)
