"""Analytic reference objects built directly as `ProcessedObject`s (no processing pipeline): known geometry for
tests and benchmarks of synthesis (energies, initialisation, optimiser throughput)."""
from __future__ import annotations

import numpy as np
import trimesh

from dexvlg_jax.geometry.mesh_sdf import build_sdf_grid
from dexvlg_jax.objects.containers import ProcessedObject


def cylinder_object(radius: float = 0.03, height: float = 0.16, num_points: int = 2048,
                    resolution: int = 40) -> ProcessedObject:
    """A one-part ("shaft") ProcessedObject of a capped cylinder along z (object frame, metres, centred at the
    origin): `num_points` evenly sampled surface points, an SDF grid of `resolution` nodes along the longest axis,
    no convex pieces (not for simulation)."""
    m = trimesh.creation.cylinder(radius=radius, height=height, sections=48)
    grid = build_sdf_grid(m.vertices, m.faces, resolution=resolution)
    pts, fid = trimesh.sample.sample_surface_even(m, num_points, seed=0)
    axes = np.stack([[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]], -1)
    return ProcessedObject(
        name="cylinder", category="test", vertices=m.vertices.astype(np.float32), faces=m.faces.astype(np.int32),
        face_part_ids=np.zeros(len(m.faces), np.int32), scale=1.0, source_center=np.zeros(3), convex_pieces=[],
        piece_part_ids=np.zeros(0, np.int32), surface_points=pts.astype(np.float32),
        surface_normals=m.face_normals[fid].astype(np.float32), surface_part_ids=np.zeros(len(pts), np.int32),
        sdf=grid, part_names=["body"], part_classes=["shaft"], part_centroids=np.zeros((1, 3)),
        part_axes=axes[None], part_extents=np.array([[height, 2 * radius, 2 * radius]]))
