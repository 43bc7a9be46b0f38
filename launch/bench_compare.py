"""`python -m launch.benchmark compare --eval NAME=RUN/eval ... [--reference DATASET] [--source model]`: evaluations
side by side on the conditions they all evaluate (JSON; the table goes to stderr).

Runs trained on different builds of the same objects evaluate different conditions (only those their dataset has a
sim-passing grasp for), so their headline tables do not compare. This reads each run's `eval_results.json`, keeps
the (split, object, part, mode) conditions every run evaluated, and gives success / PGA % per split label; with
--reference, separately over the conditions that dataset covers and the others (e.g. a base build's conditions and
the ones a data-engine variant added). To judge two models on the same conditions, evaluate both with the same
`launch.evaluate --dataset`. See `dexvlg_jax.eval.compare`.
"""
import argparse
import sys

from dexvlg_jax.eval.compare import SOURCES, compare_evaluations, comparison_text, read_results
from dexvlg_jax.eval.conditions import covered_conditions


def _named(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    return (name, path) if sep and name and path else (text, text)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", action="append", default=[], metavar="[NAME=]PATH", required=True,
                        help="an evaluation's output folder or eval_results.json (at least two)")
    parser.add_argument("--reference", help="a dataset directory: rows split into its covered conditions and others")
    parser.add_argument("--source", default="model", choices=SOURCES, help="whose trials: the model or a baseline")
    args = parser.parse_args(argv or [])
    runs = dict(_named(text) for text in args.eval)
    if len(runs) < 2:
        parser.error(f"--eval: give at least two evaluations with distinct names, got {args.eval}")
    results = {name: read_results(path) for name, path in runs.items()}
    reference = covered_conditions(args.reference) if args.reference else None
    report = compare_evaluations(results, reference, source=args.source)
    print(comparison_text(report), file=sys.stderr)
    return dict(report, evals=runs, reference=args.reference)
