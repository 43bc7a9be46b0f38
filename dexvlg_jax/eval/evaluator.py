"""Simulated evaluation on a built dataset: the paper's table (success and PGA per split label and mode) for the
trained model, the image-free retrieval baseline, or both side by side.

One condition loop serves every policy (`evaluate_policy`): the dataset's placed objects (`eval.conditions`) ->
(object, part, mode) conditions, skipping and reporting those with no sim-passing grasp in the dataset -> the
policy proposes T grasps per condition in the object frame (`eval.policies`) -> the tabletop-lift protocol in the
object's own scene (`sim.evaluate(..., tabletops=[the dataset's Tabletop])`) -> tables (`eval.tables`).

Report (a dict; also eval_results.json / eval_table.txt under `out_dir`): {"policy", "dataset", "config",
"summary" {row: metrics}, "table", "coverage" {"conditions", "evaluated", "skipped"}, "skipped" [{object_id, split,
part, mode, reason}], "objects" {object_id: {"split", "label", "category", "diagonal_m", "tabletop"}}, "trials"
[per trial: object, category, split, label, part, part_id, mode, sample, instruction, source, success, pta, pga,
reason], "pictures", "seconds"}; `evaluate_checkpoint` adds "step", "checkpoint", "head",
"joints_out_of_range_fraction", "timing" (`ModelPolicy.timing`: compile seconds and seconds per grasp for
sampling, ranking and refinement) and, with `config.compare_retrieval`, "retrieval" and "retrieval_yaw_unknown"
(the two baselines' summaries and trials, `eval.policies.RetrievalPolicy`) with all three policies in "table".
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from dexvlg_jax import sim
from dexvlg_jax.data import writer
from dexvlg_jax.eval import tables
from dexvlg_jax.eval.conditions import load_scenes, scene_conditions
from dexvlg_jax.eval.policies import ModelPolicy, RetrievalPolicy
from dexvlg_jax.eval.verify import VerifyConfig
from dexvlg_jax.grasp.refine import RefineConfig
from dexvlg_jax.train.checkpoint import load_checkpoint

POLICIES = ("model", "retrieval")


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how.

    Attributes:
      policy: "model" (the checkpoint's samples) or "retrieval" (the pose-given baseline, `eval.policies`).
      compare_retrieval: with policy "model", also run both retrieval baselines (object pose given; yaw unknown)
        on the same conditions; the table shows all three.
      splits: dataset splits evaluated (`data.SPLITS`; empty = all).
      categories: object categories evaluated (empty = all in the dataset).
      objects_per_split: at most this many objects per split (object-id order), None = all.
      modes: grasp modes evaluated.
      max_parts: parts per object evaluated (the first ones), None = all.
      samples: K grasps sampled per instruction (retrieval: K grasps per condition and view).
      views: rendered views per object (each condition gets one instruction per view).
      num_steps: sampling steps (None: the model config's default).
      use_ema: sample with the EMA parameters when the checkpoint has them.
      seed: drives camera azimuths, instruction templates, sampling noise and retrieval picks.
      templates: instruction template set, "eval" (held out from training) or "train".
      batch_size: observations per sampling call (padded; one compiled program).
      backend: simulation backend ("c" or "mjx").
      pictures: number of executed grasps drawn to PNG (hand + object, object frame).
      clip_joints: clip sampled joint angles to the hand's limits before execution, as the LEAP Hand's position
        controller does with an out-of-range command (the report gives the fraction of angles clipped); with
        False, such poses fail in simulation as "joints_out_of_range".
      refine: refine the model's object-frame samples against the observed depth points and the table plane
        before simulation (`grasp.refine`, `refine_steps` Adam steps, `grasp.refine.RefineConfig` defaults).
      refine_steps: refinement steps when `refine` is on.
      mirror: ranking and refinement also see the hidden back of each view guessed by mirror symmetry
        (`grasp.refine.mirror_points`).
      rank_candidates: if > samples, sample this many per observation and keep the `samples` with the lowest
        observed-geometry energy (`grasp.refine.rank_poses`); 0 = off.
      verify: simulate each observation's `verify_candidates` best-ranked (and refined) candidates against shapes
        guessed from the view and deliver the `samples` that lift in the most guesses (`eval.verify`; the
        evaluation's protocol and physics, C MuJoCo); needs rank_candidates >= verify_candidates to choose them.
      verify_candidates: candidates per observation that verification simulates.
      temperature: scale of the sampler's starting noise (1 = the trained distribution; < 1 samples nearer its
        modes; `models.vlg.DexVLG.sample_poses`).
      head: sample with this head instead of the checkpoint's (None): "ddim" or "ddpm" for a run trained with
        either (they share training: the same epsilon network); a flow run samples only with "flow".
    """

    policy: str = "model"
    compare_retrieval: bool = True
    splits: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    objects_per_split: int | None = None
    modes: tuple[str, ...] = ("wrap", "pinch")
    max_parts: int | None = None
    samples: int = 4
    views: int = 1
    num_steps: int | None = None
    use_ema: bool = True
    seed: int = 0
    templates: str = "eval"
    batch_size: int = 16
    backend: str = "c"
    pictures: int = 4
    clip_joints: bool = True
    refine: bool = False
    refine_steps: int = 20
    mirror: bool = False
    rank_candidates: int = 0
    verify: bool = False
    verify_candidates: int = 64
    temperature: float = 1.0
    head: str | None = None

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"EvalConfig.policy must be one of {POLICIES}, got {self.policy!r}")
        if self.samples < 1 or self.views < 1:
            raise ValueError(f"EvalConfig: samples and views must be >= 1, got {self.samples}, {self.views}")
        if self.head not in (None, "flow", "ddpm", "ddim"):
            raise ValueError(f"EvalConfig.head must be None, 'flow', 'ddpm' or 'ddim', got {self.head!r}")
        if not self.temperature > 0:
            raise ValueError(f"EvalConfig.temperature must be > 0, got {self.temperature}")
        if self.verify and self.verify_candidates < self.samples:
            raise ValueError(f"EvalConfig: verify_candidates ({self.verify_candidates}) must be >= samples "
                             f"({self.samples})")
        if self.refine_steps < 0 or self.rank_candidates < 0:
            raise ValueError(f"EvalConfig: refine_steps and rank_candidates must be >= 0, got {self.refine_steps}, "
                             f"{self.rank_candidates}")


