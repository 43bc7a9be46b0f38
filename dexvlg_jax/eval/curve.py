"""A training run evaluated along its learning curve: the same simulated evaluation at several kept steps.

The held-out flow loss does not choose the checkpoint that grasps best (docs/experiments.md, "The run finished": it
rises from step 3,000 while lift success rises to step 15,000), so a run keeps checkpoints along the way
(`TrainConfig.keep_period`) and this module evaluates them:

    curve = evaluate_curve(WORKDIR, EvalConfig(samples=4), steps=None, out_dir=OUT)   # every kept step
    print(curve["table"])

Each step's full report (table, eval_results.json, pictures) goes to OUT/step_<N>/; the curve itself to
OUT/curve.json and OUT/curve.txt. The retrieval baselines do not depend on the step: they run with the first step
only (when `EvalConfig.compare_retrieval`) and appear as the table's last rows.
"""
from __future__ import annotations

import dataclasses
import os

from dexvlg_jax import atomic_io
from dexvlg_jax.eval.evaluator import EvalConfig, evaluate_checkpoint
from dexvlg_jax.train.checkpoint import CheckpointError, kept_steps

CURVE_ROWS = ("seen", "unseen_instance", "unseen_category", "all")


def _row(name: str, summary: dict) -> dict:
    """{"name", row: (success, PGA) or None} from a report's summary (rows of `CURVE_ROWS`)."""
    out = {"name": name}
    for row in CURVE_ROWS:
        metrics = summary.get(row)
        out[row] = (metrics["success_rate"], metrics["pga"]) if metrics else None
    return out


def curve_table(rows: list[dict]) -> str:
    """Plain-text table: one line per step (and baseline), success / PGA in % per split."""
    header = f"{'step / policy':<24}" + "".join(f"{row + ' succ/PGA':>28}" for row in CURVE_ROWS)
    lines = [header, "-" * len(header)]
    for r in rows:
        cells = "".join(f"{'-' if r[row] is None else f'{100 * r[row][0]:.1f}% / {100 * r[row][1]:.1f}%':>28}"
                        for row in CURVE_ROWS)
        lines.append(f"{r['name']:<24}{cells}")
    return "\n".join(lines)


def evaluate_curve(checkpoint: str, config: EvalConfig = EvalConfig(), steps: list[int] | None = None,
                   out_dir: str | None = None, **kwargs) -> dict:
    """`evaluate_checkpoint` at each of `steps` (None: every kept step) of one run, the same config and views.

    kwargs go to `evaluate_checkpoint` (protocol, scene_config, dataset, mesh). Returns {"steps": [int],
    "rows": [{"name", "step", row: [success, PGA] | None}], "baselines": [rows], "table": str, "reports":
    {step: report}}. Raises CheckpointError naming the kept steps when a requested step is not among them.
    """
    available = kept_steps(checkpoint)
    steps = available if steps is None else sorted({int(s) for s in steps})
    missing = [s for s in steps if s not in available]
    if missing or not steps:
        raise CheckpointError(f"evaluate_curve: step(s) {missing or steps} not kept in {checkpoint} (kept: "
                              f"{available}; TrainConfig.keep_period keeps more)")
    rows, baselines, reports = [], [], {}
    for index, step in enumerate(steps):
        step_config = config if index == 0 else dataclasses.replace(config, compare_retrieval=False)
        step_dir = None if out_dir is None else os.path.join(out_dir, f"step_{step}")
        report = evaluate_checkpoint(checkpoint, step_config, out_dir=step_dir, step=step, **kwargs)
        reports[step] = report
        rows.append(dict(_row(f"step {step}", report["summary"]), step=step))
        if index == 0:
            baselines = [_row(name, report[name]["summary"]) for name in ("retrieval_yaw_unknown", "retrieval")
                         if name in report]
        print(f"evaluate_curve: step {step} done ({index + 1}/{len(steps)})", flush=True)
    table = curve_table(rows + baselines)
    curve = {"checkpoint": checkpoint, "steps": steps, "rows": rows, "baselines": baselines, "table": table}
    if out_dir is not None:
        atomic_io.write_json(os.path.join(out_dir, "curve.json"), curve, indent=1)
        atomic_io.write_text(os.path.join(out_dir, "curve.txt"), table + "\n")
    return dict(curve, reports=reports)
