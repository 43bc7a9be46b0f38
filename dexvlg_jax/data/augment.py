"""Training-time augmentation that keeps an observation and its grasp label consistent.

`RollAboutOpticalAxis`: turns the camera about its own optical axis by a random angle (uniform in +-max_deg), as a
robot's camera mounted with a small roll would see the scene. For a pinhole camera with fx = fy this is exact in
the image: rolling the camera-frame scene by R = Rz(theta) (x right, y down, z forward: `render.camera`) maps every
pixel (u, v) to the point turned by theta about the principal point (cx, cy), and leaves every depth value (the z
coordinate) unchanged. So the image and the depth image are resampled about (cx, cy), the intrinsics stay as they
are, and the camera-frame grasp pose becomes Rz @ pose (`data.schema.transform_pose`). Pixels that come from
outside the original image get depth 0 (no surface) and black.

Why: the learning benchmark's held-out (unseen-instance) loss is lowest after ~2,500 of 20,000 steps and then rises
while the training loss keeps falling (docs/experiments.md, "The learning benchmark"): with 64 fixed camera azimuths
per object the model can memorise views. The roll is kept small because the table's tilt in the image tells the
model where "up" is. Measured (docs/experiments.md, "A camera-roll augmentation"; small_64, +-15 deg, 3 evaluation
seeds): +10 points on unseen instances after 4,000 steps, but -6 there and -14 on seen objects after the benchmark's
20,000 steps, and the held-out loss curve did not change; so it is off by default (`DataConfig.roll_deg = 0`).

Runs on the model's example (`train.input_pipeline.ToModelInputs`) after `data.source.MemoizedExamples` (it is
random, so it cannot be memoised): pass it as `augment` to `data.source.make_data_loader`. Keys used: "image"
(H, W, 3) float32 in [-1, 1], "depth" (H, W) float32 metres, "intrinsics" (3, 3) pixels, "pose" (25,) float32 raw
camera-frame pose; the rest pass through.
"""
from __future__ import annotations

import grain
import numpy as np
from scipy import ndimage

from dexvlg_jax.data.instructions import part_noun
from dexvlg_jax.data.schema import transform_pose
from dexvlg_jax.scene import yaw_matrix

BLACK = -1.0  # image value of pixels that come from outside the original image (black in [-1, 1])


def roll_matrix(theta: float) -> np.ndarray:
    """(4, 4) rotation by theta (rad) about the camera's z (optical) axis (`scene.yaw_matrix`'s rotation)."""
    out = np.eye(4)
    out[:3, :3] = yaw_matrix(theta)
    return out


def _source_pixels(shape: tuple, intrinsics: np.ndarray, theta: float) -> np.ndarray:
    """(2, H, W) row / column coordinates in the original image of every pixel of the rolled image."""
    h, w = shape
    cx, cy = float(intrinsics[0, 2]), float(intrinsics[1, 2])
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    c, s = np.cos(theta), np.sin(theta)
    du, dv = u - cx, v - cy  # rolled pixel = R (original - c)  =>  original = R^T (rolled - c)
    return np.stack([cy - s * du + c * dv, cx + c * du + s * dv])


def roll_observation(element: dict, theta: float) -> dict:
    """The element seen by a camera rolled by theta (rad) about its optical axis; see the module docstring."""
    k = np.asarray(element["intrinsics"], np.float64)
    if not np.isclose(k[0, 0], k[1, 1], rtol=1e-4):
        raise ValueError(f"roll_observation needs square pixels (fx = fy), got fx={k[0, 0]}, fy={k[1, 1]}")
    out = dict(element)
    if theta == 0.0:
        return out
    image = np.asarray(element["image"], np.float32)
    coords = _source_pixels(image.shape[:2], k, theta)
    out["image"] = np.stack([ndimage.map_coordinates(image[..., i], coords, order=1, cval=BLACK)
                             for i in range(image.shape[-1])], -1).astype(np.float32)
    # nearest neighbour for depth: interpolating across a silhouette would invent surfaces in mid-air
    out["depth"] = ndimage.map_coordinates(np.asarray(element["depth"], np.float32), coords, order=0,
                                           cval=0.0).astype(np.float32)
    out["pose"] = transform_pose(np.asarray(element["pose"], np.float32), roll_matrix(theta))
    return out


