"""Evaluations side by side on the conditions they all evaluate (`python -m launch.benchmark compare`).

Two runs trained on different builds of the same objects evaluate different condition sets: a condition is evaluated
only where the run's dataset has a sim-passing grasp (`eval.conditions`). Their headline tables are then not
comparable. Here each run's per-trial records (`eval_results.json`, `evaluate_checkpoint`) are reduced to success and
PGA per (split label, object, part, mode) and compared over the conditions that every run evaluated, split into the
conditions a reference dataset covers and the ones it does not (e.g. the base build's conditions against the ones a
data-engine variant added).
"""
from __future__ import annotations

import json
import os

import numpy as np

SOURCES = ("model", "retrieval", "retrieval_yaw_unknown")


def read_results(path: str) -> dict:
    """An `eval_results.json` (or the folder holding it) -> its dict; a missing file or one without trials is named."""
    if os.path.isdir(path):
        path = os.path.join(path, "eval_results.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such evaluation results file (launch.evaluate --checkpoint ... --out DIR "
                                "writes DIR/eval_results.json)")
    with open(path) as f:
        results = json.load(f)
    if not isinstance(results, dict) or "trials" not in results:
        raise ValueError(f"{path}: not an evaluation results file (no 'trials' list)")
    return results


def source_trials(results: dict, source: str = "model") -> list[dict]:
    """The trial records of one policy: "model" (the checkpoint's, `results["trials"]`) or a retrieval baseline."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {SOURCES}")
    if source == "model":
        return [t for t in results["trials"] if t.get("source", "model") == "model"]
    return list((results.get(source) or {}).get("trials", []))


def condition_outcomes(trials: list[dict]) -> dict[tuple, np.ndarray]:
    """{(label, object, part_id, mode): [successes, part-grasp successes, trials]} (int64 (3,)) over the trials."""
    out: dict[tuple, np.ndarray] = {}
    for t in trials:
        key = (t["label"], t["object"], int(t["part_id"]), t["mode"])
        counts = out.setdefault(key, np.zeros(3, np.int64))
        counts += (bool(t["success"]), bool(t["pga"]), 1)
    return out


def _summary(outcomes: dict, keys: list) -> dict:
    total = sum((outcomes[k] for k in keys), np.zeros(3, np.int64))
    trials = int(total[2])
    rate = (lambda n: round(100.0 * n / trials, 1)) if trials else (lambda n: None)
    return {"success": rate(total[0]), "pga": rate(total[1]), "trials": trials, "conditions": len(keys)}


def compare_evaluations(runs: dict[str, dict], reference: set | None = None, source: str = "model") -> dict:
    """Success / PGA % of each run over the conditions every run evaluated.

    runs: {name: eval results dict}; reference: {(object, part_id, mode)} or None
    (`eval.conditions.covered_conditions`).
    Returns {"common_conditions", "only_in": {name: count}, "rows": [{"label", "group", name: summary, ...}]}: one
    row per split label (and "all") and group ("all", and with a reference "in_reference" / "not_in_reference");
    a summary is {"success", "pga" (%, None without trials), "trials", "conditions"}.
    """
    if len(runs) < 2:
        raise ValueError(f"compare_evaluations: needs at least two runs, got {list(runs)}")
    outcomes = {name: condition_outcomes(source_trials(r, source)) for name, r in runs.items()}
    common = set.intersection(*(set(o) for o in outcomes.values()))
    groups = {"all": lambda key: True}
    if reference is not None:
        groups["in_reference"] = lambda key: key[1:] in reference
        groups["not_in_reference"] = lambda key: key[1:] not in reference
    rows = []
    for label in sorted({k[0] for k in common}) + ["all"]:
        for group, member in groups.items():
            keys = sorted(k for k in common if (label == "all" or k[0] == label) and member(k))
            if keys:
                rows.append(dict({"label": label, "group": group},
                                 **{name: _summary(o, keys) for name, o in outcomes.items()}))
    return {"source": source, "common_conditions": len(common),
            "only_in": {name: len(set(o) - common) for name, o in outcomes.items()}, "rows": rows}


def comparison_text(report: dict) -> str:
    """The rows of `compare_evaluations` as a fixed-width table (success / PGA %, trials)."""
    names = [k for k in report["rows"][0] if k not in ("label", "group")] if report["rows"] else []
    lines = [f"{'split':16s} {'conditions':24s}" + "".join(f"{n[:24]:>26s}" for n in names)]
    for row in report["rows"]:
        group = f"{row['group']} ({row[names[0]]['conditions']})"
        lines.append(f"{row['label']:16s} {group:24s}" + "".join(f"{_cell(row[n]):>26s}" for n in names))
    return "\n".join(lines)


def _cell(summary: dict) -> str:
    return f"{summary['success']:.1f} / {summary['pga']:.1f} ({summary['trials']})"
