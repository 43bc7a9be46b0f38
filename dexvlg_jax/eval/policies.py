"""Who proposes the grasps that evaluation executes: the trained model, or the image-free retrieval baseline.

A policy's `propose(items)` takes [(EvalScene, [Condition, ...]), ...] and returns, per item, poses
(len(conditions), T, 25) float32 in the OBJECT frame (translation 3, rot6d 6, 16 joints) and one info dict per
condition ({"instruction", "source"}). T = views x samples for both policies, so they are compared on the same
conditions with the same number of trials.

- `ModelPolicy`: renders each placed object with the data engine's own `data.pipeline.render_views` (same image
  size, field of view and camera rig as the dataset's records), applies the training input transforms
  (`data.source.ResizeCrop`, `TokenizeInstruction`, `train.input_pipeline.ToModelInputs`), writes one instruction
  per (condition, view) from the held-out ("eval") templates, samples K poses in the camera frame and maps them to
  the object frame with object_to_camera = world_to_camera @ object_to_world. Optional (issue 13, off by
  default): `rank_candidates` > samples samples that many per observation and keeps the `samples` best by the
  observed-geometry energy; `refine` (a `grasp.refine.RefineConfig`) refines the kept ones against the observed
  depth points (mapped to the object frame with the same transform) and the table plane (`grasp.refine`).
  `verify` (an `eval.verify.VerifyConfig`) keeps `verify.candidates` per observation through ranking and
  refinement, simulates each against shapes guessed from the view (`eval.verify`) and delivers the `samples`
  that lift in the most guesses. `timing` gives compile seconds and seconds per delivered grasp for sampling,
  ranking (its seconds include its compilation), refinement and verification.
- `RetrievalPolicy`: for each condition, K x views random sim-passing grasps (object frame) of TRAIN-split objects
  of the same category, part name and mode. A condition with none gets NaN poses (failed trials, source
  "no_train_grasp"). `yaw="known"` (issue 13's baseline) executes them in the object frame, so it is handed the
  object's true pose, which the model must read from the image; on a seen object its pool holds that object's own
  sim-passing grasps and it scores near the data's ceiling. `yaw="unknown"` is the image-free baseline proper: it
  knows what the camera rig tells every policy (the object stands at the view's centre, upright on the table) but
  not which way it faces, so each pick is turned about the vertical line through the object's bounding-box centre
  by a uniform random angle. It grasps objects whose part is symmetric about that line and fails on the rest.
"""
from __future__ import annotations

import dataclasses
import functools
import time
import zlib

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from dexvlg_jax import render
from dexvlg_jax.data import instructions, pipeline
from dexvlg_jax.data.schema import transform_pose
from dexvlg_jax.data.source import ResizeCrop, TokenizeInstruction
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.eval import verify as verify_lib
from dexvlg_jax.eval.conditions import EvalScene, passing
from dexvlg_jax.grasp import refine as refine_lib
from dexvlg_jax.hand.constants import POSE_DIM
from dexvlg_jax.hand.model import load_hand
from dexvlg_jax.hand.pose import HandPose
from dexvlg_jax.models.vlg import OBS_KEYS, DexVLG
from dexvlg_jax.train.input_pipeline import ToModelInputs


EVAL_STREAM_TAG = 0x6576616C  # "eval": keeps evaluation's random streams apart from the data engine's


def scene_rng(seed: int, object_id: str, stream: int) -> np.random.Generator:
    """A generator per (evaluation seed, object, stream) that does not depend on evaluation order. Tagged so it
    never equals the data engine's per-object stream (`data.pipeline.records_rng`): untagged, NumPy's seeding
    ignored the trailing stream 0, and evaluation seed 0 drew exactly the training renders' camera azimuths."""
    return np.random.default_rng([seed, zlib.crc32(object_id.encode()), stream, EVAL_STREAM_TAG])


RETRIEVAL_NAMES = {"known": "retrieval", "unknown": "retrieval_yaw_unknown"}  # policy name by yaw knowledge


