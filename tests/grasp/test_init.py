"""Part-aligned initialisation: shapes, limits, class rules, close-until-contact, bad parts."""
import dataclasses
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax import hand
from dexvlg_jax.geometry.mesh_sdf import sdf_grid_query
from dexvlg_jax.geometry.rotations import rot6d_to_matrix
from dexvlg_jax.grasp import feasibility as F
from dexvlg_jax.grasp import init as I
from dexvlg_jax.objects.reference_shapes import cylinder_object

CFG = I.InitConfig()


@pytest.fixture(scope="module")
def obj():
    return cylinder_object(0.03, 0.16, num_points=512, resolution=32)


@pytest.fixture(scope="module")
def wrap_poses(obj):
    return I.initial_poses(obj, 0, "wrap", 16, np.random.default_rng(0), CFG)


def test_shapes_limits_determinism(obj, wrap_poses):
    h = hand.load_hand()
    assert wrap_poses.shape == (16, 25) and wrap_poses.dtype == np.float32 and np.all(np.isfinite(wrap_poses))
    q = wrap_poses[:, 9:]
    assert np.all(q >= h.joint_lower - 1e-6) and np.all(q <= h.joint_upper + 1e-6)
    again = I.initial_poses(obj, 0, "wrap", 16, np.random.default_rng(0), CFG)
    np.testing.assert_array_equal(wrap_poses, again)


def test_shaft_rule_palm_faces_axis(wrap_poses):
    rot = np.asarray(rot6d_to_matrix(jnp.asarray(wrap_poses[:, 3:9])))
    z = rot[:, :, 2]  # approach direction d: palm faces -d
    assert np.all(np.abs(z[:, 2]) <= np.sin(CFG.cone_jitter) + 1e-4)  # perpendicular to the shaft axis (z)
    palm = wrap_poses[:, :3] + np.einsum("gij,j->gi", rot, hand.load_hand().site_pos["palm_center"])
    radial = np.linalg.norm(palm[:, :2], axis=1)
    assert np.all(radial > 0.03) and np.all(radial < 0.03 + 0.04)  # just outside the surface
    # The palm faces the axis: -d points towards the axis.
    to_axis = -palm[:, :2] / radial[:, None]
    assert np.all(np.sum(-z[:, :2] * to_axis, axis=1) > 0.8)


def test_close_until_contact(obj, wrap_poses):
    """Fingers closed beyond the open pose, yet the hand's surface does not enter the object deeply."""
    assert np.mean(wrap_poses[:, 9] > I.OPEN_JOINTS["wrap"][0] + 0.2) > 0.5
    import jax

    def min_sdf(pose):
        frames = hand.forward_kinematics(*hand.pose_from_vector(pose))
        return jnp.min(sdf_grid_query(obj.sdf, hand.surface_points(frames)[0]))

    depth = np.asarray(jax.jit(jax.vmap(min_sdf))(jnp.asarray(wrap_poses)))
    assert np.median(depth) > -0.004


@pytest.mark.parametrize("cls", I.PART_CLASSES)
def test_class_rules(cls):
    axes = np.eye(3)
    part = I.PartSpec(cls, np.array([0.0, 0.0, 0.05]), axes, np.array([0.1, 0.05, 0.01]), np.zeros(3))
    p, d, x = I.placement(part, 64, np.random.default_rng(1), CFG)
    assert p.shape == d.shape == x.shape == (64, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.sum(d * x, axis=1), 0.0, atol=1e-6)
    tilt = np.sin(CFG.cone_jitter) + 1e-6
    if cls == "shaft":
        assert np.all(np.abs(d[:, 0]) <= tilt)  # approach perpendicular to the long axis
    elif cls in ("lid", "disk"):
        assert np.all(d[:, 2] >= np.cos(CFG.cone_jitter) - 1e-6)  # from above (away from the object centre)
    else:  # palm outside the handle along its depth axis A1 (away from the object centre), fingers round A2
        assert np.all(d[:, 1] >= np.cos(CFG.cone_jitter) - 1e-6)
        assert np.all(np.abs(x[:, 2]) >= np.cos(CFG.cone_jitter + CFG.roll_jitter) - 1e-6)
    flipped = I.PartSpec(cls, np.array([0.0, -0.05, 0.0]), axes, np.array([0.1, 0.05, 0.01]), np.zeros(3))
    if cls == "L":  # a handle on the other side of the object is approached from that side
        assert np.all(I.placement(flipped, 16, np.random.default_rng(2), CFG)[1][:, 1] <= -np.cos(CFG.cone_jitter))


