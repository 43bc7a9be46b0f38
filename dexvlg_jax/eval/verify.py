"""Test-time verification of grasp candidates in simulation against the object as the robot PERCEIVES it.

The model's candidates for one observation are many and correlated; ranking them by the observed-geometry energy
(`grasp.refine`) barely separates those that lift from those that do not (issue 13: on the learning benchmark's
unseen instances the best 4 of 64 by energy lift 51%, while the best 4 of the same 64 would lift 91%). This module
simulates every candidate with the evaluation's own protocol (tabletop lift, C MuJoCo) against a few guessed
shapes of the object, each built from that one view only, and keeps the candidates that lift in the most of them.
It never reads the true mesh, mass or part geometry: the inputs are the view's object points (back-projected
depth, object frame), their mirror completion (`grasp.refine.mirror_points`), the camera position and the table
plane, which the robot knows from its own calibration.

Shape hypotheses (`hypotheses`), all convex-piece objects that `sim.build_scene` accepts (<= 64 vertices each):
  "shell": the observed and mirrored points split into k clusters (k-means), each cluster with a copy moved
           `thickness` towards the points' centroid, one convex hull per cluster: a closed skin of the guessed
           object; thin where the guess is right, hollow inside.
  "slab":  the observed points only, split into k clusters, each cluster's hull with its reflection behind the
           symmetry plane of `mirror_points` (points behind the plane get `thickness`): solid slabs from the
           visible surface to the guessed back; it fills what the view cannot see (handle openings included).
Each shape at each of `clusters` counts (12, 24, 48 pieces): six guesses whose disagreement is the shape
uncertainty. The guessed mass and friction are priors (`VerifyConfig.mass`, `friction`: the scene rule clamps real
masses to 0.03-0.2 kg and gives every object friction 1).

Score of a candidate = the number of hypotheses in which it lifts; candidates are kept by score, ties in their
input order (the energy ranking's). Simulating every candidate in every hypothesis (`verification_scores`) costs
one simulation each (~13 ms in C MuJoCo on this 2-core CPU; 64 candidates x 6 hypotheses per observation). The
evaluation uses `select_verified`, which chooses the same candidates with fewer simulations: candidates in input
order, `VerifyConfig.chunk` at a time, and a candidate is dropped as soon as it can no longer beat the `keep`-th
best score of the candidates before it (a later candidate loses every tie), so once `keep` candidates lift in every
hypothesis nothing after them is simulated.

Caveat for reading the figures: the verifier and the evaluation share the simulator and its protocol, so the
simulated world agrees with the verifier more than the real one would; on a robot the check is against a model
of the world, with the same kind of gap as any simulator-tested grasp.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.cluster.vq import kmeans2
from scipy.spatial import ConvexHull, QhullError

from dexvlg_jax import sim

SHAPES = ("shell", "slab")
MAX_PIECE_VERTICES = 64  # sim.build_scene's limit (MJX)
# A piece thinner than this fraction of VerifyConfig.thickness (each piece is built >= `thickness` thick) is a sliver
# or needle of nearly coplanar or collinear points: no shape, and MuJoCo rejects the inertia of the thinnest ("mass
# and inertia of moving bodies must be larger than mjMINVAL").
MIN_PIECE_FRACTION = 0.2


@dataclasses.dataclass(frozen=True)
class VerifyConfig:
    """candidates: candidates per observation simulated (the best by observed energy); shapes / clusters: the
    hypotheses (module docstring); thickness (m): skin thickness of "shell" pieces and the least depth of "slab"
    pieces; mass (kg), friction: the guessed object's (priors); num_points: observed points per view (mirror
    completion doubles the slots); seed: k-means initialisation; chunk: candidates per observation that
    `select_verified` simulates per round (>= candidates: all at once, no early stop)."""

    candidates: int = 64
    shapes: tuple[str, ...] = SHAPES
    clusters: tuple[int, ...] = (12, 24, 48)
    thickness: float = 0.005
    mass: float = 0.1
    friction: float = 1.0
    num_points: int = 512
    seed: int = 0
    chunk: int = 8

    def __post_init__(self):
        if min(self.candidates, self.chunk) < 1 or not self.clusters or min(self.clusters) < 1:
            raise ValueError(f"VerifyConfig: candidates, chunk and every clusters entry must be >= 1, got {self}")
        unknown = set(self.shapes) - set(SHAPES)
        if not self.shapes or unknown:
            raise ValueError(f"VerifyConfig.shapes must be a non-empty subset of {SHAPES}, got {self.shapes}")
        if min(self.thickness, self.mass, self.friction) <= 0:
            raise ValueError(f"VerifyConfig: thickness, mass and friction must be > 0, got {self}")


@dataclasses.dataclass(frozen=True)
class PerceivedObject:
    """A guessed object in the object frame: what `sim.evaluate` needs of an object (one part, "object")."""

    convex_pieces: list
    piece_part_ids: np.ndarray
    part_names: tuple = ("object",)
    category: str = "perceived"


@dataclasses.dataclass(frozen=True)
class ViewObservation:
    """One view as the verifier sees it, object frame (m): seen (S, 3) observed object points; completed (C, 3)
    the observed points with their mirror completion; camera (3,) the camera centre; up (3,) the table normal."""

    seen: np.ndarray
    completed: np.ndarray
    camera: np.ndarray
    up: np.ndarray


def _clusters(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    """(N,) k-means labels of points (N, 3), at most one cluster per 8 points."""
    k = min(k, max(1, len(points) // 8))
    return kmeans2(points, k, seed=seed, minit="++")[1]


def _hull_vertices(cloud: np.ndarray, rng: np.random.Generator, min_thickness: float) -> np.ndarray | None:
    """The convex hull's vertices of cloud (N, 3), at most MAX_PIECE_VERTICES of them; None if degenerate (flat,
    or thinner than min_thickness (m) across its axis of least spread)."""
    if len(cloud) < 4:
        return None
    try:
        vertices = cloud[ConvexHull(cloud).vertices]
        if len(vertices) > MAX_PIECE_VERTICES:
            vertices = vertices[rng.choice(len(vertices), MAX_PIECE_VERTICES, replace=False)]
    except QhullError:
        return None
    centred = vertices - vertices.mean(0)
    depth = centred @ np.linalg.svd(centred, full_matrices=False)[2][-1]
    return vertices if depth.max() - depth.min() >= min_thickness else None


def behind(points: np.ndarray, camera: np.ndarray, up: np.ndarray, thickness: float) -> np.ndarray:
    """Each point (N, 3) moved behind the vertical symmetry plane of `grasp.refine.mirror_points` (its
    reflection), or `thickness` further along the horizontal viewing direction if that is deeper."""
    up = np.asarray(up, np.float64) / np.linalg.norm(up)
    view = points.mean(0) - np.asarray(camera, np.float64)
    view -= (view @ up) * up
    view /= max(np.linalg.norm(view), 1e-9)
    depth, lateral = points @ view, points @ np.cross(up, view)
    plane = depth.min() + 0.5 * (lateral.max() - lateral.min())
    return points + np.maximum(2.0 * (plane - depth), thickness)[:, None] * view


def perceived_shape(view: ViewObservation, shape: str, clusters: int, config: VerifyConfig) -> PerceivedObject:
    """One shape hypothesis (module docstring) from one view; at least one piece (ValueError otherwise)."""
    rng = np.random.default_rng(config.seed)
    if shape == "shell":
        points = np.asarray(view.completed, np.float64)
        inward = points.mean(0) - points
        inward /= np.maximum(np.linalg.norm(inward, axis=1, keepdims=True), 1e-9)
        moved = points + config.thickness * inward
    else:
        points = np.asarray(view.seen, np.float64)
        moved = behind(points, view.camera, view.up, config.thickness) if len(points) >= 3 else points
    pieces = []
    if len(points) >= 3:
        labels = _clusters(points, clusters, config.seed)
        for c in np.unique(labels):
            vertices = _hull_vertices(np.concatenate([points[labels == c], moved[labels == c]]), rng,
                                      MIN_PIECE_FRACTION * config.thickness)
            if vertices is not None:
                pieces.append(vertices)
    if not pieces:
        raise ValueError(f"perceived_shape: {len(points)} points give no {shape!r} piece (need >= 3 points that "
                         f"span pieces at least {MIN_PIECE_FRACTION:g} x thickness thick with their moved copies)")
    return PerceivedObject(convex_pieces=pieces, piece_part_ids=np.zeros(len(pieces), np.int64))


def hypotheses(view: ViewObservation, config: VerifyConfig) -> list[PerceivedObject]:
    """Every (shape, clusters) hypothesis of `config` that the view can build (fewer if too few points)."""
    out = []
    for shape in config.shapes:
        for clusters in config.clusters:
            try:
                out.append(perceived_shape(view, shape, clusters, config))
            except ValueError:
                continue
    return out


def verification_scores(poses: np.ndarray, view: ViewObservation, tabletop, protocol, scene_config,
                        config: VerifyConfig) -> np.ndarray:
    """(N,) int: in how many hypotheses each pose (N, 25; object frame, joints within limits) lifts the guessed
    object. tabletop: the view's `scene.Tabletop`, of which only the table and the object frame's place on it are
    used (known from the camera's calibration: the observed points were mapped with it); mass and friction are
    the guesses; protocol / scene_config: the evaluation's (`sim.TabletopLiftConfig`, `SceneConfig`)."""
    poses = np.asarray(poses, np.float32).reshape(-1, poses.shape[-1])
    scores = np.zeros(len(poses), np.int64)
    for scene in _guessed_scenes(view, tabletop, protocol, scene_config, config):
        scores += _lifts(scene, protocol, poses)
    return scores


def _guessed_scenes(view: ViewObservation, tabletop, protocol, scene_config, config: VerifyConfig) -> list:
    """The compiled tabletop scene of every hypothesis, with the guessed mass and friction."""
    guessed = dataclasses.replace(tabletop, mass=config.mass, friction=config.friction)
    return [sim.object_scene(obj, protocol, scene_config, guessed) for obj in hypotheses(view, config)]


def _lifts(scene, protocol, poses: np.ndarray) -> np.ndarray:
    """(N,) bool: whether each pose (N, 25) lifts the object of a compiled scene, C MuJoCo (`sim.simulate`)."""
    return np.asarray(sim.simulate(scene, protocol, poses)[1]["success"], bool)


def lazy_selection(lifts, num_hypotheses: int, shape: tuple[int, int], keep: int, chunk: int):
    """The indices (R, keep) that `keep_verified` would choose from the full (R, M) = shape score table, with
    fewer calls of lifts(h, rows, cols) -> (n,) bool (candidate cols of rows lifts in hypothesis h).

    Candidates are visited `chunk` columns at a time in input order; before each hypothesis a candidate stays only
    while its score plus the hypotheses left exceeds its row's bar, the `keep`-th best recorded score of the
    earlier columns (a later candidate loses a tie). Recorded scores never exceed the true ones, so the bar never
    exceeds the true bar, and a dropped candidate could at best have tied it: the choice is exact.
    Returns (indices (R, keep), number of (candidate, hypothesis) simulations)."""
    rows, m = shape
    scores = np.zeros(shape, np.int64)
    simulated = 0
    for start in range(0, m, chunk):
        bar = np.sort(scores[:, :start], axis=1)[:, -keep] if start >= keep else np.full(rows, -1)
        if np.all(bar >= num_hypotheses):
            break
        alive = np.zeros(shape, bool)
        alive[:, start:start + chunk] = True
        for h in range(num_hypotheses):
            alive &= scores + (num_hypotheses - h) > bar[:, None]
            r, c = np.nonzero(alive)
            if len(r):
                scores[r, c] += np.asarray(lifts(h, r, c), bool)
                simulated += len(r)
    return keep_verified(scores, keep), simulated


def select_verified(poses: np.ndarray, view: ViewObservation, tabletop, protocol, scene_config,
                    config: VerifyConfig, keep: int):
    """Per row of poses (R, M, 25; object frame, candidates in rank order), the indices (R, keep) of the `keep`
    candidates that `keep_verified(verification_scores(...), keep)` chooses, simulated lazily (`lazy_selection`,
    `config.chunk` candidates per round). Returns (indices, number of simulations run)."""
    poses = np.asarray(poses, np.float32)
    scenes = _guessed_scenes(view, tabletop, protocol, scene_config, config)
    return lazy_selection(lambda h, r, c: _lifts(scenes[h], protocol, poses[r, c]), len(scenes),
                          poses.shape[:2], keep, config.chunk)


def keep_verified(scores: np.ndarray, keep: int) -> np.ndarray:
    """(..., keep) indices of the `keep` highest scores along the last axis (..., M), ties in input order."""
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :keep]
