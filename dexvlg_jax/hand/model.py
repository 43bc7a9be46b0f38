"""The LEAP Hand model as arrays, parsed from the project's MJCF with `mujoco` (nothing typed twice).

`load_hand()` returns a cached `HandModel` of NumPy arrays (constants that jitted functions close over):
the kinematic tree, the collision primitives, the sites, and points sampled on the collision surfaces in
link frames (contact candidates, surface points, self-penetration spheres). Units: metres, radians.
"""
import dataclasses
import functools

import mujoco
import numpy as np

from dexvlg_jax.geometry.primitives import BOX, CAPSULE
from dexvlg_jax.hand import constants


@dataclasses.dataclass(frozen=True)
class HandModel:
    """Arrays describing the hand. L links (palm first), J = 16 joints, G primitives."""

    parent: np.ndarray  # (L,) int: parent link index, -1 for the palm
    body_pos: np.ndarray  # (L, 3): link origin in the parent frame
    body_rot: np.ndarray  # (L, 3, 3): link rotation in the parent frame
    joint_axis: np.ndarray  # (L, 3): hinge axis in the link frame (zeros for the palm)
    joint_index: np.ndarray  # (L,) int: index into the 16 joints, -1 for the palm
    joint_lower: np.ndarray  # (J,)
    joint_upper: np.ndarray  # (J,)
    geom_link: np.ndarray  # (G,) int
    geom_kind: np.ndarray  # (G,) int: BOX or CAPSULE
    geom_size: np.ndarray  # (G, 3): box half extents, or (radius, half_length, 0) for capsules
    geom_pos: np.ndarray  # (G, 3) in the link frame
    geom_rot: np.ndarray  # (G, 3, 3) in the link frame
    geom_names: tuple
    site_link: dict  # site name -> link index
    site_pos: dict  # site name -> (3,) in the link frame
    candidate_link: np.ndarray  # (C,) int: contact candidates (palmar collision surface)
    candidate_pos: np.ndarray  # (C, 3) link frame
    candidate_normal: np.ndarray  # (C, 3) link frame, outward
    surface_link: np.ndarray  # (S,) int: points on every collision surface (for penetration into the object)
    surface_pos: np.ndarray  # (S, 3)
    surface_normal: np.ndarray  # (S, 3)
    sphere_link: np.ndarray  # (K,) int: self-penetration spheres filling the primitives
    sphere_pos: np.ndarray  # (K, 3)
    sphere_radius: np.ndarray  # (K,)
    sphere_pairs: np.ndarray  # (P, 2) int: sphere pairs on links allowed to collide with each other

    @property
    def num_links(self) -> int:
        return len(self.parent)


def _box_surface(half: np.ndarray, spacing: float):
    """Grid samples on the 6 faces of a box (local frame) and their outward normals."""
    pts, nrm = [], []
    for axis in range(3):
        u, v = [a for a in range(3) if a != axis]
        nu = max(2, int(np.ceil(2 * half[u] / spacing)) + 1)
        nv = max(2, int(np.ceil(2 * half[v] / spacing)) + 1)
        gu, gv = np.meshgrid(np.linspace(-half[u], half[u], nu), np.linspace(-half[v], half[v], nv), indexing="ij")
        for sign in (-1.0, 1.0):
            p = np.zeros((gu.size, 3))
            p[:, u], p[:, v], p[:, axis] = gu.ravel(), gv.ravel(), sign * half[axis]
            n = np.zeros_like(p)
            n[:, axis] = sign
            pts.append(p)
            nrm.append(n)
    return np.concatenate(pts), np.concatenate(nrm)


def _capsule_surface(radius: float, half_length: float, spacing: float):
    """Samples on a capsule along local z: Fibonacci sphere points split over the two caps plus rings."""
    n_sphere = max(16, int(4 * np.pi * radius**2 / spacing**2))
    i = np.arange(n_sphere) + 0.5
    phi = np.arccos(1 - 2 * i / n_sphere)
    theta = np.pi * (1 + 5**0.5) * i
    dirs = np.stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)], -1)
    caps = dirs * radius + np.sign(dirs[:, 2:3]) * np.array([0.0, 0.0, half_length])
    n_ring = max(8, int(2 * np.pi * radius / spacing))
    n_z = max(2, int(np.ceil(2 * half_length / spacing)) + 1)
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    zs = np.linspace(-half_length, half_length, n_z)
    a, z = np.meshgrid(ang, zs, indexing="ij")
    ring_n = np.stack([np.cos(a.ravel()), np.sin(a.ravel()), np.zeros(a.size)], -1)
    ring_p = ring_n * radius + np.stack([np.zeros(a.size), np.zeros(a.size), z.ravel()], -1)
    return np.concatenate([caps, ring_p]), np.concatenate([dirs, ring_n])


