"""`pipeline.facing_grasps`: per part and mode, the grasps whose palm (its -z axis) points along the camera's optical
axis (+z) are kept, best first (the data engine's `grasps_per_view`)."""
import numpy as np

from dexvlg_jax.data.pipeline import facing_grasps
from dexvlg_jax.hand.pose import HandPose


def _pose_with_palm_normal(normal):
    """A pose whose palm normal (-R[:, 2]) is `normal` (camera frame)."""
    z = -np.asarray(normal, np.float64) / np.linalg.norm(normal)
    x = np.cross([0.0, 1.0, 0.0], z) if abs(z[1]) < 0.9 else np.cross([1.0, 0.0, 0.0], z)
    x /= np.linalg.norm(x)
    rotation = np.stack([x, np.cross(z, x), z], axis=1)
    return HandPose.from_arrays(np.zeros(3), rotation, np.zeros(16)).to_vector()


def test_the_hand_between_camera_and_object_is_kept():
    normals = [(0, 0, -1), (0, 0, 1), (1, 0, 1), (1, 0, 0),   # part 0 wrap: away, facing, oblique, side
               (0, 1, 1), (0, 0, 1)]                          # part 0 pinch: oblique, facing
    poses = np.stack([_pose_with_palm_normal(n) for n in normals])
    parts = np.zeros(6, int)
    modes = np.array(["wrap"] * 4 + ["pinch"] * 2)
    np.testing.assert_allclose(-HandPose.from_vector(poses).rotation[:, :, 2], np.asarray(normals, float) /
                               np.linalg.norm(normals, axis=1, keepdims=True), atol=1e-12)
    assert facing_grasps(poses, parts, modes, 1).tolist() == [1, 5]
    assert facing_grasps(poses, parts, modes, 2).tolist() == [1, 2, 4, 5]
    parts[2] = 1  # another part: its only wrap grasp is kept whatever it faces
    assert facing_grasps(poses, parts, modes, 1).tolist() == [1, 2, 5]
