"""Simulation metrics: success rate, PTA, PGA, initial penetration; per-split tables.

Definitions (per trial, from a `TrialRecord` and the instructed part id; part id < 0 = no instruction):
  success      the protocol's pass flag.
  PTA          part touch accuracy: at least one hand-object contact on the instructed part (contacts counted at
               the protocol's contact phase: end of the squeeze/settle, before any perturbation or lift).
  PGA          part grasp accuracy. The paper does not publish its definition; ours: the trial succeeds AND the
               instructed part holds a strict majority (> 50 %) of all hand-object contacts at the contact phase.
  penetration  hand-object penetration depth at the grasp pose (m; tables report mm).
Rates are over all trials of a split (failed-before-simulation trials count as failures); PTA/PGA are over the
trials that have an instructed part.
"""
from __future__ import annotations

import numpy as np

from dexvlg_jax.sim.records import TrialRecord


def per_trial(record: TrialRecord, part_id) -> dict:
    """Per-trial metric arrays (B,): success, pta, pga (bool; pta/pga False where no part), has_part, penetration."""
    part_id = np.asarray(part_id, np.int64).reshape(-1)
    if len(part_id) != len(record):
        raise ValueError(f"part_id has {len(part_id)} entries for {len(record)} trials")
    counts = np.asarray(record.part_contacts)
    has_part = (part_id >= 0) & (part_id < counts.shape[1])
    on_part = np.where(has_part, counts[np.arange(len(part_id)), np.clip(part_id, 0, counts.shape[1] - 1)], 0)
    total = counts.sum(1)
    pta = has_part & (on_part > 0)
    pga = has_part & record.success & (2 * on_part > total)
    return {"success": np.asarray(record.success, bool), "pta": pta, "pga": pga, "has_part": has_part,
            "penetration": np.asarray(record.penetration, np.float64)}


def summarize(metrics: dict, splits=None) -> dict:
    """Per-split summary {split: {trials, success_rate, pta, pga, penetration_mm_mean, penetration_mm_max}}.

    metrics: per-trial arrays (from `per_trial`, possibly concatenated over objects); splits: (B,) labels or
    None. The key "all" covers every trial.
    """
    n = len(metrics["success"])
    labels = np.array(["all"] * n if splits is None else [str(s) for s in splits])
    out = {}
    for name in ["all"] + sorted(set(labels) - {"all"}):
        rows = np.ones(n, bool) if name == "all" else labels == name
        has = metrics["has_part"][rows]
        pen = metrics["penetration"][rows] * 1e3

        def rate(x, over):
            return float(x.sum() / over.sum()) if over.sum() else float("nan")

        out[name] = {
            "trials": int(rows.sum()),
            "success_rate": rate(metrics["success"][rows], np.ones(rows.sum(), bool)),
            "pta": rate(metrics["pta"][rows], has),
            "pga": rate(metrics["pga"][rows], has),
            "penetration_mm_mean": float(pen.mean()) if len(pen) else float("nan"),
            "penetration_mm_max": float(pen.max()) if len(pen) else float("nan"),
        }
    return out


def concat(per_trials: list) -> dict:
    """Concatenate per-trial metric dicts (e.g. one per object)."""
    return {k: np.concatenate([m[k] for m in per_trials]) for k in per_trials[0]}


def format_table(summary: dict) -> str:
    """A fixed-width text table of a `summarize` result."""
    head = f"{'split':<16}{'trials':>8}{'success':>10}{'PTA':>8}{'PGA':>8}{'pen mean':>10}{'pen max':>9}"
    lines = [head, "-" * len(head)]
    for name, s in summary.items():
        lines.append(f"{name:<16}{s['trials']:>8d}{100 * s['success_rate']:>9.1f}%{100 * s['pta']:>7.1f}%"
                     f"{100 * s['pga']:>7.1f}%{s['penetration_mm_mean']:>8.2f}mm{s['penetration_mm_max']:>7.2f}mm")
    return "\n".join(lines)
