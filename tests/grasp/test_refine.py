"""Test-time refinement and ranking against observed geometry (grasp/refine.py).

The observation is a point cloud of the tests' cylinder shaft (radius 3 cm, 20 cm tall, axis z: tests/sim/cases.py)
standing on a table at z = -0.1 (object frame), plus, for the frame check, the dataset shaft rendered by the data
engine's own code with a yawed, off-centre placement. One refinement call (2 observations x 4 poses, 12 steps) serves
most tests (one compilation); float32 throughout, tolerances stated where used.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax import hand
from dexvlg_jax.grasp import refine as R
from dexvlg_jax.grasp.energy import primitive_heights
from tests.sim import cases

TABLE_UP, TABLE_OFFSET = np.array([0.0, 0.0, 1.0]), -cases.HALF_HEIGHT  # table top under the shaft's base
CONFIG = R.RefineConfig(steps=12, num_points=256)
GOOD = np.concatenate([cases.GOOD_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1],
                       cases.GOOD_JOINTS]).astype(np.float32)
LOWER, UPPER = hand.load_hand().joint_lower, hand.load_hand().joint_upper


def cylinder_cloud(n_around: int = 16, n_up: int = 12) -> np.ndarray:
    """Points on the shaft's side and top (what a camera above the table could see of it), a regular grid."""
    theta = np.linspace(0, 2 * np.pi, n_around, endpoint=False)
    z = np.linspace(-cases.HALF_HEIGHT, cases.HALF_HEIGHT, n_up)
    t, zz = np.meshgrid(theta, z)
    side = np.stack([cases.RADIUS * np.cos(t), cases.RADIUS * np.sin(t), zz], -1).reshape(-1, 3)
    r = np.linspace(0, cases.RADIUS, 4)[1:]
    rr, tt = np.meshgrid(r, theta)
    top = np.stack([rr * np.cos(tt), rr * np.sin(tt), np.full_like(rr, cases.HALF_HEIGHT)], -1).reshape(-1, 3)
    return np.concatenate([side, top])


def scene():
    return R.observed_scene(cylinder_cloud(), np.eye(4), TABLE_UP, TABLE_OFFSET, CONFIG.num_points,
                            CONFIG.min_height)


def lowest_height(pose) -> float:
    frames = hand.forward_kinematics(*hand.pose_from_vector(jnp.asarray(pose)))
    return float(jnp.min(primitive_heights(frames, jnp.asarray(TABLE_UP, jnp.float32), jnp.float32(TABLE_OFFSET))))


def penetration(pose, sc=None) -> float:
    return float(R.observed_terms(jnp.asarray(pose), sc or scene(), jnp.asarray(R.contact_mask("wrap")),
                                  CONFIG)["pen"])


def below_table_pose() -> np.ndarray:
    """The hand 15 cm beside the shaft (no contact with it), lowered until its lowest primitive is 4 mm under the
    table top."""
    pose = GOOD.copy()
    pose[:3] += np.array([0.0, -0.15, 0.0])
    pose[2] -= lowest_height(pose) + 0.004
    return pose


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    perturbed = np.repeat(GOOD[None], 4, 0)
    perturbed[:, :3] += rng.normal(0, 0.01, (4, 3))
    perturbed[:, 9:] = np.clip(perturbed[:, 9:] + rng.normal(0, 0.1, (4, 16)), LOWER, UPPER)
    out_of_range = GOOD.copy()
    out_of_range[9:] = np.where(np.arange(16) % 2 == 0, UPPER + 0.3, LOWER - 0.3)
    deep = GOOD.copy()
    deep[:3] = [-0.04, 0.0, 0.035]  # cases.mixed_set()'s "deep_inside"
    poses = np.stack([perturbed, np.stack([below_table_pose(), out_of_range, GOOD, deep])]).astype(np.float32)
    sc = scene()
    scenes = R.stack_scenes([sc, sc])
    masks = jnp.asarray(np.stack([R.contact_mask("wrap"), R.contact_mask("pinch")]))
    refined, info = R.refine_poses(jnp.asarray(poses), scenes, masks, CONFIG)
    return {"poses": poses, "scenes": scenes, "masks": masks, "refined": np.asarray(refined),
            "info": {k: np.asarray(v) for k, v in info.items()}}


