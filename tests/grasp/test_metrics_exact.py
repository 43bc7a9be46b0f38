"""Reported penetration, contact distance and Q1 (`grasp.metrics`) against an independent dense recomputation.

The oracle shares only the hand's forward kinematics and primitive list with the code under test. Object side:
trimesh's even surface samples plus the mesh's edges every 0.25 mm, against NumPy box/capsule distances written
here. Hand side: trimesh meshes of the primitives sampled every ~0.5 mm (plus their edges and corners), against
`trimesh.proximity.signed_distance`. Contacts: `trimesh.proximity.closest_point` + its sign; Q1 with qhull
(`q1.q1_reference`, itself tested against hand checks in test_q1.py). Objects: a box (sharp edges, coarse SDF grid,
where grid normals are wrong) and a cylinder; grasps: part-aligned initial poses pushed 3 mm into the object.
"""
import dataclasses

import numpy as np
import pytest
import trimesh

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import build_sdf_grid
from dexvlg_jax.geometry.primitives import BOX
from dexvlg_jax.grasp import metrics as M
from dexvlg_jax.grasp import q1 as q1_lib
from dexvlg_jax.grasp.energy import synth_object
from dexvlg_jax.grasp.init import InitConfig, initial_poses
from dexvlg_jax.objects.reference_shapes import cylinder_object

NUM = 3  # grasps per object


def _box_object():
    """A 10 x 6 x 4 cm box (12 triangles: sharp edges) with a coarse 16-node grid, as big objects get."""
    m = trimesh.creation.box(extents=(0.06, 0.04, 0.10))
    base = cylinder_object(num_points=256, resolution=16)
    pts, fid = trimesh.sample.sample_surface_even(m, 256, seed=0)
    return dataclasses.replace(
        base, name="box", vertices=m.vertices.astype(np.float32), faces=m.faces.astype(np.int32),
        face_part_ids=np.zeros(len(m.faces), np.int32), surface_points=pts.astype(np.float32),
        surface_normals=m.face_normals[fid].astype(np.float32), surface_part_ids=np.zeros(len(pts), np.int32),
        sdf=build_sdf_grid(m.vertices, m.faces, resolution=16), part_extents=np.array([[0.10, 0.06, 0.04]]))


def _pushed_poses(obj, seed):
    """Part-aligned wrap poses with the hand moved 3 mm towards the object's centre (some penetration)."""
    poses = initial_poses(obj, 0, "wrap", NUM, np.random.default_rng(seed), InitConfig(num_per_part=NUM))
    t = poses[:, :3]
    poses[:, :3] = t - 0.003 * t / np.linalg.norm(t, axis=1, keepdims=True)
    return poses


def _primitive_depth_numpy(points, centre, rot, kind, size):
    """Depth (m, >= 0) of world points inside one box/capsule (independent NumPy formulas)."""
    local = (points - centre) @ rot
    if kind == BOX:
        q = np.abs(local) - size
        sdf = np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)
    else:
        z = np.clip(local[:, 2], -size[1], size[1])
        sdf = np.linalg.norm(local - np.stack([0 * z, 0 * z, z], 1), axis=1) - size[0]
    return np.maximum(-sdf, 0.0)


def _sample_edges(mesh, spacing):
    a, b = mesh.vertices[mesh.edges_unique[:, 0]], mesh.vertices[mesh.edges_unique[:, 1]]
    n = np.ceil(np.linalg.norm(b - a, axis=1) / spacing).astype(int) + 1
    return np.concatenate([a[i] + np.linspace(0, 1, n[i])[:, None] * (b[i] - a[i]) for i in range(len(a))])


