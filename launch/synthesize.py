"""Grasp synthesis CLI: `python -m launch.synthesize --config configs/synth/<name>.py[:arg] --out DIR
[--objects embedded|FOLDER] [--set key=value ...] [--max-objects N]`.

Objects: "embedded" = the procedural library (config `objects.categories`, `num_per_category`, `seed`); or a
folder of mesh files (.obj .stl .ply .off .glb .gltf, part-label sidecars as `dexvlg_jax.objects.load_mesh`
reads them). Output in DIR:
  <object>.npz         one grasp file per object (format: `dexvlg_jax.grasp.io`), written atomically
  objects/<object>.npz the processed object the grasp file refers to (`dexvlg_jax.objects.save_processed`)
  failures.json        objects that could not be processed, with reasons (the run continues past them)
  summary.json         pass rates and mean metrics of valid grasps per mode over every grasp file in DIR
Resuming: an object whose grasp file exists is skipped, so an interrupted run continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

MESH_SUFFIXES = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")


def to_synth_config(c):
    """ConfigDict (configs/synth/*.py) -> dexvlg_jax.grasp.SynthConfig."""
    from dexvlg_jax import grasp as G

    tup = lambda d: {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in dict(d).items()}  # noqa: E731
    energy = G.EnergyConfig(weights=G.EnergyWeights(**tup(c.weights)), **tup(c.energy))
    return G.SynthConfig(init=G.InitConfig(**tup(c.init)), energy=energy, optimizer=G.OptimizerConfig(**tup(c.optimizer)),
                         filter=G.FilterConfig(**tup(c.filter)), **tup(c.synth))


def object_sources(spec: str, c):
    """[(name, loader)] where loader() -> LabeledMesh; names are unique output stems."""
    from dexvlg_jax import objects

    if spec == "embedded":
        cats = list(c.objects.categories) or list(objects.CATEGORIES)
        return [(f"{cat}_{c.objects.seed + i:04d}",
                 (lambda cat=cat, i=i: objects.make_object(cat, c.objects.seed + i)))
                for cat in cats for i in range(c.objects.num_per_category)]
    if not os.path.isdir(spec):
        raise FileNotFoundError(f"--objects: {spec!r} is neither 'embedded' nor a folder")
    files = sorted(f for f in os.listdir(spec) if f.lower().endswith(MESH_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"--objects: no mesh files ({', '.join(MESH_SUFFIXES)}) in {spec!r}")
    return [(os.path.splitext(f)[0], (lambda f=f: objects.load_mesh(os.path.join(spec, f)))) for f in files]


def run(config, out_dir: str, objects_spec: str = "embedded", max_objects: int | None = None,
        progress: bool = True) -> dict:
    """Synthesise every object not yet done; returns the summary dict (also written to summary.json)."""
    from tqdm.auto import tqdm

    from dexvlg_jax import grasp as G
    from dexvlg_jax import objects

    cfg = to_synth_config(config)
    os.makedirs(os.path.join(out_dir, "objects"), exist_ok=True)
    sources = object_sources(objects_spec, config)[:max_objects]
    failures_path = os.path.join(out_dir, "failures.json")
    failures = json.load(open(failures_path)) if os.path.exists(failures_path) else {}
    mesh = G.make_mesh()
    for name, loader in tqdm(sources, desc="synthesize", unit="object", disable=not progress):
        grasp_path = os.path.join(out_dir, f"{name}.npz")
        if os.path.exists(grasp_path):
            continue  # finished in an earlier run
        obj_rel = os.path.join("objects", f"{name}.npz")
        obj_path = os.path.join(out_dir, obj_rel)
        try:
            if os.path.exists(obj_path):
                obj = objects.load_processed(obj_path)
            else:
                obj = objects.process_object(loader(), objects.ProcessingConfig(seed=config.objects.seed))
                objects.save_processed(obj, obj_path)
        except (objects.ObjectError, ValueError, OSError) as e:  # bad input: record it, go on
            failures[name] = f"{type(e).__name__}: {e}"
            with open(failures_path, "w") as f:
                json.dump(failures, f, indent=1)
            continue
        arrays, meta = G.synthesize_object(obj, cfg, object_ref=obj_rel, mesh=mesh)
        meta["config_dict"] = config.to_dict()
        G.save_grasps(grasp_path, arrays, meta)
    done = [G.load_grasps(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))
            if f.endswith(".npz") and not f.endswith(".tmp.npz")]
    summary = {"num_objects": len(done), "failed_objects": failures,
               "all": G.summarize(done) if done else {},
               **{mode: G.summarize(done, mode) for mode in cfg.modes if done}}
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv=None):
    from launch.train import apply_overrides, load_config_file

    p = argparse.ArgumentParser(prog="python -m launch.synthesize", description=__doc__.split("\n")[0])
    p.add_argument("--config", required=True, help="configs/synth/<name>.py[:arg]")
    p.add_argument("--out", required=True, help="output folder (resumable)")
    p.add_argument("--objects", default="embedded", help="'embedded' or a folder of mesh files")
    p.add_argument("--set", action="append", default=[], help="override, e.g. --set optimizer.num_iters=100")
    p.add_argument("--max-objects", type=int, default=None)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    config = apply_overrides(load_config_file(args.config), args.set)
    summary = run(config, args.out, args.objects, args.max_objects)
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
