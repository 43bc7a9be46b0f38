"""Grasp-synthesis energies for one hand pose against one object (vmap over grasps).

All quantities are in the **object frame** (metres; the object's SDF grid and surface points live there).
A pose is the flat 25-vector of `hand.pose_from_vector`: translation (3), rot6d (6), 16 joints (rad).

    E = E_fc + w_dis E_dis + w_limit E_limit + w_pen E_pen + w_hpen E_hpen + w_spen E_spen + w_dir E_dir
        + w_table E_table

* Contacts: the mode's **fixed** contact set (`hand.contact_sites`; wrap = 4 pads + palm + index/middle medial
  pads = 7, pinch = thumb/index/middle pads + palm = 4), not DexGraspNet's resampled candidates: the modes name
  the contacts, and a fixed set makes part agreement and LP-DFC forces meaningful per finger. Hand contact
  normals (outward from the hand) are the pads' palmar directions.
* E_fc: DFC `||G c||^2` or LP-DFC `||G (f* c)||^2` with f* from the batched LP (stop-gradient), both from
  `dexvlg_jax.grasp.force_closure`; c = the object's inward unit normal at each contact (-grad sdf).
* E_dis = sum_i |sdf(x_i)| over contacts (trilinear object SDF grid); E_dir = sum_i (1 - cos(n_hand_i, -grad
  sdf(x_i))): each contact pad faces into the object.
* E_pen = sum over object surface points p and hand primitives g of max(0, -sdf_g(p)) (exact box/capsule SDF);
  each primitive is tested only against its K nearest object points (`culling.near_object_points`, refreshed by the
  optimiser every block of iterations): 34 K evaluations instead of 34 N.
* E_hpen = sum over hand surface points of max(0, -sdf_obj(h)) (hand points in the object's SDF grid).
* E_spen = sum of self-penetration sphere-pair overlaps (m); E_limit = sum of joint-limit violations (rad).
  Optionally (`EnergyConfig.hand_points_per_block`, `sphere_pairs_per_block`) the optimiser sums these only over
  the hand points deepest in the object and the closest sphere pairs at each refresh (`culling.near_hand_points`,
  `near_sphere_pairs`; exact there). Off by default: builds with them covered fewer thin-part wraps (grasp/NOTES.md,
  "The time bar"), though a mere change of rounding did too ("Coverage that a rounding can move").
* E_part = sum_i max(0, min_j |x_i - p_j| - PART_TOLERANCE) over contacts x_i and the target part's surface
  samples p_j: contacts are pulled onto the instructed part (else contacts on a cap or a lid drift onto the larger
  part next to it); zero when part < 0. The optimiser tests each contact only against its K nearest part samples
  (`culling.near_part_points`, refreshed with the E_pen sets; exact at every refresh): 7 K distances instead of 7 N.
* E_table = sum over hand primitives g of max(0, clearance - low_g): low_g is the exact height above the table top
  of the primitive's lowest point (box: u.c - sum_i |u.a_i| h_i; capsule: u.c - |u.a_z| l - r, with u the table's
  up normal in the object frame); zero when the object has no table (`SynthObject.table_offset` far below).
"""
from __future__ import annotations

import dataclasses
import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import SDFGrid, sdf_grid_query
from dexvlg_jax.geometry.primitives import BOX, primitive_sdf, safe_norm, squared_distances
from dexvlg_jax.grasp import force_closure as fc
from dexvlg_jax.hand import constants
from dexvlg_jax.hand.kinematics import penetration_spheres

FC_KINDS = ("dfc", "lp_dfc")
TERMS = ("fc", "dis", "pen", "hpen", "spen", "limit", "dir", "table", "part")
PART_TOLERANCE = 0.01  # m: a contact within this of a target-part surface sample is on the part (E_part free)
NO_TABLE_OFFSET = -1e3  # m: a table plane this far below leaves E_table and table metrics at zero
TABLE_CLEARANCE = 0.002  # m: E_table keeps every hand primitive this far above the table top