def _oracle(obj, pose, mode):
    """(pen_mm, hand_pen_mm, contact_mm (C,), q1) of one grasp, recomputed densely and independently."""
    h = hand.load_hand()
    mesh = trimesh.Trimesh(obj.vertices, obj.faces, process=False)
    frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
    centres, rots = (np.asarray(a, np.float64) for a in hand.primitive_frames(frames))
    link_pos, link_rot = np.asarray(frames.pos, np.float64), np.asarray(frames.rot, np.float64)
    even, _ = trimesh.sample.sample_surface_even(mesh, int(mesh.area / 0.7e-3 ** 2), seed=1)
    obj_pts = np.concatenate([even, _sample_edges(mesh, 2.5e-4), mesh.vertices])
    obj_pen = max(_primitive_depth_numpy(obj_pts, centres[g], rots[g], h.geom_kind[g], h.geom_size[g]).max()
                  for g in range(len(h.geom_kind)))
    lo, hi = mesh.bounds[0] - 0.005, mesh.bounds[1] + 0.005
    hand_pts = []
    for g, kind in enumerate(h.geom_kind):
        size = h.geom_size[g]
        prim = (trimesh.creation.box(extents=2 * size) if kind == BOX
                else trimesh.creation.capsule(height=2 * size[1], radius=size[0], count=[48, 48]))
        pts = np.concatenate([trimesh.sample.sample_surface_even(prim, int(prim.area / 0.5e-3 ** 2), seed=2)[0],
                              _sample_edges(prim, 2.5e-4) if kind == BOX else np.zeros((0, 3))])
        in_link = pts @ h.geom_rot[g].T + h.geom_pos[g]  # primitive frame -> link frame
        same = np.flatnonzero((h.geom_link == h.geom_link[g]) & (np.arange(len(h.geom_kind)) != g))
        for o in same:  # the hand's surface: drop points inside another primitive of the same link
            keep = _primitive_depth_numpy(in_link, h.geom_pos[o], h.geom_rot[o], h.geom_kind[o], h.geom_size[o]) <= 1e-9
            in_link = in_link[keep]
        world = in_link @ link_rot[h.geom_link[g]].T + link_pos[h.geom_link[g]]
        hand_pts.append(world[np.all((world > lo) & (world < hi), axis=1)])
    hand_pts = np.concatenate(hand_pts)
    hand_pen = max(0.0, trimesh.proximity.signed_distance(mesh, hand_pts).max()) if len(hand_pts) else 0.0
    x = np.asarray(hand.contact_sites(frames, mode), np.float64)
    closest, dist, _ = trimesh.proximity.closest_point(mesh, x)
    inside = trimesh.proximity.signed_distance(mesh, x) > 0  # trimesh: positive inside
    outward = (x - closest) / dist[:, None] * np.where(inside, -1.0, 1.0)[:, None]
    touching = dist * 1e3 < M.FilterConfig().contact_threshold_mm
    q1 = q1_lib.q1_reference(x[touching], -outward[touching]) if touching.sum() >= 2 else 0.0
    return max(obj_pen, hand_pen) * 1e3, hand_pen * 1e3, dist * 1e3, q1


@pytest.fixture(scope="module", params=["box", "cylinder"])
def case(request):
    obj = _box_object() if request.param == "box" else cylinder_object(0.03, 0.16, num_points=256, resolution=20)
    poses = _pushed_poses(obj, seed=3)
    modes = np.array(["wrap"] * NUM)
    metrics = M.grasp_metrics(poses, synth_object(obj), obj, modes, np.zeros(NUM, np.int32), screen=False)
    oracle = [_oracle(obj, poses[i], "wrap") for i in range(NUM)]
    return request.param, obj, poses, metrics, oracle


def test_penetration_matches_dense_oracle(case):
    name, _, _, m, oracle = case
    pen, hand_pen = np.array([o[0] for o in oracle]), np.array([o[1] for o in oracle])
    print(f"\n{name}: pen reported {np.round(m['pen_mm'], 3)} oracle {np.round(pen, 3)}; "
          f"hand-in-object reported {np.round(m['hand_pen_mm'], 3)} oracle {np.round(hand_pen, 3)}")
    assert pen.max() > 0.5  # the pushed grasps do penetrate: the comparison has something to measure
    np.testing.assert_allclose(m["pen_mm"], pen, atol=0.2)
    # The hand side alone is sampled every 1.5 mm; where an object edge pokes into a hand face its depth falls off
    # linearly from a ridge, so it may read up to ~(1.5 / 2) mm * slope low there (0.29 mm on the box). pen_mm is
    # then carried by the object side (the edge itself is sampled), as the line above checks.
    assert np.all(m["hand_pen_mm"] <= hand_pen + 0.2) and np.all(m["hand_pen_mm"] >= hand_pen - 0.5)


def test_contacts_and_q1_match_exact_oracle(case):
    name, _, _, m, oracle = case
    dist = np.stack([o[2] for o in oracle])
    q1 = np.array([o[3] for o in oracle])
    print(f"\n{name}: q1 reported {np.round(m['q1'], 4)} oracle {np.round(q1, 4)}")
    np.testing.assert_allclose(m["contact_mm"], dist, atol=1e-3)  # float32 exact distance vs trimesh float64
    np.testing.assert_allclose(m["q1"], q1, atol=0.01)


