"""HandPose: the flat 25-vector round trip, rigid transforms against explicit 4x4 algebra, limits, jit/vmap."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexvlg_jax.hand import HandPose, load_hand, pose_from_vector


def random_vectors(n, seed=0):
    """(n, 25) flat poses with random (non-identity) rotations, as the 6D of scipy's uniform rotations."""
    rng = np.random.default_rng(seed)
    rot = Rotation.random(n, random_state=seed).as_matrix()
    rot6d = np.concatenate([rot[:, :, 0], rot[:, :, 1]], axis=-1)
    return np.concatenate([rng.normal(size=(n, 3)) * 0.2, rot6d, rng.uniform(-1, 1.5, (n, 16))], axis=-1), rot


def homogeneous(rot, t):
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, t
    return out


def test_from_vector_reads_columns_and_round_trips_in_numpy_float64():
    vec, rot = random_vectors(5)
    pose = HandPose.from_vector(vec)
    assert isinstance(pose.rotation, np.ndarray) and pose.rotation.dtype == np.float64
    assert pose.batch_shape == (5,)
    np.testing.assert_allclose(pose.rotation, rot, atol=1e-12)  # 6D = the first two columns, col 0 then col 1
    np.testing.assert_array_equal(pose.translation, vec[:, :3])
    np.testing.assert_array_equal(pose.joints, vec[:, 9:])
    np.testing.assert_allclose(pose.to_vector(), vec, atol=1e-12)
    np.testing.assert_allclose(pose.rot6d(), vec[:, 3:9], atol=1e-12)


