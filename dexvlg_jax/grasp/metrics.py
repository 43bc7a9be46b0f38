"""Grasp quality metrics (the paper's dataset table) and the filter that marks each grasp ok or failed.

These are the figures of record (grasp files, the dataset table, the README), so they are computed against the
processed object's exact mesh and the hand's exact primitives, densely, never with the optimiser's SDF grid or
its 2,048 surface samples (those stay in the energies, `grasp.energy`). Per grasp (object frame; depths in mm):
  pen_mm       penetration depth between hand and object: the larger of hand_pen_mm and obj_pen (below).
               obj_pen: max depth of the object's surface inside the hand: dense object surface samples
               (`surface_grid_samples`, every `metric_spacing_mm`, vertices and edges included) against
               the exact box/capsule SDF of the primitives (a sample is tested against the primitives whose
               bounding ball holds it: a k-d tree query, exact culling).
  hand_pen_mm  max depth of the hand's surface inside the object: the hand's collision surfaces sampled every
               `metric_spacing_mm` (box edges and corners included), exact mesh signed distance
               (`mesh_clusters.culled_signed_distance`: the brute force's values, each sample compared only with
               the triangle clusters that can hold its nearest triangle, as bounded by its nearest surface
               sample) at every sample the grid cannot rule out (`sdf_grid_bounds`: certified lower and upper
               bounds; a sample is skipped only if it cannot be inside (lower >= 0) or cannot be deeper than a
               depth another sample certainly reaches (-lower < max -upper), so the maximum is unchanged). Both are
               measured only for grasps that pass every other check (`grasp_metrics(screen=True)`, the default:
               NaN for the others), since the dense measurement is most of the cost and most candidates fail on
               contacts or Q1.
  spen_mm      self-penetration depth: max overlap of the hand's self-collision sphere pairs (all pairs).
  table_mm     hand-table penetration depth: how far the lowest hand primitive reaches below the table top
               (exact box/capsule extent, `energy.primitive_heights`; 0 without a table).
  contact_mm   (C,) exact |mesh SDF| at each contact of the mode's contact set.
  q1           Ferrari-Canny Q1 (grasp-math's convention: mu = 1, 8 cone edges, torque scale 10 / m, reference
               = object origin) of the contacts within `contact_threshold` of the surface, with the exact inward
               normals there (minus the exact SDF gradient, `mesh_sdf.mesh_closest`: at a sharp edge the
               direction from the edge, not the grid's smoothed normal); `q1.q1_reference` (qhull, the metric of
               record) or the JAX estimate.
  part_agreement  fraction of those in-contact contacts whose closest mesh triangle lies on the target part
               (1.0 = every touching contact on the instructed part; 0 when nothing touches).
  forces       (C,) LP-DFC contact-force magnitudes at the final pose (max = 1), for the force distribution.
Remaining sampling error: depths are maxima over samples `metric_spacing_mm` apart, with every sharp feature of
both bodies (mesh vertices and edges, box edges and corners) sampled. Where a depth falls off linearly from a
ridge (an object edge inside a hand face) a side can read up to ~spacing / 2 low: tests/grasp/test_metrics_exact.py
measured pen_mm within 0.16 mm of trimesh at 0.25-0.7 mm spacing (box and cylinder grasps), hand_pen_mm alone up
to 0.29 mm low. Cost (1.5 mm, 2 CPU cores, warm, idle): 128 grasps of mug_0 (1,756 triangles) in 2.2 s; it was
8.7 s before the grid's bound ruled out hand samples beyond its box and the exact distance culled triangles; the
bounds per link group (`_maybe_inside`) then took 0.08 s instead of 0.5-0.6 s per 64 grasps (2026-12-06).
"""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float
from scipy.spatial import cKDTree

from dexvlg_jax import hand
from dexvlg_jax.geometry import mesh_clusters, mesh_sdf
from dexvlg_jax.geometry.primitives import BOX, primitive_sdf
from dexvlg_jax.grasp.energy import SynthObject, hand_contacts, pad_sdf_values, primitive_heights
from dexvlg_jax.grasp import force_closure as fc
from dexvlg_jax.grasp import q1 as q1_lib
from dexvlg_jax.hand.model import _box_surface, _capsule_surface, _strictly_outside

