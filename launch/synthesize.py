"""Grasp synthesis CLI: `python -m launch.synthesize --config configs/synth/<name>.py[:arg] --out DIR
[--objects embedded|FOLDER] [--units mm|cm|m|in | --size-m METRES] [--set key=value ...] [--max-objects N]`.

Objects: "embedded" = the procedural library (config `objects.categories`, `num_per_category`, `seed`); or a
folder of mesh files (.obj .stl .ply .off .glb .gltf, part-label sidecars as `dexvlg_jax.objects.load_mesh`
reads them). Every object takes the data engine's path (`data.pipeline.prepare`: segment if unlabelled, the
offline annotator's part names and real size, processing) and is synthesised resting upright on the table
(`scene.place_object`; the grasp file stores the placement).
Scale: by default the annotator's size estimate (a bounding-box diagonal in the paper's 20-50 cm range) drives
the rescale; `--units mm` (cm, m, in) reads the files in that unit and keeps their real size (a 4.5 cm lemon stays
4.5 cm); `--size-m 0.12` makes every object's longest side 12 cm. The part filter works per part (a part whose
smallest extent is wider than the hand opens is skipped, the object's other parts are still grasped).
Output in DIR:
  <object>.npz         one grasp file per object (format: `dexvlg_jax.grasp.io`), written atomically
  objects/<object>.npz the processed object the grasp file refers to (`dexvlg_jax.objects.save_processed`)
  failures.json        objects that failed, {object: "<Type>: <reason>"} (the run continues past them); atomic
  build_state.json     the failures' stage and permanence with the input's fingerprint (`data.build_state`)
  summary.json         pass rates and mean metrics of valid grasps per mode over every grasp file in DIR
Resuming: an object whose grasp file exists is skipped, so an interrupted run continues where it stopped. A
permanent failure (bad input: unloadable, unrepairable, a native crash or time-out while processing it; the
data engine's rule, `data.build_state.failure_record`) is not retried until the file (or --units/--size-m)
changes; a transient one (annotator outage, a read error) is retried. A processed object is cached in
objects/<object>.npz: use a new DIR to change --units/--size-m for objects already processed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from tqdm.auto import tqdm

from dexvlg_jax import atomic_io, grasp, objects
from dexvlg_jax.cli_errors import RunError, UserFileNotFoundError, run_main
from dexvlg_jax.config_files import apply_overrides, load_config_file, synth_config
from dexvlg_jax.data import annotate, pipeline
from dexvlg_jax.data.build_state import PERMANENT_ERRORS, BuildState, failure_record
from dexvlg_jax.devices import enable_compilation_cache
from dexvlg_jax.objects.mesh_io import MESH_SUFFIXES
from dexvlg_jax.scene import place_object


def object_sources(spec: str, c):
    """[(name, loader, fingerprint)] where loader() -> LabeledMesh; names are unique output stems; the
    fingerprint identifies the input (file + sidecar content, or category + seed)."""
    if spec == "embedded":
        cats = list(c.objects.categories) or list(objects.CATEGORIES)
        return [(f"{cat}_{c.objects.seed + i:04d}",
                 (lambda cat=cat, i=i: objects.make_object(cat, c.objects.seed + i)), f"{cat}:{c.objects.seed + i}")
                for cat in cats for i in range(c.objects.num_per_category)]
    if not os.path.isdir(spec):
        raise UserFileNotFoundError(f"--objects: {spec!r} is neither 'embedded' nor a folder",
                        "type --objects embedded or --objects PATH/TO/MESH_FOLDER")
    files = sorted(f for f in os.listdir(spec) if f.lower().endswith(MESH_SUFFIXES))
    if not files:
        raise UserFileNotFoundError(f"--objects: no mesh files ({', '.join(MESH_SUFFIXES)}) in {spec!r}",
                        "give a folder that holds mesh files")
    return [(os.path.splitext(f)[0], (lambda f=f: objects.load_mesh(os.path.join(spec, f))),
             pipeline._file_fingerprint(os.path.join(spec, f),
                                        os.path.join(spec, os.path.splitext(f)[0] + ".parts.json")))
            for f in files]


def read_failures(path: str) -> dict:
    """failures.json as {object name: reason}; a file that cannot be parsed (truncated by a crash of an older
    version, edited by hand) is named, moved aside to `<path>.corrupt-<time>` and rebuilt from scratch (its
    objects are simply retried)."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            failures = json.load(f)
        if not isinstance(failures, dict):
            raise ValueError(f"expected a JSON object, found {type(failures).__name__}")
        return {str(k): str(v) for k, v in failures.items()}
    except (ValueError, UnicodeDecodeError) as err:
        atomic_io.move_aside(path, f"{type(err).__name__}: {err}")
        return {}


def _output_error(err: OSError, path: str) -> Exception:
    where = err.filename or path
    return RunError(f"cannot write {where}: {err.strerror or err}")


