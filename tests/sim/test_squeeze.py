"""The squeeze targets squeeze towards the pads that hold the object, not towards fingers held out of the way.

A pinch keeps the ring finger straight and its palm far from a small part; when those sites counted in the squeeze
centre, the thumb, index and middle were driven towards the palm and slid off (on the learning build, 229 of 425
filter-passing pinch grasps lifted their object; with the engaged centre, 317).
"""
import mujoco
import numpy as np
import pytest

from dexvlg_jax.sim import protocols
from tests.sim import cases


@pytest.fixture(scope="module")
def scene():
    return cases.shaft_scene(cases.TINY_LIFT)


def _world(scene):
    t, r = scene.pose_to_world(cases.GOOD_TRANSLATION[None], cases.GOOD_ROTATION[None])
    return t[0], r[0]


def _gaps(scene, joints, translation=None):
    t, r = _world(scene)
    t = t if translation is None else translation
    data = mujoco.MjData(scene.model)
    protocols._set_hand(scene, data, t, r, joints)
    mujoco.mj_kinematics(scene.model, data)
    return {n: protocols._site_gap(scene, data, scene.model.site(n).id) for n in protocols.PAD_SITES}


def test_site_gap_sees_touching_and_far_pads(scene):
    ring_open = np.r_[cases.GOOD_JOINTS[:8], np.zeros(4), cases.GOOD_JOINTS[12:]]
    touching = _gaps(scene, ring_open)
    assert all(touching[n] < 0.002 for n in ("if_pad", "mf_pad", "th_pad"))  # the known-good wrap's pads touch
    assert touching["rf_pad"] > protocols.ENGAGED_DISTANCE  # the opened ring finger is away
    far = _gaps(scene, cases.GOOD_JOINTS, translation=scene.object_pos + cases.FAR_TRANSLATION)
    assert all(g == pytest.approx(2 * protocols.ENGAGED_DISTANCE) for g in far.values())  # capped


def test_a_finger_away_from_the_object_does_not_steer_the_others(scene):
    """Two different out-of-the-way ring-finger poses give the same squeeze targets for the fingers that hold
    the object (with every pad in the centre they differed, because the ring pad moved the centre)."""
    t, r = _world(scene)
    ring_a = np.r_[cases.GOOD_JOINTS[:8], 0.0, 0.0, 0.0, 0.0, cases.GOOD_JOINTS[12:]]
    ring_b = np.r_[cases.GOOD_JOINTS[:8], -0.3, 0.5, 0.0, 0.0, cases.GOOD_JOINTS[12:]]
    assert _gaps(scene, ring_b)["rf_pad"] > protocols.ENGAGED_DISTANCE
    sq_a, _ = protocols.finger_targets(scene, t, r, ring_a, squeeze_force=5.0, open_distance=0.01)
    sq_b, _ = protocols.finger_targets(scene, t, r, ring_b, squeeze_force=5.0, open_distance=0.01)
    holding = np.r_[0:8, 12:16]
    np.testing.assert_allclose(sq_a[holding], sq_b[holding], atol=1e-9)
    assert np.abs(sq_a[holding] - ring_a[holding]).max() > 1e-3  # the holding fingers do squeeze
