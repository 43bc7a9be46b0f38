"""Trial poses of the simulation benchmarks: a known-good wrap grasp on a cylinder shaft (r 3 cm, 20 cm; the
object of `sim.cylinder_piece(0.03, 0.1)`), perturbed at random so that a batch mixes passing and failing grasps.
Object frame, metres, radians."""
from __future__ import annotations

import numpy as np

from dexvlg_jax.geometry import axis_angle_to_matrix

GOOD_ROTATION = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
GOOD_TRANSLATION = np.array([0.03, -0.0655, 0.035])
GOOD_JOINTS = np.array([0.96, 0, 0.96, 0.96] * 3 + [0.639, 0, 0.213, 0.213])


def perturbed_grasps(n: int, seed: int = 0):
    """n poses around the known-good grasp (wrist +-1.5 cm, +-10 deg, joints +-0.25 rad; trial 0 unperturbed):
    translation (n, 3), rotation (n, 3, 3), joints (n, 16)."""
    rng = np.random.default_rng(seed)
    t = GOOD_TRANSLATION + rng.uniform(-0.015, 0.015, (n, 3))
    axes = rng.normal(size=(n, 3))
    angles = rng.uniform(-np.deg2rad(10), np.deg2rad(10), n)
    r = np.stack([np.asarray(axis_angle_to_matrix(a / np.linalg.norm(a), g)) @ GOOD_ROTATION
                  for a, g in zip(axes, angles)])
    q = GOOD_JOINTS + rng.uniform(-0.25, 0.25, (n, 16))
    t[0], r[0], q[0] = GOOD_TRANSLATION, GOOD_ROTATION, GOOD_JOINTS
    return t, r, q
