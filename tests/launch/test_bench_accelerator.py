"""The accelerator benchmark at its CPU (`--tiny`) sizes: every section runs and reports positive figures; the time
guard skips and still writes the JSON; the shared budget/FLOP helpers."""
import json
import os
import subprocess
import sys

import jax
import pytest

from dexvlg_jax.bench import Budget, model_flops_per_example, peak_flops, scaled_estimate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Two fake devices exercise the sharded paths (FSDP, sharded synthesis and MJX batches); LLVM's cheap settings cut
# the CPU compile time, which dominates at these sizes (the figures are not what this test checks).
XLA_FLAGS = "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0"


def _run(args, out, timeout):
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=XLA_FLAGS)
    proc = subprocess.run([sys.executable, "-m", "launch.benchmark", "accelerator", "--out", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "accelerator.json").read_text())


def test_tiny_run_writes_every_section_with_positive_figures(tmp_path):
    # A budget no run reaches: the time guard (tested below) must not skip a section because the machine is busy.
    result = _run(["--tiny", "--budget-s", "1e6"], tmp_path, timeout=1800)
    assert result["tiny"] and set(result) >= {"synthesis", "simulation", "model", "render"}
    assert (tmp_path / "accelerator.txt").read_text().count("\n") >= 5
    for name in ("synthesis", "simulation", "model", "render"):
        section = result[name]
        assert "error" not in section and "skipped" not in section, (name, section)
        assert section["device"]["device_count"] == 2 and section["device"]["jax_version"] == jax.__version__

    synth = result["synthesis"]
    assert len(synth["objects"]) == 4
    kinds = result["sizes"]["synth_kinds"]  # the tiny sizes: DFC only (LP-DFC's energy is tested in tests/grasp)
    assert set(synth["runs"]) == {f"{fc}_b8" for fc in kinds}
    for fc in kinds:
        run = synth["runs"][f"{fc}_b8"]
        assert run["objects_run"] == 4 and run["hand_iterations_per_s"] > 0 and run["hands_per_s"] > 0
        assert run["valid_grasps_per_s"] >= 0 and run["num_grasps"] > 0
        assert set(run["kept_mean"]) >= {"pen_mm", "spen_mm", "q1"}

    sim = result["simulation"]
    run = sim["runs"]["mjx_jax_b4"]
    assert run["trials_per_s"] > 0 and run["steps_per_s"] > 0 and sim["steps_per_trial"] > 0
    assert sim["agreement"]["trials"] == 4 and sim["agreement"]["c_steps_per_s"] > 0
    assert "warp" in sim or "mjx_warp_b4" in sim["runs"]

    model = result["model"]
    assert model["train"]["samples_per_s"] > 0 and model["train"]["step_s"] > 0
    assert model["train"]["batch"] % 2 == 0 and model["flops_per_example"]["train"] > 0
    assert model["sample_cached"]["latency_ms"] > 0 and model["sample_uncached"]["latency_ms"] > 0

    assert result["render"]["images_per_s"] > 0


def test_time_guard_skips_and_still_writes_json(tmp_path):
    result = _run(["--tiny", "--budget-s", "0", "--sections", "simulation,model"], tmp_path, timeout=300)
    for name in ("simulation", "model"):
        assert "time guard" in result[name]["skipped"]


def test_budget_shares_and_estimates():
    now = [0.0]
    budget = Budget(100.0, {"a": 1.0, "b": 3.0}, clock=lambda: now[0])
    deadline = budget.open("a")
    assert deadline == pytest.approx(25.0)
    assert budget.fits(None, deadline) and budget.fits(20.0, deadline) and not budget.fits(30.0, deadline)
    now[0] = 10.0  # "a" used 10 s of its 25: "b" gets all that is left
    assert budget.open("b") == pytest.approx(100.0)
    now[0] = 100.0
    assert not budget.fits(None, 100.0) and "time guard" in budget.skip_note(5.0, 100.0)
    assert scaled_estimate(None, None, 8) is None
    assert scaled_estimate(2.0, 1024, 4096, overhead_s=1.0) == pytest.approx(9.0)


def test_peak_flops_and_model_flops():
    assert peak_flops("NVIDIA H200") == 989e12 and peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-80GB") == 312e12 and peak_flops("cpu") is None
    from dexvlg_jax.models.variants import get_variant
    from dexvlg_jax.models.vlg import DexVLG

    config = get_variant("tiny")
    flops = model_flops_per_example(config, DexVLG(config).param_shapes())
    llm = flops["modules"]["llm"]
    assert llm["tokens"] == config.prefix_len and llm["matmul_params"] > 0
    # the embedding table is excluded: fewer matmul params than the llm's parameter count
    assert llm["matmul_params"] < 102720
    assert flops["train_flops"] == pytest.approx(3 * flops["forward_flops"])


def test_size_overrides_apply_and_name_bad_entries():
    from dexvlg_jax.bench.accelerator import FULL, override_sizes
    sizes = override_sizes(FULL, ["synth_batches=(4096,)", "synth_kinds=['dfc']", "synth_iters=100"])
    assert sizes["synth_batches"] == (4096,) and sizes["synth_kinds"] == ("dfc",) and sizes["synth_iters"] == 100
    assert FULL["synth_batches"] == (1024, 4096, 16384)  # the defaults are untouched
    for bad, says in [("synth_batch=(1,)", "KEY one of"), ("synth_iters=many", "not a Python literal"),
                      ("synth_iters=1.5", "takes a int"), ("synth_iters", "KEY=VALUE")]:
        with pytest.raises(ValueError, match=says):
            override_sizes(FULL, [bad])
