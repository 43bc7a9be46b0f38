"""Part-aligned initialisation: N hand poses per (part, mode), placed by the part's class.

Frames: everything is in the object frame (metres, z up, origin = bounding-box centre). The hand frame is the
palm body: the palm faces -z, fingers extend along +x, the thumb along +y at rest. A placement rule gives, per
sample, a target point p on the part, an approach direction d (from the object towards the palm) and a finger
direction x; the hand's z axis is d (so the palm faces -d, i.e. the part), its x axis is x made orthogonal to d.
The palm centre (site `palm_center`) is put `standoff` beyond the first surface hit by the ray p + t d (t from
far to near, SDF grid ray march), so initial hands touch nothing. Pinch instead centres the closed pinch (the
thumb, index and middle pads at the closed pinch joints, ~4 cm in front of the palm) on p, so that the fingertips
close around a small part (a cap, a lid's rim, a handle's bar) rather than pressing on its near face; the open
hand is then backed off along d until it clears the object. (Measured on the demo objects: bottle caps get no
kept pinch with either rule, jar lids 0-3; the pinch centre is where the closing fingers actually meet.)

Rules (part axes = the part's oriented-box axes A0, A1, A2 by decreasing extent e0 >= e1 >= e2; "up" = direction
from the object centre to the part centroid):
  shaft: d uniform around A0 (perpendicular to it), x = +-(A0 x d): palm faces the axis, fingers wrap around it;
         p slides along the axis within +-0.35 e0.
  lid:   d = "up" (palm above the lid facing down), x uniform in the plane orthogonal to d.
  disk:  if the face fits under the palm (e0 <= max_face_span) palm over the flat face: d = +-A2 (the side
         facing away from the object); else a rim grasp: d = 45 deg between the radial direction r and the face
         normal, p on the rim, x = -r (fingers reach over the face towards the centre).
  L:     palm outside the handle, facing its bar: d = A1 oriented away from the object centre (the handle's
         depth axis: radial for a mug's side handle, up for a bucket's arch), x = +-A2 (fingers wrap the bar's
         thin cross-section and curl through the opening). (The earlier rule d = +-A2, palm on the handle's
         plane, put half the fingers into the body: it synthesised no mug-handle grasp.)
         On a table a handle that sticks out sideways (A1 within 45 deg of horizontal; `handles_from_above`) gets
         d = up, x = +-A2, p on the bar's upper outer bend (`grip_point`): from the side the hand's width is
         vertical, and a handle 4-6 cm up puts its lower side on the table (NOTES, "Side handles from above").
On a table (`table_up` = the table's up normal in the object frame), disk and lid faces are taken on the side
that faces up, and only approach directions from the free half-space are kept: after the jitter, samples with
d . up < sin(min_elevation) are redrawn (up to `max_rounds` x N draws); a part with none left is
"not_reachable_on_table" (`grasp.feasibility`: which parts the hand cannot grasp, and why). The hand-table energy
and filter (`energy`, `metrics`) do the rest.
Exploration (`InitConfig.placement` = "surface", for the conditions the class rule leaves without a grasp:
`data.synthesis`): p = a random surface sample of the part, d = its outward normal, x uniform about d; the rest as
above (a pinch's target moved into the part, so that the closing fingers meet around it).
Every sample then gets a cone jitter of d and a roll about it (config), and joints from a truncated normal about
the mode's open and closed poses (sigma = joint_jitter x joint range); each finger then closes from open towards
closed until it is `closure_margin` from the object (SDF grid at the finger's surface points), so contacts start
near the surface and few iterations are needed.
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import sdf_grid_query
from dexvlg_jax.geometry.rotations import matrix_to_rot6d, rot6d_to_matrix
from dexvlg_jax.grasp.energy import primitive_heights
from dexvlg_jax.hand.kinematics import penetration_spheres

PART_CLASSES = ("lid", "disk", "L", "shaft")
PLACEMENTS = ("rule", "surface")  # InitConfig.placement: the class rule, or exploration along the part's normals
# Open and closed joint poses of each mode (DESIGN order: index/middle/ring (mcp, rot, pip, dip), thumb (cmc, axl,
# mcp, ipl)). Each finger closes from open towards closed until it is about to touch the object ("close until
# contact", per finger); pinch keeps the ring finger nearly straight and out of the way.
OPEN_JOINTS = {
    "wrap": (0.2, 0.0, 0.1, 0.1) * 3 + (0.3, 0.1, 0.0, 0.0),
    "pinch": (0.2, 0.0, 0.2, 0.2) * 2 + (0.1, 0.0, 0.1, 0.1) + (0.4, 0.1, 0.0, 0.0),
}
CLOSED_JOINTS = {
    "wrap": (1.8, 0.0, 1.5, 1.3) * 3 + (1.6, 0.3, 1.0, 1.0),
    "pinch": (1.4, 0.0, 1.0, 0.8) * 2 + (0.1, 0.0, 0.1, 0.1) + (1.5, 0.3, 0.8, 0.8),
}
FINGER_LINKS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16))


@dataclasses.dataclass(frozen=True)
class InitConfig:
    """Initialisation settings (metres, radians). num_per_part: poses per (part, mode); the paper uses 5000."""

    num_per_part: int = 64
    standoff: tuple = (0.004, 0.012)  # palm-centre gap beyond the surface, uniform range
    cone_jitter: float = 0.26  # max tilt of the approach direction (rad, ~15 deg)
    roll_jitter: float = 0.26  # max roll about the approach direction (rad)
    joint_jitter: float = 0.05  # joint sigma as a fraction of each joint's range (open and closed poses)
    closure_levels: int = 24  # closure steps tried per finger between the open and closed poses
    closure_margin: float = 0.003  # a finger stops closing when its surface gets this close to the object
    min_part_size: float = 0.015  # parts whose largest extent is below this are too small for the hand
    max_grasp_width: float = 0.13  # parts whose smallest extent exceeds this are too big to wrap or pinch
    max_face_span: float = 0.12  # disk faces wider than this are grasped at the rim
    max_table_span: float = 0.20  # on a table: parts wider than this in every horizontal direction are too big
    ray_length: float = 0.4
    min_elevation: float = 0.0  # rad: approach directions at least this far above the table's horizontal
    pinch_centred: bool = True  # pinch: centre the closed pinch (thumb, index, middle pads) on the target point
    max_rounds: int = 16  # rejection-sampling rounds for table-compatible approach directions
    handles_from_above: bool = True  # on a table, L parts that stick out sideways: palm above the bar's bend
    placement: str = "rule"  # "rule": the part class's rule; "surface": exploration along the part's normals

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"InitConfig.placement must be one of {PLACEMENTS}, got {self.placement!r}")


@dataclasses.dataclass(frozen=True)
class PartSpec:
    """One part's geometry (object frame): class, centroid (3,), axes (3, 3) columns by decreasing extent,
    extents (3,), the object's centre (3,), and the table's up normal (3,) (None: no table)."""

    part_class: str
    centroid: np.ndarray
    axes: np.ndarray
    extents: np.ndarray
    object_center: np.ndarray
    table_up: np.ndarray | None = None
    grip: np.ndarray | None = None  # (3,) an L part's target from above (`grip_point`), None: the L rule's
    samples: tuple | None = None  # (points (S, 3), outward normals (S, 3)) of the part's surface: "surface" placement

    @classmethod
    def from_processed(cls, obj, part_id: int, table_up=None, handles_from_above: bool = False,
                       samples: bool = False) -> "PartSpec":
        mine = np.asarray(obj.surface_part_ids) == part_id if samples else None
        spec = cls(obj.part_classes[part_id], np.asarray(obj.part_centroids[part_id], np.float64),
                   np.asarray(obj.part_axes[part_id], np.float64), np.asarray(obj.part_extents[part_id], np.float64),
                   np.zeros(3), None if table_up is None else np.asarray(table_up, np.float64),
                   samples=None if mine is None else (np.asarray(obj.surface_points, np.float64)[mine],
                                                      np.asarray(obj.surface_normals, np.float64)[mine]))
        up, out = spec.table_up, spec.outward()
        if handles_from_above and spec.part_class == "L" and up is not None and abs(out @ up) < np.sqrt(0.5):
            spec = dataclasses.replace(spec, grip=grip_point(obj, part_id, _unit(_unit(out - (out @ up) * up) + up)))
        return spec

    def outward(self) -> np.ndarray:
        """The L rule's approach (3,): the depth axis A1 oriented away from the object centre."""
        return self.axes[:, 1] * (1.0 if self.axes[:, 1] @ (self.centroid - self.object_center) >= 0 else -1.0)


