"""The `dexvlg` command: one subcommand per stage, each a thin alias of a `python -m launch.<module>` CLI.

    dexvlg demo            the main job on the embedded objects (synthesis -> sim -> ... -> report)
    dexvlg synthesize      grasp synthesis                      (launch/synthesize.py)
    dexvlg build-dataset   the data engine into ArrayRecord     (launch/build_dataset.py)
    dexvlg train           train the DexVLG model               (launch/train.py)
    dexvlg evaluate        simulated evaluation of grasps       (launch/evaluate.py)
    dexvlg benchmark       throughput benchmarks, JSON          (launch/benchmark.py)
    dexvlg render          pictures of grasps / scenes          (launch/render.py)

Everything after the subcommand is passed to that module's own parser: `dexvlg train --help`. A user error (bad
path, bad config, bad input file, a checkpoint that does not match the config) prints one line and exits with
status 2; add `--debug` for the full traceback.
"""
import importlib
import sys

SUBCOMMANDS = {
    "demo": ("launch.demo", "run the main job end to end on the embedded objects"),
    "synthesize": ("launch.synthesize", "synthesise grasps for objects (DFC / LP-DFC energy optimisation)"),
    "build-dataset": ("launch.build_dataset", "build the sharded ArrayRecord dataset"),
    "train": ("launch.train", "train the DexVLG model"),
    "evaluate": ("launch.evaluate", "evaluate grasps in simulation (MJX or C MuJoCo)"),
    "benchmark": ("launch.benchmark", "print throughput benchmarks as JSON"),
    "render": ("launch.render", "render grasps and scenes to PNG / GLB"),
}


def _usage() -> str:
    rows = "\n".join(f"  {name:<14} {doc}" for name, (_, doc) in SUBCOMMANDS.items())
    return f"usage: dexvlg SUBCOMMAND [args...]\n\nsubcommands:\n{rows}\n\n`dexvlg SUBCOMMAND --help` explains each."


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name = argv[0]
    if name not in SUBCOMMANDS:
        close = [s for s in SUBCOMMANDS if s.startswith(name[:3])]
        hint = f" Did you mean `dexvlg {close[0]}`?" if close else ""
        print(f"dexvlg: unknown subcommand {name!r}.{hint}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = SUBCOMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        print(f"dexvlg {name}: this stage is not in this version yet ({module_name}).", file=sys.stderr)
        return 2
    sys.argv = [f"dexvlg {name}"] + argv[1:]
    # User errors of every stage: one line and exit status 2, the traceback only with --debug.
    from dexvlg_jax.cli_errors import run_main

    return run_main(module.main, argv[1:], prog=f"dexvlg {name}")


if __name__ == "__main__":
    sys.exit(main())