@dataclasses.dataclass(frozen=True)
class EnergyWeights:
    """Weights of the energy terms (E_fc has weight `fc`, 1 in the paper). Defaults follow DexGraspNet
    (100 E_dis + 100 E_pen + 1 E_joints) plus our hand-in-object and direction terms, except E_spen: DexGraspNet's
    10 (per metre of overlap) left 6 mm finger-finger overlaps on thin handles; 1000 removes them (NOTES.md)."""

    fc: float = 1.0        # force closure (DFC or LP-DFC)
    dis: float = 100.0     # contact points to the surface
    pen: float = 100.0     # object surface points inside the hand
    hpen: float = 100.0    # hand points inside the object
    spen: float = 1000.0   # hand self-penetration
    limit: float = 1.0     # joint limits
    dir: float = 1.0       # approach direction
    table: float = 1000.0  # hand below the table top
    part: float = 100.0    # contacts off the target part


@dataclasses.dataclass(frozen=True)
class EnergyConfig:
    """What the energy is: mode ('wrap'|'pinch'), E_fc kind ('dfc'|'lp_dfc'), weights, speed knobs."""

    mode: str = "wrap"
    fc_kind: str = "lp_dfc"
    weights: EnergyWeights = EnergyWeights()
    points_per_primitive: int = 16  # object points tested against each hand primitive (E_pen culling)
    hand_point_stride: int = 1  # keep every n-th of the 1040 hand surface points for E_hpen
    part_points_per_contact: int = 16  # target-part samples tested against each contact (E_part culling; 0 = all)
    hand_points_per_block: int = 0  # E_hpen culling: the hand points deepest at each refresh (0 = all 1040)
    sphere_pairs_per_block: int = 0  # E_spen culling: the active sphere pairs closest at each refresh (0 = all)


@flax.struct.dataclass
class SynthObject:
    """What synthesis needs of an object, as device arrays (object frame, metres).

    sdf: trilinear SDF grid (negative inside). points (N, 3), normals (N, 3): surface samples (outward).
    part_ids (N,): part of each surface sample. table_up (3,), table_offset (): the table top in the object frame,
    height(p) = table_up . p - table_offset (`scene.Tabletop.table_plane`); offset NO_TABLE_OFFSET = no table.
    """

    sdf: SDFGrid
    points: Float[Array, "N 3"]
    normals: Float[Array, "N 3"]
    part_ids: Array
    table_up: Float[Array, "3"]
    table_offset: Float[Array, ""]


def pad_sdf_values(values: np.ndarray, spacing: float, shape: tuple) -> np.ndarray:
    """Grow an SDF grid (keeping its origin) to `shape` nodes: a new node gets the value at the nearest old node
    plus its distance to that node (the same extension `sdf_grid_query` uses outside the box), so the field is
    unchanged inside the old box. Lets every object share one grid shape (one compilation)."""
    values = np.asarray(values, np.float32)
    if any(n < m for n, m in zip(shape, values.shape)):
        raise ValueError(f"SDF grid {values.shape} is larger than the padded shape {shape}")
    idx = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    near = [np.minimum(i, m - 1) for i, m in zip(idx, values.shape)]
    dist = spacing * np.sqrt(sum((i - j) ** 2 for i, j in zip(idx, near)))
    return (values[tuple(near)] + dist).astype(np.float32)