def evaluate_policy(policy, scenes, config: EvalConfig, protocol=None, scene_config=None) -> dict:
    """The condition loop: conditions of `scenes` -> policy.propose -> tabletop-lift simulation -> report dict
    (see the module docstring; without file outputs). `poses` (per trial, object frame) is kept under
    "_poses" for pictures and is not JSON."""
    protocol = protocol or sim.TabletopLiftConfig()
    scene_config = scene_config or sim.SceneConfig()
    items, skipped = [], []
    for scene in scenes:
        covered, missing = scene_conditions(scene, config.modes, config.max_parts)
        skipped += missing
        if covered:
            items.append((scene, covered))
    proposals = policy.propose(items)
    trials, poses, objs, pose_sets, part_ids, tabletops = [], [], [], [], [], []
    for (scene, conditions), (cond_poses, notes) in zip(items, proposals):
        count = cond_poses.shape[1]
        objs.append(scene.obj)
        tabletops.append(scene.tabletop)
        pose_sets.append(cond_poses.reshape(-1, cond_poses.shape[-1]))
        part_ids.append(np.repeat([c.part_id for c in conditions], count))
        for cond, note, block in zip(conditions, notes, cond_poses):
            for sample in range(count):
                trials.append({"object": scene.object_id, "category": scene.category, "split": scene.split,
                               "label": scene.label, "part": cond.part_name, "part_id": cond.part_id,
                               "mode": cond.mode, "sample": sample, **note})
            poses.extend(block)
    summary, table = {}, "no condition evaluated (see 'skipped')"
    if objs:
        result = sim.evaluate(objs, pose_sets, protocol=protocol, backend=config.backend, part_ids=part_ids,
                              scene_config=scene_config, tabletops=tabletops)
        reasons = [r for rec in result.records for r in np.asarray(rec.reason).astype(str).tolist()]
        for i, trial in enumerate(trials):
            trial.update(success=bool(result.per_trial["success"][i]), pta=bool(result.per_trial["pta"][i]),
                         pga=bool(result.per_trial["pga"][i]), reason=reasons[i])
        summary = tables.split_mode_summary(result.per_trial, [t["label"] for t in trials],
                                            [t["mode"] for t in trials])
        table = sim.format_table(summary)
    num_conditions = sum(len(c) for _, c in items) + len(skipped)
    return {"policy": policy.name, "config": dataclasses.asdict(config), "summary": summary,
            "table": f"{table}\n{tables.coverage_line(num_conditions, skipped)}",
            "coverage": {"conditions": num_conditions, "evaluated": num_conditions - len(skipped),
                         "skipped": len(skipped)},
            "skipped": skipped, "objects": _object_table(scenes), "trials": trials, "pictures": [],
            "_poses": poses}


