"""Benchmark support shared by `launch/bench_*.py`: time budgets with per-size estimates, device facts and peak
FLOP/s, model FLOP counts for MFU, and the simulation benchmark's trial poses. The accelerator benchmark's sections
(`bench.accelerator`, `bench.stage_sections`, `bench.model_section`) import every stage and are not re-exported."""
from dexvlg_jax.bench.budget import Budget, device_info, is_oom, median_seconds, rounded, scaled_estimate
from dexvlg_jax.bench.flops import PEAK_BF16_FLOPS, model_flops_per_example, peak_flops
from dexvlg_jax.bench.sim_trials import GOOD_JOINTS, GOOD_ROTATION, GOOD_TRANSLATION, perturbed_grasps

__all__ = [
    "Budget", "GOOD_JOINTS", "GOOD_ROTATION", "GOOD_TRANSLATION", "PEAK_BF16_FLOPS", "device_info", "is_oom",
    "median_seconds", "model_flops_per_example", "peak_flops", "perturbed_grasps", "rounded", "scaled_estimate",
]
