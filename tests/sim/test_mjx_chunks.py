"""MJX on CPU runs big batches in fixed-size chunks: the chunking keeps every trial's controls together."""
import numpy as np

from dexvlg_jax.sim import mjx_backend, protocols


def test_subschedule_slices_every_per_trial_array():
    b = 5
    rng = np.random.default_rng(0)
    phase = protocols.Phase(name="close", steps=3, ctrl=rng.normal(size=(b, 2, 16)),
                            mocap_pos=rng.normal(size=(b, 2, 3)),
                            mocap_quat=rng.normal(size=(b, 4)), object_wrench=np.zeros(6))
    schedule = protocols.Schedule(qpos0=rng.normal(size=(b, 30)), phases=[phase, phase], valid=np.arange(b) % 2 == 0,
                                  reason=[str(i) for i in range(b)], penetration=np.arange(b, dtype=float))
    part = mjx_backend._subschedule(schedule, 2, 2)
    assert part.reason == ["2", "3"] and list(part.penetration) == [2.0, 3.0] and list(part.valid) == [True, False]
    np.testing.assert_array_equal(part.qpos0, schedule.qpos0[2:4])
    for full, cut in zip(schedule.phases, part.phases):
        np.testing.assert_array_equal(cut.ctrl, full.ctrl[2:4])
        np.testing.assert_array_equal(cut.mocap_pos, full.mocap_pos[2:4])
        np.testing.assert_array_equal(cut.mocap_quat, full.mocap_quat[2:4])
    last = mjx_backend._subschedule(schedule, 4, 2)  # a short last chunk is padded by the caller
    assert len(last.qpos0) == 1 and last.step_controls(0)[0].shape == (1, 3, 16)
