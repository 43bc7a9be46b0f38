"""Hand kinematics and SDF against MuJoCo (C) on the same MJCF."""
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from dexvlg_jax import hand
from dexvlg_jax.geometry import quat_to_matrix
from dexvlg_jax.hand import constants as C

NUM_POSES = 128


@pytest.fixture(scope="module")
def mj():
    m = mujoco.MjModel.from_xml_path(hand.MJCF_PATH)
    return m, mujoco.MjData(m)


@pytest.fixture(scope="module")
def random_poses():
    rng = np.random.default_rng(0)
    h = hand.load_hand()
    joints = rng.uniform(h.joint_lower, h.joint_upper, size=(NUM_POSES, 16))
    trans = rng.uniform(-0.3, 0.3, size=(NUM_POSES, 3))
    rots = np.array(jax.vmap(quat_to_matrix)(jnp.asarray(rng.normal(size=(NUM_POSES, 4)))))
    return trans, rots, joints


@pytest.fixture(scope="module")
def batched_fk():
    return jax.jit(jax.vmap(hand.forward_kinematics))


def _mujoco_world(m, d, t, r, q):
    """Reference: mj_kinematics in the palm frame, then the pose's rigid transform."""
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    xpos = d.xpos[1:] @ r.T + t
    xmat = np.einsum("ij,njk->nik", r, d.xmat[1:].reshape(-1, 3, 3))
    sites = d.site_xpos @ r.T + t
    return xpos, xmat, sites


def test_joint_order_and_limits_come_from_the_mjcf(mj):
    m, _ = mj
    h = hand.load_hand()
    assert tuple(m.joint(j).name for j in range(m.njnt)) == C.JOINT_NAMES
    assert tuple(m.actuator(a).name for a in range(m.nu)) == C.ACTUATOR_NAMES
    np.testing.assert_allclose(h.joint_lower, m.jnt_range[:, 0])
    np.testing.assert_allclose(h.joint_upper, m.jnt_range[:, 1])
    assert m.nu == 16 and all(m.actuator_trntype == mujoco.mjtTrn.mjTRN_JOINT)


def test_fk_matches_mujoco_under_jit_and_vmap(mj, random_poses, batched_fk):
    m, d = mj
    trans, rots, joints = random_poses
    frames = batched_fk(jnp.asarray(trans), jnp.asarray(rots), jnp.asarray(joints))
    site_names = [m.site(s).name for s in range(m.nsite)]
    sites = jax.jit(jax.vmap(lambda f: hand.site_positions(f, site_names)))(frames)
    for i in range(NUM_POSES):
        xpos, xmat, xsite = _mujoco_world(m, d, trans[i], rots[i], joints[i])
        np.testing.assert_allclose(np.asarray(frames.pos[i]), xpos, atol=1e-5)
        np.testing.assert_allclose(np.asarray(frames.rot[i]), xmat, atol=1e-5)
        np.testing.assert_allclose(np.asarray(sites[i]), xsite, atol=1e-5)


def test_fk_gradients_are_finite(random_poses):
    trans, rots, joints = random_poses

    def loss(t, q):
        frames = hand.forward_kinematics(t, jnp.asarray(rots[0]), q)
        pts, _ = hand.contact_candidates(frames)
        return jnp.sum(pts**2) + jnp.sum(hand.self_penetration(frames))

    gt, gq = jax.jit(jax.grad(loss, argnums=(0, 1)))(jnp.asarray(trans[0]), jnp.asarray(joints[0]))
    assert np.all(np.isfinite(gt)) and np.all(np.isfinite(gq)) and np.abs(gq).sum() > 0


def test_contact_sets_and_point_sets_have_declared_sizes():
    frames = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), jnp.zeros(16))
    assert hand.contact_sites(frames, "wrap").shape == (7, 3)
    assert hand.contact_sites(frames, "pinch").shape == (4, 3)
    pts, nrm = hand.contact_candidates(frames)
    assert pts.shape == nrm.shape and pts.shape[0] >= 100
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=-1), 1.0, atol=1e-6)
    # Points lie on their own link's collision surface: zero signed distance to that link's primitives.
    h = hand.load_hand()
    surf, _ = hand.surface_points(frames)
    for points, links in ((pts, h.candidate_link), (surf, h.surface_link)):
        dist = np.asarray(hand.primitive_distances(frames, points))
        own = np.where(h.geom_link[None, :] == links[:, None], dist, np.inf).min(axis=1)
        np.testing.assert_allclose(own, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of"):
        hand.contact_sites(frames, "grab")


def test_open_hand_has_no_self_penetration():
    frames = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), jnp.zeros(16))
    assert float(jnp.max(hand.self_penetration(frames))) == 0.0