def synth_object(processed, num_points: int | None = None, grid_shape: tuple | None = None,
                 tabletop=None) -> SynthObject:
    """A `ProcessedObject` -> `SynthObject`.

    tabletop: the `scene.Tabletop` the object rests on (synthesis then keeps the hand above its table); None: none.
    num_points: keep exactly this many surface samples (evenly strided, or cycled when there are fewer).
    grid_shape: pad the SDF grid to at least this node shape (see `pad_sdf_values`). Fixed sizes mean one compilation
    for all objects.
    """
    pts, nrm, pid = processed.surface_points, processed.surface_normals, processed.surface_part_ids
    if num_points is not None:
        idx = (np.linspace(0, len(pts) - 1, num_points).round().astype(int) if num_points <= len(pts)
               else np.arange(num_points) % len(pts))
        pts, nrm, pid = pts[idx], nrm[idx], pid[idx]
    values = np.asarray(processed.sdf.values, np.float32)
    if grid_shape is not None:  # never crop: a larger grid only costs one more compilation
        shape = tuple(max(int(a), int(b)) for a, b in zip(grid_shape, values.shape))
        values = pad_sdf_values(values, float(processed.sdf.spacing), shape)
    grid = SDFGrid(origin=jnp.asarray(processed.sdf.origin, jnp.float32),
                   spacing=jnp.asarray(processed.sdf.spacing, jnp.float32), values=jnp.asarray(values))
    up, offset = (np.array([0.0, 0.0, 1.0]), NO_TABLE_OFFSET) if tabletop is None else tabletop.table_plane()
    return SynthObject(sdf=grid, points=jnp.asarray(pts, jnp.float32), normals=jnp.asarray(nrm, jnp.float32),
                       part_ids=jnp.asarray(pid, jnp.int32), table_up=jnp.asarray(up, jnp.float32),
                       table_offset=jnp.asarray(offset, jnp.float32))


def primitive_reach(along: Float[Array, "... 3"], size: Float[Array, "... 3"], is_box) -> Float[Array, "..."]:
    """How far (m) a hand primitive extends from its centre along a unit direction d, exactly: along = |d . a_j|
    for its local axes a_j, size = its `geom_size` row (box: half-extents; capsule: radius, half-length along a_2)."""
    return jnp.where(is_box, jnp.sum(along * size, -1), along[..., 2] * size[..., 1] + size[..., 0])


def primitive_heights(frames: hand.LinkFrames, up: Float[Array, "3"], offset: Float[Array, ""]) -> Float[Array, "G"]:
    """Exact height (m) above the plane up . p = offset of each hand primitive's lowest point (negative: below)."""
    h = hand.load_hand()
    centre, rot = hand.primitive_frames(frames)
    along = jnp.abs(jnp.einsum("i,gij->gj", up, rot))  # (G, 3): |u . a_j| per local axis
    reach = primitive_reach(along, jnp.asarray(h.geom_size, jnp.float32), jnp.asarray(h.geom_kind == BOX))
    return centre @ up - offset - reach


def contact_site_names(mode: str) -> tuple:
    if mode not in constants.MODES:
        raise ValueError(f"mode must be one of {constants.MODES}, got {mode!r}")
    return constants.WRAP_CONTACT_SITES if mode == "wrap" else constants.PINCH_CONTACT_SITES


def site_normal_local(name: str) -> np.ndarray:
    """Outward (palmar) normal of a contact site in its link frame."""
    h = hand.load_hand()
    link_name = constants.LINK_NAMES[h.site_link[name]]
    key = link_name if link_name in constants.PALMAR_DIRECTION else link_name.split("_")[-1]
    return np.asarray(constants.PALMAR_DIRECTION[key], np.float32)


MAX_CONTACTS = max(len(constants.WRAP_CONTACT_SITES), len(constants.PINCH_CONTACT_SITES))


@flax.struct.dataclass
class ContactSet:
    """A mode's contact set as data (link frames): link (C,) link index, position (C, 3) and outward normal (C, 3)
    in that link's frame (metres), valid (C,) bool. Padded to `MAX_CONTACTS` (padding rows repeat the first contact
    and are not valid), every mode has one shape, so an energy that takes the set as an argument compiles once for
    all modes; invalid contacts add nothing to E_fc, E_dis, E_dir and E_part."""

    link: Array
    position: Float[Array, "C 3"]
    normal: Float[Array, "C 3"]
    valid: Array


