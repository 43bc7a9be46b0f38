"""Synthesis throughput: `python -m launch.benchmark synth [--batch 256,1024] [--iters 50] [--fc dfc,lp_dfc]`.

hand-iterations/s = grasps x optimiser iterations / wall time of the compiled optimiser (energy + gradient +
annealing step + Metropolis, including the culling/LP-face refresh every `refresh_every` steps), after a
warm-up call, on the current JAX backend. The object is a cylinder (r 3 cm, h 16 cm):
`objects.reference_shapes.cylinder_object`.
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from dexvlg_jax import grasp
from dexvlg_jax.objects.reference_shapes import cylinder_object


def main(argv) -> dict:
    p = argparse.ArgumentParser(prog="python -m launch.benchmark synth")
    p.add_argument("--batch", default="256,1024")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--fc", default="dfc,lp_dfc")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--points-per-primitive", type=int, default=16, help="E_pen culling K (2048 = no culling)")
    p.add_argument("--hand-point-stride", type=int, default=1)
    p.add_argument("--part-points-per-contact", type=int, default=16, help="E_part culling K (0 = no culling)")
    p.add_argument("--optimizer", default="annealing", choices=("annealing", "adam"))
    args = p.parse_args(argv)
    obj = cylinder_object()
    sobj = grasp.synth_object(obj, 2048, (48, 48, 48))
    rng = np.random.default_rng(0)
    out = {"backend": jax.default_backend(), "devices": jax.device_count(), "iters": args.iters,
           "points_per_primitive": args.points_per_primitive, "hand_point_stride": args.hand_point_stride,
           "part_points_per_contact": args.part_points_per_contact,
           "optimizer": args.optimizer, "results": {}}
    for fc_kind in args.fc.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            poses = jnp.asarray(grasp.initial_poses(obj, 0, "wrap", batch, rng, grasp.InitConfig()))
            keys = grasp.grasp_keys(jax.random.PRNGKey(0), batch)
            ecfg = grasp.EnergyConfig(mode="wrap", fc_kind=fc_kind, points_per_primitive=args.points_per_primitive,
                                  hand_point_stride=args.hand_point_stride,
                                  part_points_per_contact=args.part_points_per_contact)
            ocfg = grasp.OptimizerConfig(kind=args.optimizer, num_iters=args.iters)
            t = time.time()
            jax.block_until_ready(grasp.optimize_batch(poses, keys, sobj, ecfg, ocfg))
            compile_s = time.time() - t
            best = float("inf")
            for _ in range(args.repeats):
                t = time.time()
                jax.block_until_ready(grasp.optimize_batch(poses, keys, sobj, ecfg, ocfg))
                best = min(best, time.time() - t)
            out["results"][f"{fc_kind}_b{batch}"] = {
                "hand_iterations_per_s": round(batch * args.iters / best, 1),
                "seconds": round(best, 3), "first_call_s": round(compile_s, 2)}
    return out
