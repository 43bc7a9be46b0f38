"""The synthesis, simulation and render sections of the accelerator benchmark (`bench.accelerator`).

Each section takes the run's sizes (`accelerator.FULL` / `accelerator.TINY`), the shared `Budget` and its deadline
(time.monotonic seconds), skips a size with a note when the estimate from the previous size would overrun, and
returns a JSON-ready dict of figures (rates per second of wall time, rounded by `rounded`).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import time
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

from dexvlg_jax import grasp as G
from dexvlg_jax import render, sim
from dexvlg_jax.bench.budget import Budget, median_seconds, rounded
from dexvlg_jax.bench.sim_trials import perturbed_grasps
from dexvlg_jax.scene import place_object

# The synthesis optimiser: the project's CPU-validated compressed annealing schedule (configs/synth tiny).
SYNTH_SCHEDULE = dict(step_period=20, temperature_period=13)


def upright(obj):
    """The object resting upright on the table, yaw 0 (`scene.Tabletop`)."""
    return place_object(obj, yaw=0.0)


def synthesis_section(sizes: dict, budget: Budget, deadline: float, objs) -> dict:
    """Grasp synthesis (each energy of sizes["synth_kinds"]: LP-DFC, DFC) on `objs` (processed objects, upright on
    the table) at each of sizes["synth_batches"] hands per optimiser call, sizes["synth_iters"] iterations, modes
    sizes["synth_modes"]: hand-iterations/s, valid grasps/s and the kept grasps' mean quality per (energy, batch)."""
    placements = [upright(o) for o in objs]
    iters = sizes["synth_iters"]
    out = {"objects": [o.name for o in objs], "iterations": iters, "table_aware": True, "placement": "upright, yaw 0",
           "modes": list(sizes["synth_modes"]), "runs": {},
           "note": "batch = hands per optimiser call; each object runs wrap + pinch with the hands split over its "
                   "parts; object 1 includes compilation, rates come from objects 2-4 (end to end: init, optimise, "
                   "metrics, filter); valid = passes the synthesis filter (penetration, self-penetration, Q1, "
                   "table), before simulation"}
    prevs = {}  # fc kind -> (batch, steady seconds per object, compile seconds) of its last run
    for batch in sizes["synth_batches"]:  # size-major: both kinds are measured at the smallest size first
        for fc in sizes["synth_kinds"]:
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
                "hand_iterations_per_s": rounded(sum(hands[steady]) * iters / wall),
                "valid_grasps_per_s": rounded(valid / wall), "hands_per_s": rounded(sum(hands[steady]) / wall),
                "object_walls_s": [rounded(w) for w in walls], "first_object_includes_compile": len(walls) > 1,
                "num_grasps": summary["num_grasps"], "num_valid": summary["num_valid"],
                "pass_rate": rounded(summary["pass_rate"]),
                "kept_mean": {k: rounded(summary.get(f"mean_{k}")) for k in ("pen_mm", "spen_mm", "table_mm", "q1")
                              if f"mean_{k}" in summary},
                "status_counts": summary["status_counts"]}
            steady_per_obj = wall / max(len(walls[steady]), 1)
            prevs[fc] = (batch, steady_per_obj, max(walls[0] - steady_per_obj, 0.0) if len(walls) > 1 else 0.0)
    return out


def simulation_section(sizes: dict, budget: Budget, deadline: float, scene_cfg: sim.SceneConfig,
                       protocol: sim.TabletopLiftConfig) -> dict:
    """MJX tabletop-lift trials (`impl` "jax", and "warp" where MuJoCo Warp imports) at each of
    sizes["sim_batches"] trials: trials/s and simulated steps/s after a compile call; then the C backend on the
    first sizes["agree_trials"] of the same trials, and how often it agrees. scene_cfg, protocol: the settings
    named by sizes["sim_settings"] (`configs/eval/sim.py`, built by the caller)."""
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
            out["runs"][key] = {"impl": impl, "trials": batch, "wall_s": rounded(wall), "first_call_s": rounded(first),
                                "trials_per_s": rounded(batch / wall), "steps_per_s": rounded(batch * steps / wall),
                                "success_rate": rounded(success.mean())}
            prev = (batch, wall, max(first - wall, 0.0))
    if first_success is not None:
        n = min(sizes["agree_trials"], len(first_success))
        poses = {"translation": t[:n], "rotation": r[:n], "joints": q[:n]}
        start = time.perf_counter()
        c = np.asarray(sim.evaluate(obj, poses, protocol=protocol, backend="c", scene_config=scene_cfg)
                       .records[0].success)
        wall = time.perf_counter() - start
        same = c == first_success[:n]
        out["agreement"] = {"trials": n, "agree": int(same.sum()), "fraction": rounded(same.mean()),
                            "c_success_rate": rounded(c.mean()), "c_trials_per_s": rounded(n / wall),
                            "c_steps_per_s": rounded(n * steps / wall), "c_threads": os.cpu_count()}
    return out


def render_section(sizes: dict, budget: Budget, deadline: float, objs) -> dict:
    """Rendering of sizes["render_batch"] views per call (RGB-D + part mask, sizes["render_size"] px square) of
    the first of `objs` upright on the table, at each ray chunk of sizes["render_chunks"]: images/s."""
    obj = objs[0]
    to_world = np.asarray(upright(obj).object_to_world)
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
        out["chunks"][str(chunk)] = {"images_per_s": rounded(n / seconds), "ms_per_call": rounded(1e3 * seconds),
                                     "first_call_s": rounded(first)}
        prev = first + seconds * sizes["repeats"]
    done = {c: v for c, v in out["chunks"].items() if "images_per_s" in v}
    if done:
        best = max(done, key=lambda c: done[c]["images_per_s"])
        out.update(best_chunk=int(best), images_per_s=done[best]["images_per_s"])
    return out