def test_hand_sdf_matches_mujoco_geom_distance():
    """Signed distance of points to each primitive vs mj_geomDistance with a 0.1 mm probe sphere."""
    probe_r = 1e-4
    spec = mujoco.MjSpec.from_file(hand.MJCF_PATH)
    body = spec.worldbody.add_body(name="probe", mocap=True)
    body.add_geom(name="probe", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[probe_r, 0, 0])
    m = spec.compile()
    d = mujoco.MjData(m)
    rng = np.random.default_rng(1)
    h = hand.load_hand()
    q = rng.uniform(h.joint_lower, h.joint_upper) * 0.5
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    frames = hand.forward_kinematics(jnp.zeros(3), jnp.eye(3), jnp.asarray(q))
    centres, _ = hand.primitive_frames(frames)
    probe_geom = m.geom("probe").id
    hand_geoms = [m.geom(n).id for n in h.geom_names]
    # Points near each primitive: both inside and outside (within 1.5 cm of its centre).
    points = np.concatenate([np.asarray(c) + rng.normal(scale=0.008, size=(6, 3)) for c in centres])
    ours = np.asarray(hand.primitive_distances(frames, jnp.asarray(points)))
    fromto = np.zeros(6)
    checked_inside = 0
    for i, p in enumerate(points):
        d.mocap_pos[0] = p
        mujoco.mj_kinematics(m, d)
        for g, gid in enumerate(hand_geoms):
            ref = mujoco.mj_geomDistance(m, d, gid, probe_geom, 1.0, fromto) + probe_r
            assert abs(ours[i, g] - ref) < 2e-5, (h.geom_names[g], p, ours[i, g], ref)
            checked_inside += ours[i, g] < 0
    assert checked_inside > 20  # the comparison covers the inside (negative) branch too


def test_primitive_distances_match_the_per_point_sdf_with_gradients():
    """The (P, G)-array form against `geometry.primitives.primitive_sdf` vmapped over points and primitives, values
    and the gradient of the summed penetration w.r.t. the pose, on poses with points inside the hand (float32:
    values to 1e-6 m, gradients to 1e-4 relative)."""
    from dexvlg_jax.geometry.primitives import primitive_sdf

    h = hand.load_hand()
    rng = np.random.default_rng(3)

    def reference(frames, points):
        centre, rot = hand.primitive_frames(frames)
        local = jnp.einsum("gji,pgj->pgi", rot, points[:, None, :] - centre[None])
        per_geom = jax.vmap(primitive_sdf, in_axes=(0, 0, 0))
        return jax.vmap(lambda q: per_geom(q, jnp.asarray(h.geom_kind), jnp.asarray(h.geom_size)))(local)

    def penetration(fn):
        def total(translation, joints, points):
            frames = hand.forward_kinematics(translation, jnp.eye(3), joints)
            return jnp.sum(jax.nn.relu(-fn(frames, points)))
        return total

    for trial in range(3):
        joints = jnp.asarray(rng.uniform(h.joint_lower, h.joint_upper) * 0.6, jnp.float32)
        translation = jnp.asarray(rng.normal(scale=0.01, size=3), jnp.float32)
        frames = hand.forward_kinematics(translation, jnp.eye(3), joints)
        centres, _ = hand.primitive_frames(frames)
        points = jnp.asarray(np.concatenate([np.asarray(centres) + rng.normal(scale=0.01, size=(len(centres), 3)),
                                             rng.normal(scale=0.08, size=(64, 3))]), jnp.float32)
        ours, ref = hand.primitive_distances(frames, points), reference(frames, points)
        assert float(jnp.mean(ref < 0)) > 0.005  # some points are inside primitives
        np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), atol=1e-6)
        for argnum in (0, 1):
            g = jax.grad(penetration(hand.primitive_distances), argnums=argnum)(translation, joints, points)
            g_ref = jax.grad(penetration(reference), argnums=argnum)(translation, joints, points)
            np.testing.assert_allclose(np.asarray(g), np.asarray(g_ref), rtol=1e-4,
                                       atol=1e-4 * float(jnp.max(jnp.abs(g_ref))))


@pytest.mark.parametrize("stride", [1, 3])
def test_grouped_points_match_the_per_point_transform_with_gradients(random_poses, stride):
    """`grouped_points_to_world` (E_hpen's layout) gives every hand surface point exactly once, at the position
    `link_points_to_world` gives it, with the same gradient of a weighted sum; stride 3 leaves links with uneven
    counts, so groups are padded."""
    h = hand.load_hand()
    link, local = h.surface_link[::stride], h.surface_pos[::stride]
    groups = hand.group_link_points(link, local)
    assert sorted(groups.index[groups.valid].tolist()) == list(range(len(link)))
    assert (stride == 1) == bool(groups.valid.all())
    weights = jnp.asarray(np.random.default_rng(1).normal(size=(len(link), 3)), jnp.float32)
    trans, rots, joints = (jnp.asarray(a[:4], jnp.float32) for a in random_poses)

    def per_point(j):
        frames = hand.forward_kinematics(trans[0], rots[0], j)
        return hand.link_points_to_world(frames, link, local)

    def grouped(j):
        frames = hand.forward_kinematics(trans[0], rots[0], j)
        x = hand.grouped_points_to_world(frames, groups)
        return jnp.zeros((len(link), 3)).at[groups.index[groups.valid]].set(x[groups.valid])

    for q in joints:
        np.testing.assert_allclose(grouped(q), per_point(q), atol=1e-6)
        g_ref = jax.grad(lambda q: jnp.sum(weights * per_point(q)))(q)
        np.testing.assert_allclose(jax.grad(lambda q: jnp.sum(weights * grouped(q)))(q), g_ref, rtol=1e-4, atol=1e-5)