def test_shapes_and_modes(case):
    assert case["refined"].shape == (2, 4, 25) and np.all(np.isfinite(case["refined"]))
    assert all(v.shape == (2, 4) for v in case["info"].values())
    assert R.contact_mask("wrap").sum() == 7 and R.contact_mask("pinch").sum() == 4
    with pytest.raises(ValueError, match="mode"):
        R.contact_mask("grip")


def test_refinement_never_increases_observed_penetration(case):
    """Per pose, the observed-point penetration (recomputed here, not read from the info) does not grow (float32:
    1e-6 m of summed depth), and on the perturbed poses it falls to under a quarter in total."""
    before = np.array([[penetration(p) for p in row] for row in case["poses"]])
    after = np.array([[penetration(p) for p in row] for row in case["refined"]])
    assert np.all(after <= before + 1e-6), (before, after)
    assert before[0].sum() > 0.01, before  # the perturbations do penetrate the cloud (summed depth, m)
    assert after[0].sum() < 0.25 * before[0].sum(), (before[0], after[0])
    assert after[1, 3] < 0.5 * before[1, 3]  # the deep pose (palm inside the shaft) moves out
    np.testing.assert_allclose(case["info"]["pen_after"], after, atol=1e-6)


def test_joints_stay_in_range(case):
    q = case["refined"][..., 9:]
    assert np.all(q >= LOWER - 1e-6) and np.all(q <= UPPER + 1e-6)
    assert np.any(case["poses"][1, 1, 9:] > UPPER) and np.any(case["poses"][1, 1, 9:] < LOWER)


def test_rotation_stays_a_clean_6d(case):
    rot = np.asarray(hand.pose_from_vector(jnp.asarray(case["refined"][0, 0]))[1])
    np.testing.assert_allclose(case["refined"][0, 0, 3:9], np.r_[rot[:, 0], rot[:, 1]], atol=1e-6)
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-5)


def test_deterministic(case):
    again, info = R.refine_poses(jnp.asarray(case["poses"]), case["scenes"], case["masks"], CONFIG)
    np.testing.assert_array_equal(np.asarray(again), case["refined"])
    np.testing.assert_array_equal(np.asarray(info["energy_after"]), case["info"]["energy_after"])


def test_table_term_lifts_a_hand_below_the_table(case):
    before, after = lowest_height(case["poses"][1, 0]), lowest_height(case["refined"][1, 0])
    assert before == pytest.approx(-0.004, abs=1e-5)
    assert after >= 0.0, (before, after)  # 12 steps of ~1 mm reach 4 mm under the table + the 2 mm clearance
    terms = R.observed_terms(jnp.asarray(case["refined"][1, 0]), scene(), case["masks"][1], CONFIG)
    assert float(terms["table"]) < 1e-3


def test_energy_decreases(case):
    assert np.all(case["info"]["energy_after"] <= case["info"]["energy_before"] + 1e-6)
    assert case["info"]["energy_after"][0].sum() < 0.5 * case["info"]["energy_before"][0].sum()


@pytest.mark.parametrize("which", ["good", "deep", "below_table", "out_of_range"])
def test_gradients_finite(which):
    pose = {"good": GOOD, "below_table": below_table_pose(), "deep": np.r_[-0.04, 0.0, 0.035, GOOD[3:]],
            "out_of_range": np.r_[GOOD[:9], UPPER + 0.3]}[which]
    sc = R.observed_scene(cylinder_cloud()[:100], np.eye(4), TABLE_UP, TABLE_OFFSET, 128)  # 28 padded slots
    grad = jax.grad(R.observed_energy)(jnp.asarray(pose, jnp.float32), sc, jnp.asarray(R.contact_mask("wrap")),
                                       CONFIG)
    assert np.all(np.isfinite(np.asarray(grad))) and float(jnp.abs(grad).sum()) > 0, grad