OK = "ok"
METRICS_VERSION = "exact-1"  # grasp files record it (meta "metrics"); files without it hold grid metrics


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
    metric_spacing_mm: float = 1.5  # sample spacing on the object's and the hand's surfaces (penetration)


def shape_bucket(n: int, smallest: int = 64) -> int:
    """The padded batch size for n items: the next power of two at or above max(n, smallest). Batches of every
    object fall into a few buckets, so jitted metrics compile a few times per run instead of once per object."""
    return max(smallest, 1 << max(int(n) - 1, 0).bit_length())


def surface_grid_samples(vertices: np.ndarray, faces: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense deterministic surface samples, every surface point within about `spacing` of one: each triangle's
    edges sampled every `spacing` (vertices and edges exactly, where depth maxima at sharp features lie), plus a
    square lattice of step `spacing` in the triangle's plane (aligned with its longest edge) clipped to it, so
    slivers cost their area, not their length squared. Duplicates on shared edges are removed. Returns points
    (M, 3) float32 and the triangle index of each (M,), in the mesh's frame (metres)."""
    tri = np.asarray(vertices, np.float64)[np.asarray(faces)]
    parts, owners = [], []
    for e in range(3):  # edges a->b, b->c, c->a
        start, end = tri[:, e], tri[:, (e + 1) % 3]
        # at least both end points: a zero-length edge (a repaired mesh's degenerate face) would divide 0 by 0
        count = np.maximum(np.ceil(np.linalg.norm(end - start, axis=1) / spacing).astype(int), 1) + 1
        owner = np.repeat(np.arange(len(tri)), count)
        t = (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)) / np.repeat(count - 1, count)
        parts.append(start[owner] + t[:, None] * (end - start)[owner])
        owners.append(owner)
    lengths = np.linalg.norm(tri - np.roll(tri, -1, axis=1), axis=-1)  # edge e: vertex e -> e + 1
    longest = np.argmax(lengths, 1)
    rows = np.arange(len(tri))
    a, b, c = (tri[rows, (longest + k) % 3] for k in range(3))
    base = np.maximum(lengths[rows, longest], 1e-12)
    u = (b - a) / base[:, None]
    v = (c - a) - np.sum((c - a) * u, 1, keepdims=True) * u
    height = np.linalg.norm(v, axis=1)
    v = v / np.maximum(height, 1e-12)[:, None]
    nu = np.floor(base / spacing).astype(int) + 1
    nv = np.floor(height / spacing).astype(int) + 1
    count = nu * nv
    owner = np.repeat(rows, count)
    r = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    i, j = r // nv[owner], r % nv[owner]
    points = a[owner] + (i * spacing)[:, None] * u[owner] + (j * spacing)[:, None] * v[owner]
    # Keep lattice points inside the triangle (barycentric coordinates in the triangle's plane).
    e0, e1, rel = b - a, c - a, points - a[owner]
    d00, d01, d11 = (np.sum(x * y, 1) for x, y in ((e0, e0), (e0, e1), (e1, e1)))
    det = np.maximum(d00 * d11 - d01 ** 2, 1e-30)[owner]
    p0, p1 = np.sum(rel * e0[owner], 1), np.sum(rel * e1[owner], 1)
    beta = (d11[owner] * p0 - d01[owner] * p1) / det
    gamma = (d00[owner] * p1 - d01[owner] * p0) / det
    inside = (beta >= 0) & (gamma >= 0) & (beta + gamma <= 1)
    parts.append(points[inside])
    owners.append(owner[inside])
    points, owner = np.concatenate(parts), np.concatenate(owners)
    _, first = np.unique(np.round(points / (1e-3 * spacing)).astype(np.int64), axis=0, return_index=True)
    first = np.sort(first)
    return points[first].astype(np.float32), owner[first]


