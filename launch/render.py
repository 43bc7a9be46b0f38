"""Pictures of grasps: `python -m launch.render --poses FILE [--index I ...] [--out DIR] [--glb] [--size PX]`.

FILE is a grasp file in the `dexvlg_jax.eval.grasp_files` format (e.g. a `launch.synthesize` output).
For each chosen grasp
(default: the first 4 valid ones), writes `DIR/grasp_<object>_<i>.png` (hand + object coloured by part, software
renderer: works headless) and, with --glb, `DIR/grasp_<object>_<i>.glb` for any 3D viewer.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from dexvlg_jax.cli_errors import run_main
from dexvlg_jax.eval import load_object, read_grasp_file
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.viz import draw_grasp


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m launch.render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poses", required=True, help="grasp file (.npz)")
    parser.add_argument("--index", type=int, nargs="*", help="grasp rows to draw (default: first 4 valid)")
    parser.add_argument("--out", default="grasp_pictures", help="output folder")
    parser.add_argument("--glb", action="store_true", help="also export GLB files")
    parser.add_argument("--size", type=int, default=480, help="picture size in pixels")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = parser.parse_args(argv)

    grasps = read_grasp_file(args.poses)
    count = len(grasps["translation"])
    finite = np.flatnonzero(np.isfinite(grasps["translation"]).all(1) & np.isfinite(grasps["joints"]).all(1))
    with np.load(args.poses, allow_pickle=False) as f:
        valid = np.asarray(f["valid"], bool) if "valid" in f.files else np.ones(count, bool)
    rows = args.index if args.index else [i for i in finite if valid[i]][:4]
    bad = [i for i in rows if not 0 <= i < count]
    if bad:
        parser.error(f"--index {bad}: the file has {count} grasps (rows 0..{count - 1})")
    if not rows:
        print(f"{args.poses}: no valid grasp to draw", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    base, cache = os.path.dirname(os.path.abspath(args.poses)), {}
    for i in rows:
        name = str(grasps["object"][i])
        obj = cache.setdefault(name, load_object(name, base))
        pose = HandPose(grasps["translation"][i], grasps["rotation"][i], grasps["joints"][i])
        stem = os.path.join(args.out, f"grasp_{obj.name}_{i}")
        print(draw_grasp(stem + ".png", obj, pose, size=args.size, glb=args.glb))
        if args.glb:
            print(stem + ".glb")
    return 0


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2 (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.render")


if __name__ == "__main__":
    sys.exit(cli_main())