def test_ranking_puts_the_non_penetrating_pose_first():
    deep = np.r_[-0.04, 0.0, 0.035, GOOD[3:]].astype(np.float32)
    shifted = GOOD.copy()
    shifted[:3] += [0.0, 0.012, 0.0]  # 12 mm toward the shaft: fingers and palm inside it
    candidates = np.stack([deep, shifted, GOOD])[None]
    assert penetration(deep) > 0.01 and penetration(shifted) > penetration(GOOD)
    order, energy = R.rank_poses(candidates, R.stack_scenes([scene()]), R.contact_mask("wrap")[None], CONFIG)
    assert order.shape == (1, 3) and energy.shape == (1, 3)
    assert order[0, 0] == 2, (order, energy)  # the known-good grasp first
    assert np.all(np.diff(energy[0, order[0]]) >= 0)  # best (lowest energy) first


def test_observed_scene_keeps_object_points_only():
    """Table points (at most min_height above the plane) are dropped; padding is marked invalid; a camera ->
    object transform with a non-identity rotation is applied as p_obj = R p_cam + t."""
    rng = np.random.default_rng(1)
    table = np.c_[rng.uniform(-0.3, 0.3, (50, 2)), np.full(50, TABLE_OFFSET + 0.001)]
    cloud = np.concatenate([cylinder_cloud(), table])
    yaw = 0.7
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    camera_to_object = np.eye(4)
    camera_to_object[:3, :3], camera_to_object[:3, 3] = rot, [0.1, -0.2, 0.05]
    points_camera = (cloud - camera_to_object[:3, 3]) @ rot  # = R^T (p - t)
    sc = R.observed_scene(points_camera, camera_to_object, TABLE_UP, TABLE_OFFSET, 400)
    valid = np.asarray(sc.valid) > 0
    expected = cylinder_cloud()[cylinder_cloud()[:, 2] > TABLE_OFFSET + 0.003]  # the base ring touches the table
    assert valid.sum() == len(expected) == len(cylinder_cloud()) - 16
    np.testing.assert_allclose(np.asarray(sc.points)[valid], expected, atol=1e-6)
    strided = R.observed_scene(points_camera, camera_to_object, TABLE_UP, TABLE_OFFSET, 64)
    assert np.asarray(strided.valid).sum() == 64


def test_rendered_observation_lies_on_the_object():
    """The evaluation path: the data engine renders the dataset shaft (yawed 1.2 rad, off-centre), the depth is
    back-projected and mapped to the object frame (eval.policies.view_observations): every kept point lies on the
    shaft's surface (the 16-gon prism: radius 2.9-3.0 cm, |z| <= 10 cm; 2 mm tolerance for the 64 px depth); with
    mirror completion the same points come first and their reflections lie on the hidden half (2 mm, as above)."""
    from dexvlg_jax.data import pipeline
    from dexvlg_jax.eval.policies import view_observations
    from dexvlg_jax.scene import place_object
    from tests.eval import tiny_dataset

    obj = tiny_dataset.shaft_object("shaft_1")
    yaw, xy = tiny_dataset.PLACEMENTS["shaft_1"]
    tabletop = place_object(obj, yaw=yaw, xy=xy)
    config = pipeline.DatasetConfig(image_size=tiny_dataset.IMAGE_SIZE, views_per_object=1)
    intrinsics, extrinsics, out = pipeline.render_views(obj, tabletop, config, np.random.default_rng(0))
    (sc,) = view_observations(tabletop_scene(obj, tabletop), intrinsics, extrinsics, np.asarray(out.depth),
                              R.RefineConfig(num_points=512))
    pts = np.asarray(sc.points)[np.asarray(sc.valid) > 0]
    assert len(pts) > 30
    radius = np.linalg.norm(pts[:, :2], axis=1)
    on_side = np.abs(radius - cases.RADIUS) < 0.002
    on_top = np.abs(pts[:, 2] - cases.HALF_HEIGHT) < 0.002
    assert np.all(on_side | on_top), pts[~(on_side | on_top)][:5]
    assert np.all(np.abs(pts[:, 2]) <= cases.HALF_HEIGHT + 0.002)
    (mirrored,) = view_observations(tabletop_scene(obj, tabletop), intrinsics, extrinsics, np.asarray(out.depth),
                                    R.RefineConfig(num_points=512, mirror=True, mirror_weight=0.5))
    np.testing.assert_array_equal(np.asarray(mirrored.points)[:512], np.asarray(sc.points))
    back = np.asarray(mirrored.points)[512:][np.asarray(mirrored.valid)[512:] == 0.5]
    assert len(back) > len(pts) // 3
    radius = np.linalg.norm(back[:, :2], axis=1)  # the upright shaft's hidden half: within 2 mm of its surface
    error = np.where(np.abs(back[:, 2] - cases.HALF_HEIGHT) < 0.002, np.maximum(radius - cases.RADIUS, 0),
                     np.abs(radius - cases.RADIUS))
    assert error.max() < 0.002, error.max()