def _object_table(scenes) -> dict:
    return {s.object_id: {"split": s.split, "label": s.label, "category": s.category,
                          "diagonal_m": float(np.linalg.norm(np.ptp(np.asarray(s.obj.vertices, np.float64), 0))),
                          "tabletop": s.tabletop.to_json()} for s in scenes}


def _scenes(dataset: str, config: EvalConfig):
    return load_scenes(dataset, config.splits, config.categories, config.objects_per_split)


def _retrieval_policies(dataset: str, config: EvalConfig, yaws=("known",)) -> list[RetrievalPolicy]:
    """One RetrievalPolicy per yaw knowledge, all over the dataset's train scenes (loaded once)."""
    train_scenes = load_scenes(dataset, splits=("train",))
    return [RetrievalPolicy(train_scenes, trials=config.samples * config.views, seed=config.seed, yaw=yaw)
            for yaw in yaws]


def _finish(report: dict, scenes, out_dir: str | None, config: EvalConfig, title: str, started: float) -> dict:
    poses = report.pop("_poses")
    if out_dir is not None:
        report["pictures"] = tables.grasp_pictures(report["trials"], {s.object_id: s for s in scenes}, poses,
                                                   out_dir, config.pictures)
    report["seconds"] = round(time.time() - started, 2)
    if out_dir is not None:
        tables.write_report(report, out_dir, title)
    return report


def evaluate_retrieval(dataset: str, config: EvalConfig = EvalConfig(policy="retrieval"),
                       out_dir: str | None = None, protocol=None, scene_config=None) -> dict:
    """The image-free retrieval baseline on a dataset's conditions (no checkpoint needed); the report dict."""
    started = time.time()
    scenes = _scenes(dataset, config)
    [retrieval] = _retrieval_policies(dataset, config)
    report = evaluate_policy(retrieval, scenes, config, protocol, scene_config)
    report["dataset"] = dataset
    return _finish(report, scenes, out_dir, config, f"retrieval baseline on {dataset}", started)


def _load_model(checkpoint: str, step, mesh, config: EvalConfig):
    """(train_config, params, step) of a run's checkpoint: EMA parameters with config.use_ema, the run's head
    or config.head (ddpm and ddim only, which share training)."""
    train_config, state, step = load_checkpoint(checkpoint, step, mesh)
    if config.head is not None and config.head != train_config.model.head:
        if "flow" in (config.head, train_config.model.head):
            raise ValueError(f"EvalConfig.head={config.head!r}: {checkpoint} was trained with head "
                             f"{train_config.model.head!r}; only ddpm and ddim share training")
        train_config = dataclasses.replace(train_config, model=train_config.model.replace(head=config.head))
    params = state.ema_params if (config.use_ema and state.ema_params is not None) else state.params
    return train_config, params, step


