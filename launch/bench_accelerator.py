"""The accelerator benchmark: `python -m launch.benchmark accelerator --out DIR [--tiny] [--budget-s 480]`.

One prepared command for a GPU/TPU that is available only for a few minutes: on whatever devices JAX sees it runs
four sections and writes DIR/accelerator.json (after every section, so partial results survive) and
DIR/accelerator.txt (a short table):

- synthesis: LP-DFC and DFC grasp synthesis (`grasp.synthesize_object`: part-aligned init -> optimise -> metrics
  -> filter; table-aware when the library takes a `tabletop`, upright placement) on 4 embedded objects at
  1024 / 4096 / 16384 hands per optimiser call (each object: wrap + pinch, hands split over its parts).
  hand-iterations/s, valid grasps/s end to end ("valid": passes the synthesis filter, not yet the simulator) and
  the mean quality of the kept grasps. Object 1 includes compilation; figures come from objects 2-4.
- simulation: tabletop lift (full protocol settings) with MJX `impl="jax"` (and `impl="warp"` where MuJoCo Warp
  imports) at 1024 / 4096 / 8192 trials: trials/s, simulated steps/s (after a compile call); agreement with the
  C backend on the first 256 of the same trials. Trials: a known-good cylinder grasp, perturbed.
- model: DexVLG at PaliGemma-3B shapes, random weights, the paligemma_3b training recipe (float32 master params,
  bfloat16 compute, AdamW, EMA, SigLIP frozen), FSDP over all devices: step time and samples/s at the largest
  batch that fits (descending list, OOM caught), MFU (formula: `dexvlg_jax.bench.flops`); flow sampling latency
  for 64 grasps x 10 Euler steps with bf16 weights, with and without the prefix KV cache.
- render: 224 x 224 RGB-D + part mask, 256 views per call, images/s.

Time guard: `--budget-s` is shared among the sections (weights below; unused time passes on). Before each size
the time is estimated from the previous size (linear in batch, plus its compile time) and the size is skipped
with a note if it would overrun. `--tiny` runs every section at CPU sizes (tests). `--prepare` only processes the
objects into DIR/objects (coacd: ~40 s on CPU) so that the accelerator run finds them cached.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import time
import traceback

import numpy as np

SECTIONS = ("synthesis", "simulation", "model", "render")
WEIGHTS = {"synthesis": 0.35, "simulation": 0.25, "model": 0.3, "render": 0.1}
# Four embedded objects every part of which the hand can grasp (the mug's body is too wide), so that every object
# gives the optimiser and the metrics the same shapes: one compilation per size, not one per object.
CATEGORIES = ("bottle", "hammer", "screwdriver", "knife")

FULL = dict(synth_batches=(1024, 4096, 16384), synth_iters=800, synth_modes=("wrap", "pinch"),
            sim_batches=(1024, 4096, 8192), agree_trials=256, sim_settings="", variant="dexvlg_3b",
            per_device_batches=(64, 32, 16, 8, 4, 2, 1), probe_per_device=8, train_steps=5, repeats=5,
            render_batch=256, render_size=224, render_chunks=(1024, 4096))
# CPU sizes for the test suite: one size per section (every compilation costs ~10-60 s on 2 cores).
TINY = dict(synth_batches=(8,), synth_iters=50, synth_modes=("wrap",), sim_batches=(8,), agree_trials=256,
            sim_settings="tiny", variant="tiny", per_device_batches=(2, 1), probe_per_device=1, train_steps=2,
            repeats=2, render_batch=2, render_size=32, render_chunks=(256,))
# The synthesis optimiser: the project's CPU-validated compressed annealing schedule (configs/synth tiny).
SYNTH_SCHEDULE = dict(step_period=20, temperature_period=13)


def _r(x, digits=4):
    if x is None or not isinstance(x, (int, float, np.floating, np.integer)):
        return x
    x = float(x)
    return x if not math.isfinite(x) else float(f"{x:.{digits}g}")


def _objects(out: pathlib.Path, tiny: bool):
    """The 4 embedded objects, processed (cached in out/objects: `--prepare` fills it on a CPU machine)."""
    from dexvlg_jax.objects import ProcessingConfig, make_object, process_many

    cfg = ProcessingConfig(grid_resolution=24, num_surface_points=512, coacd_max_pieces=4) if tiny else ProcessingConfig()
    objs, failures = process_many([make_object(c, 0) for c in CATEGORIES], cfg, progress=False,
                                  cache_dir=out / "objects")
    if failures:
        raise RuntimeError(f"object processing failed: {failures}")
    return objs


def _upright(obj):
    """The object resting upright on the table, yaw 0 (`scene.Tabletop`)."""
    from dexvlg_jax.scene import place_object

    return place_object(obj, yaw=0.0)


# ------------------------------------------------------------------------------------------------- synthesis
def synthesis(args, sizes, budget, deadline, objs) -> dict:
    from dexvlg_jax import grasp as G

    placements = [_upright(o) for o in objs]
    iters = sizes["synth_iters"]
    out = {"objects": [o.name for o in objs], "iterations": iters, "table_aware": True, "placement": "upright, yaw 0",
           "modes": list(sizes["synth_modes"]), "runs": {},
           "note": "batch = hands per optimiser call; each object runs wrap + pinch with the hands split over its "
                   "parts; object 1 includes compilation, rates come from objects 2-4 (end to end: init, optimise, "
                   "metrics, filter); valid = passes the synthesis filter (penetration, self-penetration, Q1, "
                   "table), before simulation"}
    prevs = {}  # fc kind -> (batch, steady seconds per object, compile seconds) of its last run
    for batch in sizes["synth_batches"]:  # size-major: both kinds are measured at the smallest size first
        for fc in ("lp_dfc", "dfc"):
            key, prev = f"{fc}_b{batch}", prevs.get(fc)
            est = None if prev is None else (len(objs) * prev[1] * batch / prev[0] + prev[2])
            if not budget.fits(est, deadline):
                out["runs"][key] = {"skipped": budget.skip_note(est, deadline)}
                continue
            cfg = G.SynthConfig(
                energy=dataclasses.replace(G.EnergyConfig(), fc_kind=fc),
                optimizer=dataclasses.replace(G.OptimizerConfig(), num_iters=iters, **SYNTH_SCHEDULE),
                batch_size=batch, modes=tuple(sizes["synth_modes"]))
            arrays, walls, hands = [], [], []
            for obj, place in zip(objs, placements):
                per_part = max(1, batch // max(obj.num_parts, 1))
                ocfg = dataclasses.replace(cfg, init=dataclasses.replace(cfg.init, num_per_part=per_part))
                start = time.perf_counter()
                a, _ = G.synthesize_object(obj, ocfg, object_ref=obj.name, tabletop=place)
                walls.append(time.perf_counter() - start)
                arrays.append(a)
                hands.append(int(np.isfinite(np.asarray(a["init_poses"], np.float64)).all(-1).sum()))
                if len(walls) >= 2 and not budget.fits(0.0, deadline):
                    break
            steady = slice(1, None) if len(walls) > 1 else slice(0, 1)
            wall = sum(walls[steady])
            valid = sum(int(np.asarray(a["valid"]).sum()) for a in arrays[steady])
            summary = G.summarize(arrays)
            out["runs"][key] = {
                "fc_kind": fc, "batch": batch, "objects_run": len(walls),
                "hand_iterations_per_s": _r(sum(hands[steady]) * iters / wall),
                "valid_grasps_per_s": _r(valid / wall), "hands_per_s": _r(sum(hands[steady]) / wall),
                "object_walls_s": [_r(w) for w in walls], "first_object_includes_compile": len(walls) > 1,
                "num_grasps": summary["num_grasps"], "num_valid": summary["num_valid"],
                "pass_rate": _r(summary["pass_rate"]),
                "kept_mean": {k: _r(summary.get(f"mean_{k}")) for k in ("pen_mm", "spen_mm", "table_mm", "q1")
                              if f"mean_{k}" in summary},
                "status_counts": summary["status_counts"]}
            steady_per_obj = wall / max(len(walls[steady]), 1)
            prevs[fc] = (batch, steady_per_obj, max(walls[0] - steady_per_obj, 0.0) if len(walls) > 1 else 0.0)
    return out


# ------------------------------------------------------------------------------------------------ simulation
def simulation(args, sizes, budget, deadline) -> dict:
    import importlib.util
    from types import SimpleNamespace

    from configs.eval.sim import get_config, to_dataclasses
    from dexvlg_jax import sim
    from dexvlg_jax.bench import perturbed_grasps

    cfg = get_config(sizes["sim_settings"])
    cfg.protocol = "tabletop_lift"
    scene_cfg, protocol = to_dataclasses(cfg)
    obj = SimpleNamespace(convex_pieces=[sim.cylinder_piece(0.03, 0.1)], piece_part_ids=np.array([0]),
                          part_names=["body"])
    t, r, q = perturbed_grasps(max(sizes["sim_batches"]))
    steps = sim.build_schedule(protocol, sim.object_scene(obj, protocol, scene_cfg), t[:1], r[:1], q[:1]).total_steps
    out = {"protocol": "tabletop_lift", "settings": sizes["sim_settings"] or "full", "steps_per_trial": int(steps),
           "timestep_s": scene_cfg.timestep, "runs": {}, "agreement": {},
           "note": "MJX walls exclude compilation (first call at each size, reported as first_call_s); trials: "
                   "a known-good cylinder wrap grasp, perturbed (dexvlg_jax.bench.perturbed_grasps)"}
    impls = ["jax"]
    missing = [p for p in ("warp", "mujoco_warp") if importlib.util.find_spec(p) is None]
    if missing:
        out["warp"] = {"skipped": f"MuJoCo Warp not importable (missing {missing}); the warp-lang wheel (~149 MB) "
                                  "does not fit the 64 MiB wheel folder"}
    else:
        impls.append("warp")
    first_success = None
    for impl in impls:
        prev = None  # (batch, seconds, compile seconds)
        for batch in sizes["sim_batches"]:
            key = f"mjx_{impl}_b{batch}"
            est = None if prev is None else 2 * prev[1] * batch / prev[0] + prev[2]
            if not budget.fits(est, deadline):
                out["runs"][key] = {"skipped": budget.skip_note(est, deadline)}
                continue
            poses = {"translation": t[:batch], "rotation": r[:batch], "joints": q[:batch]}
            try:
                start = time.perf_counter()
                sim.evaluate(obj, poses, protocol=protocol, backend="mjx", scene_config=scene_cfg, impl=impl)
                first = time.perf_counter() - start
                start = time.perf_counter()
                res = sim.evaluate(obj, poses, protocol=protocol, backend="mjx", scene_config=scene_cfg, impl=impl)
                wall = time.perf_counter() - start
            except Exception as error:  # e.g. warp on an unsupported device: record and carry on
                out["runs"][key] = {"error": f"{type(error).__name__}: {str(error)[:500]}"}
                break
            success = np.asarray(res.records[0].success)
            if impl == "jax" and first_success is None:
                first_success = success
            out["runs"][key] = {"impl": impl, "trials": batch, "wall_s": _r(wall), "first_call_s": _r(first),
                                "trials_per_s": _r(batch / wall), "steps_per_s": _r(batch * steps / wall),
                                "success_rate": _r(success.mean())}
            prev = (batch, wall, max(first - wall, 0.0))
    if first_success is not None:
        n = min(sizes["agree_trials"], len(first_success))
        poses = {"translation": t[:n], "rotation": r[:n], "joints": q[:n]}
        start = time.perf_counter()
        c = np.asarray(sim.evaluate(obj, poses, protocol=protocol, backend="c", scene_config=scene_cfg)
                       .records[0].success)
        wall = time.perf_counter() - start
        same = c == first_success[:n]
        out["agreement"] = {"trials": n, "agree": int(same.sum()), "fraction": _r(same.mean()),
                            "c_success_rate": _r(c.mean()), "c_trials_per_s": _r(n / wall),
                            "c_steps_per_s": _r(n * steps / wall), "c_threads": os.cpu_count()}
    return out


# ----------------------------------------------------------------------------------------------------- model
def model(args, sizes, budget, deadline) -> dict:
    import jax
    import jax.numpy as jnp

    from dexvlg_jax.bench import is_oom, median_seconds, model_flops_per_example, peak_flops
    from dexvlg_jax.models.variants import get_variant
    from dexvlg_jax.models.vlg import DexVLG, fake_batch, param_count
    from dexvlg_jax.train import OptimizerConfig, init_train_state, make_train_step
    from dexvlg_jax.train import sharding as S

    config = get_variant(sizes["variant"], head="flow", dtype="bfloat16")
    net = DexVLG(config)
    ocfg = OptimizerConfig(learning_rate=5e-5, warmup_steps=1000, total_steps=50_000, ema_decay=0.9999,
                           frozen=("img/.*",))  # configs/train/paligemma_3b.py
    mesh = S.make_mesh(fsdp=-1)
    ndev = mesh.devices.size
    shapes = net.param_shapes()
    flops = model_flops_per_example(config, shapes)
    peak = peak_flops(str(jax.devices()[0].device_kind))
    out = {"variant": sizes["variant"], "params": param_count(shapes), "mesh": dict(mesh.shape),
           "recipe": "float32 params + AdamW + EMA, bfloat16 compute, img/* frozen (configs/train/paligemma_3b.py)",
           "flops_per_example": {"train": flops["train_flops"], "forward": flops["forward_flops"]},
           "flops_formula": flops["formula"], "peak_flops_per_device": peak,
           "peak_table": "dense bf16: H100 SXM / H200 989 TFLOP/s, A100 312 (dexvlg_jax.bench.flops)", "tries": []}
    state, shardings, optimizer = init_train_state(net.init, ocfg, 0, mesh)
    step = make_train_step(net.compute_loss, optimizer, ocfg, shardings, mesh)
    limit = (jax.devices()[0].memory_stats() or {}).get("bytes_limit")
    out["device_memory_bytes"] = limit

    def compile_at(per_device):
        """(entry, compiled step or None on OOM, sharded batch, bytes needed per device or None)."""
        entry = {"batch": per_device * ndev}
        batch = S.shard_batch(fake_batch(config, per_device * ndev), mesh)
        start = time.perf_counter()
        try:
            compiled = step.lower(state, batch).compile()
        except Exception as error:
            if not is_oom(error):
                raise
            entry["oom"] = f"compile: {str(error)[:300]}"
            return entry, None, batch, None
        entry["compile_s"] = _r(time.perf_counter() - start)
        mem = compiled.memory_analysis()
        need = None
        if mem is not None:
            need = int(mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
                       - mem.alias_size_in_bytes)
            entry.update(temp_bytes_per_device=int(mem.temp_size_in_bytes), need_bytes_per_device=need)
        return entry, compiled, batch, need

    # Largest batch that fits: compile a probe size, read XLA's memory analysis, extrapolate linearly in batch to
    # pick the largest candidate under 90% of device memory, compile that (at most two compilations of the step).
    # The probe's temp memory holds batch-independent buffers too (gradients and updates, ~2 x the float32 params
    # per device): they are taken out before scaling. A run that still runs out of memory falls back to the probe.
    probe = sizes["probe_per_device"]
    entry, compiled, batch, need = compile_at(probe)
    out["tries"].append(entry)
    runs = [(entry, compiled, batch)] if compiled is not None else []
    if limit and need:
        param_bytes = 4 * out["params"] / ndev
        temp = entry["temp_bytes_per_device"]
        fixed = need - temp + min(2 * param_bytes, 0.8 * temp)
        per_ex = (need - fixed) / probe
        fitting = [c for c in sizes["per_device_batches"] if fixed + per_ex * c < 0.9 * limit]
        target = max(fitting) if fitting else min(sizes["per_device_batches"])
        out["memory_estimate"] = {"fixed_bytes": int(fixed), "bytes_per_example": int(per_ex),
                                  "target_per_device": target}
        if target != probe and budget.fits(2 * entry.get("compile_s", 0.0), deadline):
            e2, c2, b2, need2 = compile_at(target)
            out["tries"].append(e2)
            if c2 is not None and not (need2 and need2 > limit):
                runs.insert(0 if target > probe else len(runs), (e2, c2, b2))
    if not runs:
        raise RuntimeError(f"model: no batch compiles within device memory ({out['tries']})")
    for entry, compiled, batch in runs:
        global_batch = entry["batch"]
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, (list, tuple)) else cost
        xla_flops = float(cost.get("flops", 0.0)) if cost else 0.0
        try:
            state, metrics = compiled(state, batch)  # warm-up
            jax.block_until_ready(metrics["loss"])
            start = time.perf_counter()
            for _ in range(sizes["train_steps"]):
                state, metrics = compiled(state, batch)
            jax.block_until_ready(metrics["loss"])
            seconds = (time.perf_counter() - start) / sizes["train_steps"]
            break
        except Exception as error:
            if not is_oom(error):
                raise
            entry["oom"] = f"run: {str(error)[:300]}"
            state = None
            state, _, _ = init_train_state(net.init, ocfg, 0, mesh)  # the donated state is gone
    else:
        raise RuntimeError(f"model: every batch tried ran out of memory ({out['tries']})")
    model_flops = flops["train_flops"] * global_batch / seconds
    entry.update(step_s=_r(seconds), samples_per_s=_r(global_batch / seconds), loss=_r(float(metrics["loss"])),
                 model_flops_per_s=_r(model_flops), xla_flops_per_step_per_device=_r(xla_flops),
                 mfu=_r(model_flops / (peak * ndev)) if peak else None,
                 mfu_from_xla_flops=_r(xla_flops / seconds / peak) if peak and xla_flops else None)
    out["train"] = entry
    # Sampling: bf16 weights, replicated; one observation, 64 hypotheses, 10 Euler steps.
    params = jax.device_put(jax.tree.map(lambda a: a.astype(jnp.bfloat16), state.params), S.replicated(mesh))
    state = None  # the train state is no longer needed: free its device memory
    obs = {k: v for k, v in fake_batch(config, 1).items() if k != "pose"}
    sample = jax.jit(net.sample_poses, static_argnames=("num_steps", "num_samples", "use_cache"))
    for cached in (True, False):
        name = "cached" if cached else "uncached"
        if not budget.left(deadline) > 0:
            out[f"sample_{name}"] = {"skipped": budget.skip_note(None, deadline)}
            continue
        fn = lambda: sample(params, jax.random.key(2), obs, num_steps=10, num_samples=64, use_cache=cached)  # noqa
        start = time.perf_counter()
        jax.block_until_ready(fn())
        first = time.perf_counter() - start
        seconds = median_seconds(fn, sizes["repeats"])
        out[f"sample_{name}"] = {"grasps": 64, "steps": 10, "latency_ms": _r(1e3 * seconds),
                                 "first_call_s": _r(first)}
    return out


# ---------------------------------------------------------------------------------------------------- render
def render_section(args, sizes, budget, deadline, objs) -> dict:
    import jax
    import jax.numpy as jnp

    from dexvlg_jax import render
    from dexvlg_jax.bench import median_seconds

    obj = objs[0]
    to_world = np.asarray(_upright(obj).object_to_world)
    scene = render.build_scene(obj.vertices, obj.faces, obj.face_part_ids, to_world)
    scene = jax.tree_util.tree_map(jnp.asarray, render.pad_scene(scene, max(2048, scene.num_faces)))
    n, size = sizes["render_batch"], sizes["render_size"]
    extrinsics = jax.vmap(render.tabletop_camera)(jax.random.split(jax.random.key(0), n))
    intrinsics = jnp.tile(render.intrinsics_from_fov(render.DEFAULT_FOV_Y_DEG, size, size)[None], (n, 1, 1))
    out = {"object": obj.name, "faces": int(scene.num_faces), "image_size": [size, size], "views_per_call": n,
           "chunks": {}}
    prev = None
    for chunk in sizes["render_chunks"]:
        if not budget.fits(prev, deadline):
            out["chunks"][str(chunk)] = {"skipped": budget.skip_note(prev, deadline)}
            continue
        fn = lambda: render.render_views(scene, intrinsics, extrinsics, size, size, chunk=chunk)  # noqa
        start = time.perf_counter()
        jax.block_until_ready(fn())
        first = time.perf_counter() - start
        seconds = median_seconds(fn, sizes["repeats"])
        out["chunks"][str(chunk)] = {"images_per_s": _r(n / seconds), "ms_per_call": _r(1e3 * seconds),
                                     "first_call_s": _r(first)}
        prev = first + seconds * sizes["repeats"]
    done = {c: v for c, v in out["chunks"].items() if "images_per_s" in v}
    if done:
        best = max(done, key=lambda c: done[c]["images_per_s"])
        out.update(best_chunk=int(best), images_per_s=done[best]["images_per_s"])
    return out


# ------------------------------------------------------------------------------------------------ reporting
def table(result: dict) -> str:
    """The short text table of a result."""
    dev = result["device"]
    lines = [f"accelerator benchmark: {dev['device_count']} x {dev['device_kind']} ({dev['backend']}), "
             f"jax {dev['jax_version']}, {'tiny' if result['tiny'] else 'full'} sizes, "
             f"{result.get('elapsed_s', 0):.0f} s of {result['budget_s']:.0f} s", ""]
    s = result.get("synthesis", {})
    for key, v in s.get("runs", {}).items():
        if "skipped" in v:
            lines.append(f"synthesis {key:14s} skipped ({v['skipped']})")
            continue
        km = v.get("kept_mean", {})
        lines.append(f"synthesis {key:14s} {v['hand_iterations_per_s']:>12,.0f} hand-it/s  "
                     f"{v['valid_grasps_per_s']:>9,.1f} valid/s  pass {v['pass_rate']:.2f}  kept pen "
                     f"{km.get('pen_mm', float('nan')):.2f} mm spen {km.get('spen_mm', float('nan')):.2f} mm "
                     f"q1 {km.get('q1', float('nan')):.3f}")
    m = result.get("simulation", {})
    for key, v in m.get("runs", {}).items():
        if "trials_per_s" in v:
            lines.append(f"simulation {key:13s} {v['trials_per_s']:>12,.1f} trials/s  {v['steps_per_s']:>12,.0f} "
                         f"steps/s  success {v['success_rate']:.2f}")
        else:
            lines.append(f"simulation {key:13s} {v.get('skipped') or v.get('error')}")
    if m.get("agreement"):
        a = m["agreement"]
        lines.append(f"simulation C vs MJX     {a['agree']}/{a['trials']} trials agree; C "
                     f"{a['c_steps_per_s']:,.0f} steps/s on {a['c_threads']} threads")
    if "warp" in m:
        lines.append(f"simulation warp         {m['warp']['skipped']}")
    md = result.get("model", {})
    if "train" in md:
        t = md["train"]
        mfu = "n/a" if t.get("mfu") is None else f"{100 * t['mfu']:.1f}%"
        lines.append(f"model train             batch {t['batch']}: {t['step_s'] * 1e3:,.1f} ms/step, "
                     f"{t['samples_per_s']:,.1f} samples/s, MFU {mfu}")
    for name in ("cached", "uncached"):
        v = md.get(f"sample_{name}")
        if v and "latency_ms" in v:
            lines.append(f"model sample {name:10s} 64 grasps x 10 steps: {v['latency_ms']:,.1f} ms")
    rd = result.get("render", {})
    if "images_per_s" in rd:
        lines.append(f"render {rd['image_size'][0]}px batch {rd['views_per_call']:<5d}  "
                     f"{rd['images_per_s']:,.1f} images/s (chunk {rd['best_chunk']})")
    for name in SECTIONS:
        if isinstance(result.get(name), dict) and "error" in result[name]:
            lines.append(f"{name}: ERROR {result[name]['error'].splitlines()[-1]}")
        if isinstance(result.get(name), dict) and "skipped" in result[name]:
            lines.append(f"{name}: {result[name]['skipped']}")
    return "\n".join(lines) + "\n"


def _write(out: pathlib.Path, result: dict) -> None:
    """accelerator.json, then accelerator.txt (atomic replace each; a table error never costs the JSON)."""
    try:
        text = table(result)
    except Exception as error:  # noqa: BLE001 - the JSON matters more than the table
        text = f"table failed: {type(error).__name__}: {error}\n"
    for name, body in (("accelerator.json", json.dumps(result, indent=2, sort_keys=True, default=str)),
                       ("accelerator.txt", text)):
        tmp = out / f"{name}.tmp"
        tmp.write_text(body)
        os.replace(tmp, out / name)


def main(argv) -> dict:
    p = argparse.ArgumentParser(prog="python -m launch.benchmark accelerator", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="folder for accelerator.json / accelerator.txt and objects/")
    p.add_argument("--tiny", action="store_true", help="CPU sizes (tests)")
    p.add_argument("--budget-s", type=float, default=480.0, help="global deadline for all sections (seconds)")
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    p.add_argument("--prepare", action="store_true", help="only process the objects into OUT/objects and exit")
    args = p.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.prepare:
        start = time.perf_counter()
        objs = _objects(out, args.tiny)
        return {"prepared": [o.name for o in objs], "dir": str(out / "objects"),
                "seconds": round(time.perf_counter() - start, 1)}

    from dexvlg_jax.bench import Budget, device_info

    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--sections: unknown {unknown}; known: {SECTIONS}")
    budget = Budget(args.budget_s, {s: WEIGHTS[s] for s in sections})
    sizes = TINY if args.tiny else FULL
    result = {"tiny": args.tiny, "budget_s": args.budget_s, "device": device_info(), "sizes": dict(sizes)}
    objs = None
    _write(out, result)
    for name in sections:
        deadline = budget.open(name)
        start = time.perf_counter()
        try:
            if budget.left(deadline) <= 0:
                section = {"skipped": budget.skip_note(None, deadline)}
            else:
                if name in ("synthesis", "render") and objs is None:
                    objs = _objects(out, args.tiny)
                if name == "synthesis":
                    section = synthesis(args, sizes, budget, deadline, objs)
                elif name == "simulation":
                    section = simulation(args, sizes, budget, deadline)
                elif name == "model":
                    section = model(args, sizes, budget, deadline)
                else:
                    section = render_section(args, sizes, budget, deadline, objs)
        except Exception as error:  # one section's failure must not lose the others
            section = {"error": f"{type(error).__name__}: {error}\n{traceback.format_exc()[-3000:]}"}
        section["device"] = device_info()
        section["seconds"] = round(time.perf_counter() - start, 2)
        result[name] = section
        result["elapsed_s"] = round(budget.clock() - budget.start, 2)
        _write(out, result)
    print(table(result), end="", file=sys.stderr, flush=True)
    return result
