"""Simulated evaluation of a trained DexVLG checkpoint (the paper's table: success and PGA per split, wrap vs
pinch).

For every evaluation object (embedded library, `dexvlg_jax.objects`; split by `data.writer.assign_splits`), part
and grasp mode: place the object upright on the table with a random yaw, render the tabletop RGB-D view
(`dexvlg_jax.render`, camera 0.8 m from the table centre, 45 deg down, random azimuth) at the model's image size,
write an instruction from the held-out ("eval") templates, sample K grasps with the model (camera frame), map
them into the object frame and run the tabletop-lift protocol (`dexvlg_jax.sim`). Rows of the table are
"<split>/<mode>", "<split>" and "all"; PTA/PGA definitions are those of `dexvlg_jax.sim.metrics`.

Frames: world z up, table top z = 0; object frame = ProcessedObject frame (bbox-centred, z up). The object is
placed upright (rotation about z only) so the simulator's upright placement and the rendered scene agree.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from dexvlg_jax.hand.model import load_hand
from dexvlg_jax.train.checkpoint import load_checkpoint

SPLIT_LABELS = {"train": "seen", "test_seen": "seen", "test_unseen_instance": "unseen_instance",
                "test_unseen_category": "unseen_category"}


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """What to evaluate.

    Attributes:
      categories: embedded object categories (empty = all of `dexvlg_jax.objects.CATEGORIES`).
      objects_per_category: instances per category (seeds 0..n-1).
      split_seed: seed of `assign_splits` (must equal the dataset's to keep seen/unseen meaningful).
      modes: grasp modes evaluated.
      max_parts: parts per object evaluated (the first ones), None = all.
      samples: K grasps sampled per instruction.
      views: rendered views per (object, part, mode).
      num_steps: sampling steps (None: the model config's default).
      use_ema: sample with the EMA parameters when the checkpoint has them.
      seed: drives yaw, azimuth, instruction templates and sampling noise.
      fov_deg: vertical field of view of the rendered camera.
      backend: simulation backend ("c" or "mjx").
      pictures: number of grasps drawn to PNG (hand + object, object frame).
      clip_joints: clip sampled joint angles to the hand's limits before execution, as the LEAP Hand's position
        controller does with an out-of-range command (the report gives the fraction of angles clipped); with
        False, such poses fail in simulation as "joints_out_of_range".
    """

    categories: tuple[str, ...] = ()
    objects_per_category: int = 1
    split_seed: int = 0
    modes: tuple[str, ...] = ("wrap", "pinch")
    max_parts: int | None = 2
    samples: int = 4
    views: int = 1
    num_steps: int | None = None
    use_ema: bool = True
    seed: int = 0
    fov_deg: float = 45.0
    backend: str = "c"
    pictures: int = 4
    clip_joints: bool = True


def _observations(obj, parts, modes, views, image_size, fov_deg, rng, tokenizer, max_len):
    """Renders and tokenises every (part, mode, view) of one object.

    Returns (obs batch dict with N rows, object_to_camera (N, 4, 4), part ids (N,), modes (N,), instructions).
    """
    from dexvlg_jax import render
    from dexvlg_jax.data.instructions import object_noun, sample_instruction

    intrinsics = np.asarray(render.intrinsics_from_fov(fov_deg, image_size, image_size), np.float32)
    rows = {"image": [], "depth": [], "intrinsics": [], "tokens": [], "token_mask": []}
    transforms, part_ids, mode_list, texts = [], [], [], []
    for view in range(views):
        object_to_world = render.place_upright(obj.vertices, rng).object_to_world
        world_to_camera = np.asarray(render.tabletop_camera(jnp.float32(rng.uniform(0, 2 * np.pi))), np.float64)
        scene = render.build_scene(obj.vertices, obj.faces, obj.face_part_ids, object_to_world)
        out = render.render_image(scene, intrinsics, world_to_camera, image_size, image_size)
        image = np.asarray(out.rgb, np.float32) * 2.0 - 1.0
        depth = np.asarray(out.depth, np.float32)
        for part in parts:
            for mode in modes:
                text = sample_instruction(object_noun(obj.category), obj.part_names[part], mode, rng, split="eval")
                tokens, mask = tokenizer.encode(text, max_len)
                for key, value in (("image", image), ("depth", depth), ("intrinsics", intrinsics),
                                   ("tokens", tokens), ("token_mask", mask)):
                    rows[key].append(value)
                transforms.append(world_to_camera @ object_to_world)
                part_ids.append(part)
                mode_list.append(mode)
                texts.append(text)
    batch = {k: np.stack(v) for k, v in rows.items()}
    return batch, np.stack(transforms), np.asarray(part_ids), mode_list, texts


def camera_to_object(poses_camera: np.ndarray, object_to_camera: np.ndarray) -> np.ndarray:
    """Poses (G, 25) in the camera frame -> the object frame, given object_to_camera (4, 4)."""
    from dexvlg_jax.data.schema import transform_pose

    inverse = np.linalg.inv(np.asarray(object_to_camera, np.float64))
    return np.stack([transform_pose(np.asarray(p, np.float64), inverse) for p in poses_camera]).astype(np.float32)


def evaluate_checkpoint(checkpoint: str, config: EvalConfig = EvalConfig(), out_dir: str | None = None,
                        step: int | None = None, protocol=None, scene_config=None, objects_list=None,
                        mesh=None) -> dict:
    """Evaluates a training run's checkpoint in simulation; returns the report dict (also written to `out_dir`).

    Args:
      checkpoint: a training workdir or its checkpoints directory (the model config is read from it).
      config: what to evaluate (EvalConfig).
      out_dir: where eval_results.json, eval_table.txt and grasp PNGs go (None: nothing written).
      step: checkpoint step (default newest).
      protocol: a `sim.TabletopLiftConfig` (default: the simulator's defaults).
      scene_config: a `sim.SceneConfig` (default: the simulator's defaults).
      objects_list: optional list of (ProcessedObject, split label) to evaluate instead of the embedded library.
      mesh: device mesh for the parameters (default: the training run's FSDP layout over all devices).

    Report: {"step", "checkpoint", "config", "summary" {row: metrics}, "table" (text), "trials" [per grasp:
    object, split, mode, part, instruction, success, pta, pga], "pictures", "seconds"}.
    """
    from dexvlg_jax import objects as objects_lib
    from dexvlg_jax import sim
    from dexvlg_jax.data.tokenizer import Tokenizer
    from dexvlg_jax.data.writer import assign_splits
    from dexvlg_jax.models.vlg import DexVLG

    started = time.time()
    train_config, state, step = load_checkpoint(checkpoint, step, mesh)
    model = DexVLG(train_config.model)
    params = state.ema_params if (config.use_ema and state.ema_params is not None) else state.params
    sample = jax.jit(model.sample_poses, static_argnames=("num_steps", "num_samples"))
    tokenizer = Tokenizer(train_config.data.tokenizer_path)
    protocol = protocol or sim.TabletopLiftConfig()
    scene_config = scene_config or sim.SceneConfig()

    if objects_list is None:
        categories = config.categories or objects_lib.CATEGORIES
        pairs = [(objects_lib.make_object(c, s), c) for c in categories for s in range(config.objects_per_category)]
        splits = assign_splits({m.name: c for m, c in pairs}, seed=config.split_seed)
        objects_list = [(objects_lib.process_object(m, objects_lib.ProcessingConfig()), SPLIT_LABELS[splits[m.name]])
                        for m, _ in pairs]

    rng = np.random.default_rng(config.seed)
    key = jax.random.key(config.seed)
    objs, poses, part_ids, labels, trials, clipped = [], [], [], [], [], []
    for index, (obj, split) in enumerate(objects_list):
        parts = list(range(obj.num_parts))[:config.max_parts]
        obs, transforms, obj_parts, modes, texts = _observations(
            obj, parts, config.modes, config.views, train_config.model.image_size, config.fov_deg, rng,
            tokenizer, train_config.model.max_text_len)
        key, sample_key = jax.random.split(key)
        sampled = np.asarray(sample(params, sample_key, obs, num_steps=config.num_steps, num_samples=config.samples))
        object_poses = np.concatenate([camera_to_object(sampled[i], transforms[i]) for i in range(len(sampled))])
        lower, upper = load_hand().joint_lower, load_hand().joint_upper
        joints = object_poses[:, 9:]
        clipped.append(((joints < lower) | (joints > upper)).mean())
        if config.clip_joints:
            object_poses[:, 9:] = np.clip(joints, lower, upper)
        objs.append(obj)
        poses.append(object_poses)
        part_ids.append(np.repeat(obj_parts, config.samples))
        labels.extend(f"{split}/{m}" for m in modes for _ in range(config.samples))
        for i, (mode, text) in enumerate(zip(modes, texts)):
            for _ in range(config.samples):
                trials.append({"object": obj.name, "category": obj.category, "split": split, "mode": mode,
                               "part": obj.part_names[obj_parts[i]], "instruction": text})

    result = sim.evaluate(objs, poses, protocol=protocol, backend=config.backend, part_ids=part_ids,
                          scene_config=scene_config)
    per_trial = result.per_trial
    for i, trial in enumerate(trials):
        trial.update(success=bool(per_trial["success"][i]), pta=bool(per_trial["pta"][i]),
                     pga=bool(per_trial["pga"][i]))
    rows = labels + [label.split("/")[0] for label in labels]
    doubled = {k: np.concatenate([v, v]) for k, v in per_trial.items()}
    summary = sim.summarize(doubled, rows)
    summary["all"] = sim.summarize(per_trial)["all"]
    table = sim.format_table(summary)
    report = {"step": step, "checkpoint": checkpoint, "config": dataclasses.asdict(config),
              "head": train_config.model.head, "summary": summary, "table": table, "trials": trials,
              "pictures": [], "seconds": None, "joints_out_of_range_fraction": float(np.mean(clipped))}
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        report["pictures"] = _pictures(objs, poses, out_dir, config.pictures)
    report["seconds"] = round(time.time() - started, 2)
    if out_dir is not None:
        with open(os.path.join(out_dir, "eval_results.json"), "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, default=float)
        with open(os.path.join(out_dir, "eval_table.txt"), "w", encoding="utf-8") as f:
            f.write(f"checkpoint {checkpoint} step {step} head {train_config.model.head}\n{table}\n")
    return report


def _pictures(objs, poses, out_dir: str, count: int) -> list[str]:
    """PNGs of the first `count` sampled grasps (one per object first), hand + object in the object frame."""
    from dexvlg_jax.sim import split_pose
    from dexvlg_jax.viz.meshes import hand_trimesh, object_trimesh
    from dexvlg_jax.viz.picture import render_meshes_png

    paths = []
    order = [(o, g) for g in range(max(len(p) for p in poses)) for o in range(len(objs)) if g < len(poses[o])]
    for o, g in order[:count]:
        translation, rotation, joints = split_pose(poses[o][g:g + 1])
        if not (np.all(np.isfinite(translation)) and np.all(np.isfinite(rotation))):
            continue
        obj = objs[o]
        meshes = [object_trimesh(obj.vertices, obj.faces, obj.face_part_ids),
                  hand_trimesh(translation[0], rotation[0], joints[0])]
        paths.append(render_meshes_png(os.path.join(out_dir, f"grasp_{obj.name}_{g}.png"), meshes, size=(320, 320)))
    return paths
