"""Model benchmark: `python -m launch.benchmark model [--variant tiny] [--batch 4] [--samples 8] [--steps 10]`.

Reports, on the current JAX backend: jitted AdamW train steps/s, and grasp-sampling latency with the prefix
KV cache reused across the denoising steps versus recomputing the whole network at every step (and their ratio).
Timings exclude compilation (one warm-up call each) and take the median of `--repeats` calls.
"""
from __future__ import annotations

import argparse
import time


def _median_seconds(fn, repeats: int) -> float:
    import jax

    jax.block_until_ready(fn())  # compile + warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m launch.benchmark model", description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="tiny", help="model variant (dexvlg_jax.models.variants.VARIANTS)")
    parser.add_argument("--head", default="flow", choices=("flow", "ddpm", "ddim"))
    parser.add_argument("--batch", type=int, default=4, help="observations per batch")
    parser.add_argument("--samples", type=int, default=8, help="grasp hypotheses per observation")
    parser.add_argument("--steps", type=int, default=10, help="denoising steps")
    parser.add_argument("--train_steps", type=int, default=20, help="timed train steps")
    parser.add_argument("--repeats", type=int, default=5, help="timed sampling calls")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    args = parser.parse_args(argv)

    import jax
    import optax

    from dexvlg_jax.models.variants import get_variant
    from dexvlg_jax.models.vlg import DexVLG, fake_batch, param_count

    config = get_variant(args.variant, head=args.head, dtype=args.dtype)
    model = DexVLG(config)
    params = jax.jit(model.init)(jax.random.key(0))
    batch = fake_batch(config, batch_size=args.batch)
    obs = {k: v for k, v in batch.items() if k != "pose"}

    optimizer = optax.adamw(1e-4, weight_decay=1e-4)

    @jax.jit
    def train_step(params, opt_state, rng):
        (loss, _), grads = jax.value_and_grad(model.compute_loss, has_aux=True)(params, rng, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = [params, optimizer.init(params)]
    start = time.perf_counter()
    jax.block_until_ready(train_step(state[0], state[1], jax.random.key(1)))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(args.train_steps):
        state[0], state[1], loss = train_step(state[0], state[1], jax.random.fold_in(jax.random.key(1), step))
    jax.block_until_ready(loss)
    train_steps_per_s = args.train_steps / (time.perf_counter() - start)

    sample = jax.jit(model.sample_poses, static_argnames=("num_steps", "num_samples", "use_cache"))
    cached_s = _median_seconds(lambda: sample(params, jax.random.key(2), obs, num_steps=args.steps,
                                              num_samples=args.samples), args.repeats)
    uncached_s = _median_seconds(lambda: sample(params, jax.random.key(2), obs, num_steps=args.steps,
                                                num_samples=args.samples, use_cache=False), args.repeats)
    return {
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "variant": args.variant,
        "head": args.head,
        "dtype": args.dtype,
        "params": param_count(params),
        "batch": args.batch,
        "train_steps_per_s": round(train_steps_per_s, 3),
        "train_compile_s": round(compile_s, 2),
        "final_loss": float(loss),
        "sample_num_steps": args.steps,
        "sample_num_hypotheses": args.batch * args.samples,
        "sample_latency_cached_ms": round(1000 * cached_s, 3),
        "sample_latency_uncached_ms": round(1000 * uncached_s, 3),
        "uncached_over_cached": round(uncached_s / cached_s, 3),
    }
