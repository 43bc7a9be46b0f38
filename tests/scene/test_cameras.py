"""The camera rig: eyes at 0.8 m / 45 deg from the table centre; object framing keeps every vertex of the placed
object inside the image and fills it (the bounding sphere spans most of the height); table framing is the old
table-centred rig (`render.tabletop_camera`)."""
import math

import jax.numpy as jnp
import numpy as np
import pytest
import trimesh

from dexvlg_jax import render
from dexvlg_jax.scene import CAMERA_DISTANCE, camera_azimuths, camera_eyes, object_framing


def test_eyes_stand_on_the_rig():
    eyes = camera_eyes(camera_azimuths(np.random.default_rng(0), 16))
    np.testing.assert_allclose(np.linalg.norm(eyes, axis=1), CAMERA_DISTANCE, rtol=1e-12)
    np.testing.assert_allclose(np.degrees(np.arcsin(eyes[:, 2] / CAMERA_DISTANCE)), 45.0, rtol=1e-12)


def test_table_framing_is_the_table_centred_rig():
    azimuths = camera_azimuths(np.random.default_rng(1), 4)
    for eye, azimuth in zip(camera_eyes(azimuths), azimuths):
        np.testing.assert_allclose(render.look_at(jnp.asarray(eye, jnp.float32), jnp.zeros(3)),
                                   render.tabletop_camera(jnp.float32(azimuth)), atol=1e-6)


@pytest.mark.parametrize("margin", [1.0, 1.15])
def test_object_framing_keeps_the_object_in_view_and_fills_it(margin):
    box = trimesh.creation.box((0.08, 0.12, 0.25))  # a bottle-sized box, placed off-centre and yawed
    yaw = math.radians(30)
    transform = np.eye(4)
    transform[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]]
    transform[:3, 3] = (0.05, -0.03, 0.125)
    eyes = camera_eyes(camera_azimuths(np.random.default_rng(2), 8))
    target, fov = object_framing(transform, box.vertices, eyes, margin)
    np.testing.assert_allclose(target, transform[:3, 3], atol=1e-12)  # the box's centre, in the world
    size = 64
    k = np.asarray(render.intrinsics_from_fov(fov, size, size), np.float64)
    world = box.vertices @ transform[:3, :3].T + transform[:3, 3]
    heights = []
    for eye in eyes:
        world_to_camera = np.asarray(render.look_at(jnp.asarray(eye, jnp.float32), jnp.asarray(target, jnp.float32)))
        camera = world @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        pixels = camera @ k.T
        pixels = pixels[:, :2] / pixels[:, 2:]
        assert (pixels > -0.5).all() and (pixels < size - 0.5).all()  # every vertex in the image
        heights.append(np.ptp(pixels[:, 1]))
    assert max(heights) > 0.5 * size / margin  # the object spans most of the image height


def test_framing_errors_name_the_problem():
    eyes = camera_eyes(np.zeros(1))
    with pytest.raises(ValueError, match="margin must be positive"):
        object_framing(np.eye(4), np.ones((3, 3)), eyes, margin=0)
    with pytest.raises(ValueError, match="reaches a camera"):
        object_framing(np.eye(4), np.array([[-1.0, 0, 0], [1.0, 0, 0]]), eyes)