def contact_set(mode: str, padded: bool = False, palm_free: bool = False) -> ContactSet:
    """The mode's contact set (`contact_site_names`), padded to `MAX_CONTACTS` rows if `padded` (numpy arrays).
    palm_free: for a pinch, mark the palm row not valid (the optimiser pulls only the three pads onto the part; the
    filter's count of 3 touching contacts of 4 never needed the palm)."""
    names = contact_site_names(mode)
    h = hand.load_hand()
    rows = np.arange(MAX_CONTACTS if padded else len(names)) % len(names)
    valid = np.arange(len(rows)) < len(names)
    if mode == "pinch" and palm_free:
        valid &= np.array([names[i] != "palm_center" for i in rows])
    return ContactSet(link=np.array([h.site_link[names[i]] for i in rows], np.int32),
                      position=np.stack([h.site_pos[names[i]] for i in rows]).astype(np.float32),
                      normal=np.stack([site_normal_local(names[i]) for i in rows]), valid=valid)


def stacked_contact_sets(mode: str, palm_free) -> ContactSet:
    """Per-grasp padded contact sets (G, MAX_CONTACTS, ...) of one mode; palm_free (G,) bool per grasp."""
    sets = {f: contact_set(mode, padded=True, palm_free=f) for f in (False, True)}
    return jax.tree.map(lambda *a: np.stack(a), *[sets[bool(f)] for f in palm_free])


def as_contact_set(mode) -> ContactSet:
    """A mode name (unpadded set) or a `ContactSet` (as given)."""
    return mode if isinstance(mode, ContactSet) else contact_set(mode)


def hand_contacts(frames: hand.LinkFrames, mode):
    """Contact positions (C, 3) and outward hand normals (C, 3) of a mode ('wrap' / 'pinch' or a `ContactSet`)."""
    cs = as_contact_set(mode)
    return (hand.link_points_to_world(frames, cs.link, cs.position),
            hand.link_vectors_to_world(frames, cs.link, cs.normal))


def object_normals(grid: SDFGrid, points: Float[Array, "P 3"]) -> Float[Array, "P 3"]:
    """Outward unit normals of the object at (near-surface) points: normalised SDF-grid gradient."""
    grad = jax.vmap(jax.grad(lambda p: sdf_grid_query(grid, p[None])[0]))(points)
    return grad / jnp.maximum(safe_norm(grad)[:, None], 1e-9)


def primitive_penetration(frames: hand.LinkFrames, near: Float[Array, "Gp K 3"]) -> Float[Array, "Gp K"]:
    """Depth (m, >= 0) of each primitive's near object points inside that primitive (exact box/capsule SDF).

    Written on one (Gp, K) array per coordinate, as `hand.primitive_distances` is (XLA does not vectorise a trailing
    axis of 3)."""
    h = hand.load_hand()
    centre, rot = hand.primitive_frames(frames)  # (Gp, 3), (Gp, 3, 3) primitive-to-world
    offset = [near[..., j] - centre[:, j, None] for j in range(3)]  # world offsets, 3 x (Gp, K)
    local = tuple(sum(offset[j] * rot[:, j, i, None] for j in range(3)) for i in range(3))  # primitive frame
    size = jnp.asarray(h.geom_size, near.dtype).T[:, :, None]  # (3, Gp, 1)
    return jax.nn.relu(-primitive_sdf(local, jnp.asarray(h.geom_kind)[:, None], size))


