"""Geometric part classification into the paper's four classes: "lid", "disk", "L", "shaft".

Works on any part surface (closed or an open patch cut out of a labelled mesh), in the object frame (z up).
Rules, applied in order (all measured on the part's surface):

1. **L** (bent / hooked, e.g. a mug handle, a trigger): the part's silhouette, projected onto the plane of its
   two longest oriented-box axes, fills less than `L_FILL_THRESHOLD` of its 2D convex hull.
2. **lid** (needs the whole object): the part sits in the top of the object (its lowest point is above mid
   height and its top within the upper quarter), is short (height <= `LID_MAX_HEIGHT_FRACTION` of the object's
   height) and round in plan view (horizontal extents within a factor `LID_MAX_ROUNDNESS`).
3. **shaft** vs **disk** from the oriented-box extents e1 >= e2 >= e3: shaft when one axis stands out
   (e1 / e2 > e2 / e3), disk when one axis is short and the other two are similar (e2 / e3 >= e1 / e2).

`part_frame` gives the oriented box used here (centroid, axes, extents); part-aligned grasp initialisation
uses the same frame.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

L_FILL_THRESHOLD = 0.8
LID_MAX_HEIGHT_FRACTION = 0.35
LID_MAX_ROUNDNESS = 1.4
_FILL_GRID = 32
_SAMPLES_PER_PIXEL = 24


@dataclasses.dataclass(frozen=True)
class PartShape:
    """Measured shape of a part. centroid (3,), axes (3, 3) columns sorted by decreasing extent, extents (3,)."""

    centroid: np.ndarray
    axes: np.ndarray
    extents: np.ndarray
    silhouette_fill: float
    is_lid_like: bool


def part_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-volume oriented box of points (N, 3): (box centre (3,), axes (3, 3) as columns, extents (3,)).

    Axes are sorted by decreasing extent and form a right-handed frame.
    """
    points = np.asarray(points, np.float64)
    try:
        to_origin, extents = trimesh.bounds.oriented_bounds(points)
        rotation = np.linalg.inv(to_origin)
        axes, center = rotation[:3, :3], rotation[:3, 3]
    except (QhullError, ValueError, np.linalg.LinAlgError):  # flat or tiny point sets: fall back to PCA
        center = points.mean(0)
        _, _, vt = np.linalg.svd(points - center, full_matrices=False)
        axes = vt.T
        projected = (points - center) @ axes
        extents = projected.max(0) - projected.min(0)
        center = center + axes @ ((projected.max(0) + projected.min(0)) / 2)
    order = np.argsort(-np.asarray(extents))
    axes, extents = axes[:, order], np.asarray(extents)[order]
    if np.linalg.det(axes) < 0:
        axes[:, 2] = -axes[:, 2]
    return center, axes, extents


def _surface_samples(mesh: trimesh.Trimesh, count: int, seed: int) -> np.ndarray:
    if mesh.area <= 0:
        return np.asarray(mesh.vertices[np.unique(mesh.faces)], np.float64)
    points, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.concatenate([points, mesh.vertices[np.unique(mesh.faces)]], 0)


def silhouette_fill(points: np.ndarray, axes: np.ndarray, extents: np.ndarray) -> float:
    """Fraction of the 2D convex hull covered by the points projected on the plane of the two longest axes."""
    planar = np.asarray(points) @ axes[:, :2]
    lower = planar.min(0)
    pixel = max(extents[0], 1e-12) / _FILL_GRID
    shape = np.maximum(np.ceil((planar.max(0) - lower) / pixel).astype(int) + 1, 1)
    occupied = np.zeros(shape, bool)
    index = np.minimum(((planar - lower) / pixel).astype(int), shape - 1)
    occupied[index[:, 0], index[:, 1]] = True
    try:
        hull = ConvexHull(planar)
    except (QhullError, ValueError):
        return 1.0  # degenerate (a line): nothing bent about it
    grid = np.stack(np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij"), -1).reshape(-1, 2)
    centres = lower + (grid + 0.5) * pixel
    inside = np.all(centres @ hull.equations[:, :2].T + hull.equations[:, 2] <= 1e-9, axis=1)
    if not inside.any():
        return 1.0
    return float(occupied.reshape(-1)[inside].mean())


def _is_lid_like(part_points: np.ndarray, object_bounds: np.ndarray) -> bool:
    object_bottom, object_top = object_bounds[0, 2], object_bounds[1, 2]
    object_height = object_top - object_bottom
    if object_height <= 0:
        return False
    part_bottom, part_top = part_points[:, 2].min(), part_points[:, 2].max()
    in_top = (part_bottom - object_bottom >= 0.5 * object_height) and (object_top - part_top <= 0.25 * object_height)
    short = (part_top - part_bottom) <= LID_MAX_HEIGHT_FRACTION * object_height
    horizontal = part_points[:, :2] - part_points[:, :2].mean(0)
    _, _, vt = np.linalg.svd(horizontal, full_matrices=False)
    plan = horizontal @ vt.T
    plan_extents = np.sort(plan.max(0) - plan.min(0))[::-1]
    round_in_plan = plan_extents[0] <= LID_MAX_ROUNDNESS * max(plan_extents[1], 1e-12)
    return bool(in_top and short and round_in_plan)


def measure_part(part_mesh: trimesh.Trimesh, object_mesh: trimesh.Trimesh | None = None, seed: int = 0) -> PartShape:
    """Measure a part surface (object frame). `object_mesh` (or None) enables the lid test."""
    _, axes, extents = part_frame(part_mesh.vertices[np.unique(part_mesh.faces)])
    pixels = _FILL_GRID * _FILL_GRID * max(extents[1], 1e-12) / max(extents[0], 1e-12)
    samples = _surface_samples(part_mesh, int(np.clip(_SAMPLES_PER_PIXEL * pixels, 2000, 40000)), seed)
    centroid = part_mesh.center_mass if part_mesh.area <= 0 else _area_centroid(part_mesh)
    fill = silhouette_fill(samples, axes, extents)
    lid = object_mesh is not None and _is_lid_like(samples, np.asarray(object_mesh.bounds))
    return PartShape(centroid=centroid, axes=axes, extents=extents, silhouette_fill=fill, is_lid_like=lid)


def _area_centroid(mesh: trimesh.Trimesh) -> np.ndarray:
    areas = mesh.area_faces
    return (mesh.triangles_center * areas[:, None]).sum(0) / areas.sum()


def class_from_shape(shape: PartShape) -> str:
    """Apply the class rules (see module docstring) to a measured PartShape."""
    if shape.silhouette_fill < L_FILL_THRESHOLD:
        return "L"
    if shape.is_lid_like:
        return "lid"
    e1, e2, e3 = np.maximum(shape.extents, 1e-12)
    return "shaft" if e1 / e2 > e2 / e3 else "disk"


def classify_part(part_mesh: trimesh.Trimesh, object_mesh: trimesh.Trimesh | None = None, seed: int = 0) -> str:
    """Part class in {"lid", "disk", "L", "shaft"} of a part surface (object frame, z up).

    Without `object_mesh` the lid rule (which needs to know where the object's top is) is skipped.
    """
    return class_from_shape(measure_part(part_mesh, object_mesh, seed))
