"""Evaluations compared on their common conditions (`dexvlg_jax.eval.compare`, `launch.benchmark compare`): the
figures are recomputed by hand from hand-written trials; the reference split reads a dataset's sim-passing grasps
(tests/eval/tiny_dataset.py)."""
import json

import pytest

from dexvlg_jax.eval import compare, conditions
from launch import bench_compare
from tests.eval import tiny_dataset


def _trials(label, obj, part, mode, outcomes, source="model"):
    """outcomes: [(success, pga), ...] -> trial records."""
    return [{"label": label, "object": obj, "part_id": part, "mode": mode, "success": s, "pga": p, "source": source}
            for s, p in outcomes]


RUN_A = {"trials": _trials("seen", "mug_0", 0, "wrap", [(1, 1), (1, 0), (0, 0), (1, 1)])
         + _trials("seen", "mug_0", 1, "pinch", [(0, 0), (0, 0)])
         + _trials("unseen_instance", "mug_1", 0, "wrap", [(1, 1), (0, 0)]),
         "retrieval": {"trials": _trials("seen", "mug_0", 0, "wrap", [(1, 1)], source="retrieval")}}
RUN_B = {"trials": _trials("seen", "mug_0", 0, "wrap", [(0, 0), (0, 0), (1, 1), (0, 0)])
         + _trials("seen", "mug_0", 1, "pinch", [(1, 1), (1, 0)])
         + _trials("seen", "jar_0", 0, "wrap", [(1, 1)] * 4)  # only B evaluates it: left out
         + _trials("unseen_instance", "mug_1", 0, "wrap", [(1, 0), (1, 0)])}


def _row(report, label, group):
    (row,) = [r for r in report["rows"] if r["label"] == label and r["group"] == group]
    return row


def test_common_conditions_and_hand_counted_rates():
    report = compare.compare_evaluations({"a": RUN_A, "b": RUN_B})
    assert report["common_conditions"] == 3 and report["only_in"] == {"a": 0, "b": 1}
    seen = _row(report, "seen", "all")
    assert seen["a"] == {"success": 50.0, "pga": round(100 * 2 / 6, 1), "trials": 6, "conditions": 2}
    assert seen["b"] == {"success": 50.0, "pga": round(100 * 2 / 6, 1), "trials": 6, "conditions": 2}
    assert _row(report, "unseen_instance", "all")["b"] == {"success": 100.0, "pga": 0.0, "trials": 2, "conditions": 1}
    assert _row(report, "all", "all")["a"]["trials"] == 8


def test_reference_splits_the_rows():
    reference = {("mug_0", 0, "wrap")}
    report = compare.compare_evaluations({"a": RUN_A, "b": RUN_B}, reference)
    assert _row(report, "seen", "in_reference")["a"]["success"] == 75.0
    assert _row(report, "seen", "in_reference")["b"]["success"] == 25.0
    assert _row(report, "seen", "not_in_reference")["b"] == {"success": 100.0, "pga": 50.0, "trials": 2,
                                                            "conditions": 1}
    assert not [r for r in report["rows"] if r["label"] == "unseen_instance" and r["group"] == "in_reference"]
    assert "in_reference (1)" in compare.comparison_text(report)


def test_baseline_trials_and_bad_input():
    with pytest.raises(ValueError, match="source"):
        compare.source_trials(RUN_A, "oracle")
    assert len(compare.source_trials(RUN_A, "retrieval")) == 1
    with pytest.raises(ValueError, match="at least two"):
        compare.compare_evaluations({"a": RUN_A})


def test_covered_conditions_are_the_sim_passing_grasps(tmp_path):
    root = tiny_dataset.write_dataset(str(tmp_path / "data"))
    # shaft_0 pinch is part_too_big, shaft_2's wrap failed the simulation filter
    assert conditions.covered_conditions(root) == {("shaft_0", 0, "wrap"), ("shaft_1", 0, "wrap")}


def test_cli_reads_folders_and_files_and_names_missing_ones(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "eval_results.json").write_text(json.dumps(RUN_A))
    (tmp_path / "b.json").write_text(json.dumps(RUN_B))
    out = bench_compare.main(["--eval", f"base={tmp_path / 'a'}", "--eval", f"new={tmp_path / 'b.json'}"])
    assert _row(out, "seen", "all")["new"]["trials"] == 6 and out["evals"]["base"] == str(tmp_path / "a")
    assert "seen" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="nowhere"):
        bench_compare.main(["--eval", str(tmp_path / "a"), "--eval", str(tmp_path / "nowhere")])
    (tmp_path / "c.json").write_text("[]")
    with pytest.raises(ValueError, match="no 'trials'"):
        compare.read_results(str(tmp_path / "c.json"))