@dataclasses.dataclass(frozen=True)
class ExactObject:
    """The processed object as the exact metrics see it (object frame, metres; host arrays).

    vertices (V, 3), faces (F, 3), face_part_ids (F,): the watertight mesh. samples (M, 3): dense surface samples
    (`surface_grid_samples`) in a k-d tree `tree`. grid: the object's own SDF grid (unpadded; its nodes near the
    surface are exact), used only to rule hand samples out (`sdf_grid_bounds`).
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_part_ids: np.ndarray
    samples: np.ndarray
    tree: cKDTree
    grid: mesh_sdf.SDFGrid
    clusters: mesh_clusters.TriangleClusters


def exact_object(processed, spacing_mm: float = 1.5) -> ExactObject:
    """A `ProcessedObject` -> `ExactObject` with surface samples every `spacing_mm` (once per object)."""
    vertices = np.asarray(processed.vertices, np.float32)
    faces = np.asarray(processed.faces, np.int32)
    samples, _ = surface_grid_samples(vertices, faces, spacing_mm * 1e-3)
    return ExactObject(vertices=vertices, faces=faces, face_part_ids=np.asarray(processed.face_part_ids),
                       samples=samples, tree=cKDTree(samples), grid=_bucketed_grid(processed.sdf),
                       clusters=mesh_clusters.cluster_triangles(vertices, faces))


def _bucketed_grid(grid: mesh_sdf.SDFGrid, multiple: int = 8) -> mesh_sdf.SDFGrid:
    """The grid grown (origin kept, `pad_sdf_values`) to a cube whose side is its longest side rounded up to a
    multiple of 8 nodes, so objects of one grid resolution share one compiled `_hand_geometry`. Its bounds are
    unchanged inside the old box, and still certified outside it: a new node's value (nearest old node + distance)
    is at least the exact SDF there, so upper bounds hold, and the mesh lies inside the old box (the grid's padding),
    so whatever a lower bound says of a point outside it, the point is outside the mesh."""
    side = -(-max(grid.values.shape) // multiple) * multiple
    values = pad_sdf_values(np.asarray(grid.values), float(grid.spacing), (side,) * 3)
    return mesh_sdf.SDFGrid(origin=np.asarray(grid.origin, np.float32), spacing=np.float32(grid.spacing),
                            values=values)


@functools.lru_cache(maxsize=4)
def dense_hand_surface(spacing_mm: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """The hand's collision surfaces sampled every `spacing_mm` (the hand model's own box/capsule samplers, box
    edges and corners included; samples inside another primitive of the same link dropped): link (S,) and
    position in the link frame (S, 3), metres. ~82k samples at 1.5 mm."""
    h = hand.load_hand()
    links, points = [], []
    for i, kind in enumerate(h.geom_kind):
        size = h.geom_size[i]
        local, _ = (_box_surface(size, spacing_mm * 1e-3) if kind == BOX
                    else _capsule_surface(size[0], size[1], spacing_mm * 1e-3))
        local = local @ h.geom_rot[i].T + h.geom_pos[i]
        same = h.geom_link == h.geom_link[i]
        keep = _strictly_outside(local, h.geom_pos[same], h.geom_rot[same], h.geom_kind[same], h.geom_size[same])
        links.append(np.full(keep.sum(), h.geom_link[i]))
        points.append(local[keep])
    return np.concatenate(links), np.concatenate(points).astype(np.float32)


def _primitive_radius() -> np.ndarray:
    """(Gp,) radius of each hand primitive's bounding ball about its centre (m)."""
    h = hand.load_hand()
    size = np.asarray(h.geom_size, np.float64)
    return np.where(h.geom_kind == BOX, np.linalg.norm(size, axis=1), size[:, 0] + size[:, 1])


@jax.jit
def _hand_geometry(poses, table_up, table_offset):
    """Per grasp: link frames, primitive frames, both modes' contacts, self and table penetration (m)."""

    def one(pose):
        frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
        centre, rot = hand.primitive_frames(frames)
        spen = jnp.max(hand.self_penetration(frames))
        table = jnp.max(jax.nn.relu(-primitive_heights(frames, table_up, table_offset)))
        xw, _ = hand_contacts(frames, "wrap")
        xp, _ = hand_contacts(frames, "pinch")
        return frames.pos, frames.rot, centre, rot, xw, xp, spen, table

    return jax.lax.map(one, poses)


