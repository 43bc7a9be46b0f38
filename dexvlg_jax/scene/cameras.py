"""The camera rig of the tabletop world: where each camera stands and what it looks at.

Every camera stands CAMERA_DISTANCE (0.8 m) from the table centre, CAMERA_ELEVATION_DEG (45 deg) above the table
plane, at an azimuth drawn uniformly (`camera_azimuths`). Two framings:

* "table": the optical axis points at the table centre with a fixed vertical field of view (`fov_y_deg`).
* "object" (the data engine's default): the same camera positions, turned to the object's bounding-box centre and
  zoomed so that the object's bounding sphere (times `margin`) just fits the image height, i.e. an object-centred
  crop of what the table-centred camera sees. Measured on the learning benchmark's 28 objects (64 px renders, 45
  deg table framing): an object covered about 5% of the image (about 200 of 4,096 pixels; after the tiny model's
  resize to 32 px, one or two 8 px patches), too little for centimetre-precise grasps; object framing fills most
  of the image height with the object. The depth encoder back-projects with the per-image intrinsics, so metric
  geometry is unchanged by the zoom.

All positions are in the world frame (metres; table top z = 0, table centre at the origin).
"""
from __future__ import annotations

import math

import numpy as np
from jaxtyping import Float

CAMERA_DISTANCE = 0.8        # m, camera to table centre (paper)
CAMERA_ELEVATION_DEG = 45.0  # camera looks 45 deg downward (paper)
FRAMINGS = ("object", "table")


def camera_azimuths(rng: np.random.Generator, count: int) -> np.ndarray:
    """`count` camera azimuths (rad) uniform in [0, 2 pi)."""
    return rng.uniform(0.0, 2 * np.pi, count)


def camera_eyes(azimuths: Float[np.ndarray, "V"], distance: float = CAMERA_DISTANCE,
                elevation_deg: float = CAMERA_ELEVATION_DEG) -> Float[np.ndarray, "V 3"]:
    """Camera centres (V, 3) in the world frame: `distance` from the table centre, `elevation_deg` up from the
    table plane, azimuth about world z (0: on the +x side)."""
    azimuths = np.asarray(azimuths, np.float64)
    elevation = math.radians(elevation_deg)
    return distance * np.stack([math.cos(elevation) * np.cos(azimuths), math.cos(elevation) * np.sin(azimuths),
                                np.full_like(azimuths, math.sin(elevation))], axis=-1)


def object_framing(object_to_world: Float[np.ndarray, "4 4"], vertices: Float[np.ndarray, "N 3"],
                   eyes: Float[np.ndarray, "V 3"], margin: float = 1.15) -> tuple[np.ndarray, float]:
    """(target (3,) world, fov_y_deg): the object's bounding-box centre and the vertical field of view (deg) at which
    its bounding sphere about that centre, times `margin`, fits the image height from the nearest of `eyes`.

    vertices: the object's mesh in its own frame (m); object_to_world: its placement (`Tabletop.object_to_world`).
    """
    if margin <= 0:
        raise ValueError(f"object_framing: margin must be positive, got {margin}")
    vertices = np.asarray(vertices, np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise ValueError(f"object_framing: vertices must be (N, 3) with N > 0, got shape {vertices.shape}")
    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    radius = float(np.linalg.norm(vertices - centre, axis=1).max())
    transform = np.asarray(object_to_world, np.float64)
    target = transform[:3, :3] @ centre + transform[:3, 3]
    nearest = float(np.linalg.norm(np.asarray(eyes, np.float64) - target, axis=-1).min())
    if margin * radius >= nearest:
        raise ValueError(f"object_framing: the object's bounding sphere ({radius:.3f} m x margin {margin}) reaches "
                         f"a camera {nearest:.3f} m away")
    return target, 2.0 * math.degrees(math.asin(margin * radius / nearest))