def grip_point(obj, part_id: int, direction: np.ndarray, band: float = 0.003) -> np.ndarray:
    """A point (3,) inside a thin part's bar (object frame, m): the mean of its surface samples within `band` of its
    farthest extent along unit `direction` (3,), moved back by half its thinnest extent (a tube's radius). (A loop
    handle's box centre lies in the opening; halfway between outward and up this is on the bar's outer bend.)"""
    pts = np.asarray(obj.surface_points, np.float64)[np.asarray(obj.surface_part_ids) == part_id]
    depth = pts @ direction
    return pts[depth >= depth.max() - band].mean(0) - 0.5 * float(np.min(obj.part_extents[part_id])) * direction


def _unit(v):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _perp(d, rng):
    """A random unit vector orthogonal to each row of d."""
    r = _unit(rng.normal(size=d.shape))
    return _unit(r - np.sum(r * d, -1, keepdims=True) * d)


def _rotate(v, axis, angle):
    """Rodrigues rotation of rows v about unit rows `axis` by `angle` (N,)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * np.sum(axis * v, -1, keepdims=True) * (1 - c)


def _rule(part: PartSpec, n: int, rng: np.random.Generator, cfg: InitConfig):
    """Targets p (n, 3), approach directions d (n, 3) and finger directions x (n, 3) of the part's class rule,
    before jitter."""
    A, e, c = part.axes, part.extents, part.centroid
    up = c - part.object_center
    up = _unit(up) if np.linalg.norm(up) > 1e-3 else np.array([0.0, 0.0, 1.0])
    sign = lambda: rng.choice([-1.0, 1.0], size=(n, 1))  # noqa: E731
    p = np.repeat(c[None], n, 0)
    if part.part_class == "shaft":
        phi = rng.uniform(0, 2 * np.pi, n)[:, None]
        d = np.cos(phi) * A[:, 1] + np.sin(phi) * A[:, 2]
        x = sign() * np.cross(A[:, 0], d)
        p = p + rng.uniform(-0.35, 0.35, (n, 1)) * e[0] * A[:, 0]
    elif part.part_class == "lid":
        d = np.repeat(up[None], n, 0)
        x = _perp(d, rng)
    elif part.part_class == "disk":
        facing = part.table_up if part.table_up is not None and abs(A[:, 2] @ part.table_up) > 0.3 else up
        normal = A[:, 2] * (1.0 if A[:, 2] @ facing >= 0 else -1.0)
        if e[0] <= cfg.max_face_span:
            d = np.repeat(normal[None], n, 0)
            x = _perp(d, rng)
        else:
            phi = rng.uniform(0, 2 * np.pi, n)[:, None]
            r = np.cos(phi) * A[:, 0] + np.sin(phi) * A[:, 1]
            p = p + 0.45 * e[0] * r
            d = _unit(r + normal)
            x = -r
    elif part.part_class == "L":
        d = np.repeat((part.outward() if part.grip is None else part.table_up)[None], n, 0)
        x = sign() * A[:, 2]
        if part.grip is not None:
            p = np.repeat(part.grip[None], n, 0)
    else:
        raise ValueError(f"part class must be one of {PART_CLASSES}, got {part.part_class!r}")
    return p, d, x


def _surface_rule(part: PartSpec, n: int, rng: np.random.Generator, cfg: InitConfig):
    """Exploration: p = random surface samples of the part (`part.samples`), d = their outward normals, x uniform
    about d. On a table the samples whose normal points more than ~12 deg below the horizontal are left out (the
    free half-space test in `placement` would reject most of them)."""
    points, normals = part.samples
    if len(points) == 0:
        raise ValueError("surface placement: the part has no surface samples")
    usable = np.ones(len(points), bool) if part.table_up is None else normals @ part.table_up >= -0.2
    idx = rng.choice(np.flatnonzero(usable) if usable.any() else np.arange(len(points)), n)
    d = _unit(normals[idx])
    return points[idx], d, _perp(d, rng)


def placement(part: PartSpec, n: int, rng: np.random.Generator, cfg: InitConfig):
    """Targets p (m, 3), approach directions d (m, 3) and finger directions x (m, 3) of the part's class rule (or
    of the surface exploration, `cfg.placement`), jittered; with a table only directions from its free half-space
    (m = n, or 0 if the rule has none)."""
    rule = _surface_rule if cfg.placement == "surface" else _rule
    kept, count = [], 0
    for _ in range(cfg.max_rounds if part.table_up is not None else 1):
        p, d, x = rule(part, n, rng, cfg)
        tilt_axis = _perp(d, rng)  # jitter: tilt d inside a cone, roll x about d
        d = _unit(_rotate(d, tilt_axis, rng.uniform(0, cfg.cone_jitter, n)))
        x = _unit(x - np.sum(x * d, -1, keepdims=True) * d)
        x = _rotate(x, d, rng.uniform(-cfg.roll_jitter, cfg.roll_jitter, n))
        ok = np.ones(n, bool) if part.table_up is None else d @ part.table_up >= np.sin(cfg.min_elevation)
        kept.append((p[ok], d[ok], x[ok]))
        count += int(ok.sum())
        if count >= n:
            break
    p, d, x = (np.concatenate(a) for a in zip(*kept))
    if len(p) == 0:
        return p, d, x
    idx = np.arange(n) % len(p)  # cycle when the free half-space is narrow
    return p[idx], d[idx], x[idx]


def _surface_hit(grid, p, d, length: float, samples: int = 161):
    """Distance t along each ray p + t d of the outermost point inside the object (0 if none is)."""
    t = np.linspace(0.0, length, samples)
    pts = p[:, None, :] + t[None, :, None] * d[:, None, :]
    sdf = np.asarray(sdf_grid_query(grid, jnp.asarray(pts.reshape(-1, 3), jnp.float32))).reshape(len(p), samples)
    inside = sdf < 0
    return np.where(inside.any(1), np.max(np.where(inside, t[None], 0.0), 1), 0.0)


def initial_poses(obj, part_id: int, mode: str, n: int, rng: np.random.Generator,
                  cfg: InitConfig, table_plane=None, grid=None) -> Float[Array, "N 25"]:
    """N part-aligned initial poses (translation 3, rot6d 6, joints 16), object frame, as a float32 numpy array.

    obj: a ProcessedObject (part_* fields and sdf). table_plane: (up (3,), offset) of the table top in the object
    frame (None: no table): the open hand is lifted clear of it and fingers stop closing before they reach it.
    grid: the object's SDF grid to query (default obj.sdf); synthesis passes its padded grid
    (`energy.synth_object`), whose fixed shape lets every object share one compilation.
    Call `part_failure` first (with the same table_plane); this function assumes a valid part.
    """
    grid = obj.sdf if grid is None else grid
    h = hand.load_hand()
    up, offset = (np.array([0.0, 0.0, 1.0]), -1e3) if table_plane is None else table_plane
    part = PartSpec.from_processed(obj, part_id, None if table_plane is None else up, cfg.handles_from_above,
                                   samples=cfg.placement == "surface")
    p, d, x = placement(part, n, rng, cfg)
    if cfg.placement == "surface" and mode == "pinch":  # the target inside the part: the pinch closes around it
        p = p - min(0.5 * float(np.min(part.extents)), 0.01) * d
    y = np.cross(d, x)
    rot = np.stack([x, y, d], axis=-1)  # columns: hand x, y, z in the object frame
    if mode == "pinch" and cfg.pinch_centred:  # the closed pinch's centre on the target: tips close around it
        translation = p - rot @ pinch_centre_local()
    else:  # the palm centre just outside the surface along the approach
        t_hit = _surface_hit(grid, p, d, cfg.ray_length)
        gap = rng.uniform(*cfg.standoff, n)
        translation = p + (t_hit + gap)[:, None] * d - rot @ h.site_pos["palm_center"]
    span = h.joint_upper - h.joint_lower
    q_open = np.asarray(OPEN_JOINTS[mode]) + rng.normal(size=(n, 16)) * cfg.joint_jitter * span
    q_closed = np.asarray(CLOSED_JOINTS[mode]) + rng.normal(size=(n, 16)) * cfg.joint_jitter * span
    q_open, q_closed = (np.clip(v, h.joint_lower, h.joint_upper) for v in (q_open, q_closed))
    rot6d = np.asarray(matrix_to_rot6d(jnp.asarray(rot)))
    for _ in range(3):  # back the open hand off along d until all of it clears the object
        clear = np.asarray(_clearance(jnp.asarray(translation, jnp.float32), jnp.asarray(rot6d, jnp.float32),
                                      jnp.asarray(q_open, jnp.float32), grid))
        translation = translation + np.maximum(cfg.closure_margin - clear, 0.0)[:, None] * d
    table = (jnp.asarray(up, jnp.float32), jnp.float32(offset))
    low = np.asarray(_table_clearance(jnp.asarray(translation, jnp.float32), jnp.asarray(rot6d, jnp.float32),
                                      jnp.asarray(q_open, jnp.float32), *table))
    translation = translation + np.maximum(cfg.closure_margin - low, 0.0)[:, None] * np.asarray(up)[None]
    level = np.asarray(_closure_levels(jnp.asarray(translation, jnp.float32), jnp.asarray(rot6d, jnp.float32),
                                       jnp.asarray(q_open, jnp.float32), jnp.asarray(q_closed, jnp.float32), grid,
                                       *table, cfg.closure_levels, cfg.closure_margin))
    finger_of_joint = np.repeat(np.arange(4), 4)
    s = level[:, finger_of_joint]
    q = q_open + s * (q_closed - q_open)
    pose = np.concatenate([translation, rot6d, q], axis=-1)
    return pose.astype(np.float32)


@functools.lru_cache(maxsize=None)
def pinch_centre_local() -> np.ndarray:
    """Where the pinch closes (3,): the mean of the thumb, index and middle pads at the pinch mode's closed
    joints, in the hand (palm) frame. About 4 cm in front of the palm centre."""
    with jax.ensure_compile_time_eval():
        frames = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), jnp.asarray(CLOSED_JOINTS["pinch"], jnp.float32))
        pads = hand.site_positions(frames, ("th_pad", "if_pad", "mf_pad"))
    return np.asarray(pads, np.float64).mean(0)


@jax.jit
def _clearance(translation, rot6d, joints, grid):
    """Minimum object SDF (m) over the hand's surface points, per pose (n,)."""
    def one(t, r6, q):
        pts, _ = hand.surface_points(hand.forward_kinematics(t, rot6d_to_matrix(r6), q))
        return jnp.min(sdf_grid_query(grid, pts))
    return jax.vmap(one)(translation, rot6d, joints)


