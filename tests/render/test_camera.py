"""Cameras: intrinsics, the paper's tabletop viewpoint (0.8 m, 45 deg down), OpenCV axes, (back)projection."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.render import camera


def test_intrinsics_from_fov():
    k = np.asarray(camera.intrinsics_from_fov(60.0, 48, 64))
    focal = 24 / math.tan(math.radians(30))
    np.testing.assert_allclose(k, [[focal, 0, 31.5], [0, focal, 23.5], [0, 0, 1]], rtol=1e-6)
    with pytest.raises(ValueError, match="fov_y_deg"):
        camera.intrinsics_from_fov(0.0, 4, 4)


@pytest.mark.parametrize("azimuth", [0.0, 1.3, 4.0])
def test_tabletop_camera_distance_and_elevation(azimuth):
    world_to_camera = np.asarray(camera.tabletop_camera(azimuth), np.float64)
    rot = world_to_camera[:3, :3]
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-6)
    assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-6)  # right-handed
    eye = np.asarray(camera.camera_center(jnp.asarray(world_to_camera)))
    assert np.linalg.norm(eye) == pytest.approx(0.8, abs=1e-6)   # 80 cm from the table centre
    forward = rot[2]                                              # optical axis in the world
    assert math.degrees(math.asin(-forward[2])) == pytest.approx(45.0, abs=1e-4)  # 45 deg downward
    np.testing.assert_allclose(forward, -eye / np.linalg.norm(eye), atol=1e-6)    # looks at the table centre
    assert math.atan2(eye[1], eye[0]) % (2 * math.pi) == pytest.approx(azimuth, abs=1e-5)
    # OpenCV: +x right is horizontal, +y down has a negative world-z component.
    assert abs(rot[0, 2]) < 1e-6 and rot[1, 2] < 0


def test_table_centre_projects_to_image_centre():
    k = camera.intrinsics_from_fov(45.0, 33, 41)
    world_to_camera = camera.tabletop_camera(2.0)
    uv, z = camera.project(camera.transform_points(world_to_camera, jnp.zeros(3)), k)
    np.testing.assert_allclose(np.asarray(uv), [20.0, 16.0], atol=1e-4)
    assert float(z) == pytest.approx(0.8, abs=1e-6)


def test_tabletop_camera_from_keys_jit_vmap():
    keys = jax.random.split(jax.random.key(0), 64)
    transforms = jax.jit(jax.vmap(camera.tabletop_camera))(keys)
    assert transforms.shape == (64, 4, 4)
    eyes = jax.vmap(camera.camera_center)(transforms)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(eyes), axis=-1), 0.8, atol=1e-5)
    azimuths = np.arctan2(eyes[:, 1], eyes[:, 0]) % (2 * np.pi)
    assert azimuths.std() > 1.0  # spread over the circle (uniform: std ~ 1.81)
    legacy = camera.tabletop_camera(jax.random.PRNGKey(3))  # raw uint32 keys work too
    assert legacy.shape == (4, 4)


def test_project_backproject_round_trip():
    height, width = 24, 32
    k = camera.intrinsics_from_fov(50.0, height, width)
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 1.5, (height, width)).astype(np.float32)
    depth[0, :5] = 0.0      # background
    depth[1, 0] = np.inf    # non-finite is background too
    points = jax.jit(camera.backproject)(jnp.asarray(depth), k)
    assert points.shape == (height, width, 3)
    valid = np.isfinite(depth) & (depth > 0)
    np.testing.assert_array_equal(np.asarray(points)[~valid], 0.0)
    uv, z = camera.project(points, k)
    v, u = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    np.testing.assert_allclose(np.asarray(uv)[valid], np.stack([u, v], -1)[valid], atol=1e-4)
    np.testing.assert_allclose(np.asarray(z)[valid], depth[valid], rtol=1e-6)


def test_backproject_matches_depth_encoder_convention():
    from dexvlg_jax.models.depth_encoder import backproject_depth

    k = camera.intrinsics_from_fov(45.0, 16, 16)
    depth = jnp.linspace(0.5, 1.0, 256).reshape(16, 16)
    ours = camera.backproject(depth, k)
    theirs, valid = backproject_depth(depth[None], k[None])
    assert bool(valid.all())
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs[0]), atol=1e-6)


def test_invert_transform():
    world_to_camera = camera.tabletop_camera(0.4)
    np.testing.assert_allclose(np.asarray(camera.invert_transform(world_to_camera) @ world_to_camera), np.eye(4),
                               atol=1e-6)