def test_from_vector_orthonormalises_a_non_orthonormal_6d():
    vec, _ = random_vectors(4, seed=1)
    noisy = vec.copy()
    noisy[:, 3:9] = noisy[:, 3:9] * 2.5 + np.random.default_rng(1).normal(size=(4, 6)) * 0.1
    rot = HandPose.from_vector(noisy).rotation
    np.testing.assert_allclose(np.einsum("gji,gjk->gik", rot, rot), np.broadcast_to(np.eye(3), (4, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
    # The first column is the normalised first 3-vector (Gram-Schmidt keeps its direction).
    first = noisy[:, 3:6] / np.linalg.norm(noisy[:, 3:6], axis=-1, keepdims=True)
    np.testing.assert_allclose(rot[:, :, 0], first, atol=1e-12)


def test_round_trip_in_jax_and_the_kinematics_entry_agrees():
    vec, rot = random_vectors(3, seed=2)
    pose = HandPose.from_vector(jnp.asarray(vec, jnp.float32))
    assert isinstance(pose.rotation, jax.Array)
    np.testing.assert_allclose(np.asarray(pose.rotation), rot, atol=1e-5)
    np.testing.assert_allclose(np.asarray(pose.to_vector()), vec, atol=1e-5)
    t, r, q = pose_from_vector(jnp.asarray(vec[0], jnp.float32))
    np.testing.assert_allclose(np.asarray(r), rot[0], atol=1e-5)
    np.testing.assert_allclose(np.asarray(t), vec[0, :3], atol=1e-6)
    np.testing.assert_allclose(np.asarray(q), vec[0, 9:], atol=1e-6)


def test_transform_matches_explicit_4x4_composition():
    """The palm frame as a 4x4 P (palm -> A); mapping A -> B with T gives T @ P. Checked against a random T with a
    non-symmetric rotation, so R_T R vs R R_T (or R_T^T) would fail."""
    vec, rot = random_vectors(6, seed=3)
    t_rot = Rotation.random(random_state=7).as_matrix()
    assert np.abs(t_rot @ rot[0] - rot[0] @ t_rot).max() > 0.1  # non-commuting: the test can tell them apart
    transform = homogeneous(t_rot, [0.3, -0.2, 0.8])
    moved = HandPose.from_vector(vec).transform(transform)
    for i in range(len(vec)):
        want = transform @ homogeneous(rot[i], vec[i, :3])
        np.testing.assert_allclose(moved.rotation[i], want[:3, :3], atol=1e-12)
        np.testing.assert_allclose(moved.translation[i], want[:3, 3], atol=1e-12)
    np.testing.assert_array_equal(moved.joints, vec[:, 9:])
    # A point fixed in the palm frame lands where the composed transform sends it.
    local = np.array([0.05, -0.02, 0.01])
    in_a = rot[0] @ local + vec[0, :3]
    np.testing.assert_allclose(moved.rotation[0] @ local + moved.translation[0],
                               t_rot @ in_a + transform[:3, 3], atol=1e-12)
    # And back: the inverse transform restores the vector.
    back = moved.transform(np.linalg.inv(transform))
    np.testing.assert_allclose(back.to_vector(), vec, atol=1e-12)


def test_transform_in_jax_agrees_with_numpy():
    vec, _ = random_vectors(4, seed=4)
    transform = homogeneous(Rotation.random(random_state=9).as_matrix(), [0.1, 0.2, 0.3])
    want = HandPose.from_vector(vec).transform(transform).to_vector()
    got = HandPose.from_vector(jnp.asarray(vec, jnp.float32)).transform(jnp.asarray(transform, jnp.float32))
    np.testing.assert_allclose(np.asarray(got.to_vector()), want, atol=1e-5)


def test_clip_to_limits_uses_the_mjcf_ranges():
    hand = load_hand()
    vec, _ = random_vectors(3, seed=5)
    vec[0, 9:] = hand.joint_upper + 0.5
    vec[1, 9:] = hand.joint_lower - 0.5
    vec[2, 9:] = 0.5 * (hand.joint_lower + hand.joint_upper)
    clipped = HandPose.from_vector(vec).clip_to_limits()
    np.testing.assert_array_equal(clipped.joints[0], hand.joint_upper)
    np.testing.assert_array_equal(clipped.joints[1], hand.joint_lower)
    np.testing.assert_array_equal(clipped.joints[2], vec[2, 9:])
    np.testing.assert_array_equal(clipped.translation, vec[:, :3])
    jax_clipped = HandPose.from_vector(jnp.asarray(vec, jnp.float32)).clip_to_limits()
    np.testing.assert_allclose(np.asarray(jax_clipped.joints), clipped.joints, atol=1e-6)


def test_jit_and_vmap():
    vec, _ = random_vectors(8, seed=6)
    transform = jnp.asarray(homogeneous(Rotation.random(random_state=3).as_matrix(), [0.0, 0.1, 0.7]), jnp.float32)

    @jax.jit
    def moved(v, t):
        return HandPose.from_vector(v).transform(t).clip_to_limits()

    batched = moved(jnp.asarray(vec, jnp.float32), transform)
    single = jax.vmap(lambda v: moved(v, transform).to_vector())(jnp.asarray(vec, jnp.float32))
    np.testing.assert_allclose(np.asarray(batched.to_vector()), np.asarray(single), atol=1e-5)
    want = HandPose.from_vector(vec).transform(np.asarray(transform, np.float64)).clip_to_limits().to_vector()
    np.testing.assert_allclose(np.asarray(single), want, atol=1e-5)
    # A HandPose is a pytree: it passes through jit as an argument and tree_map sees its three fields.
    pose = HandPose.from_vector(jnp.asarray(vec, jnp.float32))
    assert len(jax.tree_util.tree_leaves(pose)) == 3
    out = jax.jit(lambda p: p.replace(joints=p.joints * 0))(pose)
    assert isinstance(out, HandPose) and float(jnp.abs(out.joints).max()) == 0.0
    grad = jax.grad(lambda v: jnp.sum(HandPose.from_vector(v).transform(transform).translation))(
        jnp.asarray(vec[0], jnp.float32))
    np.testing.assert_allclose(np.asarray(grad[:3]), np.asarray(transform[:3, :3]).sum(0), atol=1e-6)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="25"):
        HandPose.from_vector(np.zeros((2, 24)))
    with pytest.raises(ValueError, match="4, 4"):
        HandPose.from_vector(np.zeros(25)).transform(np.eye(3))