def _strictly_outside(points, geoms_pos, geoms_rot, geoms_kind, geoms_size, tol=1e-6):
    """Mask of points (in a link frame) not inside any other primitive of the same link."""
    keep = np.ones(len(points), bool)
    for p, r, k, s in zip(geoms_pos, geoms_rot, geoms_kind, geoms_size):
        local = (points - p) @ r
        if k == BOX:
            inside = np.all(np.abs(local) < s - tol, axis=1)
        else:
            z = np.clip(local[:, 2], -s[1], s[1])
            inside = np.linalg.norm(local - np.stack([0 * z, 0 * z, z], -1), axis=1) < s[0] - tol
        keep &= ~inside
    return keep


def farthest_point_indices(points: np.ndarray, count: int) -> np.ndarray:
    """Greedy farthest-point sampling (deterministic: starts at the point farthest from the centroid)."""
    if count >= len(points):
        return np.arange(len(points))
    chosen = [int(np.argmax(np.linalg.norm(points - points.mean(0), axis=1)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(count - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.array(sorted(chosen))


def _subsample_per_link(link, pos, normal, budget):
    """Keep `budget(link)` farthest-point samples of each link's points."""
    keep = []
    for l in np.unique(link):
        idx = np.flatnonzero(link == l)
        keep.append(idx[farthest_point_indices(pos[idx], budget(int(l)))])
    keep = np.concatenate(keep)
    return link[keep], pos[keep], normal[keep]


def _palmar_direction(link_name: str) -> np.ndarray:
    key = link_name if link_name in constants.PALMAR_DIRECTION else link_name.split("_")[-1]
    return np.asarray(constants.PALMAR_DIRECTION[key])


def _spheres_for_box(half: np.ndarray):
    """Spheres along the box's longest axis, radius = the smaller of the other two half extents."""
    order = np.argsort(half)
    long_axis, radius = order[2], half[order[1]]
    n = max(1, int(np.ceil(half[long_axis] / radius)))
    centres = np.zeros((n, 3))
    centres[:, long_axis] = np.linspace(-half[long_axis] + radius, half[long_axis] - radius, n) if n > 1 else 0.0
    return centres, np.full(n, radius)


@functools.lru_cache(maxsize=None)
def load_hand(candidates_per_link: int = 6, surface_points_per_link: int = 52) -> HandModel:
    """Parse the MJCF into a `HandModel`.

    Contact candidates: `candidates_per_link` farthest-point samples of each finger link's palmar surface
    (4x as many on the palm; none on the two thumb base links): 108 in all by default. Surface points:
    `surface_points_per_link` per link
    (4x on the palm): 1040 by default. Both are dense 3 mm surface grids subsampled, so they cover each link evenly.
    """
    candidate_spacing = surface_spacing = 0.003
    m = mujoco.MjModel.from_xml_path(constants.MJCF_PATH)
    names = tuple(m.body(b).name for b in range(1, m.nbody))
    if names != constants.LINK_NAMES:
        raise ValueError(f"{constants.MJCF_PATH}: bodies {names} differ from constants.LINK_NAMES "
                         f"{constants.LINK_NAMES}")
    jnames = tuple(m.joint(j).name for j in range(m.njnt))
    if jnames != constants.JOINT_NAMES:
        raise ValueError(f"{constants.MJCF_PATH}: joints {jnames} differ from constants.JOINT_NAMES")
    L = len(names)
    parent = np.array([m.body_parentid[b + 1] - 1 for b in range(L)])
    body_rot = np.stack([np.asarray(_quat_np(m.body_quat[b + 1])) for b in range(L)])
    joint_index = np.full(L, -1)
    joint_axis = np.zeros((L, 3))
    for j in range(m.njnt):
        link = m.jnt_bodyid[j] - 1
        joint_index[link], joint_axis[link] = j, m.jnt_axis[j]
        if np.any(m.jnt_pos[j] != 0):
            raise ValueError(f"{constants.MJCF_PATH}: joint {jnames[j]} must sit at its body origin")

    geoms = [g for g in range(m.ngeom) if m.geom_contype[g] or m.geom_conaffinity[g]]
    kinds = {int(mujoco.mjtGeom.mjGEOM_BOX): BOX, int(mujoco.mjtGeom.mjGEOM_CAPSULE): CAPSULE}
    geom_kind = np.array([kinds[int(m.geom_type[g])] for g in geoms])
    geom_size = np.array([m.geom_size[g] if kinds[int(m.geom_type[g])] == BOX
                          else [m.geom_size[g][0], m.geom_size[g][1], 0]
                          for g in geoms])
    geom_link = np.array([m.geom_bodyid[g] - 1 for g in geoms])
    geom_pos = np.array([m.geom_pos[g] for g in geoms])
    geom_rot = np.stack([_quat_np(m.geom_quat[g]) for g in geoms])

    site_link = {m.site(s).name: int(m.site_bodyid[s] - 1) for s in range(m.nsite)}
    site_pos = {m.site(s).name: np.array(m.site_pos[s]) for s in range(m.nsite)}

    cand, surf, sph = ([], [], []), ([], [], []), ([], [], [])
    for i in range(len(geoms)):
        link, pos, rot = geom_link[i], geom_pos[i], geom_rot[i]
        same = geom_link == link
        for spacing, out, is_cand in ((surface_spacing, surf, False), (candidate_spacing, cand, True)):
            if geom_kind[i] == BOX:
                p, n = _box_surface(geom_size[i], spacing)
            else:
                p, n = _capsule_surface(geom_size[i][0], geom_size[i][1], spacing)
            p, n = p @ rot.T + pos, n @ rot.T
            keep = _strictly_outside(p, geom_pos[same], geom_rot[same], geom_kind[same], geom_size[same])
            if is_cand:
                if names[link] in constants.LINKS_WITHOUT_CANDIDATES:
                    continue
                keep &= n @ _palmar_direction(names[link]) > 0.5
            out[0].append(np.full(keep.sum(), link))
            out[1].append(p[keep])
            out[2].append(n[keep])
        if geom_kind[i] == BOX:
            c, r = _spheres_for_box(geom_size[i])
        else:
            c = np.array([[0, 0, -geom_size[i][1]], [0, 0, 0], [0, 0, geom_size[i][1]]])
            r = np.full(3, geom_size[i][0])
        sph[0].append(np.full(len(r), link))
        sph[1].append(c @ rot.T + pos)
        sph[2].append(r)
    palm_factor = lambda n: (lambda link: 4 * n if link == 0 else n)  # noqa: E731
    cand = _subsample_per_link(*(np.concatenate(c) for c in cand[:3]), palm_factor(candidates_per_link))
    surf = _subsample_per_link(*(np.concatenate(c) for c in surf), palm_factor(surface_points_per_link))
    sphere_link = np.concatenate(sph[0])
    sphere_pairs = _self_collision_pairs(m, sphere_link)
    return HandModel(
        parent=parent, body_pos=np.array(m.body_pos[1:]), body_rot=body_rot, joint_axis=joint_axis,
        joint_index=joint_index, joint_lower=np.array(m.jnt_range[:, 0]), joint_upper=np.array(m.jnt_range[:, 1]),
        geom_link=geom_link, geom_kind=geom_kind, geom_size=geom_size, geom_pos=geom_pos, geom_rot=geom_rot,
        geom_names=tuple(m.geom(g).name for g in geoms), site_link=site_link, site_pos=site_pos,
        candidate_link=cand[0], candidate_pos=cand[1], candidate_normal=cand[2],
        surface_link=surf[0], surface_pos=surf[1], surface_normal=surf[2],
        sphere_link=sphere_link, sphere_pos=np.concatenate(sph[1]), sphere_radius=np.concatenate(sph[2]),
        sphere_pairs=sphere_pairs,
    )


def _self_collision_pairs(m: mujoco.MjModel, sphere_link: np.ndarray) -> np.ndarray:
    """Sphere pairs whose links may collide: not the same link, not parent/child, not excluded in the MJCF."""
    excluded = set()
    for e in range(m.nexclude):
        b1, b2 = int(m.exclude_signature[e] >> 16) - 1, int(m.exclude_signature[e] & 0xFFFF) - 1
        excluded |= {(b1, b2), (b2, b1)}
    parent = m.body_parentid[1:] - 1
    i, j = np.triu_indices(len(sphere_link), k=1)
    a, b = sphere_link[i], sphere_link[j]
    ok = (a != b) & (parent[a] != b) & (parent[b] != a)
    ok &= np.array([(x, y) not in excluded for x, y in zip(a, b)], bool)
    return np.stack([i[ok], j[ok]], -1)


def _quat_np(q) -> np.ndarray:
    r = np.zeros(9)
    mujoco.mju_quat2Mat(r, np.asarray(q, float))
    return r.reshape(3, 3)