def _edge_contacts(rng, count):
    """`count` 4-contact sets on the box (half extents 3, 2, 5 cm): each contact 0-3 mm outside a random vertical
    edge or a face next to it, so the closest surface point is often an edge (the exact normal is then the
    direction from the edge)."""
    half = np.array([0.03, 0.02, 0.05])
    x = np.zeros((count, 7, 3))
    for i in range(count):
        for c in range(4):
            sx, sy = (1, 1) if c == 0 else (-1, 1) if c == 1 else (-1, -1) if c == 2 else (1, -1)
            along = rng.uniform(-0.004, 0.003, 2)  # negative: on the face, that far from the edge
            x[i, c] = [sx * (half[0] + along[0]), sy * (half[1] + along[1]), rng.uniform(-0.04, 0.04)]
            inside = along < 0
            if inside.all():  # both inside: push out through the nearer face
                k = int(np.argmax(along))
                x[i, c, k] = [sx, sy][k] * (half[k] + rng.uniform(0, 0.003))
    x[:, 4:] = np.nan
    return x


def test_q1_at_box_edges_matches_trimesh_normals_not_grid_normals():
    """Contacts at a box's edges: exact-normal Q1 agrees with trimesh closest-point normals + qhull within 0.01,
    while the SDF-grid normals (what the metrics used before) give Q1 off by more than that on some grasps."""
    from dexvlg_jax.grasp.energy import object_normals

    obj = _box_object()
    exact = M.exact_object(obj, spacing_mm=3.0)
    x = _edge_contacts(np.random.default_rng(0), 16)
    dist, normals, _, q1 = M.contact_metrics(x, ["pinch"] * len(x), exact)
    mesh = trimesh.Trimesh(obj.vertices, obj.faces, process=False)
    oracle, grid_q1 = np.zeros(len(x)), np.zeros(len(x))
    for i in range(len(x)):
        closest, d, _ = trimesh.proximity.closest_point(mesh, x[i, :4])
        sign = np.where(trimesh.proximity.signed_distance(mesh, x[i, :4]) > 0, -1.0, 1.0)[:, None]
        inward = -(x[i, :4] - closest) / d[:, None] * sign
        np.testing.assert_allclose(dist[i, :4], d * 1e3, atol=1e-3)
        # float32: the direction from a surface point microns away is good to ~1e-2 (0.6 deg), enough for Q1.
        np.testing.assert_allclose(normals[i, :4], inward, atol=1e-2)
        oracle[i] = q1_lib.q1_reference(x[i, :4], inward)
        grid_q1[i] = q1_lib.q1_reference(x[i, :4], -np.asarray(object_normals(obj.sdf, x[i, :4])))
    print(f"\nbox edges: Q1 exact {np.round(q1, 3)}\n oracle {np.round(oracle, 3)}\n grid {np.round(grid_q1, 3)}")
    assert (oracle > 0).sum() >= 4
    np.testing.assert_allclose(q1, oracle, atol=0.01)
    assert np.abs(grid_q1 - oracle).max() > 0.01


def test_exact_object_samples_cover_the_surface():
    obj = _box_object()
    exact = M.exact_object(obj, spacing_mm=1.5)
    mesh = trimesh.Trimesh(obj.vertices, obj.faces, process=False)
    probe, _ = trimesh.sample.sample_surface(mesh, 20000, seed=4)
    gap, _ = exact.tree.query(probe)
    assert gap.max() < 1.5e-3 / np.sqrt(2) + 1e-6  # every surface point within spacing / sqrt(2) of a sample
    _, on_surface, _ = trimesh.proximity.closest_point(mesh, exact.samples[::50])
    assert on_surface.max() < 1e-6


def test_degenerate_faces_give_finite_samples():
    """A repaired mesh can keep faces with a repeated vertex (a zero-length edge) or three collinear vertices: the
    samples stay finite and on the mesh (a 0/0 there once failed a whole object with "data must be finite")."""
    vertices = np.array([[0, 0, 0], [0.01, 0, 0], [0, 0.01, 0], [0.02, 0, 0]], float)
    faces = np.array([[0, 1, 2], [0, 0, 1], [0, 1, 3]])  # a triangle, a repeated vertex, a collinear sliver
    points, owner = M.surface_grid_samples(vertices, faces, 1.5e-3)
    assert np.isfinite(points).all() and set(owner.tolist()) <= {0, 1, 2}
    assert np.all(points[:, 2] == 0) and points[:, 1].min() >= -1e-9 and (points[:, :2].sum(1) <= 0.02 + 1e-7).all()
    assert np.isclose(points[:, 0].max(), 0.02)  # the sliver's far end is sampled


def test_screened_metrics_with_no_grasp_left_to_measure(case):
    """Hands 1 m from the object fail the contact screen, so no grasp gets the dense penetration measurement:
    the metrics still return (NaN depths) instead of failing on the empty selection."""
    _, obj, poses, _, _ = case
    far = poses.copy()
    far[:, :3] += 1.0
    m = M.grasp_metrics(far, synth_object(obj), obj, np.array(["wrap"] * NUM), np.zeros(NUM, np.int32))
    assert np.all(np.isnan(m["pen_mm"])) and np.all(np.isnan(m["hand_pen_mm"]))