@jax.jit
def _table_clearance(translation, rot6d, joints, up, offset):
    """Height (m) of the hand's lowest primitive point above the table plane, per pose (n,)."""
    def one(t, r6, q):
        return jnp.min(primitive_heights(hand.forward_kinematics(t, rot6d_to_matrix(r6), q), up, offset))
    return jax.vmap(one)(translation, rot6d, joints)


@functools.partial(jax.jit, static_argnames=("num_levels",))
def _closure_levels(translation, rot6d, q_open, q_closed, grid, up, offset, num_levels: int, margin: float):
    """Per finger, the largest closure s in [0, 1] (of num_levels steps) such that the finger's surface stays more
    than `margin` from the object and above the table plane (up . p = offset), and overlaps no other part of the
    hand, at every step up to s ("close until contact"). Returns (n, 4)."""
    h = hand.load_hand()
    levels = jnp.linspace(0.0, 1.0, num_levels)
    finger_masks = np.stack([np.isin(h.surface_link, links) for links in FINGER_LINKS])  # (4, S)

    _, _, pairs = penetration_spheres(hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), jnp.zeros(16)))
    pair_links = h.sphere_link[pairs]  # (P, 2)
    pair_masks = np.stack([np.isin(pair_links, links).any(1) for links in FINGER_LINKS])  # (4, P)

    def clearance(t, r6, qo, qc, s):
        frames = hand.forward_kinematics(t, rot6d_to_matrix(r6), qo + s * (qc - qo))
        pts, _ = hand.surface_points(frames)
        d = jnp.minimum(sdf_grid_query(grid, pts), pts @ up - offset)  # gap to the object or the table
        object_gap = jnp.min(jnp.where(finger_masks, d[None], jnp.inf), axis=1)  # (4,)
        overlap = jnp.max(jnp.where(pair_masks, hand.self_penetration(frames)[None], 0.0), axis=1)  # (4,)
        return jnp.where(overlap > 0, -jnp.inf, object_gap)  # a finger also stops before hitting the hand

    per = jax.vmap(lambda t, r6, qo, qc: jax.vmap(lambda s: clearance(t, r6, qo, qc, s))(levels))
    free = per(translation, rot6d, q_open, q_closed) > margin  # (n, L, 4)
    steps = jnp.sum(jnp.cumprod(free, axis=1), axis=1)  # leading collision-free levels per finger
    return levels[jnp.clip(steps - 1, 0, num_levels - 1)]
