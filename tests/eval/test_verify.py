"""eval.verify: shape guesses from one synthetic view of the test shaft (radius 3 cm, axis z), and verification
in C MuJoCo of its known-good wrap grasp against a grasp that holds nothing."""
import numpy as np
import pytest

from dexvlg_jax.eval import verify
from dexvlg_jax.scene import place_object
from tests.sim import cases

CAMERA = np.array([0.0, -0.55, 0.45])  # object frame: on the side the good grasp's palm faces from, ~45 deg down


def _view() -> verify.ViewObservation:
    """The shaft's surface points that face the camera (side and top), without the table's, as a depth image
    back-projected to the object frame would give them (no noise); completed = seen + their reflections."""
    rng = np.random.default_rng(0)
    angle, z = rng.uniform(0, 2 * np.pi, 3000), rng.uniform(-cases.HALF_HEIGHT, cases.HALF_HEIGHT, 3000)
    side = np.stack([cases.RADIUS * np.cos(angle), cases.RADIUS * np.sin(angle), z], 1)
    normal = side * [1, 1, 0] / cases.RADIUS
    seen = side[np.einsum("ij,ij->i", normal, CAMERA - side) > 0][:400]
    r, a = cases.RADIUS * np.sqrt(rng.uniform(0, 1, 100)), rng.uniform(0, 2 * np.pi, 100)
    seen = np.concatenate([seen, np.stack([r * np.cos(a), r * np.sin(a), np.full(100, cases.HALF_HEIGHT)], 1)])
    up = np.array([0.0, 0.0, 1.0])
    back = verify.behind(seen, CAMERA, up, 0.0)
    return verify.ViewObservation(seen=seen, completed=np.concatenate([seen, back]), camera=CAMERA, up=up)


def test_reflection_of_a_body_of_revolution_is_its_back():
    """The symmetry plane of an upright cylinder seen from the side passes through its axis: every visible side
    point's reflection lies on the cylinder too (the far side), behind the axis."""
    view = _view()
    back = verify.behind(view.seen, CAMERA, view.up, 0.0)
    radius = np.linalg.norm(back[:, :2], axis=1)
    side = np.abs(view.seen[:, 2]) < cases.HALF_HEIGHT - 1e-9
    assert np.abs(radius[side] - cases.RADIUS).max() < 1.5e-3  # lateral extent of 500 samples: within 1.5 mm
    assert np.all(back[side, 1] > -1e-3)  # behind the axis, seen from -y


@pytest.mark.parametrize("shape", verify.SHAPES)
def test_hypotheses_are_valid_convex_pieces_near_the_true_shape(shape):
    config = verify.VerifyConfig(shapes=(shape,))
    guesses = verify.hypotheses(_view(), config)
    assert len(guesses) == len(config.clusters)
    for obj, clusters in zip(guesses, config.clusters):
        assert 1 <= len(obj.convex_pieces) <= clusters and len(obj.piece_part_ids) == len(obj.convex_pieces)
        vertices = np.concatenate(obj.convex_pieces)
        assert all(4 <= len(p) <= verify.MAX_PIECE_VERTICES for p in obj.convex_pieces)
        radius = np.linalg.norm(vertices[:, :2], axis=1)
        assert radius.max() < cases.RADIUS + 2e-3 and np.all(np.abs(vertices[:, 2]) < cases.HALF_HEIGHT + 1e-6)
        if shape == "shell":  # a skin: nothing deeper than the thickness below the surface
            side = np.abs(vertices[:, 2]) < cases.HALF_HEIGHT - config.thickness - 1e-3
            assert radius[side].min() > cases.RADIUS - config.thickness - 2e-3


def test_too_few_points_raise_with_the_count():
    view = verify.ViewObservation(seen=np.zeros((2, 3)), completed=np.zeros((2, 3)), camera=CAMERA,
                                  up=np.array([0.0, 0, 1]))
    with pytest.raises(ValueError, match="2 points give no 'slab' piece"):
        verify.perceived_shape(view, "slab", 12, verify.VerifyConfig())
    assert verify.hypotheses(view, verify.VerifyConfig()) == []


