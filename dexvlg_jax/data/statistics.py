"""Statistics report of a built dataset: counts per category / part / mode, and quality histograms (PNG).

Reads the manifest and the cached grasp files (`cache/grasps/*.npz`) of a dataset directory and writes
`statistics.json` and `statistics/{counts,penetration,self_penetration,q1}.png`.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from dexvlg_jax import atomic_io
from dexvlg_jax.data.writer import read_manifest
from dexvlg_jax.grasp import io as grasp_io

HISTOGRAMS = (("pen_mm", "penetration depth (mm)"), ("spen_mm", "self-penetration depth (mm)"),
              ("q1", "Q1 (mu=1, 8 edges, torque scale 10)"))


def grasp_table(out_dir: str) -> dict:
    """Per-grasp arrays pooled over every cached grasp file: mode, part, metrics, valid, sim_success."""
    cols = {k: [] for k in ("category", "mode", "valid", "sim_success", "pen_mm", "spen_mm", "q1")}
    for path in sorted(glob.glob(os.path.join(out_dir, "cache", "grasps", "*.npz"))):
        g = grasp_io.load_grasps(path)
        n = len(g["mode"])
        cols["category"].append(np.full(n, g.get("category", "")))
        for k in ("mode", "valid", "pen_mm", "spen_mm", "q1"):
            cols[k].append(np.asarray(g[k]))
        cols["sim_success"].append(np.asarray(g.get("sim_success", np.zeros(n, bool))))
    return {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cols.items()}


def quality_summary(table: dict) -> list[dict]:
    """Mean quality of kept grasps (valid and sim-successful) per mode: the paper's dataset table."""
    rows = []
    if not len(table["mode"]):
        return rows
    for mode in sorted(set(table["mode"].tolist())):
        sel = table["mode"] == mode
        kept = sel & table["valid"].astype(bool) & table["sim_success"].astype(bool)
        rows.append({
            "mode": mode, "synthesised": int(sel.sum()), "valid": int((sel & table["valid"].astype(bool)).sum()),
            "kept (sim)": int(kept.sum()),
            "penetration_mm": float(np.nanmean(table["pen_mm"][kept])) if kept.any() else float("nan"),
            "self_penetration_mm": float(np.nanmean(table["spen_mm"][kept])) if kept.any() else float("nan"),
            "q1": float(np.nanmean(table["q1"][kept])) if kept.any() else float("nan"),
        })
    return rows


def write_statistics(out_dir: str) -> dict:
    """Write statistics.json and the PNG plots; returns {"counts", "quality", "files"}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    manifest = read_manifest(out_dir)
    table = grasp_table(out_dir)
    plot_dir = os.path.join(out_dir, "statistics")
    os.makedirs(plot_dir, exist_ok=True)
    files = []
    counts = manifest["counts"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key in zip(axes, ("category", "part", "mode")):
        items = sorted(counts.get(key, {}).items(), key=lambda kv: -kv[1])
        ax.bar([k for k, _ in items], [v for _, v in items], color="#5477a8")
        ax.set_title(f"records per {key}")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
    fig.tight_layout()
    files.append(_save(fig, os.path.join(plot_dir, "counts.png")))
    kept = table["valid"].astype(bool) & table["sim_success"].astype(bool) if len(table["mode"]) else np.zeros(0, bool)
    for key, label in HISTOGRAMS:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        for mode in sorted(set(table["mode"][kept].tolist())) if kept.any() else []:
            values = table[key][kept & (table["mode"] == mode)]
            ax.hist(values[np.isfinite(values)], bins=20, alpha=0.6, label=mode)
        ax.set_xlabel(label)
        ax.set_ylabel("kept grasps")
        ax.legend() if kept.any() else ax.text(0.5, 0.5, "no kept grasps", ha="center", transform=ax.transAxes)
        fig.tight_layout()
        files.append(_save(fig, os.path.join(plot_dir, f"{key}.png")))
    stats = {"counts": counts, "quality": quality_summary(table), "failures": manifest.get("failures", []),
             "files": files}
    atomic_io.write_json(os.path.join(out_dir, "statistics.json"), stats, indent=1, default=float)
    return stats


def _save(fig, path: str) -> str:
    import matplotlib.pyplot as plt

    try:
        atomic_io.write_figure(path, fig, dpi=110)
    finally:
        plt.close(fig)
    return path
