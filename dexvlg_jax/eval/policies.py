"""Who proposes the grasps that evaluation executes: the trained model, or the image-free retrieval baseline.

A policy's `propose(items)` takes [(EvalScene, [Condition, ...]), ...] and returns, per item, poses
(len(conditions), T, 25) float32 in the OBJECT frame (translation 3, rot6d 6, 16 joints) and one info dict per
condition ({"instruction", "source"}). T = views x samples for both policies, so they are compared on the same
conditions with the same number of trials.

- `ModelPolicy`: renders each placed object with the data engine's own `data.pipeline.render_views` (same image
  size, field of view and camera rig as the dataset's records), applies the training input transforms
  (`data.source.ResizeCrop`, `TokenizeInstruction`, `train.input_pipeline.ToModelInputs`), writes one instruction
  per (condition, view) from the held-out ("eval") templates, samples K poses in the camera frame and maps them to
  the object frame with object_to_camera = world_to_camera @ object_to_world.
- `RetrievalPolicy`: for each condition, K x views random sim-passing grasps (object frame) of TRAIN-split objects
  of the same category, part name and mode. A condition with none gets NaN poses (failed trials, source
  "no_train_grasp").
"""
from __future__ import annotations

import zlib

import jax
import numpy as np

from dexvlg_jax.data import instructions, pipeline
from dexvlg_jax.data.schema import transform_pose
from dexvlg_jax.data.source import ResizeCrop, TokenizeInstruction
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.eval.conditions import EvalScene, passing
from dexvlg_jax.hand.constants import POSE_DIM
from dexvlg_jax.hand.model import load_hand
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.models.vlg import OBS_KEYS, DexVLG
from dexvlg_jax.train.input_pipeline import ToModelInputs


def scene_rng(seed: int, object_id: str, stream: int) -> np.random.Generator:
    """A generator per (evaluation seed, object, stream) that does not depend on evaluation order."""
    return np.random.default_rng([seed, zlib.crc32(object_id.encode()), stream])


def camera_to_object(poses_camera: np.ndarray, object_to_camera: np.ndarray) -> np.ndarray:
    """Poses (..., 25) in the camera frame -> the object frame, given object_to_camera (4, 4)."""
    inverse = np.linalg.inv(np.asarray(object_to_camera, np.float64))
    return transform_pose(np.asarray(poses_camera, np.float64), inverse).astype(np.float32)


def observation_rows(scene: EvalScene, conditions, render_config: pipeline.DatasetConfig, image_size: int,
                     tokenizer, max_text_len: int, rng: np.random.Generator, templates: str = "eval"):
    """The model inputs of one object: for every view (`render_config.views_per_object`) and condition, one
    row {"image", "depth", "intrinsics", "tokens", "token_mask"}; returns (rows, object_to_camera per row,
    instruction per row), rows ordered view-major."""
    intrinsics, extrinsics, out = pipeline.render_views(scene.obj, scene.tabletop, render_config, rng)
    rgb = np.asarray(np.round(np.asarray(out.rgb) * 255), np.uint8)
    depth, mask = np.asarray(out.depth, np.float32), np.asarray(out.part_mask, np.int32)
    transforms = [ResizeCrop(image_size), TokenizeInstruction(tokenizer, max_text_len), ToModelInputs()]
    noun = instructions.object_noun(scene.category)
    rows, to_camera, texts = [], [], []
    for view in range(len(extrinsics)):
        for cond in conditions:
            text = instructions.sample_instruction(noun, cond.part_name, cond.mode, rng, split=templates)
            element = {"rgb": rgb[view], "depth": depth[view], "part_mask": mask[view],
                       "intrinsics": np.asarray(intrinsics, np.float32), "instruction": text,
                       "pose_camera": np.zeros(POSE_DIM, np.float32)}
            for transform in transforms:
                element = transform.map(element)
            rows.append({k: element[k] for k in OBS_KEYS})
            to_camera.append(extrinsics[view] @ scene.tabletop.object_to_world)
            texts.append(text)
    return rows, to_camera, texts


