"""Pinhole cameras: intrinsics, world -> camera extrinsics, the paper's tabletop viewpoint, (back)projection.

Camera frame (OpenCV convention): +x right, +y down, +z forward along the optical axis; metres.
Pixel coordinates: (u, v) = (column, row); the centre of pixel [row v, column u] is at integer coordinates
(u, v), so the image centre of an H x W image is ((W - 1) / 2, (H - 1) / 2). `backproject` here is the one
back-projection: the depth encoder, the grain transforms and the ray caster (one ray per pixel centre) use it.

Intrinsics K (3, 3) = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] map a camera-frame point p to pixels:
(u, v) = (fx p_x / p_z + cx, fy p_y / p_z + cy). Extrinsics are the 4x4 homogeneous world -> camera transform
T_cw (`p_cam = T_cw @ [p_world, 1]`). Depth is metric z in the camera frame (distance along the optical axis,
not along the ray).

World frame: metres, z up, the table top is the plane z = 0 and the table centre is the origin.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from dexvlg_jax.geometry.rotations import array_module

DEFAULT_FOV_Y_DEG = 45.0   # vertical field of view; our choice (the paper does not state one)
TABLETOP_DISTANCE = 0.8    # m, camera to table centre (paper)
TABLETOP_ELEVATION_DEG = 45.0  # camera looks 45 deg downward (paper)


def intrinsics_from_fov(fov_y_deg: float, height: int, width: int) -> Float[Array, "3 3"]:
    """Pinhole intrinsics K (3, 3) for an H x W image with vertical field of view `fov_y_deg` (degrees).

    Square pixels (fx = fy = (H / 2) / tan(fov_y / 2)); principal point at the image centre ((W-1)/2, (H-1)/2).
    """
    if not 0.0 < fov_y_deg < 180.0:
        raise ValueError(f"fov_y_deg must be in (0, 180) degrees, got {fov_y_deg}")
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")
    focal = 0.5 * height / math.tan(math.radians(fov_y_deg) / 2)
    return jnp.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]],
                     jnp.float32)


def look_at(eye: Float[Array, "3"], target: Float[Array, "3"],
            up: Float[Array, "3"] | None = None) -> Float[Array, "4 4"]:
    """World -> camera transform (4, 4) of a camera at `eye` (world, m) whose optical axis (+z) points at `target`.

    Camera +x is `forward x up` (right in the image), +y = z x x (down in the image), with `up` the world up
    (default +z). Undefined when the view direction is parallel to `up`.
    """
    eye = jnp.asarray(eye, jnp.float32)
    target = jnp.asarray(target, jnp.float32)
    up = jnp.array([0.0, 0.0, 1.0], jnp.float32) if up is None else jnp.asarray(up, jnp.float32)
    forward = target - eye
    forward = forward / jnp.linalg.norm(forward)
    right = jnp.cross(forward, up)
    right = right / jnp.linalg.norm(right)
    down = jnp.cross(forward, right)
    rot_cw = jnp.stack([right, down, forward], axis=0)  # rows: camera axes expressed in the world
    return rigid_transform(rot_cw, -rot_cw @ eye)


def rigid_transform(rotation: Float[Array, "3 3"], translation: Float[Array, "3"]) -> Float[Array, "4 4"]:
    """Homogeneous 4x4 matrix [[R, t], [0, 1]]."""
    top = jnp.concatenate([rotation, translation[:, None]], axis=1)
    return jnp.concatenate([top, jnp.array([[0.0, 0.0, 0.0, 1.0]], top.dtype)], axis=0)


def _is_prng_key(x) -> bool:
    if isinstance(x, (int, float)):
        return False
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        return True
    return dtype == jnp.uint32 and getattr(x, "shape", None) == (2,)  # legacy raw key


def random_azimuth(rng: PRNGKeyArray) -> Float[Array, ""]:
    """Azimuth (radians) uniform in [0, 2 pi)."""
    return jax.random.uniform(rng, (), jnp.float32, 0.0, 2 * jnp.pi)


def tabletop_camera(azimuth: Float[Array, ""] | PRNGKeyArray, distance: float = TABLETOP_DISTANCE,
                    elevation_deg: float = TABLETOP_ELEVATION_DEG,
                    target: Float[Array, "3"] | None = None) -> Float[Array, "4 4"]:
    """The paper's viewpoint: world -> camera (4, 4), `distance` m from `target` (default: table centre, the
    origin), looking `elevation_deg` downward, at `azimuth` radians about world z (0: camera on the +x side).

    `azimuth` may instead be a PRNG key, in which case it is drawn uniformly from [0, 2 pi). Jit/vmap-friendly.
    """
    if _is_prng_key(azimuth):
        azimuth = random_azimuth(azimuth)
    azimuth = jnp.asarray(azimuth, jnp.float32)
    target = jnp.zeros(3, jnp.float32) if target is None else jnp.asarray(target, jnp.float32)
    elevation = math.radians(elevation_deg)
    offset = jnp.stack([math.cos(elevation) * jnp.cos(azimuth), math.cos(elevation) * jnp.sin(azimuth),
                        jnp.full_like(azimuth, math.sin(elevation))])
    return look_at(target + distance * offset, target)


def camera_center(world_to_camera: Float[Array, "4 4"]) -> Float[Array, "3"]:
    """Camera position in the world (m): -R^T t."""
    rot, trans = world_to_camera[:3, :3], world_to_camera[:3, 3]
    return -rot.T @ trans


def invert_transform(transform: Float[Array, "4 4"]) -> Float[Array, "4 4"]:
    """Inverse of a rigid 4x4 transform."""
    rot, trans = transform[:3, :3], transform[:3, 3]
    return rigid_transform(rot.T, -rot.T @ trans)


def transform_points(transform: Float[Array, "4 4"], points: Float[Array, "... 3"]) -> Float[Array, "... 3"]:
    """Apply a 4x4 rigid transform to points (..., 3)."""
    return points @ transform[:3, :3].T + transform[:3, 3]


def project(points_cam: Float[Array, "... 3"], intrinsics: Float[Array, "3 3"]
            ) -> tuple[Float[Array, "... 2"], Float[Array, "..."]]:
    """Camera-frame points (m) -> pixel coordinates (u, v) (..., 2) and depth z (...,) (m).

    Points with z <= 0 (behind the camera) give meaningless pixels; check the returned depth.
    """
    z = points_cam[..., 2]
    safe_z = jnp.where(jnp.abs(z) > 1e-12, z, 1e-12)
    u = intrinsics[0, 0] * points_cam[..., 0] / safe_z + intrinsics[0, 2]
    v = intrinsics[1, 1] * points_cam[..., 1] / safe_z + intrinsics[1, 2]
    return jnp.stack([u, v], axis=-1), z


def pixel_rays(intrinsics: Float[Array, "3 3"], height: int, width: int) -> Float[Array, "H W 3"]:
    """Camera-frame ray direction through every pixel centre, scaled so that its z component is 1.

    A point at depth z on the ray of pixel [v, u] is z * rays[v, u] (= `backproject` of a depth of ones).
    """
    return backproject(jnp.ones((height, width), jnp.float32), jnp.asarray(intrinsics))


def backproject(depth: Float[Array, "... H W"], intrinsics: Float[Array, "... 3 3"]) -> Float[Array, "... H W 3"]:
    """Depth image (metric z, m; background 0 or non-finite) -> camera-frame points (..., H, W, 3) (m, OpenCV axes):
    pixel (u, v) at depth z -> ((u - cx) z / fx, (v - cy) z / fy, z). The project's only back-projection.

    Leading batch axes of `depth` pair with those of `intrinsics`. NumPy in -> NumPy out (the grain transforms),
    JAX in -> JAX out (the model). Background pixels (depth <= 0 or non-finite) map to the origin (0, 0, 0); test
    validity with `depth > 0`.
    """
    xp = array_module(depth, intrinsics)
    depth, intrinsics = xp.asarray(depth), xp.asarray(intrinsics)
    height, width = depth.shape[-2:]
    v, u = xp.meshgrid(xp.arange(height, dtype=xp.float32), xp.arange(width, dtype=xp.float32), indexing="ij")
    fx, fy = intrinsics[..., 0, 0, None, None], intrinsics[..., 1, 1, None, None]
    cx, cy = intrinsics[..., 0, 2, None, None], intrinsics[..., 1, 2, None, None]
    valid = xp.isfinite(depth) & (depth > 0)
    z = xp.where(valid, depth, 0.0).astype(depth.dtype)
    return xp.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
