"""How good a built dataset is in the terms of the stage that consumes it: do its grasps lift the object on the table
where the model is judged, how many synthesised poses it keeps, which (object, part, mode) conditions it covers,
and the paper's quality table.

    report = dataset_quality("dataset_dir")       # python -m launch.benchmark dataset --data dataset_dir

Reads `manifest.json` (splits, placements) and the cached grasp files and processed objects. Figures:
  yield        kept grasps (synthesis filter + simulation filter) per synthesised pose, per category and mode;
               "q1_waived" / "contacts_waived" count the kept ones that failed only the Q1 screen / the touching-contact
               count (`DatasetConfig.q1_waiver_below`, `contact_waiver_below`), "explored" the kept ones whose pose
               was drawn by exploration (`DatasetConfig.topup_explore`);
  ceiling      the kept grasps re-simulated with the evaluation's protocol (`sim`, tabletop lift) in the stored
               placement, and again after turning the object by a random yaw (the same physics on another part of
               the table: a check that passing is not an accident of one rollout);
  six_direction  the share of kept grasps that would also pass the six-direction filter (gravity-free, no table);
  coverage     each (object, part, mode) has >= `min_grasps` kept grasps, or is listed with the commonest reason;
               "not_producible" counts those the hand cannot grasp by rule (`grasp.feasibility.NOT_PRODUCIBLE`: too
               small, too big, unreachable or too low on the table), "producible_fraction" is covered / the rest, and
               "max_fraction" the share of producible conditions: the highest "fraction" these objects allow while
               those rules stand (no synthesis change covers a part the open hand cannot span);
               "short" counts the uncovered ones with 1 to min_grasps - 1 kept grasps (more poses of the same rules
               reach these: top-up rounds; the ones with none kept did not gain from 5x the poses, grasp/NOTES.md);
  quality      per mode: mean penetration, self-penetration, hand-table penetration (mm) and Q1 of kept grasps,
               beside the paper's figures, as the grasp files store them (`grasp.metrics`: exact mesh and hand
               geometry); "metrics" names the metric versions found (grasp-file meta "metrics"; "grid" for files
               written before the exact metrics, whose penetration reads low and Q1 high near sharp edges).
"""
from __future__ import annotations

import collections
import dataclasses
import glob
import os

import numpy as np

from dexvlg_jax import objects as objects_lib
from dexvlg_jax import sim
from dexvlg_jax.data.synthesis import kept_mask, row_field
from dexvlg_jax.data.writer import read_manifest
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.grasp.feasibility import NOT_PRODUCIBLE
from dexvlg_jax.scene import Tabletop, yaw_matrix

WAIVED = ("q1_waived", "contacts_waived")
COUNTED = WAIVED + ("explored",)  # kept grasps counted apart: waived, or from exploration (`topup_explore`)
PAPER_QUALITY = {"wrap": {"pen_mm": 1.75, "spen_mm": 0.19, "q1": 0.085},
                 "pinch": {"pen_mm": 1.42, "spen_mm": 0.22, "q1": 0.067}}


def _turned(tabletop: Tabletop, yaw: float) -> Tabletop:
    """The same placement turned about the world z axis by `yaw` (rad)."""
    turn = np.eye(4)
    turn[:3, :3] = yaw_matrix(yaw)
    return dataclasses.replace(tabletop, object_to_world=turn @ tabletop.object_to_world, yaw=tabletop.yaw + yaw)


def _condition_reason(grasps: dict, rows: np.ndarray) -> str:
    """The commonest reason why the rows of one condition were not kept."""
    reasons = [s if s != "ok" else f"simulation: {r}" for s, r in
               zip(np.asarray(grasps["status"])[rows], np.asarray(grasps.get("sim_reason", [""] * len(rows)))[rows])]
    return collections.Counter(r.split(" (")[0] for r in reasons).most_common(1)[0][0] if reasons else "no rows"


