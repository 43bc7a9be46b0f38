"""`python -m launch.benchmark dataset --data DIR`: a built dataset judged where it is used (JSON).

Yield (kept grasps per synthesised pose), the ground-truth ceiling (kept grasps re-simulated with the evaluation's
tabletop protocol, in place and turned by a random yaw), the six-direction pass rate of kept grasps, coverage of
(object, part, mode) conditions and the quality table; see `dexvlg_jax.data.quality`. The data engine's own
throughput (kept grasps per second of build wall time) is added when `--build-seconds` is given.
"""
import argparse

from dexvlg_jax.data.quality import dataset_quality


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark dataset", description=__doc__)
    parser.add_argument("--data", required=True, help="a dataset directory (launch.build_dataset --out)")
    parser.add_argument("--backend", default="c", choices=("c", "mjx"))
    parser.add_argument("--min-grasps", type=int, default=4, help="kept grasps a condition needs to count covered")
    parser.add_argument("--no-recheck", action="store_true", help="skip the re-simulation (ceiling, six-direction)")
    parser.add_argument("--build-seconds", type=float, default=None, help="wall time of the build, for grasps/s")
    args = parser.parse_args(argv or [])
    report = dataset_quality(args.data, backend=args.backend, min_grasps=args.min_grasps,
                             recheck=not args.no_recheck)
    if args.build_seconds:
        kept = report["totals"]["all"]["kept"]
        report["data_engine"] = {"build_seconds": args.build_seconds, "kept_grasps": kept,
                                 "kept_grasps_per_second": kept / args.build_seconds}
    return report
