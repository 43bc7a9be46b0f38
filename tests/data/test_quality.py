"""The dataset report judges grasps where they are used: a dataset of known verdicts (tests/eval/tiny_dataset.py)
gives known yield, coverage and ceiling, and a dataset whose "passing" grasp cannot lift gets a low ceiling."""
import os

import numpy as np
import pytest

from dexvlg_jax.data.quality import dataset_quality
from dexvlg_jax.grasp import io as grasp_io
from tests.eval import tiny_dataset


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return dataset_quality(tiny_dataset.write_dataset(str(tmp_path_factory.mktemp("good"))), min_grasps=1)


def test_yield_coverage_and_ceiling_of_known_verdicts(good):
    rows = {(r["category"], r["mode"]): r for r in good["per_category_mode"]}
    wrap = rows[("flashlight", "wrap")]
    assert (wrap["poses"], wrap["valid"], wrap["kept"]) == (3, 3, 2)  # shaft_2's grasp failed the filter
    assert wrap["yield"] == pytest.approx(2 / 3)
    assert wrap["ceiling"] == 1.0 and wrap["ceiling_turned"] == 1.0  # the known-good grasp lifts the shaft
    assert rows[("flashlight", "pinch")]["poses"] == 0  # a NaN row is no synthesised pose
    cov = good["coverage"]
    assert (cov["conditions"], cov["covered"]) == (4, 2)
    reasons = {(u["object"], u["mode"]): u["reason"] for u in cov["uncovered"]}
    assert reasons[("shaft_0", "pinch")].startswith("part_too_big")
    assert reasons[("shaft_2", "wrap")] == "simulation: tabletop_lift: dropped"
    # part_too_big is a rule the hand cannot beat; a dropped grasp is not: 2 of the 3 producible are covered.
    assert cov["not_producible"] == 1 and cov["producible_fraction"] == pytest.approx(2 / 3)
    assert cov["max_fraction"] == pytest.approx(3 / 4)  # no rule can cover the part_too_big condition
    assert cov["short"] == 0  # with min_grasps=1 an uncovered condition has no kept grasp


def test_short_conditions_are_the_uncovered_ones_with_some_kept_grasps(tmp_path):
    cov = dataset_quality(tiny_dataset.write_dataset(str(tmp_path)), min_grasps=2, recheck=False)["coverage"]
    kept = {(u["object"], u["mode"]): u["kept"] for u in cov["uncovered"]}
    assert cov["covered"] == 0 and cov["short"] == sum(k > 0 for k in kept.values()) == 2
    assert kept[("shaft_2", "wrap")] == 0 and kept[("shaft_0", "pinch")] == 0  # dropped; part_too_big


def test_a_dataset_whose_kept_grasp_cannot_lift_has_a_low_ceiling(tmp_path):
    bad = dataset_quality(tiny_dataset.write_dataset(str(tmp_path), train_pose=tiny_dataset.FAR_OPEN_POSE),
                          min_grasps=1)
    wrap = next(r for r in bad["per_category_mode"] if r["mode"] == "wrap")
    assert wrap["ceiling"] == pytest.approx(0.5)  # shaft_0's far open hand fails, shaft_1's good grasp passes
    assert bad["totals"]["wrap"]["ceiling"] == pytest.approx(0.5)


def test_kept_grasps_from_exploration_are_counted_apart(tmp_path):
    root = tiny_dataset.write_dataset(str(tmp_path))
    path = os.path.join(root, "cache", "grasps", "shaft_1.npz")
    grasps = grasp_io.load_grasps(path)
    meta = grasps.pop("meta")
    grasps["init_placement"] = np.where(np.asarray(grasps["mode"]) == "wrap", "surface", "rule")
    grasp_io.save_grasps(path, grasps, meta)
    report = dataset_quality(root, min_grasps=1, recheck=False)
    rows = {(r["category"], r["mode"]): r for r in report["per_category_mode"]}
    assert rows[("flashlight", "wrap")]["explored"] == 1 and rows[("flashlight", "wrap")]["kept"] == 2
    assert report["totals"]["all"]["explored"] == 1  # files written before the field count as the rule's