def dataset_quality(dataset_dir: str, backend: str = "c", min_grasps: int = 4, recheck: bool = True,
                    seed: int = 0) -> dict:
    """The report described in the module docstring (a JSON-ready dict)."""
    manifest = read_manifest(dataset_dir)
    placed = manifest.get("objects", {})
    rng = np.random.default_rng(seed)
    per = collections.defaultdict(lambda: collections.Counter())
    quality = collections.defaultdict(lambda: collections.defaultdict(list))
    conditions, uncovered = 0, []
    versions = collections.defaultdict(set)
    for path in sorted(glob.glob(os.path.join(dataset_dir, "cache", "grasps", "*.npz"))):
        object_id = os.path.splitext(os.path.basename(path))[0]
        grasps = grasp_io.load_grasps(path)
        obj = objects_lib.load_processed(os.path.join(dataset_dir, "cache", "objects", f"{object_id}.npz"))
        category, modes = grasps["category"], np.asarray(grasps["mode"]).astype(str)
        kept, synthesised = kept_mask(grasps), np.all(np.isfinite(grasps["poses"]), axis=1)
        counted = {k: np.asarray(grasps.get(k, np.zeros(len(modes), bool)), bool) for k in WAIVED}
        counted["explored"] = row_field(grasps, "init_placement").astype(str) == "surface"
        for mode in np.unique(modes):
            sel = modes == mode
            per[(category, mode)].update(poses=int((sel & synthesised).sum()), valid=int((sel & grasps["valid"]).sum()),
                                         kept=int((sel & kept).sum()),
                                         **{k: int((sel & kept & w).sum()) for k, w in counted.items()})
            for k in ("pen_mm", "spen_mm", "table_mm", "q1"):
                if k in grasps:
                    quality[mode][k].extend(np.asarray(grasps[k])[sel & kept].tolist())
            versions[mode].add(grasps["meta"].get("metrics", "grid"))
        for part in range(obj.num_parts):
            for mode in np.unique(modes):
                rows = (np.asarray(grasps["part_id"]) == part) & (modes == mode)
                conditions += 1
                if (rows & kept).sum() < min_grasps:
                    uncovered.append({"object": object_id, "part": obj.part_names[part], "mode": mode,
                                      "kept": int((rows & kept).sum()), "reason": _condition_reason(grasps, rows)})
        if recheck and kept.any() and placed.get(object_id, {}).get("tabletop"):
            tabletop = Tabletop.from_json(placed[object_id]["tabletop"])
            poses = np.asarray(grasps["poses"])[kept]
            for label, table in (("ceiling", tabletop),
                                 ("ceiling_turned", _turned(tabletop, rng.uniform(0, 2 * np.pi)))):
                rec = sim.evaluate(obj, poses, protocol="tabletop_lift", backend=backend, tabletops=table).records[0]
                for mode in np.unique(modes[kept]):
                    per[(category, mode)][label] += int(rec.success[modes[kept] == mode].sum())
            six = sim.evaluate(obj, poses, protocol="six_direction", backend=backend).records[0]
            for mode in np.unique(modes[kept]):
                per[(category, mode)]["six_direction"] += int(six.success[modes[kept] == mode].sum())
    rows = []
    for (category, mode), c in sorted(per.items()):
        row = {"category": category, "mode": mode, "poses": c["poses"], "valid": c["valid"], "kept": c["kept"],
               **{k: c[k] for k in COUNTED}, "yield": c["kept"] / max(c["poses"], 1)}
        if recheck:
            for k in ("ceiling", "ceiling_turned", "six_direction"):
                row[k] = c[k] / c["kept"] if c["kept"] else float("nan")
        rows.append(row)
    totals = {}
    for mode in ("wrap", "pinch", "all"):
        sel = [r for r in rows if mode == "all" or r["mode"] == mode]
        kept = sum(r["kept"] for r in sel)
        totals[mode] = {"poses": sum(r["poses"] for r in sel), "kept": kept,
                        **{k: sum(r[k] for r in sel) for k in COUNTED},
                        "yield": kept / max(sum(r["poses"] for r in sel), 1)}
        if recheck:
            for k in ("ceiling", "ceiling_turned", "six_direction"):
                totals[mode][k] = sum(per[(r["category"], r["mode"])][k] for r in sel) / max(kept, 1)
    table = [{"mode": mode, **{k: float(np.mean(v)) if v else float("nan") for k, v in q.items()},
              "metrics": sorted(versions[mode]), "paper": PAPER_QUALITY.get(mode, {})}
             for mode, q in sorted(quality.items())]
    covered = conditions - len(uncovered)
    not_producible = sum(u["reason"].startswith(NOT_PRODUCIBLE) for u in uncovered)
    short = sum(u["kept"] > 0 for u in uncovered)
    return {"per_category_mode": rows, "totals": totals, "quality": table,
            "coverage": {"conditions": conditions, "covered": covered, "fraction": covered / max(conditions, 1),
                         "not_producible": not_producible, "short": short,
                         "producible_fraction": covered / max(conditions - not_producible, 1),
                         "max_fraction": (conditions - not_producible) / max(conditions, 1),
                         "min_grasps": min_grasps, "uncovered": uncovered}}