def evaluate_checkpoint(checkpoint: str, config: EvalConfig = EvalConfig(), out_dir: str | None = None,
                        step: int | None = None, protocol=None, scene_config=None, dataset: str | None = None,
                        mesh=None, ensemble: tuple = ()) -> dict:
    """Evaluates a training run's checkpoint on a dataset's placed objects in tabletop-lift simulation.

    Args:
      checkpoint: a training workdir or its checkpoints directory (the model config is read from it).
      config: what to evaluate (EvalConfig); policy "retrieval" evaluates the baseline only.
      out_dir: where eval_results.json, eval_table.txt and grasp PNGs go (None: nothing written).
      step: checkpoint step (default newest).
      protocol / scene_config: a `sim.TabletopLiftConfig` / `sim.SceneConfig` (default: the simulator's).
      dataset: the dataset directory; default the one the run trained on (`train_config.data.path`).
      mesh: device mesh for the parameters (default: the training run's FSDP layout over all devices).
      ensemble: more training workdirs (their newest steps) whose samples join the checkpoint's candidates before
        ranking, refinement and verification (`ModelPolicy`'s ensemble; the same EMA and head settings).
    """
    started = time.time()
    train_config, params, step = _load_model(checkpoint, step, mesh, config)
    dataset = dataset or train_config.data.path
    if not dataset:
        raise ValueError(f"{checkpoint}: the run trained on synthetic data (train_config.data.path is None); "
                         f"pass dataset=<a launch.build_dataset directory> to evaluate on")
    scenes = _scenes(dataset, config)
    retrieval, *others = _retrieval_policies(dataset, config,
                                             ("known", "unknown") if config.compare_retrieval else ("known",))
    if config.policy == "retrieval":
        report = evaluate_policy(retrieval, scenes, config, protocol, scene_config)
    else:
        members = [_load_model(path, None, mesh, config)[:2] for path in ensemble]
        manifest_config = writer.read_manifest(dataset).get("config") or {}
        observe = RefineConfig(steps=config.refine_steps, mirror=config.mirror)
        model = ModelPolicy(train_config, params, manifest_config, views=config.views, samples=config.samples,
                            num_steps=config.num_steps, seed=config.seed, clip_joints=config.clip_joints,
                            templates=config.templates, batch_size=config.batch_size,
                            refine=observe if config.refine else None, observe=observe,
                            rank_candidates=config.rank_candidates, temperature=config.temperature,
                            verify=VerifyConfig(candidates=config.verify_candidates) if config.verify else None,
                            verify_sim=(protocol or sim.TabletopLiftConfig(), scene_config or sim.SceneConfig()),
                            ensemble=members)
        report = evaluate_policy(model, scenes, config, protocol, scene_config)
        report["joints_out_of_range_fraction"] = model.clipped_fraction
        report["timing"] = model.timing
        if config.compare_retrieval:
            summaries = {"model": report["summary"]}
            for baseline_policy in (retrieval, *others):
                baseline = evaluate_policy(baseline_policy, scenes, config, protocol, scene_config)
                report[baseline_policy.name] = {"summary": baseline["summary"], "trials": baseline["trials"]}
                summaries[baseline_policy.name] = baseline["summary"]
            report["table"] = (f"{report['table']}\n\nmodel vs the retrieval baselines (same conditions; "
                               f"'retrieval' is given the object's pose, 'retrieval_yaw_unknown' not its "
                               f"yaw):\n{tables.comparison_table(summaries)}")
    report.update(dataset=dataset, step=step, checkpoint=checkpoint, head=train_config.model.head)
    if ensemble:
        report["ensemble"] = list(ensemble)
    title = f"checkpoint {checkpoint} step {step} head {train_config.model.head} dataset {dataset}"
    return _finish(report, scenes, out_dir, config, title, started)