@functools.lru_cache(maxsize=4)
def _dense_groups(spacing_mm: float) -> hand.LinkPointGroups:
    return hand.group_link_points(*dense_hand_surface(spacing_mm))


@functools.partial(jax.jit, static_argnames=("spacing_mm",))
def _maybe_inside(frames_pos, frames_rot, grid_values, grid_origin, grid_spacing, spacing_mm: float):
    """(G, R, M) bool: which dense hand samples (`dense_hand_surface`, grouped by `_dense_groups`: the sample is
    `index[r, m]`) of each grasp (link frames (G, L, 3), (G, L, 3, 3)) the grid cannot rule out of the object's
    deepest point (certified bounds, module docstring)."""
    groups = _dense_groups(spacing_mm)

    def one(pos, rot):
        world = hand.grouped_points_to_world(hand.LinkFrames(pos, rot), groups)
        # Only the max depth is reported: a sample needs its exact distance only if the grid's bounds leave it
        # possibly inside (lower < 0) and possibly deeper than the depth some sample certainly reaches (-upper).
        lower, upper = mesh_sdf._bounds(grid_values, grid_origin, grid_spacing, *jnp.moveaxis(world, -1, 0))
        return (lower < 0.0) & (-lower >= jnp.max(-upper)) & groups.valid

    return jax.lax.map(lambda a: one(*a), (frames_pos, frames_rot))


@jax.jit
def _primitive_depth(local, kind, size):
    """Depth (m, >= 0) of local points (P, 3) inside their primitives (kind (P,), size (P, 3))."""
    return jax.nn.relu(-jax.vmap(primitive_sdf)(local, kind, size))


_CHUNK = 64  # grasps per `_hand_geometry` and per LP-DFC force call: each compiles once (the LP ~3 s)


def _pad_pow2(a: np.ndarray, smallest: int = 1024) -> np.ndarray:
    """Pad the first axis with copies of row 0 to the next power of two (a few compilations for all sizes)."""
    n = shape_bucket(len(a), smallest)
    return np.concatenate([a, np.repeat(a[:1], n - len(a), 0)]) if len(a) else np.zeros((n,) + a.shape[1:], a.dtype)


def _chunked(fn, *arrays) -> list:
    """fn over fixed chunks of `_CHUNK` rows of the arrays (the last padded with repeats: one compilation for every
    count), outputs concatenated as numpy arrays."""
    n = len(arrays[0])
    outs = []
    for i in range(0, max(n, 1), _CHUNK):
        rows = [a[i:i + _CHUNK] for a in arrays]
        padded = (np.resize(r, (_CHUNK,) + r.shape[1:]) for r in rows)
        outs.append([np.asarray(o)[:len(rows[0])] for o in fn(*padded)])
    return [np.concatenate(o) for o in zip(*outs)]


