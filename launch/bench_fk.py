"""Forward-kinematics throughput: `python -m launch.benchmark fk [--batch 1024] [--repeats 20]`.

Times jit(vmap(forward_kinematics)) plus the contact-candidate and surface-point transforms (what synthesis
evaluates every step), after one warm-up call, on the current JAX backend.
"""
import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from dexvlg_jax import hand


def _time(fn, args, repeats):
    jax.block_until_ready(fn(*args))  # compile + warm up
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark fk")
    parser.add_argument("--batch", type=int, nargs="+", default=[1024])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    h = hand.load_hand()
    fk = jax.jit(jax.vmap(hand.forward_kinematics))

    def fk_points(t, r, q):
        frames = hand.forward_kinematics(t, r, q)
        return hand.contact_candidates(frames)[0], hand.surface_points(frames)[0]

    fk_points = jax.jit(jax.vmap(fk_points))
    result = {"backend": jax.default_backend(), "device": str(jax.devices()[0]), "repeats": args.repeats}
    rng = np.random.default_rng(0)
    for b in args.batch:
        inputs = (jnp.asarray(rng.normal(size=(b, 3)) * 0.1, jnp.float32), jnp.tile(jnp.eye(3), (b, 1, 1)),
                  jnp.asarray(rng.uniform(h.joint_lower, h.joint_upper, size=(b, 16)), jnp.float32))
        t_fk = _time(fk, inputs, args.repeats)
        t_pts = _time(fk_points, inputs, args.repeats)
        result[f"batch_{b}"] = {
            "fk_poses_per_s": b / t_fk,
            "fk_plus_points_poses_per_s": b / t_pts,
            "num_points_per_pose": int(len(h.candidate_pos) + len(h.surface_pos)),
        }
    return result
