"""The model section of the accelerator benchmark (`bench.accelerator`): DexVLG training step and sampling.

Batch search: compile a probe batch, read XLA's memory analysis (bytes per device), extrapolate linearly in batch
to the largest candidate under 90% of device memory and compile that (at most two compilations of the step).
MFU: model FLOPs per example from `bench.flops` x samples/s over the devices' peak dense bf16 FLOP/s.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp

from dexvlg_jax.bench.budget import Budget, is_oom, median_seconds, rounded
from dexvlg_jax.bench.flops import model_flops_per_example, peak_flops
from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.models.vlg import DexVLG, fake_batch, param_count
from dexvlg_jax.train import OptimizerConfig, init_train_state, make_train_step
from dexvlg_jax.train import sharding as S


def model_section(sizes: dict, budget: Budget, deadline: float) -> dict:
    """DexVLG variant sizes["variant"] (flow head, bfloat16 compute, random weights, layers rematerialised as
    sizes["remat_policy"]), the paligemma_3b recipe, FSDP over every device: train step time, samples/s and MFU
    at the largest batch of sizes["per_device_batches"] (per device) that fits, timed over sizes["train_steps"]
    steps; then the latency (ms, median of sizes["repeats"]) of sampling 64 grasps x 10 Euler steps with bf16
    weights, with and without the prefix KV cache. Raises RuntimeError when no batch fits in device memory."""
    config = get_variant(sizes["variant"], head="flow", dtype="bfloat16", remat_policy=sizes["remat_policy"])
    net = DexVLG(config)
    ocfg = OptimizerConfig(learning_rate=5e-5, warmup_steps=1000, total_steps=50_000, ema_decay=0.9999,
                           frozen=("img/.*",))  # configs/train/paligemma_3b.py
    mesh = S.make_mesh(fsdp=-1)
    ndev = mesh.devices.size
    shapes = net.param_shapes()
    flops = model_flops_per_example(config, shapes)
    peak = peak_flops(str(jax.devices()[0].device_kind))
    out = {"variant": sizes["variant"], "params": param_count(shapes), "mesh": dict(mesh.shape),
           "remat_policy": sizes["remat_policy"],
           "recipe": "float32 params + AdamW + EMA, bfloat16 compute, img/* frozen, layers rematerialised as "
                     "remat_policy (configs/train/paligemma_3b.py)",
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
        entry["compile_s"] = rounded(time.perf_counter() - start)
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
    entry.update(step_s=rounded(seconds), samples_per_s=rounded(global_batch / seconds),
                 loss=rounded(float(metrics["loss"])),
                 model_flops_per_s=rounded(model_flops), xla_flops_per_step_per_device=rounded(xla_flops),
                 mfu=rounded(model_flops / (peak * ndev)) if peak else None,
                 mfu_from_xla_flops=rounded(xla_flops / seconds / peak) if peak and xla_flops else None)
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
        out[f"sample_{name}"] = {"grasps": 64, "steps": 10, "latency_ms": rounded(1e3 * seconds),
                                 "first_call_s": rounded(first)}
    return out
