"""Result tables of an evaluation: rows "<split label>/<mode>", "<split label>" and "all" (success, PTA, PGA and
penetration from `sim.summarize`), one table per policy or the policies side by side, the coverage line, and
the report files (eval_results.json, eval_table.txt, grasp pictures).

PTA / PGA are defined in `dexvlg_jax.sim.metrics`. Skipped conditions (the dataset has no sim-passing grasp for
them, `eval.conditions`) are not trials: they appear only in the coverage line and the report's "skipped" list.
"""
from __future__ import annotations

import os

import numpy as np

from dexvlg_jax import atomic_io, sim
from dexvlg_jax.viz.grasp_pictures import draw_grasp


def split_mode_summary(per_trial: dict, labels, modes) -> dict:
    """{row: metrics} with rows "<label>/<mode>", then "<label>", then "all" (`sim.summarize` metrics)."""
    labels, modes = [str(x) for x in labels], [str(x) for x in modes]
    if not labels:
        return {}
    summary = sim.summarize(per_trial, [f"{lab}/{m}" for lab, m in zip(labels, modes)])
    summary.pop("all")
    by_split = sim.summarize(per_trial, labels)
    summary.update({k: v for k, v in by_split.items() if k != "all"})
    summary["all"] = by_split["all"]
    return summary


def coverage_line(num_conditions: int, skipped: list) -> str:
    evaluated = num_conditions - len(skipped)
    return (f"conditions: {num_conditions} (object, part, mode); evaluated {evaluated}; skipped {len(skipped)} "
            f"(no sim-passing grasp in the dataset)")


def comparison_table(summaries: dict) -> str:
    """Policies side by side: {policy: split_mode_summary} -> one text table (success and PGA per policy, in %)."""
    widths = {n: (max(20, len(n) + 10), max(16, len(n) + 6)) for n in summaries}  # a space before every column
    head = f"{'split':<26}{'trials':>7}" + "".join(f"{n + ' success':>{w}}{n + ' PGA':>{v}}"
                                                   for n, (w, v) in widths.items())
    lines = [head, "-" * len(head)]
    for entry in comparison_rows(summaries):
        cells = ""
        for name, (w, v) in widths.items():
            success, pga = entry[f"{name} success"], entry[f"{name} PGA"]
            cells += (f"{100 * success:>{w - 1}.1f}%{100 * pga:>{v - 1}.1f}%" if success is not None
                      else f"{'-':>{w}}{'-':>{v}}")
        lines.append(f"{entry['rows']:<26}{entry['trials']:>7d}{cells}")
    return "\n".join(lines)


def comparison_rows(summaries: dict) -> list[dict]:
    """Policies side by side as rows: {policy: split_mode_summary} -> [{"rows", "trials", "<policy> success",
    "<policy> PGA", ...}] (fractions; None where a policy has no such row)."""
    rows = list(dict.fromkeys(r for s in summaries.values() for r in s))
    out = []
    for row in rows:
        entry = {"rows": row, "trials": next(s[row]["trials"] for s in summaries.values() if row in s)}
        for name, summary in summaries.items():
            m = summary.get(row)
            entry[f"{name} success"] = m["success_rate"] if m else None
            entry[f"{name} PGA"] = m["pga"] if m else None
        out.append(entry)
    return out


def skipped_lines(skipped: list, limit: int = 50) -> str:
    lines = [f"  {s['object_id']} {s['part']} {s['mode']}: {s['reason']}" for s in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  ... and {len(skipped) - limit} more (eval_results.json 'skipped')")
    return "\n".join(lines)


def picture_name(trial: dict) -> str:
    """The file name of a trial's grasp picture."""
    return f"grasp_{trial['object']}_{trial['part']}_{trial['mode']}_{trial['sample']}.png".replace(" ", "_")


def grasp_pictures(trials: list, scenes: dict, poses: dict, out_dir: str, count: int) -> list[str]:
    """PNGs of `count` executed grasps, hand + object in the object frame: successful trials first, then by sample
    index (so one per object first)."""
    order = sorted(range(len(trials)), key=lambda i: (not trials[i].get("success", False), trials[i]["sample"], i))
    paths, seen = [], 0
    for i in order:
        if seen >= count:
            break
        trial = trials[i]
        pose = np.asarray(poses[i], np.float64)
        if not np.all(np.isfinite(pose)):
            continue
        paths.append(draw_grasp(os.path.join(out_dir, picture_name(trial)), scenes[trial["object"]].obj, pose))
        seen += 1
    return paths


def write_report(report: dict, out_dir: str, title: str) -> None:
    """eval_results.json (the whole report) and eval_table.txt (title, table, skipped conditions)."""
    os.makedirs(out_dir, exist_ok=True)
    atomic_io.write_json(os.path.join(out_dir, "eval_results.json"), report, indent=1, default=float)
    text = f"{title}\n{report['table']}\n"
    if report.get("skipped"):
        text += f"skipped conditions:\n{skipped_lines(report['skipped'])}\n"
    atomic_io.write_text(os.path.join(out_dir, "eval_table.txt"), text)