def tabletop_scene(obj, tabletop):
    from dexvlg_jax.eval.conditions import EvalScene

    return EvalScene(object_id="shaft_1", obj=obj, tabletop=tabletop, split="train", grasps={})


def test_contact_term_matches_nearest_point_distances():
    """The contact term = sum over the mode's sites of min(distance to the nearest observed point, cap): checked
    against NumPy on the known-good grasp, for both modes and a small cap."""
    pts = cylinder_cloud()
    sc = R.observed_scene(pts, np.eye(4), TABLE_UP, TABLE_OFFSET, 400)
    kept = pts[pts[:, 2] > TABLE_OFFSET + 0.003]
    frames = hand.forward_kinematics(*hand.pose_from_vector(jnp.asarray(GOOD)))
    sites = np.asarray(hand.site_positions(frames, R.CONTACT_SITES), np.float64)
    nearest = np.linalg.norm(sites[:, None] - kept[None], axis=-1).min(1)
    for mode in ("wrap", "pinch"):
        for cap in (0.02, 0.005):
            config = R.RefineConfig(contact_cap=cap)
            got = float(R.observed_terms(jnp.asarray(GOOD), sc, jnp.asarray(R.contact_mask(mode)), config)["contact"])
            want = float(np.sum(R.contact_mask(mode) * np.minimum(nearest, cap)))
            assert got == pytest.approx(want, abs=1e-5), (mode, cap, got, want)


def visible(points: np.ndarray, normals: np.ndarray, camera: np.ndarray) -> np.ndarray:
    return points[np.sum(normals * (camera - points), -1) > 0]


def camera_at(azimuth: float, distance: float = 0.8) -> np.ndarray:
    """A camera 45 deg above the table, looking at the object frame's origin from `azimuth` (rad)."""
    c = distance * np.cos(np.pi / 4)
    return np.array([c * np.cos(azimuth), c * np.sin(azimuth), distance * np.sin(np.pi / 4)])


