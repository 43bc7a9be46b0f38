"""Simulation benchmark: `python -m launch.benchmark sim [--batches 64,256] [--mjx-batches 64] [--protocols ...]`.

Trials/s, simulated steps/s (trials x steps / wall) and per-trial wall time for each backend at each batch size on
this machine, plus the C-vs-MJX agreement on the same trials. Poses: the known-good wrap grasp on a cylinder
shaft (r 3 cm, 20 cm) perturbed at random (wrist +-1.5 cm, +-10 deg, joints +-0.25 rad) so that the set mixes
passing and failing grasps. All runs use the "tiny" physics/protocol settings (configs/eval/sim.py:tiny, timestep
10 ms) so that MJX on CPU finishes (it runs at ~1% of C MuJoCo's speed here); `--full` adds C runs at the full
settings. MJX timings exclude compilation (reported separately as compile_s). MJX batch 256 is opt-in
(`--mjx-batches 64,256`) because on a 2-core CPU it takes minutes.
"""
from __future__ import annotations

import argparse
import os
import time

import jax
import numpy as np

from dexvlg_jax.bench.sim_trials import perturbed_grasps
from dexvlg_jax.sim import records


def _entry(backend, protocol, batch, steps, wall, record, extra=None):
    return {"backend": backend, "protocol": protocol, "batch": batch, "steps_per_trial": steps, "wall_s": wall,
            "trials_per_s": batch / wall, "steps_per_s": batch * steps / wall, "per_trial_wall_ms": 1e3 * wall / batch,
            "success_rate": float(record.success.mean()), **(extra or {})}


def _timed_trials(run, scene, schedule, protocol):
    """(judged `sim.TrialRecord`, wall seconds of the backend `run` alone) of one run of `schedule`."""
    start = time.perf_counter()
    raw = run(scene, schedule, protocol)
    wall = time.perf_counter() - start
    return records.judge(protocol, schedule, raw), wall


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark sim")
    parser.add_argument("--batches", default="64,256", help="C backend batch sizes")
    parser.add_argument("--mjx-batches", default="64", help="MJX batch sizes ('' to skip MJX)")
    parser.add_argument("--protocols", default="six_direction,tabletop_lift")
    parser.add_argument("--full", action="store_true", help="also time C at the full protocol settings")
    args = parser.parse_args(argv or [])
    from configs.eval.sim import get_config
    from dexvlg_jax.config_files import sim_configs
    from types import SimpleNamespace

    from dexvlg_jax.scene import place_object
    from dexvlg_jax.sim import build_scene, c_backend, cylinder_piece, protocols as P

    runs, agreement = [], {}
    c_batches = [int(b) for b in args.batches.split(",") if b]
    mjx_batches = [int(b) for b in args.mjx_batches.split(",") if b]
    for name in args.protocols.split(","):
        settings = [("tiny", "tiny")] + ([("full", "")] if args.full else [])
        for label, arg in settings:
            cfg = get_config(arg)
            cfg.protocol = name
            scene_cfg, protocol = sim_configs(cfg)
            pieces = [cylinder_piece(0.03, 0.1)]
            table = place_object(SimpleNamespace(convex_pieces=pieces), yaw=0.0) if protocol.table else None
            sc = build_scene(pieces, [0], table=table, config=scene_cfg)
            results = {}
            for b in sorted(set(c_batches) | (set(mjx_batches) if label == "tiny" else set())):
                t, r, q = perturbed_grasps(b)
                sched = P.build_schedule(protocol, sc, t, r, q)
                if b in c_batches:
                    rec, wall = _timed_trials(c_backend.run, sc, sched, protocol)
                    results[("c", b)] = rec
                    runs.append(_entry("c", name, b, sched.total_steps, wall, rec,
                                       {"settings": label, "threads": os.cpu_count()}))
                if label == "tiny" and b in mjx_batches:
                    from dexvlg_jax.sim import mjx_backend

                    start = time.perf_counter()
                    mjx_backend.run(sc, sched, protocol)  # compile + first run
                    first = time.perf_counter() - start
                    rec, wall = _timed_trials(mjx_backend.run, sc, sched, protocol)
                    results[("mjx", b)] = rec
                    runs.append(_entry("mjx", name, b, sched.total_steps, wall, rec,
                                       {"settings": label, "compile_s": first - wall, "devices": len(jax.devices())}))
                if ("c", b) in results and ("mjx", b) in results:
                    a, m = results[("c", b)], results[("mjx", b)]
                    same = a.success == m.success
                    agreement[f"{name}/batch{b}"] = {
                        "trials": int(b), "agree": int(same.sum()), "fraction": float(same.mean()),
                        "disagreements": [{"trial": int(i), "c": a.reason[i] or "success",
                                           "mjx": m.reason[i] or "success",
                                           "c_displacement": float(a.displacement[i]),
                                           "mjx_displacement": float(m.displacement[i])}
                                          for i in np.flatnonzero(~same)]}
    total = sum(v["trials"] for v in agreement.values())
    agree = sum(v["agree"] for v in agreement.values())
    return {"machine": {"cpus": os.cpu_count(), "jax_backend": jax.default_backend(), "devices": len(jax.devices())},
            "note": "tiny settings (timestep 10 ms, short phases) for every run unless settings=full; MJX walls "
                    "exclude compile; MJX on CPU is ~1% of C speed, batch 256 is opt-in (--mjx-batches 64,256)",
            "runs": runs, "agreement": agreement,
            "agreement_total": {"trials": total, "agree": agree, "fraction": agree / total if total else None}}
