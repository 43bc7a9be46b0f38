"""Table-aware synthesis: the exact hand-table term against MuJoCo's geometry and finite differences, approach
directions from the free half-space, and the simulator's pre-checks that reject table-colliding grasps."""
import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from dexvlg_jax import hand
from dexvlg_jax.geometry.rotations import matrix_to_rot6d
from dexvlg_jax.grasp import energy as E
from dexvlg_jax.grasp import init as I
from dexvlg_jax.scene import Tabletop, place_object
from dexvlg_jax.sim import TabletopLiftConfig, build_schedule
from tests.sim import cases

RNG = np.random.default_rng(0)


def _random_pose(rng, height):
    rot, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rot *= np.sign(np.linalg.det(rot))
    h = hand.load_hand()
    q = rng.uniform(h.joint_lower, h.joint_upper)
    return np.r_[[0.0, 0.0, height], np.asarray(matrix_to_rot6d(jnp.asarray(rot))), q].astype(np.float32)


def _mujoco_lowest(pose, up, offset):
    """Independent: MuJoCo's exact geom-to-plane distance (mj_geomDistance) for every hand geom, with the plane
    `up . p = offset` built as a MuJoCo plane geom and the hand posed by its own kinematics."""
    spec = mujoco.MjSpec.from_file(hand.MJCF_PATH)
    spec.body("palm").add_freejoint()
    quat = np.zeros(4)
    z = np.asarray(up, np.float64)
    axis = np.cross([0, 0, 1.0], z)
    angle = np.arccos(np.clip(z[2], -1, 1))
    mujoco.mju_axisAngle2Quat(quat, axis / max(np.linalg.norm(axis), 1e-12) if angle > 1e-9 else [1, 0, 0], angle)
    spec.worldbody.add_geom(name="plane", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[5, 5, 0.1],
                            pos=(offset * z).tolist(), quat=quat.tolist())
    m = spec.compile()
    d = mujoco.MjData(m)
    t, rot, q = (np.asarray(a, np.float64) for a in hand.pose_from_vector(jnp.asarray(pose)))
    mujoco.mju_mat2Quat(quat, rot.reshape(-1))
    d.qpos[:7] = np.r_[t, quat]
    d.qpos[7:23] = q
    mujoco.mj_kinematics(m, d)
    plane = m.geom("plane").id
    names = hand.load_hand().geom_names
    fromto = np.zeros(6)
    return np.array([mujoco.mj_geomDistance(m, d, m.geom(n).id, plane, 1.0, fromto) for n in names])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_primitive_heights_match_mujoco_geom_distance(seed):
    rng = np.random.default_rng(seed)
    pose = _random_pose(rng, height=rng.uniform(-0.02, 0.06))
    up = rng.normal(size=3) if seed else np.array([0.0, 0.0, 1.0])
    up /= np.linalg.norm(up)
    offset = float(rng.uniform(-0.05, 0.05))
    frames = hand.forward_kinematics(*hand.pose_from_vector(jnp.asarray(pose)))
    ours = np.asarray(E.primitive_heights(frames, jnp.asarray(up, jnp.float32), jnp.float32(offset)))
    ref = _mujoco_lowest(pose, up, offset)
    np.testing.assert_allclose(ours, ref, atol=2e-5)  # float32 positions of a hand ~0.2 m across
    assert (ours < 0).any() and (ours > 0).any()  # the case exercises both sides of the plane


def test_table_energy_gradient_matches_finite_differences():
    pose = _random_pose(np.random.default_rng(3), height=0.01)
    up, offset = jnp.array([0.0, 0.0, 1.0]), jnp.float32(0.0)

    def energy(p):
        low = E.primitive_heights(hand.forward_kinematics(*hand.pose_from_vector(p)), up, offset)
        return jnp.sum(jax.nn.relu(E.TABLE_CLEARANCE - low))

    value, grad = jax.value_and_grad(energy)(jnp.asarray(pose))
    assert float(value) > 0.01
    eps = 1e-3  # float32: central differences of a ~0.1 m-scale function, error ~ 1e-7 / eps + eps^2
    for i in (0, 2, 3, 7, 9, 14, 24):
        step = np.zeros(25, np.float32)
        step[i] = eps
        fd = (energy(jnp.asarray(pose + step)) - energy(jnp.asarray(pose - step))) / (2 * eps)
        assert float(grad[i]) == pytest.approx(float(fd), abs=2e-3, rel=2e-2), i
    # translation along the up normal lowers the energy by the number of primitives below the clearance
    below = int(jnp.sum(E.primitive_heights(hand.forward_kinematics(*hand.pose_from_vector(jnp.asarray(pose))),
                                            up, offset) < E.TABLE_CLEARANCE))
    assert float(grad[2]) == pytest.approx(-below, abs=1e-3)


