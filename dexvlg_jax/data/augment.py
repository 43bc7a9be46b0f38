"""Training-time augmentation that keeps an observation and its grasp label consistent.

`RollAboutOpticalAxis`: turns the camera about its own optical axis by a random angle (uniform in +-max_deg), as a
robot's camera mounted with a small roll would see the scene. For a pinhole camera with fx = fy this is exact in
the image: rolling the camera-frame scene by R = Rz(theta) (x right, y down, z forward: `render.camera`) maps every
pixel (u, v) to the point turned by theta about the principal point (cx, cy), and leaves every depth value (the z
coordinate) unchanged. So the image and the depth image are resampled about (cx, cy), the intrinsics stay as they
are, and the camera-frame grasp pose becomes Rz @ pose (`data.schema.transform_pose`). Pixels that come from
outside the original image get depth 0 (no surface) and black.

Why: the learning benchmark's held-out (unseen-instance) loss is lowest after ~2,500 of 20,000 steps and then
rises while the training loss keeps falling (README, "The learning benchmark"): with 64 fixed camera azimuths per
object the model can memorise views. The roll is kept small because the table's tilt in the image tells the model
where "up" is. Measured (README, "A camera-roll augmentation"; small_64, +-15 deg, 3 evaluation seeds): +10 points
on unseen instances after 4,000 steps, but -6 there and -14 on seen objects after the benchmark's 20,000 steps, and
the held-out loss curve did not change; so it is off by default (`DataConfig.roll_deg = 0`).

Runs on the model's example (`train.input_pipeline.ToModelInputs`) after `data.source.MemoizedExamples` (it is
random, so it cannot be memoised): pass it as `augment` to `data.source.make_data_loader`. Keys used: "image"
(H, W, 3) float32 in [-1, 1], "depth" (H, W) float32 metres, "intrinsics" (3, 3) pixels, "pose" (25,) float32 raw
camera-frame pose; the rest pass through.
"""
from __future__ import annotations

import grain
import numpy as np
from scipy import ndimage

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
