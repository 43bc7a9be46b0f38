"""MJX backend vs the C backend on a small mixed good/bad set, tiny CPU settings (one compile per protocol).

MJX on CPU runs at ~1% of C MuJoCo's speed, so these use `cases.TINY_*` (timestep 0.01, 5 solver iterations,
short phases) for both backends, and 8 trials (one per fake device of tests/conftest.py: sharded over 8).
"""
import jax
import numpy as np
import pytest

from dexvlg_jax.sim import build_scene, c_backend, cylinder_piece
from tests.sim import cases

mjx_backend = pytest.importorskip("dexvlg_jax.sim.mjx_backend")


def _run_both(protocol):
    sc = cases.shaft_scene(protocol, config=cases.TINY_SCENE)
    names, t, r, q = cases.mixed_set()
    return names, c_backend.evaluate(sc, protocol, t, r, q), mjx_backend.evaluate(sc, protocol, t, r, q)


@pytest.fixture(scope="module")
def six():
    return _run_both(cases.TINY_SIX)


@pytest.fixture(scope="module")
def lift():
    return _run_both(cases.TINY_LIFT)


@pytest.mark.parametrize("which", ["six", "lift"])
def test_mjx_good_passes_far_fails_and_agrees_with_c(which, request):
    names, rec_c, rec_mjx = request.getfixturevalue(which)
    good, far = names.index("good"), names.index("far_open")
    assert rec_mjx.success[good] and not rec_mjx.success[far], rec_mjx.reason
    assert rec_c.success[good] and not rec_c.success[far], rec_c.reason
    agree = rec_c.success == rec_mjx.success
    assert agree.all(), {n: (a, b) for n, a, b in zip(names, rec_c.reason, rec_mjx.reason)}
    for n, a, b in zip(names, rec_c.reason, rec_mjx.reason):
        if a in ("non_finite_pose", "joints_out_of_range", "initial_penetration"):
            assert a == b, n
    assert rec_mjx.part_contacts[good].sum() > 0 and rec_mjx.part_contacts[far].sum() == 0
    np.testing.assert_allclose(rec_mjx.phase_object_pos[good], rec_c.phase_object_pos[good], atol=0.01)


def test_mjx_force_direction_and_bad_input(six):
    names, _, rec = six
    far = names.index("far_open")
    pos = rec.phase_object_pos[far]
    i = list(rec.phase_names).index("force+x")
    step = pos[i] - pos[i - 1]
    assert step[0] > 0.05 and np.abs(step[1:]).max() < 1e-4
    by_name = dict(zip(names, rec.reason))
    assert by_name["nan"] == "non_finite_pose" and by_name["out_of_range"] == "joints_out_of_range"
    assert by_name["deep_inside"] == "initial_penetration"


def test_mjx_lift_rises_with_hand(lift):
    names, _, rec = lift
    assert rec.rise[names.index("good")] > 0.15
    assert abs(rec.rise[names.index("far_open")]) < 1e-3


def test_sharded_over_fake_devices():
    assert len(jax.devices()) == 8  # tests/conftest.py; run() pads the batch to a multiple and shards "data"
    assert mjx_backend.data_mesh().shape["data"] == len(jax.devices())


def test_warp_impl_clear_error_when_missing(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    # Make MuJoCo Warp look absent even where it is installed, so the error path is always exercised.
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("warp", "mujoco_warp") else real_find_spec(name, *a))
    sc = build_scene([cylinder_piece(cases.RADIUS, cases.HALF_HEIGHT)], [0], config=cases.TINY_SCENE)
    with pytest.raises(RuntimeError, match="warp"):
        mjx_backend.put_model(sc, impl="warp")
    with pytest.raises(ValueError, match="impl"):
        mjx_backend.put_model(sc, impl="cuda")
