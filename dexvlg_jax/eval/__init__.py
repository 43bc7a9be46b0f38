"""Evaluation stage: trained checkpoints and grasp files in simulation, on the dataset's own placed objects.

    report = eval.evaluate_checkpoint(WORKDIR, eval.EvalConfig(samples=4), out_dir=OUT)   # model + baseline
    report = eval.evaluate_retrieval(DATASET, eval.EvalConfig(policy="retrieval"))        # baseline only
    curve = eval.evaluate_curve(WORKDIR, eval.EvalConfig(samples=4), steps=None, out_dir=OUT)  # every kept step
    result = eval.evaluate_grasp_file("grasps.npz", "tabletop_lift")                      # a grasp file

Modules: `conditions` (dataset scenes, split labels, (object, part, mode) conditions and coverage), `policies`
(the model and the image-free retrieval baseline), `evaluator` (EvalConfig, the condition loop), `curve` (a run
along its learning curve), `tables`
(result tables, report files), `grasp_files` (grasp-file format, object references, evaluation), `run_report`
(a whole run's HTML report; import it directly).
"""
from dexvlg_jax.eval.conditions import (
    SPLIT_LABELS,
    Condition,
    EvalScene,
    load_scene,
    load_scenes,
    scene_conditions,
    split_label,
    uncovered_reason,
)
from dexvlg_jax.eval.evaluator import POLICIES, EvalConfig, evaluate_checkpoint, evaluate_policy, evaluate_retrieval
from dexvlg_jax.eval.curve import evaluate_curve, kept_steps
from dexvlg_jax.eval.grasp_files import evaluate_grasp_file, load_object, read_grasp_file
from dexvlg_jax.eval.policies import ModelPolicy, RetrievalPolicy, camera_to_object, observation_rows
from dexvlg_jax.eval.tables import comparison_table, split_mode_summary

__all__ = [
    "POLICIES", "SPLIT_LABELS", "Condition", "EvalConfig", "EvalScene", "ModelPolicy", "RetrievalPolicy",
    "camera_to_object", "comparison_table", "evaluate_checkpoint", "evaluate_curve", "evaluate_grasp_file",
    "evaluate_policy", "evaluate_retrieval", "kept_steps", "load_object", "load_scene", "load_scenes",
    "observation_rows", "read_grasp_file", "scene_conditions", "split_label", "split_mode_summary",
    "uncovered_reason",
]