def test_part_failures(obj):
    assert F.part_failure(obj, 0, CFG) is None
    assert F.part_failure(obj, 3, CFG).startswith("missing_part")
    small = dataclasses.replace(obj, part_extents=np.array([[0.01, 0.005, 0.005]]))
    assert F.part_failure(small, 0, CFG).startswith("part_too_small")
    big = dataclasses.replace(obj, part_extents=np.array([[0.4, 0.3, 0.3]]))
    assert F.part_failure(big, 0, CFG).startswith("part_too_big")
    weird = dataclasses.replace(obj, part_classes=["blob"])
    assert F.part_failure(weird, 0, CFG).startswith("unknown_class")
    nan = dataclasses.replace(obj, part_centroids=np.full((1, 3), np.nan))
    assert F.part_failure(nan, 0, CFG).startswith("nonfinite")


def test_horizontal_span_matches_the_box_corners():
    """The narrowest horizontal width of a tilted box against an independent computation: its 8 corners projected
    on 3,600 horizontal directions (max - min of the projections)."""
    rng = np.random.default_rng(5)
    for _ in range(5):
        axes, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        ext = rng.uniform(0.02, 0.3, 3)
        corners = (np.array(np.meshgrid(*[[-0.5, 0.5]] * 3)).reshape(3, -1).T * ext) @ axes.T
        phi = np.linspace(0, np.pi, 3600, endpoint=False)
        u = np.stack([np.cos(phi), np.sin(phi), np.zeros_like(phi)], 1)
        proj = corners @ u.T
        expected = np.min(proj.max(0) - proj.min(0))
        assert F.horizontal_span(axes, ext, np.array([0.0, 0.0, 1.0]), directions=3600) == pytest.approx(expected,
                                                                                                       abs=1e-9)


def test_a_part_wider_than_the_open_hand_on_the_table_is_too_big(obj):
    """A flat 30 x 25 x 8 cm part is thin enough to grasp across its thickness while it floats, but lying on the
    table the hand can only close across it sideways, and 25 cm is wider than the open hand spans."""
    flat = dataclasses.replace(obj, part_extents=np.array([[0.30, 0.25, 0.08]]),
                               part_axes=np.eye(3)[None])
    assert F.part_failure(flat, 0, CFG) is None
    up = (np.array([0.0, 0.0, 1.0]), -0.04)
    assert F.part_failure(flat, 0, CFG, table_plane=up).startswith("part_too_big: narrowest horizontal span 0.25")
    standing = dataclasses.replace(flat, part_axes=np.array([[[0.0, 0, 1], [0, 1, 0], [1, 0, 0]]]))  # 8 cm wide
    assert F.part_failure(standing, 0, CFG, table_plane=up) is None


def test_pinch_closes_around_the_target_and_starts_clear(obj):
    """Pinch centres the closed pinch on the part: the thumb/index/middle pads' closing point sits on the target
    (here on the cylinder's axis, at most its radius + margin away after backing off), the hand starts clear."""
    poses = I.initial_poses(obj, 0, "pinch", 8, np.random.default_rng(3), CFG)
    rot = np.asarray(rot6d_to_matrix(jnp.asarray(poses[:, 3:9])))
    centre = poses[:, :3] + np.einsum("gij,j->gi", rot, I.pinch_centre_local())
    radial = np.linalg.norm(centre[:, :2], axis=1)
    assert np.median(radial) < 0.01 and radial.max() < 0.03  # the pinch closes on the axis (the target line)
    palm = poses[:, :3] + np.einsum("gij,j->gi", rot, hand.load_hand().site_pos["palm_center"])
    assert np.all(np.linalg.norm(palm[:, :2], axis=1) > 0.03)  # the palm itself is outside the surface


