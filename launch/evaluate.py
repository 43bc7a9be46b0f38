"""Simulated evaluation, of a grasp file or of a trained model (the library: `dexvlg_jax.eval`).

    python -m launch.evaluate --poses FILE [--protocol P] [--backend c|mjx] [--config configs/eval/sim.py[:tiny]]
        [--set key=value ...] [--out results.json]
    python -m launch.evaluate --checkpoint WORKDIR [--dataset DIR] [--policy model|retrieval]
        [--config configs/eval/model_tiny.py[:smoke]] [--step N | N,M,... | all] [--ensemble WORKDIR ...] [--out DIR]

Prints the table and writes JSON. The grasp-file format is in `dexvlg_jax/eval/grasp_files.py`'s docstring.
With --checkpoint (a `launch.train` workdir), evaluation runs on the dataset the model trained on (or --dataset):
its objects, placements and splits; the model samples K grasps per rendered view and held-out instruction, the
image-free retrieval baseline runs on the same conditions, and both are tried with the tabletop-lift protocol.
Conditions without a sim-passing grasp in the dataset are skipped and listed with their reason. The table,
eval_results.json and grasp pictures go to --out (default WORKDIR/eval). --step evaluates a kept checkpoint step
instead of the newest; several steps (or "all") evaluate the run along its learning curve (`dexvlg_jax.eval.curve`):
each step's report in OUT/step_<N>/, the curve in OUT/curve.txt and OUT/curve.json. --ensemble (repeatable) adds
other runs' newest checkpoints: their samples join the checkpoint's candidates (shared out evenly) before ranking,
refinement and verification.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from dexvlg_jax import atomic_io
from dexvlg_jax.cli_errors import UserFileNotFoundError, run_main
from dexvlg_jax.config_files import apply_overrides, eval_configs, load_config_file, sim_configs
from dexvlg_jax.devices import enable_compilation_cache
from dexvlg_jax.eval import POLICIES, evaluate_checkpoint, evaluate_curve, evaluate_grasp_file

_EVAL_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "eval")
DEFAULT_CONFIG = os.path.join(_EVAL_CONFIGS, "sim.py")
DEFAULT_MODEL_CONFIG = os.path.join(_EVAL_CONFIGS, "model_tiny.py")


def run(poses_path: str, config) -> dict:
    """--poses: the grasp file in simulation (`dexvlg_jax.eval.evaluate_grasp_file`) under `config`."""
    scene_cfg, protocol = sim_configs(config)
    kwargs = {"nthread": config.nthread or None} if config.backend == "c" else {"impl": config.impl}
    out = evaluate_grasp_file(poses_path, protocol, config.backend, scene_cfg, **kwargs)
    return dict(out, config=config.to_dict())


def parse_steps(text: str) -> list[int] | None:
    """--step: "N" or "N,M,..." (checkpoint steps, >= 0) -> [ints]; "all" -> None (every kept step)."""
    if text.strip().lower() == "all":
        return None
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        steps = []
    if not steps or min(steps) < 0:
        raise argparse.ArgumentTypeError(f"--step: {text!r} is not a step, a comma-separated list of steps or "
                                         "'all' (e.g. --step 8000 or --step 4000,8000,12000)")
    return steps


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--poses", help="grasp file (.npz), format in dexvlg_jax/eval/grasp_files.py")
    what.add_argument("--checkpoint", help="a launch.train workdir (or its checkpoints/ folder) to evaluate")
    parser.add_argument("--dataset", help="--checkpoint: dataset directory (default: the one the run trained on)")
    parser.add_argument("--policy", choices=POLICIES, help="--checkpoint: 'model' (default; with the retrieval "
                        "baseline beside it) or 'retrieval' (the image-free baseline only)")
    parser.add_argument("--protocol", choices=("six_direction", "tabletop_lift"))
    parser.add_argument("--backend", choices=("c", "mjx"))
    parser.add_argument("--config", default=None, help="configs/eval/sim.py[:tiny] for --poses (default), "
                        "configs/eval/model_tiny.py[:smoke] for --checkpoint (default)")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (repeatable)")
    parser.add_argument("--step", type=parse_steps, default=[], help="--checkpoint: the kept step to evaluate "
                        "(default the newest); several (N,M,...) or 'all': the run along its learning curve")
    parser.add_argument("--ensemble", action="append", default=[], help="--checkpoint: another launch.train "
                        "workdir whose samples join the candidates (repeatable; one step of --checkpoint only)")
    parser.add_argument("--out", help="--poses: write the JSON here; --checkpoint: output folder")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = parser.parse_args(argv)
    if args.poses and args.step != []:
        parser.error("--step: applies to --checkpoint (a grasp file has no checkpoint steps)")
    if args.ensemble and (args.poses or args.step is None or len(args.step) > 1):
        parser.error("--ensemble: applies to --checkpoint at one step (not to --poses or a learning curve)")
    enable_compilation_cache()  # a second evaluation skips the compilations (DEXVLG_JAX_CACHE=0 turns it off)
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
        atomic_io.write_json(args.out, out, indent=1)
    return out


def evaluate_model(args) -> dict:
    """--checkpoint: the model's grasps in tabletop-lift simulation on the dataset (`dexvlg_jax.eval`)."""
    if not os.path.exists(args.checkpoint):
        raise UserFileNotFoundError(f"--checkpoint: {args.checkpoint!r} does not exist",
                                    "give a launch.train --workdir")
    if args.dataset and not os.path.isdir(args.dataset):
        raise UserFileNotFoundError(f"--dataset: {args.dataset!r} is not a directory",
                                    "give a launch.build_dataset --out")
    for member in args.ensemble:
        if not os.path.exists(member):
            raise UserFileNotFoundError(f"--ensemble: {member!r} does not exist", "give a launch.train --workdir")
    config = apply_overrides(load_config_file(args.config or DEFAULT_MODEL_CONFIG), args.set)
    eval_config, protocol, scene = eval_configs(config)
    changes = {k: v for k, v in (("backend", args.backend), ("policy", args.policy)) if v}
    eval_config = dataclasses.replace(eval_config, **changes)
    out_dir = args.out or os.path.join(args.checkpoint, "eval")
    kwargs = dict(protocol=protocol, scene_config=scene, dataset=args.dataset)
    if args.step is None or len(args.step) > 1:
        curve = evaluate_curve(args.checkpoint, eval_config, args.step, out_dir=out_dir, **kwargs)
        print(curve["table"])
        print(f"curve: {os.path.join(out_dir, 'curve.json')}")
        return curve
    report = evaluate_checkpoint(args.checkpoint, eval_config, out_dir=out_dir, step=(args.step or [None])[0],
                                 ensemble=tuple(args.ensemble), **kwargs)
    print(report["table"])
    print(f"results: {os.path.join(out_dir, 'eval_results.json')}")
    return report


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.evaluate")


if __name__ == "__main__":
    sys.exit(cli_main())