def _lying_shaft(table_up):
    """A shaft part lying along x (the flashlight case) and a lid that faces down (under the object)."""
    axes = np.eye(3)
    shaft = I.PartSpec("shaft", np.zeros(3), axes, np.array([0.2, 0.04, 0.04]), np.zeros(3), table_up)
    lid_below = I.PartSpec("lid", np.array([0.0, 0.0, -0.05]), axes, np.array([0.05, 0.05, 0.01]), np.zeros(3),
                           table_up)
    return shaft, lid_below


def test_approach_directions_come_from_the_free_half_space():
    cfg = I.InitConfig()
    free, lid_free = _lying_shaft(np.array([0.0, 0.0, 1.0]))
    _, d, _ = I.placement(free, 256, np.random.default_rng(0), cfg)
    assert d.shape == (256, 3) and (d[:, 2] >= 0).all()
    floating, _ = _lying_shaft(None)
    _, d_any, _ = I.placement(floating, 256, np.random.default_rng(0), cfg)
    assert (d_any[:, 2] < -0.5).sum() > 30  # without a table, half of the shaft's approaches come from below
    _, d_lid, _ = I.placement(lid_free, 64, np.random.default_rng(0), cfg)
    assert len(d_lid) == 0  # the lid rule points down only: not reachable on the table


def _scene():
    return cases.shaft_scene(TabletopLiftConfig())


def test_sim_rejects_grasps_below_the_table_and_through_it_on_the_approach():
    sc = _scene()
    low = cases.GOOD_TRANSLATION - np.array([0.0, 0.0, 0.12])  # hand 12 cm lower: partly inside the table
    tilt = np.array([[1.0, 0, 0], [0, np.cos(0.8), -np.sin(0.8)], [0, np.sin(0.8), np.cos(0.8)]])
    up_facing = tilt @ cases.GOOD_ROTATION  # palm faces up-and-sideways: backing off goes down and away
    assert up_facing[2, 2] < -0.7
    far = cases.GOOD_TRANSLATION + np.array([0.0, -0.1, 0.0])  # clear of the object and the table
    t = np.stack([cases.GOOD_TRANSLATION, low, far, far])
    r = np.stack([cases.GOOD_ROTATION, cases.GOOD_ROTATION, up_facing, up_facing])
    q = np.stack([cases.GOOD_JOINTS, cases.GOOD_JOINTS, cases.OPEN_JOINTS, cases.OPEN_JOINTS])
    in_place = build_schedule(TabletopLiftConfig(), sc, t, r, q)
    assert in_place.reason[:3] == ["", "table_penetration", ""]
    long_approach = build_schedule(TabletopLiftConfig(approach_distance=0.25), sc, t, r, q)
    assert long_approach.reason[0] == "" and long_approach.reason[1] == "table_penetration"
    assert long_approach.reason[3] == "table_penetration"  # the approach path passes through the table
    assert "approach" in [p.name for p in long_approach.phases]


def test_synth_object_table_plane_follows_the_tabletop():
    obj = cases.Shaft()
    placed = place_object(obj, yaw=0.4)
    up, offset = placed.table_plane()
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-12)
    assert offset == pytest.approx(-cases.HALF_HEIGHT, abs=1e-9)  # the shaft's bottom, in its own frame
    tilted = Tabletop(np.array([[1.0, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0.03], [0, 0, 0, 1]]))
    up, offset = tilted.table_plane()
    np.testing.assert_allclose(up, [0, 1, 0], atol=1e-12)  # the object's +y column maps to world +z
    assert offset == pytest.approx(-0.03, abs=1e-12)  # world z = p_y + 0.03
    points = np.random.default_rng(0).normal(size=(16, 3))
    np.testing.assert_allclose(points @ up - offset, tilted.to_world(points)[:, 2], atol=1e-12)