@functools.lru_cache(maxsize=None)
def active_sphere_pairs(num_samples: int = 2048, margin: float = 0.005, seed: int = 0) -> np.ndarray:
    """Self-penetration sphere pairs (indices into `hand.self_penetration`'s pairs) that come within `margin`
    metres of touching in any of `num_samples` uniform random joint configurations (cached; ~1/4 of all pairs).
    E_spen sums only these (speed); the self-penetration metric uses all pairs."""
    h = hand.load_hand()
    rng = np.random.default_rng(seed)
    q = rng.uniform(h.joint_lower, h.joint_upper, (num_samples, len(h.joint_lower))).astype(np.float32)

    def gaps(joints):
        frames = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), joints)
        centres, radius, pairs = penetration_spheres(frames)
        d = jnp.linalg.norm(centres[pairs[:, 0]] - centres[pairs[:, 1]], axis=-1)
        return d - radius[pairs[:, 0]] - radius[pairs[:, 1]]

    with jax.ensure_compile_time_eval():  # may be first called while tracing an energy
        min_gap = np.asarray(jnp.min(jax.jit(jax.vmap(gaps))(jnp.asarray(q)), axis=0))
    return np.flatnonzero(min_gap < margin)


def active_pair_overlaps(frames: hand.LinkFrames, subset: Array | None = None) -> Float[Array, "P"]:
    """Overlaps r_i + r_j - |c_i - c_j| (m, < 0 apart) of the `active_sphere_pairs` (or the `subset` of them)."""
    centres, radius, pairs = penetration_spheres(frames)
    pairs = jnp.asarray(pairs[active_sphere_pairs()])
    pairs = pairs if subset is None else pairs[subset]
    return radius[pairs[:, 0]] + radius[pairs[:, 1]] - safe_norm(centres[pairs[:, 0]] - centres[pairs[:, 1]])


def self_penetration_active(frames: hand.LinkFrames, subset: Array | None = None) -> Float[Array, "P"]:
    """Overlap depths (m, >= 0) of the `active_sphere_pairs` (hand.self_penetration's formula); subset: see above."""
    return jax.nn.relu(active_pair_overlaps(frames, subset))


def energy_terms(pose: Float[Array, "25"], obj: SynthObject, near_points: Float[Array, "Gp K 3"], mode,
                 fc_kind: str = "dfc", face: Array | None = None, hand_point_stride: int = 1,
                 part: Array | int = -1, near_part=None, hand_points=None, sphere_pairs=None) -> dict:
    """Every energy term (scalars, unweighted) of one pose; see the module docstring for definitions.

    Returns {name: scalar for name in TERMS} plus "forces" (C,): the contact-force magnitudes used in E_fc
    (ones for DFC, 0 at invalid contacts) and "face" (): the LP-DFC face (contact with f = 1; -1 for DFC).
    mode: 'wrap' / 'pinch', or a `ContactSet` (data: with `contact_set(mode, padded=True)` one trace serves every
    mode). face: LP-DFC warm start: solve only this face's LP (None: all C faces, the exact problem).

    near_points: (Gp, K, 3) object points per hand primitive (`culling.near_object_points(pose, obj, K)`).
    hand_point_stride: keep every n-th hand surface point for E_hpen (1 keeps all 1040). part: target part id; -1 none.
    near_part: `culling.near_part_points(pose, obj, mode, part, K)` (culled E_part) or None (every part sample).
    hand_points, sphere_pairs: `culling.near_hand_points` / `near_sphere_pairs` (culled E_hpen / E_spen) or None (all).
    """
    contacts = as_contact_set(mode)
    valid = jnp.asarray(contacts.valid)
    frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
    x, n_hand = hand_contacts(frames, contacts)
    d = sdf_grid_query(obj.sdf, x)
    n_obj = object_normals(obj.sdf, x)
    inward = -n_obj
    if fc_kind == "dfc":
        forces, best = valid.astype(x.dtype), jnp.asarray(-1, jnp.int32)
    elif fc_kind == "lp_dfc":
        sol = fc.lp_dfc_forces(x, inward, k=face, valid=valid)  # stop-gradient inside: f* is a constant
        forces, best = sol.forces, sol.face.astype(jnp.int32)
    else:
        raise ValueError(f"fc_kind must be one of {FC_KINDS}, got {fc_kind!r}")
    terms = {"fc": fc.lp_dfc_energy(x, inward, forces), "dis": jnp.sum(jnp.where(valid, jnp.abs(d), 0.0)),
             "forces": forces, "face": best}
    terms["pen"] = jnp.sum(primitive_penetration(frames, near_points))
    h = hand.load_hand()
    if hand_points is None:  # every stride-th point, grouped by link (fast: `hand.grouped_points_to_world`)
        groups = hand.surface_point_groups(hand_point_stride)
        hpts, counted = hand.grouped_points_to_world(frames, groups).reshape(-1, 3), groups.valid.reshape(-1)
    else:
        link, local = jnp.asarray(h.surface_link)[hand_points], jnp.asarray(h.surface_pos)[hand_points]
        hpts, counted = hand.link_points_to_world(frames, link, local), True
    terms["hpen"] = jnp.sum(jnp.where(counted, jax.nn.relu(-sdf_grid_query(obj.sdf, hpts)), 0.0))
    terms["spen"] = jnp.sum(self_penetration_active(frames, sphere_pairs))
    q = pose[9:]
    lower, upper = jnp.asarray(h.joint_lower, jnp.float32), jnp.asarray(h.joint_upper, jnp.float32)
    terms["limit"] = jnp.sum(jax.nn.relu(q - upper) + jax.nn.relu(lower - q))
    terms["dir"] = jnp.sum(jnp.where(valid, 1.0 - jnp.sum(n_hand * inward, -1), 0.0))
    low = primitive_heights(frames, obj.table_up, obj.table_offset)
    terms["table"] = jnp.sum(jax.nn.relu(TABLE_CLEARANCE - low))
    terms["part"] = part_distance(x, obj, part, near_part, valid)
    return terms