def test_lowest_pad_height_matches_the_primitive_meshes():
    """The pad's least reach beyond its centre, against an independent computation: the vertices of trimesh meshes
    of the distal link's collision primitives (`viz.meshes`) projected on 3,600 directions of the pad's plane."""
    from dexvlg_jax.grasp.energy import site_normal_local
    from dexvlg_jax.viz.meshes import _primitive_mesh

    h = hand.load_hand()
    for site in ("th_pad", "if_pad"):
        link = h.site_link[site]
        vertices = np.concatenate([
            _primitive_mesh(h.geom_kind[g], np.asarray(h.geom_size[g])).vertices @ np.asarray(h.geom_rot[g]).T
            + np.asarray(h.geom_pos[g]) for g in np.flatnonzero(np.asarray(h.geom_link) == link)])
        normal = np.asarray(site_normal_local(site), np.float64)
        u = np.cross(normal, [0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.cross(normal, [1.0, 0.0, 0.0])
        u /= np.linalg.norm(u)
        angles = np.linspace(0, 2 * np.pi, 3600, endpoint=False)[:, None]
        directions = np.cos(angles) * u + np.sin(angles) * np.cross(normal, u)
        expected = np.min(np.max(directions @ (vertices - np.asarray(h.site_pos[site])).T, axis=1))
        assert F.lowest_pad_height((site,)) == pytest.approx(expected, abs=3e-4)  # capsule meshes: 12 segments
    assert F.lowest_pad_height() == max(F.lowest_pad_height((s,)) for s in ("th_pad", "if_pad", "mf_pad"))


def test_a_part_whose_sides_are_lower_than_the_pads_reach_is_not_producible():
    """A puck lying on the table whose side is lower than the thumb pad can be (a flat-lying knife blade) cannot
    be squeezed; a taller puck, or the same puck raised 1 cm, can. The table top is the bottom face unless raised."""
    reach = F.lowest_pad_height()
    low = cylinder_object(0.03, 0.8 * reach, num_points=512, resolution=24)
    reason = F.part_failure(low, 0, CFG, table_plane=(np.array([0.0, 0.0, 1.0]), -0.4 * reach))
    assert reason.startswith(f"below_fingertip_reach: the part's sides end {80 * reach:.1f} cm")
    tall = cylinder_object(0.03, 2.5 * reach, num_points=512, resolution=24)
    assert F.part_failure(tall, 0, CFG, table_plane=(np.array([0.0, 0.0, 1.0]), -1.25 * reach)) is None
    top = F.side_height(tall, 0, (np.array([0.0, 0.0, 1.0]), -1.25 * reach))
    assert 2.5 * reach - 2e-3 < top <= 2.5 * reach + 1e-6  # the highest of 512 surface samples on the side
    # Lifted off the table by 1 cm (it rests on something else), the low puck's side is reachable.
    assert F.part_failure(low, 0, CFG, table_plane=(np.array([0.0, 0.0, 1.0]), -0.4 * reach - 0.01)) is None


def _side_handle(tube=0.005, protrusion=0.03, half_height=0.035, body_radius=0.04):
    """A mug-like C handle alone (object frame; the body's axis is z): surface samples of a tube of radius `tube`
    around a half ellipse in the x-z plane from the body wall, its centre line (K, 3), and the part's oriented box."""
    angle = np.linspace(-np.pi / 2, np.pi / 2, 400)
    line = np.stack([body_radius + protrusion * np.cos(angle), 0 * angle, half_height * np.sin(angle)], 1)
    tangent = np.gradient(line, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.cross(tangent, [0.0, 1.0, 0.0])
    phi = np.random.default_rng(0).uniform(0, 2 * np.pi, (len(line), 8))[..., None]
    normals = np.cos(phi) * side[:, None] + np.sin(phi) * np.array([0.0, 1.0, 0.0])
    points = (line[:, None] + tube * normals).reshape(-1, 3)
    lo, hi = points.min(0), points.max(0)
    axes = np.stack([np.eye(3)[2], np.eye(3)[0], np.eye(3)[1]], 1)  # columns z, x, y: extents decreasing
    obj = SimpleNamespace(surface_points=points, surface_part_ids=np.zeros(len(points), int), part_classes=["L"],
                          part_centroids=[(lo + hi) / 2], part_axes=[axes], part_extents=[(hi - lo)[[2, 0, 1]]])
    return obj, line


def test_side_handles_from_above_grip_the_bar_and_come_from_above():
    """With `handles_from_above` (the default) a side handle on a table is approached from above (d within the
    cone about up), targeting a point inside the tube on its upper outer bend (against the tube's centre line,
    computed from the construction); without it the L rule's sideways approach is unchanged, and an arch (depth
    axis up) never changes."""
    obj, line = _side_handle()
    up = np.array([0.0, 0.0, 1.0])
    assert CFG.handles_from_above
    spec = I.PartSpec.from_processed(obj, 0, up, handles_from_above=True)
    assert np.min(np.linalg.norm(line - spec.grip, axis=1)) < 0.0025  # within half the 5 mm tube radius
    assert spec.grip[0] > 0.04 + 0.015 and spec.grip[2] > 0.015  # outer upper quarter of the C
    p, d, _ = I.placement(spec, 32, np.random.default_rng(0), CFG)
    assert np.all(d @ up >= np.cos(CFG.cone_jitter) - 1e-6)
    np.testing.assert_allclose(p, np.repeat(spec.grip[None], 32, 0))
    sideways = I.PartSpec.from_processed(obj, 0, up)
    assert sideways.grip is None
    assert np.all(I.placement(sideways, 32, np.random.default_rng(0), CFG)[1][:, 0] >= np.cos(CFG.cone_jitter) - 1e-6)
    arch = I.PartSpec.from_processed(obj, 0, np.array([1.0, 0.0, 0.0]), handles_from_above=True)
    assert arch.grip is None  # its depth axis (x) is the table's up: an arch over the object, left to the L rule


def test_surface_exploration_approaches_along_the_part_normals_from_above_the_table(obj):
    """placement="surface": each target is one of the part's surface samples and the approach its outward normal
    (no jitter here), never from below the table; the hand starts clear of the object and above the table, and the
    part checks are the rule's (exploration does not change which parts are producible)."""
    up, offset = np.array([0.0, 0.0, 1.0]), -0.08  # the cylinder (radius 3 cm, 16 cm tall) stands on the table
    cfg = dataclasses.replace(CFG, placement="surface", cone_jitter=0.0, roll_jitter=0.0)
    part = I.PartSpec.from_processed(obj, 0, up, samples=True)
    points, normals = part.samples
    p, d, x = I.placement(part, 64, np.random.default_rng(3), cfg)
    idx = [int(np.flatnonzero(np.all(points == q, axis=1))[0]) for q in p]  # each target is a sample
    np.testing.assert_allclose(d, normals[idx] / np.linalg.norm(normals[idx], axis=1, keepdims=True), atol=1e-6)
    assert np.all(d @ up >= 0.0) and (normals @ up < -0.5).any()  # the bottom face's samples are never drawn
    np.testing.assert_allclose(np.sum(d * x, axis=1), 0.0, atol=1e-6)
    assert len({tuple(q) for q in np.round(p, 6)}) > 32  # spread over the part, not one rule's target

    explore = dataclasses.replace(CFG, placement="surface")
    for mode in ("wrap", "pinch"):
        poses = I.initial_poses(obj, 0, mode, 8, np.random.default_rng(4), explore, table_plane=(up, offset))
        assert np.all(np.isfinite(poses))
        surface = [np.asarray(hand.surface_points(hand.forward_kinematics(*hand.pose_from_vector(jnp.asarray(g))))[0])
                   for g in poses]
        depth = [float(jnp.min(sdf_grid_query(obj.sdf, jnp.asarray(s)))) for s in surface]
        assert np.median(depth) > -0.004  # close until contact, not into the object
        assert min(float(s[:, 2].min()) for s in surface) > offset - 0.002  # above the table
    assert F.part_failure(obj, 0, explore, (up, offset)) == F.part_failure(obj, 0, CFG, (up, offset)) is None
    with pytest.raises(ValueError, match="placement"):
        I.InitConfig(placement="anywhere")
