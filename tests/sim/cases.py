"""Shared test cases: a cylinder shaft (radius 3 cm, 20 cm tall, axis z) and a known-good wrap grasp on it.

The grasp was found once with the C backend (fingers closed kinematically until they touch, wrist fixed) and is
hard-coded here: palm facing +y (its -z axis), fingers along +x, palm y along the shaft. Object frame, metres.
"""
import numpy as np

from dexvlg_jax.scene import place_object
from dexvlg_jax.sim import SceneConfig, SixDirectionConfig, TabletopLiftConfig, build_scene, cylinder_piece

RADIUS, HALF_HEIGHT = 0.03, 0.1
GOOD_ROTATION = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
GOOD_TRANSLATION = np.array([0.03, -0.0655, 0.035])
GOOD_JOINTS = np.array([0.96, 0, 0.96, 0.96] * 3 + [0.639, 0, 0.213, 0.213])
FAR_TRANSLATION = np.array([0.0, -0.3, 0.2])
OPEN_JOINTS = np.zeros(16)

# MJX on CPU is slow: a larger timestep, fewer solver iterations and short phases (same for both backends).
TINY_SCENE = SceneConfig(timestep=0.01, iterations=5, ls_iterations=8)
TINY_SIX = SixDirectionConfig(close_time=0.05, squeeze_time=0.1, settle_time=0.05, force_time=0.2)
TINY_LIFT = TabletopLiftConfig(settle_time=0.05, approach_time=0.1, close_time=0.1, squeeze_time=0.1, lift_time=0.3,
                               hold_time=0.1)


class Shaft:
    """A minimal object: convex pieces + part ids (two halves: 0 'lower', 1 'upper') or one piece."""

    def __init__(self, halves: bool = False):
        if halves:
            self.convex_pieces = [cylinder_piece(RADIUS, HALF_HEIGHT / 2, center=(0, 0, -HALF_HEIGHT / 2)),
                                  cylinder_piece(RADIUS, HALF_HEIGHT / 2, center=(0, 0, HALF_HEIGHT / 2))]
            self.piece_part_ids = np.array([0, 1])
            self.part_names = ["lower", "upper"]
        else:
            self.convex_pieces = [cylinder_piece(RADIUS, HALF_HEIGHT)]
            self.piece_part_ids = np.array([0])
            self.part_names = ["shaft"]


def mixed_set():
    """8 trials, good and bad: names, translation (8, 3), rotation (8, 3, 3), joints (8, 16)."""
    names, t, r, q = [], [], [], []

    def add(name, trans, joints, rot=GOOD_ROTATION):
        names.append(name), t.append(trans), q.append(joints), r.append(rot)

    add("good", GOOD_TRANSLATION, GOOD_JOINTS)
    add("far_open", FAR_TRANSLATION, OPEN_JOINTS)
    add("open_at_grasp", GOOD_TRANSLATION, OPEN_JOINTS)
    add("good_thumb_open", GOOD_TRANSLATION, np.r_[GOOD_JOINTS[:12], 0, 0, 0, 0])
    add("nan", np.array([np.nan, 0, 0]), GOOD_JOINTS)
    add("out_of_range", GOOD_TRANSLATION, np.r_[GOOD_JOINTS[:12], 3.5, 0, 0.2, 0.2])
    add("deep_inside", np.array([-0.04, 0.0, 0.035]), GOOD_JOINTS)
    add("good_shifted", GOOD_TRANSLATION + np.array([0, 0, 0.01]), GOOD_JOINTS)
    return names, np.stack(t), np.stack(r), np.stack(q)


def shaft_scene(protocol, config=None, yaw: float = 0.0):
    """The one-piece shaft's trial scene: resting upright on the table (yaw about z) when the protocol has one."""
    table = place_object(Shaft(), yaw=yaw) if protocol.table else None
    kw = {} if config is None else {"config": config}
    return build_scene([cylinder_piece(RADIUS, HALF_HEIGHT)], [0], table=table, **kw)