def penetration_depths(frames_pos, frames_rot, centres, rots, exact: ExactObject,
                       spacing_mm: float, active) -> tuple[np.ndarray, np.ndarray]:
    """(G,) object-in-hand and (G,) hand-in-object depths (m) from `_hand_geometry`'s outputs (module docstring);
    rows where `active` (G,) is False get 0."""
    g = len(centres)
    h = hand.load_hand()
    radius = _primitive_radius()
    # (a) object samples inside hand primitives: only samples in a primitive's bounding ball can be inside it.
    balls = exact.tree.query_ball_point(centres.reshape(-1, 3), np.outer(active, radius).reshape(-1),
                                       return_sorted=False)
    counts = np.fromiter((len(b) for b in balls), int, len(balls))
    obj_pen = np.zeros(g)
    if counts.sum():
        pair = np.repeat(np.arange(len(balls)), counts)
        sample = np.concatenate([np.asarray(b, int) for b in balls if len(b)])
        grasp_of, prim = np.divmod(pair, len(radius))
        rot = rots[grasp_of, prim]
        local = np.einsum("pji,pj->pi", rot, exact.samples[sample] - centres[grasp_of, prim])
        depth = np.asarray(_primitive_depth(_pad_pow2(local.astype(np.float32)),
                                            _pad_pow2(np.asarray(h.geom_kind)[prim]),
                                            _pad_pow2(np.asarray(h.geom_size, np.float32)[prim])))[:len(pair)]
        np.maximum.at(obj_pen, grasp_of, depth)
    # (b) hand samples inside the object: exact signed distance where the grid cannot rule the sample out.
    hand_pen = np.zeros(g)
    rows = np.flatnonzero(active)
    grid = [jnp.asarray(a, jnp.float32) for a in (exact.grid.values, exact.grid.origin, exact.grid.spacing)]
    maybe_inside, = _chunked(lambda pos, rot: [_maybe_inside(pos, rot, *grid, spacing_mm)], frames_pos[rows],
                             frames_rot[rows])
    picked, slot = np.nonzero(maybe_inside.reshape(len(rows), -1) if len(rows) else np.zeros((0, 0), bool))
    if len(picked):
        grasp_of, index = rows[picked], _dense_groups(spacing_mm).index.reshape(-1)[slot]
        link, local = dense_hand_surface(spacing_mm)
        world = frames_pos[grasp_of, link[index]] + np.einsum("pij,pj->pi", frames_rot[grasp_of, link[index]],
                                                              local[index])
        upper, _ = exact.tree.query(world)  # the nearest surface sample: a certified bound on |sdf|
        sdf = mesh_clusters.culled_signed_distance(world, exact.clusters, upper)
        np.maximum.at(hand_pen, grasp_of, np.maximum(-sdf, 0.0))
    return obj_pen, hand_pen


def contact_metrics(x: np.ndarray, modes, exact: ExactObject, cfg: FilterConfig = FilterConfig()):
    """Exact contact quantities of G grasps from their contact positions x (G, 7, 3) (object frame, m; pinch
    rows use the first 4 slots): |sdf| (G, 7) mm, inward unit normals (G, 7, 3) (minus the exact SDF gradient),
    the closest triangle's part (G, 7), and Q1 (G,) of the touching contacts (`cfg.q1_backend`)."""
    g = len(x)
    modes = np.asarray(modes).astype(str)
    sdf, outward, face = (np.asarray(a).reshape((g, 7) + np.asarray(a).shape[1:]) for a in mesh_sdf.mesh_closest(
        np.nan_to_num(x).reshape(-1, 3), exact.vertices, exact.faces))
    dist, normals, near_part = np.abs(sdf) * 1e3, -outward, exact.face_part_ids[face]
    valid_c = np.arange(7)[None] < np.where(modes == "wrap", 7, 4)[:, None]
    touching = valid_c & (dist < cfg.contact_threshold_mm)
    q1 = np.zeros(g)
    if cfg.q1_backend == "jax":
        xm = np.where(touching[..., None], x, 0.0)
        nm = np.where(touching[..., None], normals, 0.0)
        q1 = np.asarray(q1_lib.q1_metric_batch(jnp.asarray(xm, jnp.float32), jnp.asarray(nm, jnp.float32)))
    else:
        for i in range(g):
            if touching[i].sum() >= 2:
                q1[i] = q1_lib.q1_reference(x[i][touching[i]].astype(np.float64),
                                            normals[i][touching[i]].astype(np.float64))
    return dist, normals, near_part, q1


