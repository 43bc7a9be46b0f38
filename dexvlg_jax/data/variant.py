"""A change to the grasp stage measured on a built dataset: the build's processed objects and placements, the grasp
stage run again with another config (`data.synthesis.synthesize_cached`: synthesis on the table, the simulation
filter, top-up rounds and waivers as that config asks), and the kept grasps compared per (object, part, mode) with the
build's own.

    report = compare_grasp_stage("dataset_dir", cfg, "variant_dir", objects=("hammer_0", "mug_0"))
    # python -m launch.benchmark variant --data dataset_dir --out variant_dir --config configs/data/learning.py \
    #     --set synth.weights.dir=10 --objects hammer_0 mug_0

Every round is seeded from the config (`SynthConfig.seed`, the part and the mode), so the build's own config gives
the build's grasps again (same code, jax version and machine) and a difference is the variant's doing. The variant's
grasp files are cached in `variant_dir/grasps/<object>.npz`: an interrupted comparison resumes, and a second
comparison into the same folder reads them (so use one folder per variant). The objects are the build's processed
ones as they are: a processing setting (`processing.*`, e.g. the SDF grid's resolution) is not a variant here.
The report (JSON-ready):
  conditions  one row per (object, part, mode): kept grasps in the build ("base") and in the variant;
  totals      per side: synthesised poses, kept grasps, conditions with >= `min_grasps` kept ("covered");
  seconds     wall time of the variant's grasp stage per object computed in this call (compilation included;
              objects read from `variant_dir` are not timed and are listed in "resumed");
  changed     the synthesis settings that differ, {"field.path": [build, variant]}, from the build's grasp-file meta.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import sys
import time

import numpy as np

from dexvlg_jax import objects as objects_lib
from dexvlg_jax.cli_errors import UserFileNotFoundError, UserValueError
from dexvlg_jax.data.synthesis import kept_counts, synthesize_cached
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.grasp.synthesize import SynthConfig
from dexvlg_jax.scene import Tabletop


def _flat(tree, prefix: str = "") -> dict:
    """Nested dicts -> {"a.b.c": leaf}; tuples become lists (the JSON form grasp-file meta stores)."""
    if isinstance(tree, dict):
        out = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: json.loads(json.dumps(tree))}


def config_changes(base_meta: dict, variant_meta: dict) -> dict:
    """{"field.path": [build's value, variant's value]} over the synthesis settings that differ between two grasp
    files' meta (each "config" is `dataclasses.asdict` of the SynthConfig its first round ran with). A setting that
    one file's meta lacks (written before the setting existed) counts as the setting's default."""
    defaults = _flat(dataclasses.asdict(SynthConfig()))
    base, new = _flat(base_meta.get("config", {})), _flat(variant_meta.get("config", {}))
    base, new = ({k: side.get(k, defaults.get(k)) for k in set(base) | set(new)} for side in (base, new))
    return {k: [base[k], new[k]] for k in sorted(base) if base[k] != new[k]}


def _object_ids(dataset_dir: str, wanted) -> list[str]:
    folder = os.path.join(dataset_dir, "cache", "grasps")
    built = sorted(os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(folder, "*.npz")))
    if not built:
        raise UserFileNotFoundError(f"--data {dataset_dir}: no grasp files in {folder}",
                                    "give a folder that launch.build_dataset wrote (--out)")
    unknown = sorted(set(wanted or ()) - set(built))
    if unknown:
        raise UserValueError(f"--objects: {', '.join(unknown)} not in {folder}",
                             f"choose among {', '.join(built)}")
    return list(wanted) if wanted else built


def _tabletop(grasps: dict, path: str) -> Tabletop:
    if not grasps.get("tabletop"):
        raise UserValueError(f"{path}: the grasps were made without a table (no stored placement)",
                             "compare against a dataset built with a tabletop")
    return Tabletop.from_json(grasps["tabletop"])


def _totals(rows: list, side: str, poses: int, min_grasps: int) -> dict:
    """One side's ("base" / "variant") totals over the condition rows."""
    return {"poses": poses, "kept": sum(r[side] for r in rows),
            "covered": sum(r[side] >= min_grasps for r in rows), "conditions": len(rows)}


def _poses(grasps: dict) -> int:
    """Synthesised poses (rows of a part rejected by rule are NaN and do not count)."""
    return int(np.all(np.isfinite(np.asarray(grasps["poses"])), axis=1).sum())


def compare_grasp_stage(dataset_dir: str, cfg, out_dir: str, objects=None, min_grasps: int = 4,
                        progress: bool = False) -> dict:
    """The report of the module docstring. cfg: a `data.pipeline.DatasetConfig` (the variant); objects: object ids
    of the build (default: every one with a grasp file)."""
    rows, seconds, resumed, changed = [], {}, [], {}
    base_poses = variant_poses = 0
    for index, object_id in enumerate(_object_ids(dataset_dir, objects)):
        base_path = os.path.join(dataset_dir, "cache", "grasps", f"{object_id}.npz")
        base = grasp_io.load_grasps(base_path)
        obj = objects_lib.load_processed(os.path.join(dataset_dir, "cache", "objects", f"{object_id}.npz"))
        cached = os.path.exists(os.path.join(out_dir, "grasps", f"{object_id}.npz"))
        start = time.time()
        variant = synthesize_cached(object_id, obj, cfg, out_dir, _tabletop(base, base_path))
        if cached:
            resumed.append(object_id)
        else:
            seconds[object_id] = round(time.time() - start, 2)
        changed.update(config_changes(base["meta"], variant["meta"]))
        b, v = kept_counts(base), kept_counts(variant)
        for part, mode in sorted(set(b) | set(v)):
            rows.append({"object": object_id, "part": obj.part_names[part] if 0 <= part < obj.num_parts else str(part),
                         "mode": mode, "base": b.get((part, mode), 0), "variant": v.get((part, mode), 0)})
        base_poses += _poses(base)
        variant_poses += _poses(variant)
        if progress:
            print(f"[{index + 1}] {object_id}: kept {sum(b.values())} -> {sum(v.values())}", file=sys.stderr,
                  flush=True)  # stdout is the benchmark's JSON
    return {"conditions": rows, "min_grasps": min_grasps, "seconds": seconds, "resumed": resumed,
            "changed": changed, "totals": {"base": _totals(rows, "base", base_poses, min_grasps),
                                           "variant": _totals(rows, "variant", variant_poses, min_grasps)}}
