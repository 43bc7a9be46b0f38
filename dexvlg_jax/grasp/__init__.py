"""Grasp synthesis (the data engine's "DexGraspNet 3.0" stage): force closure (DFC, LP-DFC) with a jitted
batched LP solver, energies, part-aligned initialisation, optimisers, quality metrics, the per-object driver and
the grasp file format. Object frame, metres, radians throughout; poses are (translation 3, rot6d 6, joints 16).
"""
from dexvlg_jax.grasp.energy import (
    TERMS,
    EnergyConfig,
    EnergyWeights,
    SynthObject,
    energy_terms,
    grasp_energy,
    hand_contacts,
    object_normals,
    synth_object,
    total_energy,
)
from dexvlg_jax.grasp.culling import near_object_points
from dexvlg_jax.grasp.force_closure import (
    ForceSolution,
    dfc_energy,
    dfc_energy_batch,
    force_stats,
    friction_cone_edges,
    grasp_matrix,
    lp_dfc_energy,
    lp_dfc_forces,
    lp_dfc_forces_batch,
    net_wrench,
)
from dexvlg_jax.grasp.feasibility import part_failure
from dexvlg_jax.grasp.init import InitConfig, initial_poses, placement
from dexvlg_jax.grasp.io import load_grasps, save_grasps
from dexvlg_jax.grasp.lp import LPSolution, solve_lp, solve_lp_batch
from dexvlg_jax.grasp.metrics import FilterConfig, failure_reasons, grasp_metrics
from dexvlg_jax.grasp.optimizer import (
    OptimizerConfig,
    grasp_keys,
    optimize_batch,
    optimize_one,
    optimize_sharded,
)
from dexvlg_jax.devices import data_mesh
from dexvlg_jax.grasp.q1 import primitive_wrenches, q1_metric, q1_metric_batch, q1_reference
from dexvlg_jax.grasp.refine import (
    ObservedScene,
    RefineConfig,
    contact_mask,
    observed_energy,
    observed_scene,
    observed_terms,
    rank_poses,
    refine_poses,
)
from dexvlg_jax.grasp.synthesize import SynthConfig, poses_per_part, summarize, synthesize_object