def turn_about_vertical(poses: np.ndarray, scene: EvalScene, angles: np.ndarray) -> np.ndarray:
    """Poses (T, 25) in the object frame, each turned by its angle (T,) (rad) about the world vertical through the
    object's bounding-box centre (the line an upright object's yaw turns about), still in the object frame."""
    up, _ = scene.tabletop.table_plane()
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    vertices = np.asarray(scene.obj.vertices, np.float64)
    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    out = []
    for pose, rotation in zip(poses, Rotation.from_rotvec(np.outer(angles, up)).as_matrix()):
        turn = np.eye(4)
        turn[:3, :3], turn[:3, 3] = rotation, centre - rotation @ centre
        out.append(transform_pose(np.asarray(pose, np.float64), turn))
    return np.asarray(out, np.float32).reshape(np.shape(poses))


def camera_to_object(poses_camera: np.ndarray, object_to_camera: np.ndarray) -> np.ndarray:
    """Poses (..., 25) in the camera frame -> the object frame, given object_to_camera (4, 4)."""
    inverse = np.linalg.inv(np.asarray(object_to_camera, np.float64))
    return transform_pose(np.asarray(poses_camera, np.float64), inverse).astype(np.float32)


def observation_rows(scene: EvalScene, conditions, render_config: pipeline.DatasetConfig, image_size: int,
                     tokenizer, max_text_len: int, rng: np.random.Generator, templates: str = "eval",
                     render_out: list | None = None):
    """The model inputs of one object: for every view (`render_config.views_per_object`) and condition, one
    row {"image", "depth", "intrinsics", "tokens", "token_mask"}; returns (rows, object_to_camera per row,
    instruction per row), rows ordered view-major. render_out: a list that receives the raw render
    (intrinsics (3, 3), extrinsics (V, 4, 4), `render.RenderOutput`) before resizing."""
    intrinsics, extrinsics, out = pipeline.render_views(scene.obj, scene.tabletop, render_config, rng)
    if render_out is not None:
        render_out.append((intrinsics, extrinsics, out))
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


def view_observations(scene: EvalScene, intrinsics: np.ndarray, extrinsics: np.ndarray, depth: np.ndarray,
                      config: refine_lib.RefineConfig, for_verify: bool = False) -> list:
    """One `grasp.refine.ObservedScene` per rendered view: the depth (V, H, W) back-projected, mapped to the
    object frame (inverse of object_to_camera), points more than `config.min_height` above the table kept.
    for_verify: `eval.verify.ViewObservation`s instead (mirror completion on, the camera centre added)."""
    up, offset = scene.tabletop.table_plane()
    out = []
    for view in range(len(extrinsics)):
        d = np.asarray(depth[view], np.float32)
        points = np.asarray(render.backproject(jnp.asarray(d), jnp.asarray(intrinsics, jnp.float32)))
        object_to_camera = extrinsics[view] @ scene.tabletop.object_to_world
        camera_to_object = np.linalg.inv(object_to_camera)
        observed = refine_lib.observed_scene(points.reshape(-1, 3)[d.reshape(-1) > 0], camera_to_object, up,
                                             offset, config.num_points, config.min_height,
                                             mirror=config.mirror or for_verify, mirror_weight=config.mirror_weight,
                                             depth=d, intrinsics=intrinsics)
        if for_verify:
            pts, valid = np.asarray(observed.points), np.asarray(observed.valid) > 0
            observed = verify_lib.ViewObservation(seen=pts[valid & (np.asarray(observed.seen) > 0)],
                                                  completed=pts[valid], camera=camera_to_object[:3, 3],
                                                  up=np.asarray(up, np.float64))
        out.append(observed)
    return out


