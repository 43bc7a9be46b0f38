"""`python -m launch.benchmark variant --data DIR --out VARIANT_DIR --config configs/data/<name>.py [--set k=v ...]
[--objects id ...]`: a change to the grasp stage measured on a built dataset (JSON).

The build's processed objects and placements go through the grasp stage again with the given data config and
overrides (e.g. `--set synth.weights.dir=10`, `--set contact_waiver_below=4`, `--set topup_rounds=1`); the kept grasps
per (object, part, mode) are reported beside the build's, with the totals, the seconds and the synthesis settings that
differ. Give the config the build was made with, so that only the `--set` changes differ; see
`dexvlg_jax.data.variant`.
"""
import argparse

from dexvlg_jax.config_files import apply_overrides, dataset_config, load_config_file
from dexvlg_jax.data.variant import compare_grasp_stage


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark variant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a dataset directory (launch.build_dataset --out)")
    parser.add_argument("--out", required=True, help="the variant's grasp files (one folder per variant; resumes)")
    parser.add_argument("--config", required=True, help="the data config the build used, optionally :arg")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="the variant: overrides of the data config (configs/data layout)")
    parser.add_argument("--objects", nargs="*", default=None, help="object ids of the build (default: all)")
    parser.add_argument("--min-grasps", type=int, default=4, help="kept grasps a condition needs to count covered")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv or [])
    cfg = dataset_config(apply_overrides(load_config_file(args.config), args.set))
    return compare_grasp_stage(args.data, cfg, args.out, objects=args.objects, min_grasps=args.min_grasps,
                               progress=not args.no_progress)