def grasp_metrics(poses: Float[Array, "G 25"], obj: SynthObject, processed, modes, part_ids,
                  cfg: FilterConfig = FilterConfig(), exact: ExactObject | None = None, screen: bool = True) -> dict:
    """Metrics of G grasps (numpy arrays keyed as in the module docstring; C padded to 7 with NaN for pinch).

    obj: the synthesis view (table plane); processed: the `ProcessedObject` (mesh, grid); exact: its
    `exact_object` if already built. modes: (G,) 'wrap'/'pinch'; part_ids: (G,) target parts. Non-finite poses
    give NaN metrics. screen: the dense penetration (most of the cost: module docstring) is measured only for
    grasps that pass every other check of `cfg`; the others get NaN pen_mm / hand_pen_mm (their failure reason is
    the other check). screen=False measures every grasp.
    """
    exact = exact_object(processed, cfg.metric_spacing_mm) if exact is None else exact
    poses = np.asarray(poses, np.float32)
    modes = np.asarray(modes).astype(str)
    finite = np.all(np.isfinite(poses), axis=1)
    safe = np.where(finite[:, None], poses, 0.0).astype(np.float32)
    safe[~finite, 3] = safe[~finite, 7] = 1.0  # identity rotation for placeholders
    g = len(poses)
    fpos, frot, centre, rot, xw, xp, spen, table = _chunked(
        lambda rows: _hand_geometry(jnp.asarray(rows), obj.table_up, obj.table_offset), safe)
    x = np.where((modes == "wrap")[:, None, None], xw,
                 np.concatenate([xp, np.full((g, xw.shape[1] - xp.shape[1], 3), np.nan, np.float32)], 1))
    dist, normals, near_part, q1 = contact_metrics(x, modes, exact, cfg)
    num_c = np.where(modes == "wrap", 7, 4)
    valid_c = np.arange(7)[None] < num_c[:, None]
    touching = valid_c & (dist < cfg.contact_threshold_mm)
    q1 = np.where(finite, q1, 0.0)
    forces = np.full((len(poses), 7), np.nan, np.float32)
    for mode, c in (("wrap", 7), ("pinch", 4)):
        sel = modes == mode
        forces[sel, :c], = _chunked(lambda xs, ns: [fc.lp_dfc_forces_batch(xs, ns).forces],
                                    np.nan_to_num(x[sel, :c]), np.nan_to_num(normals[sel, :c]).astype(np.float32))
    on_part = touching & (near_part == np.asarray(part_ids)[:, None])
    agreement = np.where(touching.sum(1) > 0, on_part.sum(1) / np.maximum(touching.sum(1), 1), 0.0)
    measured = finite
    if screen:
        need = np.where(modes == "wrap", cfg.min_contacts_wrap, cfg.min_contacts_pinch)
        measured = finite & (spen * 1e3 <= cfg.max_spen_mm) & (table * 1e3 <= cfg.max_table_mm) & \
            (touching.sum(1) >= need) & (q1 >= cfg.min_q1) & (agreement >= cfg.min_part_agreement)
    obj_pen, hand_pen = penetration_depths(fpos, frot, centre, rot, exact, cfg.metric_spacing_mm, measured)
    obj_pen, hand_pen = (np.where(measured | ~finite, d, np.nan) for d in (obj_pen, hand_pen))
    out = {"pen_mm": np.maximum(obj_pen, hand_pen) * 1e3, "hand_pen_mm": hand_pen * 1e3, "spen_mm": spen * 1e3,
           "table_mm": table * 1e3, "contact_mm": np.where(valid_c, dist, np.nan),
           "num_touching": touching.sum(1), "q1": q1, "part_agreement": agreement, "forces": forces}
    nan = ~finite
    for k in ("pen_mm", "hand_pen_mm", "spen_mm", "table_mm", "q1", "part_agreement"):
        out[k] = np.where(nan, np.nan, out[k]).astype(np.float32)
    return out


def failure_reasons(metrics: dict, modes, cfg: FilterConfig = FilterConfig(), energy=None) -> np.ndarray:
    """(G,) strings: "ok" or the first failed check ("nonfinite", "penetration", "hand_penetration",
    "self_penetration", "table_penetration", "contacts_far", "low_q1", "off_part"). A NaN penetration (not
    measured: `grasp_metrics(screen=True)`) fails no penetration check; the grasp fails another one."""
    modes = np.asarray(modes).astype(str)
    need = np.where(modes == "wrap", cfg.min_contacts_wrap, cfg.min_contacts_pinch)
    checks = [
        ("nonfinite", ~np.isfinite(metrics["spen_mm"]) | (np.zeros(len(modes), bool) if energy is None
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