class ModelPolicy:
    """A trained DexVLG sampling `samples` grasps per rendered view and instruction.

    train_config / params: from `train.load_checkpoint`; manifest_config: the dataset's build config (manifest
    "config": image_size, fov_y_deg, camera_framing, framing_margin); views, samples, num_steps, seed,
    clip_joints, templates, batch_size, rank_candidates, temperature: see `evaluator.EvalConfig`; refine: a
    `grasp.refine.RefineConfig` (None: no refinement); observe: the RefineConfig whose observation settings
    (points, mirror completion) and energy ranking uses when `refine` is None (None: the defaults); verify: an
    `eval.verify.VerifyConfig` (None: no verification), simulated with `verify_sim` = (protocol, scene_config), the
    evaluation's; ensemble: more trained models, (train_config, params) each, whose candidates join this one's
    (a checkpoint ensemble: the candidates are shared out as evenly as possible, this model's first and with the
    sampling key of a single model, so that an empty ensemble is the plain policy; ranking, refinement and
    verification then choose among all of them). Every member must read the same observations (image size,
    text length, tokenizer).
    """

    name = "model"

    def __init__(self, train_config, params, manifest_config: dict, views: int = 1, samples: int = 4,
                 num_steps: int | None = None, seed: int = 0, clip_joints: bool = True, templates: str = "eval",
                 batch_size: int = 16, refine: refine_lib.RefineConfig | None = None, rank_candidates: int = 0,
                 temperature: float = 1.0, observe: refine_lib.RefineConfig | None = None,
                 verify: verify_lib.VerifyConfig | None = None, verify_sim: tuple = (None, None),
                 ensemble: tuple = ()):
        self.model_config = train_config.model
        self.tokenizer = Tokenizer(train_config.data.tokenizer_path)
        defaults = pipeline.DatasetConfig()
        self.render_config = pipeline.DatasetConfig(  # a manifest from before object framing used table framing
            image_size=int(manifest_config.get("image_size", defaults.image_size)),
            fov_y_deg=float(manifest_config.get("fov_y_deg", defaults.fov_y_deg)), views_per_object=views,
            camera_framing=str(manifest_config.get("camera_framing", "table")),
            framing_margin=float(manifest_config.get("framing_margin", defaults.framing_margin)))
        self.samples, self.num_steps, self.seed = samples, num_steps, seed
        self.clip_joints, self.templates, self.batch_size = clip_joints, templates, batch_size
        self._members = [(self._sampler(self.model_config, temperature), params)]
        for index, (member_config, member_params) in enumerate(ensemble, 1):
            for field in ("image_size", "max_text_len"):
                if getattr(member_config.model, field) != getattr(self.model_config, field):
                    raise ValueError(f"ensemble member {index}: model.{field} = "
                                     f"{getattr(member_config.model, field)}, the first model's is "
                                     f"{getattr(self.model_config, field)}; members must read the same observations")
            if member_config.data.tokenizer_path != train_config.data.tokenizer_path:
                raise ValueError(f"ensemble member {index}: tokenizer {member_config.data.tokenizer_path!r}, the "
                                 f"first model's is {train_config.data.tokenizer_path!r}")
            self._members.append((self._sampler(member_config.model, temperature), member_params))
        hand = load_hand()
        self.joint_lower, self.joint_upper = hand.joint_lower, hand.joint_upper
        self.clipped_fraction = float("nan")
        self.refine_config, self.rank_candidates = refine, int(rank_candidates)
        self.observe_config = refine or observe or refine_lib.RefineConfig()  # what ranking and refinement see
        self.verify, self.verify_sim = verify, verify_sim
        self.kept = max(self.samples, verify.candidates if verify else 0)  # per observation after ranking
        self.candidates = max(self.kept, self.rank_candidates)
        if self.candidates < len(self._members):
            raise ValueError(f"ModelPolicy: {self.candidates} candidates per observation cannot be shared among "
                             f"{len(self._members)} ensemble members (rank_candidates >= the number of models)")
        self.timing: dict = {}

    @staticmethod
    def _sampler(model_config, temperature: float):
        return jax.jit(functools.partial(DexVLG(model_config).sample_poses, temperature=temperature),
                       static_argnames=("num_steps", "num_samples"))

    def member_shares(self) -> list[int]:
        """Candidates per observation drawn from each model of the ensemble (the first model first)."""
        count = len(self._members)
        return [self.candidates // count + (m < self.candidates % count) for m in range(count)]

    def _sample_rows(self, rows: list[dict]) -> np.ndarray:
        """(N, candidates, 25) camera-frame samples, each ensemble member's share after the one before, in
        fixed-size padded batches (one compiled program per member). Member m > 0 samples with the batch's key
        folded with m."""
        key = jax.random.key(self.seed)
        shares = self.member_shares()
        out, compiled, seconds, compile_s = [], [None] * len(shares), 0.0, 0.0
        for start in range(0, len(rows), self.batch_size):
            chunk = rows[start:start + self.batch_size]
            padded = chunk + [chunk[-1]] * (self.batch_size - len(chunk))
            batch = {k: np.stack([r[k] for r in padded]) for k in OBS_KEYS}
            key, sample_key = jax.random.split(key)
            drawn = []
            for m, ((sampler, params), share) in enumerate(zip(self._members, shares)):
                member_key = jax.random.fold_in(sample_key, m) if m else sample_key
                if compiled[m] is None:
                    began = time.perf_counter()
                    compiled[m] = sampler.lower(params, member_key, batch, num_steps=self.num_steps,
                                                num_samples=share).compile()
                    compile_s += time.perf_counter() - began
                began = time.perf_counter()
                drawn.append(np.asarray(compiled[m](params, member_key, batch)))
                seconds += time.perf_counter() - began
            out.append(np.concatenate(drawn, axis=1)[:len(chunk)])
        self.timing.update(sample_compile_s=compile_s, sample_s=seconds)
        return np.concatenate(out) if out else np.zeros((0, self.candidates, POSE_DIM), np.float32)

    def _rank_and_refine(self, poses: np.ndarray, scenes: list, modes: list[str]) -> np.ndarray:
        """Object-frame candidates (N, candidates, 25) -> (N, kept, 25): the `kept` best by observed energy
        (with rank_candidates), then refined (with refine); padded batches of `batch_size` observations."""
        config = self.observe_config
        masks = np.stack([refine_lib.contact_mask(m) for m in modes]) if modes else np.zeros((0, 7), np.float32)
        rank_s = refine_s = refine_compile_s = 0.0
        compiled, out = None, []
        for start in range(0, len(poses), self.batch_size):
            stop = min(start + self.batch_size, len(poses))
            idx = np.r_[np.arange(start, stop), np.full(self.batch_size - (stop - start), stop - 1)]
            chunk, chunk_masks = poses[idx], jnp.asarray(masks[idx])
            chunk_scenes = refine_lib.stack_scenes([scenes[i] for i in idx])
            if self.rank_candidates > self.kept:
                began = time.perf_counter()
                order, _ = refine_lib.rank_poses(chunk, chunk_scenes, chunk_masks, config)
                chunk = np.take_along_axis(chunk, order[:, :self.kept, None], 1)
                rank_s += time.perf_counter() - began
            chunk = chunk[:, :self.kept]
            if self.refine_config is not None:
                args = (jnp.asarray(chunk, jnp.float32), chunk_scenes, chunk_masks)
                if compiled is None:
                    began = time.perf_counter()
                    compiled = refine_lib.refine_poses.lower(*args, config=config).compile()
                    refine_compile_s = time.perf_counter() - began
                began = time.perf_counter()
                chunk = np.array(compiled(*args)[0])
                refine_s += time.perf_counter() - began
            out.append(chunk[:stop - start])
        self.timing.update(rank_s=rank_s, refine_s=refine_s, refine_compile_s=refine_compile_s)
        return np.concatenate(out) if out else np.zeros((0, self.kept, POSE_DIM), np.float32)

    def _verify(self, poses: np.ndarray, checks: list) -> np.ndarray:
        """(N, kept, 25) clipped candidates -> (N, samples, 25): per observation, the `samples` that lift in
        the most shape guesses (`eval.verify`); checks: per row (observation key, ViewObservation, Tabletop).
        Rows of one observation (its conditions) are simulated together."""
        began = time.perf_counter()
        chosen = np.zeros((len(poses), self.samples), np.int64)
        protocol, scene_config = self.verify_sim
        by_view: dict = {}
        for row, (index, view, tabletop) in enumerate(checks):
            by_view.setdefault(index, (view, tabletop, []))[2].append(row)
        simulations = 0
        for view, tabletop, rows in by_view.values():
            chosen[rows], count = verify_lib.select_verified(poses[rows], view, tabletop, protocol, scene_config,
                                                             self.verify, self.samples)
            simulations += count
        self.timing.update(verify_s=time.perf_counter() - began, verify_simulations=simulations)
        return np.take_along_axis(poses, chosen[..., None], 1)

    def propose(self, items):
        rows, to_camera, texts, spans, observed, modes, checks = [], [], [], [], [], [], []
        extra = self.refine_config is not None or self.rank_candidates > self.samples or self.verify is not None
        self.timing = {}
        for scene, conditions in items:
            rng = scene_rng(self.seed, scene.object_id, 0)
            raw = []
            r, t, x = observation_rows(scene, conditions, self.render_config, self.model_config.image_size,
                                       self.tokenizer, self.model_config.max_text_len, rng, self.templates,
                                       render_out=raw)
            spans.append((len(rows), len(conditions)))
            rows += r
            to_camera += t
            texts += x
            if extra:
                intrinsics, extrinsics, out = raw[0]
                views = view_observations(scene, intrinsics, extrinsics, np.asarray(out.depth),
                                          self.observe_config)
                observed += [v for v in views for _ in conditions]  # rows are view-major
                modes += [c.mode for _ in views for c in conditions]
            if self.verify is not None:
                guessed = dataclasses.replace(self.observe_config, num_points=self.verify.num_points)
                views = view_observations(scene, intrinsics, extrinsics, np.asarray(out.depth), guessed, True)
                checks += [((scene.object_id, v), view, scene.tabletop) for v, view in enumerate(views)
                           for _ in conditions]
        sampled = self._sample_rows(rows)
        poses = np.stack([camera_to_object(s, m) for s, m in zip(sampled, to_camera)]) if rows else sampled
        if extra:
            poses = self._rank_and_refine(poses, observed, modes)
        if self.verify is not None:
            clipped = HandPose.from_vector(poses).clip_to_limits().to_vector().astype(np.float32)
            poses = self._verify(clipped, checks)
        delivered = max(len(rows) * self.samples, 1)
        self.timing = {k: round(v, 4) for k, v in self.timing.items()}
        self.timing.update({f"{k}_per_grasp": round(self.timing.get(k, 0.0) / delivered, 6)
                            for k in ("sample_s", "rank_s", "refine_s", "verify_s")}, grasps=len(rows) * self.samples)
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
    """The image-free baselines: random sim-passing grasps of TRAIN-split objects of the same category, part
    name and mode (module docstring). train_scenes: the dataset's train-split EvalScenes; trials: grasps per
    condition; yaw: "known" (executed in the object frame: the true object pose given) or "unknown" (each pick
    turned by a uniform random angle about the vertical through the object's bounding-box centre)."""

    def __init__(self, train_scenes, trials: int = 4, seed: int = 0, yaw: str = "known"):
        if yaw not in RETRIEVAL_NAMES:
            raise ValueError(f"RetrievalPolicy: yaw must be one of {tuple(RETRIEVAL_NAMES)}, got {yaw!r}")
        self.trials, self.seed, self.yaw = trials, seed, yaw
        self.name = RETRIEVAL_NAMES[yaw]
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
                    picks = np.stack([candidates[i] for i in rng.integers(len(candidates), size=self.trials)])
                    if self.yaw == "unknown":
                        picks = turn_about_vertical(picks, scene, rng.uniform(0.0, 2 * np.pi, size=self.trials))
                    poses.append(picks)
                    notes.append({"instruction": "", "source": f"retrieval from {len(candidates)} train grasps"})
                else:
                    poses.append(np.full((self.trials, POSE_DIM), np.nan, np.float32))
                    notes.append({"instruction": "", "source": "no_train_grasp"})
            results.append((np.stack(poses) if poses else np.zeros((0, self.trials, POSE_DIM), np.float32), notes))
        return results
