"""Seed statistics of the head ablation: the 95% Student-t interval against tabulated t quantiles, and the rows
built from per-seed evaluation reports."""
import math

import numpy as np
import pytest

from dexvlg_jax.eval.ablation import ablation_rows, seed_interval


def test_seed_interval_matches_the_t_table():
    # t_{0.975, 2} = 4.303 (tabulated); sample std of (0.1, 0.2, 0.3) = 0.1
    mean, half = seed_interval([0.1, 0.2, 0.3])
    assert mean == pytest.approx(0.2)
    assert half == pytest.approx(4.303 * 0.1 / math.sqrt(3), rel=1e-3)
    assert seed_interval([0.5, 0.5, 0.5]) == (0.5, 0.0)
    assert math.isnan(seed_interval([0.4])[1])
    with pytest.raises(ValueError, match="non-empty"):
        seed_interval([])


def _report(success, pga, baseline):
    summary = {"seen": {"trials": 48, "success_rate": success, "pga": pga}}
    return {"summary": summary, "retrieval": {"summary": {"seen": {"success_rate": baseline}}},
            "retrieval_yaw_unknown": {"summary": {"seen": {"success_rate": baseline / 4}}}}


def test_ablation_rows_per_arm_and_row():
    rows = ablation_rows({"flow": [_report(0.5, 0.4, 0.8), _report(0.7, 0.6, 0.8)],
                          "ddim": [_report(0.2, 0.1, 0.8)]})
    flow, ddim = rows
    half = 12.706 * np.std([0.5, 0.7], ddof=1) / math.sqrt(2) * 100  # t_{0.975, 1} = 12.706
    assert flow["arm"] == "flow" and flow["rows"] == "seen" and flow["seeds"] == 2 and flow["trials"] == 48
    assert flow["success %"] == f"60.0 +- {half:.1f}" and flow["retrieval %"] == "80.0"
    assert flow["yaw unknown %"] == "20.0"
    assert ddim["success %"] == "20.0" and ddim["PGA %"] == "10.0"  # one seed: no interval
    with pytest.raises(ValueError, match="no report"):
        ablation_rows({"ddpm": []})
