"""Simulated evaluation, of a grasp file or of a trained model.

    python -m launch.evaluate --poses FILE [--protocol P] [--backend c|mjx] [--config configs/eval/sim.py[:tiny]]
        [--set key=value ...] [--out results.json]
    python -m launch.evaluate --checkpoint WORKDIR [--config configs/eval/model_tiny.py[:smoke]] [--out DIR]

Prints the table and writes JSON. With --checkpoint (a `launch.train` workdir), the model samples K grasps per
rendered scene and held-out instruction and they are tried with the tabletop-lift protocol; the paper-style table
(success, PTA, PGA per split and mode), eval_results.json and grasp pictures go to --out (default WORKDIR/eval).

Grasp file (.npz, loadable with allow_pickle=False); object frame, metres, radians:
  poses        (G, 25) float: translation (3), rot6d (6: first two columns of the wrist rotation), 16 joints in
               dexvlg_jax.hand.JOINT_NAMES order; or instead the three arrays
  translation  (G, 3), rotation (G, 3, 3), joints (G, 16)
  object       str: a processed-object .npz (`dexvlg_jax.objects.save_processed`; a relative path is resolved
               against the grasp file's folder) or an embedded object "category:seed" (processed on the fly);
               a scalar for all grasps, or (G,) strings (grasps are grouped by object)
  part_id      optional (G,) int: instructed part (-1 = none), for PTA / PGA
  split        optional (G,) str: split labels for per-split tables
Output JSON: {"protocol", "backend", "config", "summary" (per split), "table", "trials": [per-trial records]}.
A bad grasp (NaN, joints out of range, deep penetration) is a failed trial with a reason, not an error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from launch.train import apply_overrides, load_config_file

_EVAL_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "eval")
DEFAULT_CONFIG = os.path.join(_EVAL_CONFIGS, "sim.py")
DEFAULT_MODEL_CONFIG = os.path.join(_EVAL_CONFIGS, "model_tiny.py")


def load_object(name: str, base_dir: str):
    """A processed object from an .npz path or an embedded "category:seed" name."""
    from dexvlg_jax import objects

    path = name if os.path.isabs(name) else os.path.join(base_dir, name)
    if name.endswith(".npz"):
        if not os.path.exists(path):
            raise FileNotFoundError(f"object: processed-object file {path!r} does not exist")
        return objects.load_processed(path)
    category, _, seed = name.partition(":")
    if category not in objects.CATEGORIES:
        raise ValueError(f"object: {name!r} is neither an .npz path nor 'category:seed' with a category in "
                         f"{list(objects.CATEGORIES)}")
    return objects.process_object(objects.make_object(category, int(seed or 0)), objects.ProcessingConfig())


def read_grasp_file(path: str) -> dict:
    """The grasp file's arrays, validated for presence and shapes (per-trial values are checked in simulation)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--poses: {path!r} does not exist")
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    if "object" not in data:
        raise ValueError(f"{path}: missing 'object' (processed-object .npz path or 'category:seed')")
    from dexvlg_jax.sim import split_pose

    t, r, q = split_pose(data)
    g = len(t)
    objs = np.broadcast_to(np.asarray(data["object"]).astype(str), (g,))
    part = np.asarray(data.get("part_id", -np.ones(g)), np.int64).reshape(-1)
    split = np.asarray(data["split"]).astype(str) if "split" in data else None
    if len(part) != g or (split is not None and len(split) != g):
        raise ValueError(f"{path}: part_id / split must have one entry per grasp ({g})")
    return {"translation": t, "rotation": r, "joints": q, "object": objs, "part_id": part, "split": split}


def run(poses_path: str, config) -> dict:
    from configs.eval.sim import to_dataclasses
    from dexvlg_jax import sim

    scene_cfg, protocol = to_dataclasses(config)
    grasps = read_grasp_file(poses_path)
    base = os.path.dirname(os.path.abspath(poses_path))
    names = list(dict.fromkeys(grasps["object"].tolist()))
    groups = [np.flatnonzero(grasps["object"] == n) for n in names]
    objects = [load_object(n, base) for n in names]
    kwargs = {"nthread": config.nthread or None} if config.backend == "c" else {"impl": config.impl}
    result = sim.evaluate(
        objects, [{k: grasps[k][ix] for k in ("translation", "rotation", "joints")} for ix in groups],
        protocol=protocol, backend=config.backend, part_ids=[grasps["part_id"][ix] for ix in groups],
        splits=None if grasps["split"] is None else [grasps["split"][ix] for ix in groups],
        scene_config=scene_cfg, **kwargs)
    trials = []
    for name, ix, rec in zip(names, groups, result.records):
        js = rec.to_json()
        for k, i in enumerate(ix):
            trials.append({"index": int(i), "object": name, "part_id": int(grasps["part_id"][i]),
                           **{key: js[key][k] for key in js}})
    trials.sort(key=lambda x: x["index"])
    return {"protocol": protocol.name, "backend": config.backend, "config": config.to_dict(),
            "summary": result.summary, "table": result.table, "trials": trials}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--poses", help="grasp file (.npz), format in this module's docstring")
    what.add_argument("--checkpoint", help="a launch.train workdir (or its checkpoints/ folder) to evaluate")
    parser.add_argument("--protocol", choices=("six_direction", "tabletop_lift"))
    parser.add_argument("--backend", choices=("c", "mjx"))
    parser.add_argument("--config", default=None, help="configs/eval/sim.py[:tiny] for --poses (default), "
                        "configs/eval/model_tiny.py[:smoke] for --checkpoint (default)")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--out", help="--poses: write the JSON here; --checkpoint: output folder")
    args = parser.parse_args(argv)
    if args.checkpoint:
        return evaluate_model(args)
    config = apply_overrides(load_config_file(args.config or DEFAULT_CONFIG), args.set)
    if args.protocol:
        config.protocol = args.protocol
    if args.backend:
        config.backend = args.backend
    out = run(args.poses, config)
    print(out["table"])
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
    return out


def evaluate_model(args) -> dict:
    """--checkpoint: the model's grasps in tabletop-lift simulation (dexvlg_jax.train.evaluate)."""
    from configs.eval.model_tiny import to_dataclasses
    from dexvlg_jax.train.evaluate import evaluate_checkpoint

    if not os.path.exists(args.checkpoint):
        raise FileNotFoundError(f"--checkpoint: {args.checkpoint!r} does not exist (give a launch.train --workdir)")
    config = apply_overrides(load_config_file(args.config or DEFAULT_MODEL_CONFIG), args.set)
    eval_config, protocol, scene = to_dataclasses(config)
    if args.backend:
        import dataclasses

        eval_config = dataclasses.replace(eval_config, backend=args.backend)
    out_dir = args.out or os.path.join(args.checkpoint, "eval")
    report = evaluate_checkpoint(args.checkpoint, eval_config, out_dir=out_dir, protocol=protocol,
                                 scene_config=scene)
    print(report["table"])
    print(f"results: {os.path.join(out_dir, 'eval_results.json')}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