class RollAboutOpticalAxis(grain.transforms.RandomMap):
    """Random camera roll, uniform in +-max_deg degrees (0 = identity), applied with grain's per-record rng."""

    def __init__(self, max_deg: float):
        if not 0.0 <= max_deg <= 180.0:
            raise ValueError(f"RollAboutOpticalAxis: max_deg must be in [0, 180], got {max_deg}")
        self.max_rad = float(np.deg2rad(max_deg))

    def random_map(self, element, rng: np.random.Generator):
        return roll_observation(element, float(rng.uniform(-self.max_rad, self.max_rad)) if self.max_rad else 0.0)


class InstructionNoise(grain.transforms.RandomMap):
    """Token noise on the instruction (word dropout with random substitution, after Iyyer et al. 2015 and BERT's
    random replacement): every real token between [BOS] and the final separator is, independently, dropped with
    probability prob / 2 or replaced by a random piece (ids >= FIRST_PIECE, below `vocab_size`) with probability
    prob / 2; the survivors close up, so the result stays [BOS] ... separator then padding.

    Why: evaluation writes its instructions from held-out templates (`data.instructions.EVAL_TEMPLATES`) with words
    training never shows, which the tokenizer splits into unfamiliar pieces; with clean training text the tiny
    model lifted fewer seen-object trials under those templates than under training ones (docs/experiments.md,
    "Instruction noise"). Noise teaches it that a missing or unknown piece does not change the grasp, so it keys on
    the words that do (object, part, grasp mode). Keys used: "tokens" (L,) int32, "token_mask" (L,) bool.

    protected_ids: pieces never dropped or replaced (`part_word_pieces`: the part nouns). Without them the part's
    name is lost in `prob` of the examples, which teaches that it does not change the grasp either; harmless where
    an object has grasps for one part only, not where it has them for several.
    """

    FIRST_PIECE = 4  # Gemma's special ids: pad 0, eos 1, bos 2, unk 3

    def __init__(self, prob: float, vocab_size: int, protected_ids=()):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"InstructionNoise: prob must be in [0, 1], got {prob}")
        if vocab_size <= self.FIRST_PIECE:
            raise ValueError(f"InstructionNoise: vocab_size must be > {self.FIRST_PIECE}, got {vocab_size}")
        self.prob, self.vocab_size = float(prob), int(vocab_size)
        self.protected_ids = np.array(sorted({int(i) for i in protected_ids}), np.int32)

    def random_map(self, element, rng: np.random.Generator):
        tokens = np.asarray(element["tokens"], np.int32)
        length = int(np.asarray(element["token_mask"], bool).sum())
        if self.prob == 0.0 or length <= 2:
            return element
        inner = tokens[1:length - 1].copy()
        draw = rng.random(len(inner))
        draw[np.isin(inner, self.protected_ids)] = 1.0  # never below prob: kept as it is
        replace = (draw >= self.prob / 2) & (draw < self.prob)
        inner[replace] = rng.integers(self.FIRST_PIECE, self.vocab_size, int(replace.sum()))
        kept = np.concatenate([tokens[:1], inner[draw >= self.prob / 2], tokens[length - 1:length]])
        out = dict(element)
        out["tokens"] = np.zeros_like(tokens)
        out["tokens"][:len(kept)] = kept
        out["token_mask"] = np.arange(len(tokens)) < len(kept)
        return out


def part_word_pieces(tokenizer, part_names) -> frozenset:
    """The tokenizer's piece ids of the part nouns as instructions write them (`data.instructions.part_noun`), read
    off "the <part> of" (templates always put a word before the part, and a piece at the start of a text differs:
    no word-boundary mark). part_names: the dataset's part names (e.g. its manifest's counts)."""
    def pieces(text):
        tokens, mask = tokenizer.encode(text, 64)
        return {int(t) for t in np.asarray(tokens)[np.asarray(mask)]}

    context = pieces("the of")
    words = {part_noun(name) for name in part_names} | {"body"}  # a part named like its object reads "body"
    return frozenset(set().union(*(pieces(f"the {word} of") for word in words)) - context)
