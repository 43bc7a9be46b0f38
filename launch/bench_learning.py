"""The learning benchmark and the head ablation: `python -m launch.benchmark learning --data DIR --out ROOT
[--seeds 0,1,2] [--heads flow,ddpm] [--steps N] [--eval-config configs/eval/model_tiny.py:ranked]
[--eval-set key=value ...]`.

For every training head and seed it trains configs/train/learning.py on DIR (in ROOT/<head>_s<seed>; resumable:
a finished run is not retrained), then evaluates the checkpoint with the tabletop-lift protocol of
`--eval-config` (default configs/eval/model_tiny.py; the retrieval baseline beside it); a DDPM run is also sampled
with DDIM (they share
training), so the arms are flow, ddpm and ddim. Prints and writes ROOT/ablation.json: per arm and table row the
success and PGA as mean +- 95% interval over seeds (`eval.ablation`), training seconds and sampling seconds per
grasp per run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from dexvlg_jax import atomic_io
from dexvlg_jax import eval as evaluation
from dexvlg_jax.config_files import apply_overrides, eval_configs, load_config_file, train_config
from dexvlg_jax.eval.ablation import ablation_rows
from dexvlg_jax.train import train

TRAIN_CONFIG = "configs/train/learning.py"
EVAL_CONFIG = "configs/eval/model_tiny.py"


def _arms(head: str) -> tuple[str, ...]:
    return ("ddpm", "ddim") if head == "ddpm" else (head,)


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark learning", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a launch.build_dataset directory (configs/data/learning.py)")
    parser.add_argument("--out", required=True, help="folder of the training runs and ablation.json")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--heads", default="flow,ddpm", help="training heads (ddpm also gives the ddim arm)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    parser.add_argument("--variant", default=None, help="network variant (models.variants; default: the config's)")
    parser.add_argument("--eval-config", default=EVAL_CONFIG, help="an eval config file[:arg]")
    parser.add_argument("--eval-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override of the eval config, e.g. eval.rank_candidates=16")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    heads = [h for h in args.heads.split(",") if h]
    eval_config, protocol, scene = eval_configs(apply_overrides(load_config_file(args.eval_config), args.eval_set))
    reports, runs = {}, []
    for head in heads:
        for seed in seeds:
            arg = (f"data={args.data},head={head},seed={seed}" + (f",steps={args.steps}" if args.steps else "")
                   + (f",variant={args.variant}" if args.variant else ""))
            workdir = os.path.join(args.out, f"{head}_s{seed}")
            began = time.time()
            result = train(train_config(load_config_file(f"{TRAIN_CONFIG}:{arg}")), workdir, progress=False)
            train_s = time.time() - began
            for arm in _arms(head):
                report = evaluation.evaluate_checkpoint(
                    workdir, dataclasses.replace(eval_config, head=arm, seed=seed), protocol=protocol,
                    scene_config=scene, out_dir=os.path.join(workdir, f"eval_{arm}"))
                reports.setdefault(arm, []).append(report)
                runs.append({"arm": arm, "seed": seed, "workdir": workdir, "step": result.step,
                             "train_seconds_this_call": round(train_s, 1), "timing": report.get("timing", {}),
                             "summary": report["summary"]})
    out = {"data": args.data, "seeds": seeds, "eval": dataclasses.asdict(eval_config),
           "rows": ablation_rows(reports), "runs": runs}
    atomic_io.write_json(os.path.join(args.out, "ablation.json"), out, indent=1)
    return out