@pytest.mark.parametrize("azimuth", [0.3, 2.0, -2.6])
def test_mirror_completes_the_hidden_half_of_an_upright_cylinder(azimuth):
    """The visible side and top of an upright cylinder (radius 4 cm, 20 cm, dense random samples) mirrored: the
    reflections lie on the cylinder's hidden surface (within 1 mm: the plane comes from the samples' front-most
    point and lateral extent, both within a sample spacing of the true ones) and behind the visible half."""
    rng = np.random.default_rng(0)
    r, h = 0.04, 0.2
    theta, z = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(0, h, 4000)
    side, side_n = np.c_[r * np.cos(theta), r * np.sin(theta), z], np.c_[np.cos(theta), np.sin(theta), 0 * z]
    rho, phi = r * np.sqrt(rng.uniform(0, 1, 1000)), rng.uniform(0, 2 * np.pi, 1000)
    top = np.c_[rho * np.cos(phi), rho * np.sin(phi), np.full(1000, h)]
    camera = camera_at(azimuth)
    seen = np.r_[visible(side, side_n, camera), visible(top, np.tile([0, 0, 1.0], (1000, 1)), camera)]
    back = R.mirror_points(seen, camera, np.array([0.0, 0.0, 1.0]))
    assert len(back) > len(seen) // 2
    radius = np.hypot(back[:, 0], back[:, 1])
    on_top = np.abs(back[:, 2] - h) < 1e-9
    error = np.where(on_top, np.maximum(radius - r, 0.0), np.abs(radius - r))
    assert error.max() < 0.001, error.max()
    toward = (camera[:2] / np.linalg.norm(camera[:2]))
    assert np.median(back[~on_top, :2] @ toward) < -0.02  # the far side, seen from the camera


def test_observed_scene_with_mirror_layout():
    """With mirror on: 2 x num_points slots, observed points first (valid 1, seen 1), their reflections next
    (valid = mirror_weight, seen 0), padding last; the contact term ignores the reflections."""
    pts = cylinder_cloud()
    camera_to_object = np.eye(4)
    camera_to_object[:3, 3] = [0.6, 0.0, 0.5]  # camera position in the object frame; points are camera frame
    pts_camera = pts - camera_to_object[:3, 3]
    sc = R.observed_scene(pts_camera, camera_to_object, TABLE_UP, TABLE_OFFSET, 400, mirror=True, mirror_weight=0.5)
    assert sc.points.shape == (800, 3) and sc.valid.shape == sc.seen.shape == (800,)
    n_seen = int(np.sum(np.asarray(sc.seen)))
    assert n_seen == int(np.sum(pts[:, 2] > TABLE_OFFSET + 0.003))
    weights = np.asarray(sc.valid)
    assert np.all(weights[:n_seen] == 1.0) and np.all(np.asarray(sc.seen)[400:] == 0)
    n_back = int(np.sum(weights[400:] == 0.5))
    assert 0 < n_back <= n_seen and np.all(weights[400 + n_back:] == 0)
    plain = R.observed_scene(pts_camera, camera_to_object, TABLE_UP, TABLE_OFFSET, 400)
    mask = jnp.asarray(R.contact_mask("wrap"))
    with_mirror = R.observed_terms(jnp.asarray(GOOD), sc, mask, R.RefineConfig())
    without = R.observed_terms(jnp.asarray(GOOD), plain, mask, R.RefineConfig())
    assert float(with_mirror["contact"]) == pytest.approx(float(without["contact"]), abs=1e-6)
    assert float(with_mirror["pen"]) >= float(without["pen"]) - 1e-6


def test_visible_free_flags_what_the_depth_image_saw_through():
    """A 4 x 4 depth image (f = 2, centre (1.5, 1.5)) seeing a wall at 1 m with one background pixel: a point at
    0.5 m in front of the wall is free space, one at 1.5 m behind it is unknown, one within the 1 cm tolerance is
    not flagged, one on the background pixel is free, and one projecting outside the image is unknown."""
    depth = np.ones((4, 4))
    depth[0, 3] = 0.0  # background at pixel (u 3, v 0)
    k = np.array([[2.0, 0, 1.5], [0, 2.0, 1.5], [0, 0, 1]])

    def at(u, v, z):  # the camera-frame point at pixel (u, v), depth z
        return [(u - 1.5) * z / 2.0, (v - 1.5) * z / 2.0, z]

    pts = np.array([at(1, 1, 0.5), at(1, 1, 1.5), at(2, 2, 0.995), at(3, 0, 3.0), at(9, 1, 0.5)])
    np.testing.assert_array_equal(R.visible_free(pts, depth, k), [True, False, False, True, False])