def test_a_needle_of_points_gives_no_guess_and_the_ranking_decides():
    """Points along a line (a thin rod seen end-on, 20 um of noise) span no volume: no hypothesis (MuJoCo would
    reject such pieces' inertia), nothing is simulated, and the first candidates in rank order are kept."""
    rng = np.random.default_rng(0)
    line = np.linspace(-0.05, 0.05, 200)[:, None] * [1.0, 0.0, 0.0] + rng.normal(0, 2e-5, (200, 3))
    up = np.array([0.0, 0, 1])
    view = verify.ViewObservation(seen=line, completed=np.concatenate([line, line[::-1]]), camera=CAMERA, up=up)
    assert verify.hypotheses(view, verify.VerifyConfig()) == []
    poses = np.zeros((1, 5, 25), np.float32)
    chosen, count = verify.select_verified(poses, view, place_object(cases.Shaft(), yaw=0.0), cases.TINY_LIFT,
                                           cases.TINY_SCENE, verify.VerifyConfig(), keep=2)
    assert chosen.tolist() == [[0, 1]] and count == 0


def test_the_good_grasp_lifts_in_every_guess_and_a_far_one_in_none():
    config = verify.VerifyConfig(clusters=(12, 24))
    good = np.r_[cases.GOOD_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1], cases.GOOD_JOINTS]
    far = np.r_[cases.FAR_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1], cases.OPEN_JOINTS]
    tabletop = place_object(cases.Shaft(), yaw=0.0)
    scores = verify.verification_scores(np.stack([good, far]), _view(), tabletop, cases.TINY_LIFT,
                                        cases.TINY_SCENE, config)
    assert scores.tolist() == [4, 0]


@pytest.mark.parametrize("lift_probability", [0.2, 0.6, 0.95, 1.0])
def test_lazy_selection_chooses_what_the_full_score_table_chooses(lift_probability):
    """Against `keep_verified` of every (candidate, hypothesis) simulated: random lift tables, every chunk and keep;
    with likely lifts most simulations are skipped."""
    rng = np.random.default_rng(int(lift_probability * 100))
    saved = []
    for trial in range(40):
        rows, m, hyps = 3, int(rng.integers(4, 17)), int(rng.integers(1, 7))
        table = rng.random((hyps, rows, m)) < lift_probability
        keep, chunk = int(rng.integers(1, min(m, 5) + 1)), int(rng.integers(1, m + 2))
        asked = []

        def lifts(h, r, c):
            asked.append((h, r, c))
            return table[h, r, c]

        chosen, count = verify.lazy_selection(lifts, hyps, (rows, m), keep, chunk)
        assert chosen.tolist() == verify.keep_verified(table.sum(0), keep).tolist(), (trial, keep, chunk)
        pairs = [(h, r, c) for h, rr, cc in asked for r, c in zip(rr, cc)]
        assert count == len(pairs) == len(set(pairs)) <= table.size  # nothing simulated twice
        saved.append(1 - count / table.size)
    if lift_probability == 1.0:
        assert np.mean(saved) > 0.3


def test_select_verified_stops_once_enough_candidates_lift_in_every_guess():
    config = verify.VerifyConfig(clusters=(12, 24), chunk=1)
    good = np.r_[cases.GOOD_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1], cases.GOOD_JOINTS]
    far = np.r_[cases.FAR_TRANSLATION, cases.GOOD_ROTATION[:, 0], cases.GOOD_ROTATION[:, 1], cases.OPEN_JOINTS]
    poses = np.stack([np.stack([far, good, far, good]), np.stack([good, good, far, good])])
    args = (_view(), place_object(cases.Shaft(), yaw=0.0), cases.TINY_LIFT, cases.TINY_SCENE, config)
    chosen, count = verify.select_verified(poses, *args, keep=2)
    assert chosen.tolist() == [[1, 3], [0, 1]]
    full = verify.verification_scores(poses.reshape(-1, poses.shape[-1]), *args).reshape(2, 4)
    assert full.tolist() == [[0, 4, 0, 4], [4, 4, 0, 4]]
    # row 0's bar stays 0, so each candidate runs in all 4 guesses (16); row 1's first two lift in all 4 (8), and
    # nothing after them runs
    assert count == 24


def test_keep_verified_takes_the_highest_scores_ties_in_input_order():
    scores = np.array([[0, 2, 1, 2, 0], [3, 3, 3, 3, 3]])
    assert verify.keep_verified(scores, 3).tolist() == [[1, 3, 2], [0, 1, 2]]


@pytest.mark.parametrize("bad", [dict(candidates=0), dict(chunk=0), dict(clusters=()), dict(shapes=("voxels",)),
                                 dict(thickness=0.0), dict(mass=-1.0), dict(friction=0.0)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="VerifyConfig"):
        verify.VerifyConfig(**bad)
