"""The accelerator benchmark (CLI: `python -m launch.benchmark accelerator --out DIR [--tiny] [--budget-s 480]`).

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
  bfloat16 compute, AdamW, EMA, SigLIP frozen, layers rematerialised as sizes "remat_policy"), FSDP over all
  devices: step time and samples/s at the largest batch that fits (descending list, OOM caught), MFU (formula:
  `dexvlg_jax.bench.flops`); flow sampling latency for 64 grasps x 10 Euler steps with bf16 weights, with and
  without the prefix KV cache.
- render: 224 x 224 RGB-D + part mask, 256 views per call, images/s.

Time guard: `--budget-s` is shared among the sections (weights below; unused time passes on). Before each size
the time is estimated from the previous size (linear in batch, plus its compile time) and the size is skipped
with a note if it would overrun. `TINY` runs every section at CPU sizes (tests). `benchmark_objects` alone (the
CLI's `--prepare`) processes the objects into DIR/objects (coacd: ~40 s on CPU) so that the accelerator run finds
them cached.
"""
from __future__ import annotations

import ast
import json
import pathlib
import time
import traceback
from typing import Callable

from dexvlg_jax.atomic_io import write_bytes
from dexvlg_jax.bench.budget import Budget, device_info
from dexvlg_jax.bench.model_section import model_section
from dexvlg_jax.bench.stage_sections import render_section, simulation_section, synthesis_section
from dexvlg_jax.objects import ProcessingConfig, make_object, process_many

FC_KINDS = ("lp_dfc", "dfc")  # the synthesis section's energies, in the order they run
SECTIONS = ("synthesis", "simulation", "model", "render")
WEIGHTS = {"synthesis": 0.35, "simulation": 0.25, "model": 0.3, "render": 0.1}
# Four embedded objects every part of which the hand can grasp (the mug's body is too wide), so that every object
# gives the optimiser and the metrics the same shapes: one compilation per size, not one per object.
CATEGORIES = ("bottle", "hammer", "screwdriver", "knife")

FULL = dict(synth_batches=(1024, 4096, 16384), synth_iters=800, synth_modes=("wrap", "pinch"),
            synth_kinds=FC_KINDS, sim_batches=(1024, 4096, 8192), agree_trials=256, sim_settings="",
            variant="dexvlg_3b", remat_policy="nothing_saveable", per_device_batches=(64, 32, 16, 8, 4, 2, 1),
            probe_per_device=8, train_steps=5, repeats=5, render_batch=256, render_size=224,
            render_chunks=(1024, 4096))
# CPU sizes for the test suite: one size per section (every compilation costs ~10-60 s on 2 cores). Synthesis runs
# the DFC energy only: the section's code is the same for both, and LP-DFC's compile alone took 52 of the tiny run's
# 221 s (its energy is tested in tests/grasp).
TINY = dict(synth_batches=(8,), synth_iters=50, synth_modes=("wrap",), synth_kinds=("dfc",), sim_batches=(4,),
            agree_trials=256, sim_settings="tiny", variant="tiny", remat_policy="nothing_saveable",
            per_device_batches=(2, 1), probe_per_device=1, train_steps=2, repeats=2, render_batch=2,
            render_size=32, render_chunks=(256,))


def override_sizes(sizes: dict, overrides: list[str]) -> dict:
    """`sizes` (`FULL` or `TINY`) with each "KEY=VALUE" of `overrides` applied (VALUE a Python literal of the
    default's type, e.g. "synth_batches=(4096,)"); ValueError naming the entry for an unknown key, a value that is
    not a literal, or one of another type."""
    out = dict(sizes)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in sizes:
            raise ValueError(f"--size {item!r}: expected KEY=VALUE with KEY one of {sorted(sizes)}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"--size {item!r}: VALUE is not a Python literal ({error})") from None
        if isinstance(sizes[key], tuple) and isinstance(value, list):
            value = tuple(value)
        if type(value) is not type(sizes[key]):
            raise ValueError(f"--size {item!r}: {key} takes a {type(sizes[key]).__name__} like {sizes[key]!r}, "
                             f"got a {type(value).__name__}")
        out[key] = value
    return out


def benchmark_objects(out: pathlib.Path, tiny: bool):
    """The 4 embedded objects (`CATEGORIES`), processed (cached in out/objects: the CLI's `--prepare` fills it on a
    CPU machine); `tiny`: a coarse SDF grid and fewer surface points and convex pieces."""
    cfg = ProcessingConfig()
    if tiny:
        cfg = ProcessingConfig(grid_resolution=24, num_surface_points=512, coacd_max_pieces=4)
    objs, failures = process_many([make_object(c, 0) for c in CATEGORIES], cfg, progress=False,
                                  cache_dir=out / "objects")
    if failures:
        raise RuntimeError(f"object processing failed: {failures}")
    return objs


def run(out: pathlib.Path, sections: list[str], budget_s: float, tiny: bool,
        sim_configs: Callable[[str], tuple], size_overrides: list[str] = ()) -> dict:
    """Run `sections` (a subset of `SECTIONS`, in order) within `budget_s` seconds in all (shared by `WEIGHTS`), at
    `TINY` or `FULL` sizes, writing out/accelerator.json and .txt after every section (`write_result`).

    sim_configs: builds the simulation section's (sim.SceneConfig, sim.TabletopLiftConfig) from the sizes'
    "sim_settings" (a `configs/eval/sim.py` arg). A section that raises is recorded as {"error": ...} and the next
    one runs.
    """
    budget = Budget(budget_s, {s: WEIGHTS[s] for s in sections})
    sizes = override_sizes(TINY if tiny else FULL, list(size_overrides))
    result = {"tiny": tiny, "budget_s": budget_s, "device": device_info(), "sizes": dict(sizes)}
    objs = None
    write_result(out, result)
    for name in sections:
        deadline = budget.open(name)
        start = time.perf_counter()
        try:
            if budget.left(deadline) <= 0:
                section = {"skipped": budget.skip_note(None, deadline)}
            else:
                if name in ("synthesis", "render") and objs is None:
                    objs = benchmark_objects(out, tiny)
                if name == "synthesis":
                    section = synthesis_section(sizes, budget, deadline, objs)
                elif name == "simulation":
                    section = simulation_section(sizes, budget, deadline, *sim_configs(sizes["sim_settings"]))
                elif name == "model":
                    section = model_section(sizes, budget, deadline)
                else:
                    section = render_section(sizes, budget, deadline, objs)
        except Exception as error:  # one section's failure must not lose the others
            section = {"error": f"{type(error).__name__}: {error}\n{traceback.format_exc()[-3000:]}"}
        section["device"] = device_info()
        section["seconds"] = round(time.perf_counter() - start, 2)
        result[name] = section
        result["elapsed_s"] = round(budget.clock() - budget.start, 2)
        write_result(out, result)
    return result


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


def write_result(out: pathlib.Path, result: dict) -> None:
    """accelerator.json, then accelerator.txt (atomic replace each; a table error never costs the JSON)."""
    try:
        text = table(result)
    except Exception as error:  # noqa: BLE001 - the JSON matters more than the table
        text = f"table failed: {type(error).__name__}: {error}\n"
    for name, body in (("accelerator.json", json.dumps(result, indent=2, sort_keys=True, default=str)),
                       ("accelerator.txt", text)):
        write_bytes(out / name, body.encode())