def part_distance(contacts: Float[Array, "C 3"], obj: SynthObject, part: Array | int,
                  near_part=None, valid=None) -> Float[Array, ""]:
    """E_part: sum over contacts of how far (m) beyond PART_TOLERANCE the nearest surface sample of `part` is;
    0 when part < 0 or the part has no samples. near_part: (points (C, K, 3), valid (C, K)) from
    `culling.near_part_points` to search only those samples; None: all N. valid: (C,) contacts that count (None all)."""
    if near_part is None:
        d2 = squared_distances(contacts, obj.points)  # (C, N)
        on_part = obj.part_ids[None] == part
    else:
        d2 = jnp.sum((contacts[:, None, :] - near_part[0]) ** 2, -1)  # (C, K)
        on_part = near_part[1]
    nearest = jnp.sqrt(jnp.min(jnp.where(on_part, d2, jnp.inf), axis=1) + 1e-12)
    counts = jnp.isfinite(nearest) if valid is None else jnp.isfinite(nearest) & valid
    excess = jnp.where(counts, jax.nn.relu(nearest - PART_TOLERANCE), 0.0)
    return jnp.where(jnp.asarray(part) >= 0, jnp.sum(excess), 0.0)


def total_energy(terms: dict, weights: EnergyWeights) -> Float[Array, ""]:
    """Weighted sum of `energy_terms`; a non-finite total becomes +inf-like (1e10) so Metropolis rejects it."""
    e = sum(getattr(weights, name) * terms[name] for name in TERMS)
    return jnp.where(jnp.isfinite(e), e, 1e10)


def grasp_energy(pose: Float[Array, "25"], obj: SynthObject, near_points: Float[Array, "Gp K 3"], mode: str,
                 weights: EnergyWeights, fc_kind: str = "dfc", hand_point_stride: int = 1) -> Float[Array, ""]:
    """Total energy of one pose (scalar); differentiate with `jax.value_and_grad`, batch with `jax.vmap`."""
    return total_energy(energy_terms(pose, obj, near_points, mode, fc_kind, None, hand_point_stride), weights)