class ModelPolicy:
    """A trained DexVLG sampling `samples` grasps per rendered view and instruction.

    train_config / params: from `train.load_checkpoint`; manifest_config: the dataset's build config (manifest
    "config": image_size, fov_y_deg); views, samples, num_steps, seed, clip_joints, templates, batch_size:
    see `evaluator.EvalConfig`.
    """

    name = "model"

    def __init__(self, train_config, params, manifest_config: dict, views: int = 1, samples: int = 4,
                 num_steps: int | None = None, seed: int = 0, clip_joints: bool = True, templates: str = "eval",
                 batch_size: int = 16):
        self.model_config = train_config.model
        self.params = params
        self.tokenizer = Tokenizer(train_config.data.tokenizer_path)
        defaults = pipeline.DatasetConfig()
        self.render_config = pipeline.DatasetConfig(
            image_size=int(manifest_config.get("image_size", defaults.image_size)),
            fov_y_deg=float(manifest_config.get("fov_y_deg", defaults.fov_y_deg)), views_per_object=views)
        self.samples, self.num_steps, self.seed = samples, num_steps, seed
        self.clip_joints, self.templates, self.batch_size = clip_joints, templates, batch_size
        self._sample = jax.jit(DexVLG(self.model_config).sample_poses, static_argnames=("num_steps", "num_samples"))
        hand = load_hand()
        self.joint_lower, self.joint_upper = hand.joint_lower, hand.joint_upper
        self.clipped_fraction = float("nan")

    def _sample_rows(self, rows: list[dict]) -> np.ndarray:
        """(N, K, 25) camera-frame samples, in fixed-size padded batches (one compiled program)."""
        key = jax.random.key(self.seed)
        out = []
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            padded = chunk + [chunk[-1]] * (self.batch_size - len(chunk))
            batch = {k: np.stack([r[k] for r in padded]) for k in OBS_KEYS}
            key, sample_key = jax.random.split(key)
            sampled = self._sample(self.params, sample_key, batch, num_steps=self.num_steps,
                                   num_samples=self.samples)
            out.append(np.asarray(sampled)[:len(chunk)])
        return np.concatenate(out) if out else np.zeros((0, self.samples, POSE_DIM), np.float32)

    def propose(self, items):
        rows, to_camera, texts, spans = [], [], [], []
        for scene, conditions in items:
            rng = scene_rng(self.seed, scene.object_id, 0)
            r, t, x = observation_rows(scene, conditions, self.render_config, self.model_config.image_size,
                                       self.tokenizer, self.model_config.max_text_len, rng, self.templates)
            spans.append((len(rows), len(conditions)))
            rows += r
            to_camera += t
            texts += x
        sampled = self._sample_rows(rows)
        poses = np.stack([camera_to_object(s, m) for s, m in zip(sampled, to_camera)]) if rows else sampled
        hand_pose = HandPose.from_vector(poses)
        outside = (hand_pose.joints < self.joint_lower) | (hand_pose.joints > self.joint_upper)
        self.clipped_fraction = float(outside.mean()) if outside.size else float("nan")
        if self.clip_joints:
            poses = hand_pose.clip_to_limits().to_vector().astype(np.float32)
        results = []
        for start, count in spans:
            views = self.render_config.views_per_object
            block = poses[start:start + views * count].reshape(views, count, self.samples, POSE_DIM)
            per_condition = block.transpose(1, 0, 2, 3).reshape(count, views * self.samples, POSE_DIM)
            notes = [{"instruction": texts[start + c], "source": "model"} for c in range(count)]
            results.append((per_condition, notes))
        return results


class RetrievalPolicy:
    """The image-free baseline: random sim-passing grasps of TRAIN-split objects of the same category, part
    name and mode, in the object frame. train_scenes: the dataset's train-split EvalScenes."""

    name = "retrieval"

    def __init__(self, train_scenes, trials: int = 4, seed: int = 0):
        self.trials, self.seed = trials, seed
        self.pool: dict = {}
        for scene in train_scenes:
            if scene.split != "train":
                raise ValueError(f"RetrievalPolicy: {scene.object_id} is in split {scene.split!r}, not 'train'")
            grasps, ok = scene.grasps, passing(scene.grasps)
            for g in np.flatnonzero(ok):
                name = scene.obj.part_names[int(grasps["part_id"][g])]
                key = (scene.category, name, str(grasps["mode"][g]))
                self.pool.setdefault(key, []).append(np.asarray(grasps["poses"][g], np.float32))

    def propose(self, items):
        results = []
        for scene, conditions in items:
            rng = scene_rng(self.seed, scene.object_id, 1)
            poses, notes = [], []
            for cond in conditions:
                candidates = self.pool.get((scene.category, cond.part_name, cond.mode), [])
                if candidates:
                    picks = rng.integers(len(candidates), size=self.trials)
                    poses.append(np.stack([candidates[i] for i in picks]))
                    notes.append({"instruction": "", "source": f"retrieval from {len(candidates)} train grasps"})
                else:
                    poses.append(np.full((self.trials, POSE_DIM), np.nan, np.float32))
                    notes.append({"instruction": "", "source": "no_train_grasp"})
            results.append((np.stack(poses) if poses else np.zeros((0, self.trials, POSE_DIM), np.float32), notes))
        return results