def run(config, out_dir: str, objects_spec: str = "embedded", max_objects: int | None = None,
        progress: bool = True, units: str | None = None, size_m: float | None = None) -> dict:
    """Synthesise every object not yet done; returns the summary dict (also written to summary.json).

    units / size_m: the scale (see the module docstring; `data.pipeline.prepare`). Bad input (a mesh that cannot
    be loaded or processed, a corrupt cached object, a synthesis that fails on it) is recorded in failures.json and
    build_state.json and the run goes on; a rerun skips permanent failures and retries transient ones. An `OSError`
    while WRITING output (disk full, read-only folder) is not the object's fault: it stops the run with
    `cli_errors.RunError` naming the path (nothing half-written is left: every file is written atomically).
    """
    cfg = synth_config(config)
    try:
        os.makedirs(os.path.join(out_dir, "objects"), exist_ok=True)
    except OSError as err:
        raise _output_error(err, out_dir) from err
    sources = object_sources(objects_spec, config)[:max_objects]
    failures_path = os.path.join(out_dir, "failures.json")
    failures = read_failures(failures_path)
    try:
        for folder in (out_dir, os.path.join(out_dir, "objects")):
            atomic_io.remove_dead_temps(folder)  # left by a killed run of this host
        state = BuildState(out_dir)
    except OSError as err:
        raise _output_error(err, out_dir) from err
    scale_key = f"units={units}|size_m={size_m}"

    def write_output(path: str, write) -> None:
        try:
            write()
        except OSError as err:
            raise _output_error(err, path) from err

    def write_failures() -> None:
        write_output(failures_path, lambda: atomic_io.write_json(failures_path, failures, indent=1))

    mesh = grasp.data_mesh()
    annotator = annotate.HeuristicAnnotator()  # the data engine's offline annotator: part names, real size
    for name, loader, content in tqdm(sources, desc="synthesize", unit="object", disable=not progress):
        grasp_path = os.path.join(out_dir, f"{name}.npz")
        if os.path.exists(grasp_path):
            continue  # finished in an earlier run
        fingerprint = f"{content}|{scale_key}"
        known = state.permanent_failure(name, fingerprint)
        if known is not None:  # bad input recorded by an earlier run, unchanged since: not retried
            if failures.get(name) != known["reason"]:
                failures[name] = known["reason"]
                write_failures()
            continue
        obj_rel = os.path.join("objects", f"{name}.npz")
        obj_path = os.path.join(out_dir, obj_rel)
        obj = objects.load_cached_processed(obj_path)  # a corrupt cache file is moved aside and rebuilt
        stage = "process"
        try:
            if obj is None:
                obj = pipeline.prepare(loader(), objects.ProcessingConfig(seed=config.objects.seed), annotator,
                                       name, units=units, size_m=size_m)
                write_output(obj_path, lambda: objects.save_processed(obj, obj_path))
            stage = "synthesize"
            tabletop = place_object(obj, yaw=0.0)  # resting upright on the table (the world every stage shares)
            arrays, meta = grasp.synthesize_object(obj, cfg, object_ref=obj_rel, mesh=mesh, tabletop=tabletop)
        except (*PERMANENT_ERRORS, annotate.AnnotationError, OSError) as e:  # bad input or outage: record, go on
            failure = failure_record(name, stage, e)
            failures[name] = failure["reason"]
            write_failures()
            write_output(state.path, lambda: state.record_failure(failure, fingerprint))
            continue
        meta["config_dict"] = config.to_dict()
        write_output(grasp_path, lambda: grasp.save_grasps(grasp_path, arrays, meta))
        write_output(state.path, lambda: state.clear_failure(name, save=True))
        if failures.pop(name, None) is not None:  # failed in an earlier run, done now
            write_failures()
    done = [grasp.load_grasps(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))
            if f.endswith(".npz") and not f.endswith(".tmp.npz")]
    summary = {"num_objects": len(done), "failed_objects": failures,
               "all": grasp.summarize(done) if done else {},
               **{mode: grasp.summarize(done, mode) for mode in cfg.modes if done}}
    summary_path = os.path.join(out_dir, "summary.json")
    write_output(summary_path, lambda: atomic_io.write_json(summary_path, summary, indent=1))
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m launch.synthesize", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="configs/synth/<name>.py[:arg]")
    p.add_argument("--out", required=True, help="output folder (resumable)")
    p.add_argument("--objects", default="embedded", help="'embedded' or a folder of mesh files")
    p.add_argument("--set", action="append", default=[], help="override, e.g. --set optimizer.num_iters=100")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--units", choices=sorted(objects.UNIT_METRES), default=None,
                       help="the mesh files' unit: keep their real size (default: the annotator's size estimate)")
    scale.add_argument("--size-m", type=float, default=None, metavar="METRES",
                       help="scale every object so its longest bounding-box side is this many metres")
    p.add_argument("--max-objects", type=int, default=None)
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    if args.size_m is not None and not args.size_m > 0:
        p.error(f"--size-m: {args.size_m!r}; give the longest side in metres, > 0")
    config = apply_overrides(load_config_file(args.config), args.set)
    enable_compilation_cache()  # a resumed run skips the compilations (~/.cache/dexvlg_jax/jax; DEXVLG_JAX_CACHE=0)
    summary = run(config, args.out, args.objects, args.max_objects, units=args.units, size_m=args.size_m)
    print(json.dumps(summary, indent=1))
    return summary


def cli_main(argv=None) -> int:
    """`main` with user errors as one line and exit status 2, output errors with status 1
    (`dexvlg_jax.cli_errors.run_main`)."""
    return run_main(main, argv, prog="python -m launch.synthesize")


if __name__ == "__main__":
    sys.exit(cli_main())
