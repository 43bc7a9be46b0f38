"""Tabletop scenes as triangle soups ready for the ray caster.

World frame: metres, z up; the table is a box whose top face is the plane z = 0, centred on the origin.
Object frame: whatever frame the given vertices are in (ProcessedObject: bbox-centred, z up). Where the object
stands is decided once, by `dexvlg_jax.scene.place_object` (a `Tabletop`): pass its object_to_world (4, 4),
p_world = T_wo @ [p_object, 1]; compose with a camera's world_to_camera for object -> camera (`T_cw @ T_wo`).

Host-side code (numpy + trimesh; randomness from a numpy Generator or an int seed); the rendering itself is JAX.
"""
from __future__ import annotations

import warnings

import numpy as np
import trimesh
from jaxtyping import Float, Int

from dexvlg_jax.render.raycast import TABLE_PART_ID, TriangleScene

TABLE_HALF_EXTENT = 1.0    # m: a 2 m x 2 m table fills the tabletop camera's view
TABLE_THICKNESS = 0.05     # m
TABLE_COLOR = (0.62, 0.52, 0.40)
# Distinct part colours (RGB in [0, 1]), cycled for objects with more parts.
PART_PALETTE = np.array([
    [0.90, 0.30, 0.25], [0.20, 0.55, 0.90], [0.30, 0.75, 0.35], [0.95, 0.75, 0.20], [0.65, 0.40, 0.85],
    [0.15, 0.80, 0.80], [0.95, 0.50, 0.70], [0.55, 0.55, 0.55], [0.80, 0.55, 0.25], [0.45, 0.30, 0.65],
], np.float32)


def table_mesh(half_extent: float = TABLE_HALF_EXTENT, thickness: float = TABLE_THICKNESS) -> trimesh.Trimesh:
    """The table: a box (12 triangles) with its top face on z = 0, centred on the world origin."""
    box = trimesh.creation.box(extents=(2 * half_extent, 2 * half_extent, thickness))
    box.apply_translation((0.0, 0.0, -thickness / 2))
    return box


def part_colors(num_parts: int) -> Float[np.ndarray, "P 3"]:
    """Per-part RGB colours (P, 3) in [0, 1], from PART_PALETTE (cycled)."""
    return PART_PALETTE[np.arange(num_parts) % len(PART_PALETTE)]


def build_scene(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"],
                face_part_ids: Int[np.ndarray, "F"], object_to_world: Float[np.ndarray, "4 4"],
                colors: Float[np.ndarray, "P 3"] | None = None, base_color: tuple[float, float, float] | None = None,
                table: trimesh.Trimesh | None = None, num_faces: int | None = None) -> TriangleScene:
    """Object (object frame) + table -> TriangleScene in the world frame: the table's faces first (they are the
    scene's `num_background` faces, tested at every pixel), then the object's (culled to their screen box).

    Face colours: `base_color` for the whole object if given, else colours[part] (default `part_colors`).
    Table faces get part id TABLE_PART_ID. `num_faces` pads with degenerate triangles (see `pad_scene`).
    """
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    face_part_ids = np.asarray(face_part_ids, np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {faces.shape}")
    if face_part_ids.shape != (len(faces),):
        raise ValueError(f"face_part_ids must have shape ({len(faces)},), got {face_part_ids.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ValueError(f"faces index vertices out of range [0, {len(vertices)})")
    if len(face_part_ids) and face_part_ids.min() < 0:
        raise ValueError("face_part_ids must be >= 0 (negative ids are reserved for the table and background)")
    transform = np.asarray(object_to_world, np.float64)
    world = vertices @ transform[:3, :3].T + transform[:3, 3]
    if base_color is not None:
        object_colors = np.broadcast_to(np.asarray(base_color, np.float32), (len(faces), 3))
    else:
        palette = part_colors(int(face_part_ids.max(initial=-1)) + 1) if colors is None else np.asarray(colors)
        object_colors = palette[face_part_ids]
    table = table_mesh() if table is None else table
    scene = TriangleScene(
        triangles=np.concatenate([table.vertices[table.faces], world[faces]]).astype(np.float32),
        part_ids=np.concatenate([np.full(len(table.faces), TABLE_PART_ID), face_part_ids]).astype(np.int32),
        colors=np.concatenate([np.broadcast_to(TABLE_COLOR, (len(table.faces), 3)), object_colors]
                              ).astype(np.float32),
        num_background=len(table.faces),
    )
    return scene if num_faces is None else pad_scene(scene, num_faces)


def pad_scene(scene: TriangleScene, num_faces: int) -> TriangleScene:
    """Pad to exactly `num_faces` faces with all-zero (never hit) triangles; part id TABLE_PART_ID, black."""
    count = scene.triangles.shape[0]
    if num_faces < count:
        raise ValueError(f"num_faces={num_faces} is smaller than the scene's {count} faces")
    extra = num_faces - count
    return TriangleScene(
        triangles=np.concatenate([np.asarray(scene.triangles), np.zeros((extra, 3, 3), np.float32)]),
        part_ids=np.concatenate([np.asarray(scene.part_ids), np.full(extra, TABLE_PART_ID, np.int32)]),
        colors=np.concatenate([np.asarray(scene.colors), np.zeros((extra, 3), np.float32)]),
        num_background=scene.num_background,
    )


def stack_scenes(scenes: list[TriangleScene], num_faces: int | None = None) -> TriangleScene:
    """Pad scenes to a common face count (default: the largest) and stack them on a leading batch axis."""
    if not scenes:
        raise ValueError("stack_scenes needs at least one scene")
    num_faces = max(s.triangles.shape[0] for s in scenes) if num_faces is None else num_faces
    if len({s.num_background for s in scenes}) != 1:
        raise ValueError(f"scenes differ in num_background: {[s.num_background for s in scenes]}")
    padded = [pad_scene(s, num_faces) for s in scenes]
    return TriangleScene(*(np.stack([getattr(s, f) for s in padded]) for f in ("triangles", "part_ids", "colors")),
                         num_background=scenes[0].num_background)


def decimate(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"], face_part_ids: Int[np.ndarray, "F"],
             max_faces: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce a mesh to at most `max_faces` faces for rendering speed (quadric decimation; part ids carried over
    from the nearest original face centroid). Needs trimesh's optional `fast_simplification` backend; without it
    (or if it fails) the mesh is returned unchanged, with a warning."""
    if len(faces) <= max_faces:
        return vertices, faces, face_part_ids
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    try:
        simple = mesh.simplify_quadric_decimation(face_count=max_faces)
    except Exception as err:  # ImportError (no fast_simplification) or a backend failure
        warnings.warn(f"decimation unavailable ({err!r}); rendering all {len(faces)} faces")
        return vertices, faces, face_part_ids
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(mesh.triangles_center).query(simple.triangles_center)
    return np.asarray(simple.vertices), np.asarray(simple.faces), np.asarray(face_part_ids)[nearest]
