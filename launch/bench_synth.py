"""Synthesis throughput: `python -m launch.benchmark synth [--batch 256,1024] [--iters 50] [--fc dfc,lp_dfc]`.

hand-iterations/s = grasps x optimiser iterations / wall time of the compiled optimiser (energy + gradient +
annealing step + Metropolis, including the culling/LP-face refresh every `refresh_every` steps), after a
warm-up call, on the current JAX backend. The object is a cylinder (r 3 cm, h 16 cm) built here with trimesh.
"""
from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np


def cylinder_object(radius: float = 0.03, height: float = 0.16, num_points: int = 2048, resolution: int = 40):
    """A one-part ("shaft") ProcessedObject of a capped cylinder along z (object frame, metres)."""
    import trimesh

    from dexvlg_jax.geometry.mesh_sdf import build_sdf_grid
    from dexvlg_jax.objects.containers import ProcessedObject

    m = trimesh.creation.cylinder(radius=radius, height=height, sections=48)
    grid = build_sdf_grid(m.vertices, m.faces, resolution=resolution)
    pts, fid = trimesh.sample.sample_surface_even(m, num_points, seed=0)
    axes = np.stack([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]], -1)
    return ProcessedObject(
        name="cylinder", category="test", vertices=m.vertices.astype(np.float32), faces=m.faces.astype(np.int32),
        face_part_ids=np.zeros(len(m.faces), np.int32), scale=1.0, source_center=np.zeros(3), convex_pieces=[],
        piece_part_ids=np.zeros(0, np.int32), surface_points=pts.astype(np.float32),
        surface_normals=m.face_normals[fid].astype(np.float32), surface_part_ids=np.zeros(len(pts), np.int32),
        sdf=grid, part_names=["body"], part_classes=["shaft"], part_centroids=np.zeros((1, 3)),
        part_axes=axes[None], part_extents=np.array([[height, 2 * radius, 2 * radius]]))


def main(argv) -> dict:
    from dexvlg_jax import grasp as G

    p = argparse.ArgumentParser(prog="python -m launch.benchmark synth")
    p.add_argument("--batch", default="256,1024")
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--fc", default="dfc,lp_dfc")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--points-per-primitive", type=int, default=16, help="E_pen culling K (2048 = no culling)")
    p.add_argument("--hand-point-stride", type=int, default=1)
    p.add_argument("--optimizer", default="annealing", choices=("annealing", "adam"))
    args = p.parse_args(argv)
    obj = cylinder_object()
    sobj = G.synth_object(obj, 2048, (48, 48, 48))
    rng = np.random.default_rng(0)
    out = {"backend": jax.default_backend(), "devices": jax.device_count(), "iters": args.iters,
           "points_per_primitive": args.points_per_primitive, "hand_point_stride": args.hand_point_stride,
           "optimizer": args.optimizer, "results": {}}
    for fc_kind in args.fc.split(","):
        for batch in (int(b) for b in args.batch.split(",")):
            poses = jnp.asarray(G.initial_poses(obj, 0, "wrap", batch, rng, G.InitConfig()))
            keys = G.grasp_keys(jax.random.PRNGKey(0), batch)
            ecfg = G.EnergyConfig(mode="wrap", fc_kind=fc_kind, points_per_primitive=args.points_per_primitive,
                                  hand_point_stride=args.hand_point_stride)
            ocfg = G.OptimizerConfig(kind=args.optimizer, num_iters=args.iters)
            t = time.time()
            jax.block_until_ready(G.optimize_batch(poses, keys, sobj, ecfg, ocfg))
            compile_s = time.time() - t
            best = float("inf")
            for _ in range(args.repeats):
                t = time.time()
                jax.block_until_ready(G.optimize_batch(poses, keys, sobj, ecfg, ocfg))
                best = min(best, time.time() - t)
            out["results"][f"{fc_kind}_b{batch}"] = {
                "hand_iterations_per_s": round(batch * args.iters / best, 1),
                "seconds": round(best, 3), "first_call_s": round(compile_s, 2)}
    return out
