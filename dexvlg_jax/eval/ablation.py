"""Seed statistics for the paper's head ablation (flow vs DDPM vs DDIM): mean and 95% interval over seeds.

`seed_interval(values)` is the Student-t interval of the mean over independent training seeds (n - 1 degrees of
freedom; one seed gives an interval of nan width). `ablation_rows({arm: [report, ...]})` turns evaluation reports
(`eval.evaluate_checkpoint`, one per seed, same conditions) into one row per (arm, table row) with success and PGA
as mean +- half-width, in percent, and the two retrieval baselines' success beside them ("retrieval %": object pose
given; "yaw unknown %": `eval.policies.RetrievalPolicy`); they do not depend on the seed of the model, so their mean
over the reports is shown.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

from dexvlg_jax.eval.policies import RETRIEVAL_NAMES


def seed_interval(values) -> tuple[float, float]:
    """(mean, half-width of the 95% Student-t interval) of per-seed values."""
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"seed_interval: expected a non-empty 1-D list of per-seed values, got shape {values.shape}")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, half


def _pct(mean: float, half: float) -> str:
    return f"{100 * mean:.1f}" if math.isnan(half) else f"{100 * mean:.1f} +- {100 * half:.1f}"


BASELINES = ((RETRIEVAL_NAMES["known"], "retrieval %"), (RETRIEVAL_NAMES["unknown"], "yaw unknown %"))


def _baseline(runs: list, policy: str, key: str) -> str:
    values = [r[policy]["summary"][key]["success_rate"] for r in runs if key in r.get(policy, {}).get("summary", {})]
    return f"{100 * np.mean(values):.1f}" if values else "-"


def ablation_rows(reports: dict) -> list[dict]:
    """{arm: [report per seed]} -> rows {"arm", "rows", "seeds", "trials", "success %", "PGA %", "retrieval %",
    "yaw unknown %"} for every summary row the reports share (e.g. "seen/wrap", "seen", "all")."""
    out = []
    for arm, runs in reports.items():
        if not runs:
            raise ValueError(f"ablation_rows: arm {arm!r} has no report")
        shared = [k for k in runs[0]["summary"] if all(k in r["summary"] for r in runs)]
        for key in shared:
            rows = [r["summary"][key] for r in runs]
            success = seed_interval([row["success_rate"] for row in rows])
            pga = seed_interval([row["pga"] for row in rows])
            out.append({"arm": arm, "rows": key, "seeds": len(runs), "trials": int(rows[0]["trials"]),
                        "success %": _pct(*success), "PGA %": _pct(*pga),
                        **{column: _baseline(runs, policy, key) for policy, column in BASELINES}})
    return out
