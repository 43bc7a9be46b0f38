"""C MuJoCo backend: known-good grasp passes, open far hand fails, directions of gravity and force, bad input."""
import numpy as np
import pytest

from dexvlg_jax.sim import SixDirectionConfig, TabletopLiftConfig, c_backend
from tests.sim import cases


_scene = cases.shaft_scene


@pytest.mark.parametrize("protocol", [SixDirectionConfig(), TabletopLiftConfig()], ids=lambda p: p.name)
def test_good_grasp_passes_open_far_hand_fails(protocol):
    sc = _scene(protocol)
    t = np.stack([cases.GOOD_TRANSLATION, cases.FAR_TRANSLATION])
    r = np.stack([cases.GOOD_ROTATION] * 2)
    q = np.stack([cases.GOOD_JOINTS, cases.OPEN_JOINTS])
    rec = c_backend.evaluate(sc, protocol, t, r, q)
    assert rec.success.tolist() == [True, False], rec.reason
    assert rec.reason[1] in ("moved", "not_lifted")
    assert rec.part_contacts[0, 0] > 0 and rec.part_contacts[1, 0] == 0
    if isinstance(protocol, TabletopLiftConfig):
        assert rec.rise[0] > 0.15 and abs(rec.rise[1]) < 1e-3  # rose with the hand / stayed on the table


def test_unsupported_object_falls_under_protocol_gravity():
    protocol = TabletopLiftConfig(table=False)
    sc = _scene(protocol)
    rec = c_backend.evaluate(sc, protocol, cases.FAR_TRANSLATION[None], cases.GOOD_ROTATION[None],
                             cases.OPEN_JOINTS[None])
    total = sum(p for p in (protocol.settle_time, protocol.close_time, protocol.squeeze_time,
                            protocol.lift_time, protocol.hold_time))  # no approach phase (approach_distance 0)
    assert "approach" not in rec.phase_names
    drop = rec.phase_object_pos[0, -1] - np.r_[0.0, 0.0, sc.object_pos[2]]  # from the initial placement
    assert drop[2] == pytest.approx(-0.5 * 9.81 * total ** 2, rel=0.05)
    assert np.abs(drop[:2]).max() < 1e-6
    assert not rec.success[0]


def test_force_directions():
    """With nothing holding it, the object moves along each force's direction during that phase."""
    protocol = SixDirectionConfig()
    sc = _scene(protocol)
    rec = c_backend.evaluate(sc, protocol, cases.FAR_TRANSLATION[None], cases.GOOD_ROTATION[None],
                             cases.OPEN_JOINTS[None])
    pos = rec.phase_object_pos[0]
    names = list(rec.phase_names)
    i = names.index("force+x")
    step = pos[i] - pos[i - 1]
    assert step[0] > 0.05 and abs(step[1]) < 1e-6 and abs(step[2]) < 1e-6
    # velocity reverses under -x: x acceleration is negative during force-x
    v_plus = pos[i] - pos[i - 1]
    v_minus = pos[i + 1] - pos[i]
    assert v_minus[0] < v_plus[0]
    j = names.index("force+z")
    assert (pos[j] - pos[j - 1])[2] > (pos[j - 1] - pos[j - 2])[2]
    assert rec.reason[0] == "moved"


def test_bad_input_fails_with_reason_and_batch_survives():
    protocol = SixDirectionConfig()
    sc = _scene(protocol)
    names, t, r, q = cases.mixed_set()
    rec = c_backend.evaluate(sc, protocol, t, r, q)
    by_name = dict(zip(names, rec.reason))
    assert by_name["nan"] == "non_finite_pose"
    assert by_name["out_of_range"] == "joints_out_of_range"
    assert by_name["deep_inside"] == "initial_penetration"
    assert rec.penetration[names.index("deep_inside")] > 0.01
    assert rec.success[names.index("good")]
    bad_rot = np.array(r)
    bad_rot[0] *= 2.0
    rec2 = c_backend.evaluate(sc, protocol, t[:1], bad_rot[:1], q[:1])
    assert rec2.reason == ["invalid_rotation"]
