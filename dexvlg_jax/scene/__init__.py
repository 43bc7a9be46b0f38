"""The tabletop world shared by synthesis, simulation, rendering, the data engine and evaluation.

    placed = scene.place_object(obj, rng)        # a Tabletop: object_to_world, yaw, mass, friction
    up, offset = placed.table_plane()            # the table top in the object frame (synthesis)
"""
from dexvlg_jax.scene.tabletop import (
    CAMERA_DISTANCE,
    CAMERA_ELEVATION_DEG,
    PLACEMENTS,
    Tabletop,
    TabletopConfig,
    camera_azimuths,
    collision_points,
    mesh_volume,
    object_mass,
    object_volume,
    place_object,
    rest,
    stable_poses,
    yaw_matrix,
)

__all__ = [
    "CAMERA_DISTANCE", "CAMERA_ELEVATION_DEG", "PLACEMENTS", "Tabletop", "TabletopConfig", "camera_azimuths",
    "collision_points", "mesh_volume", "object_mass", "object_volume", "place_object", "rest", "stable_poses", "yaw_matrix",
]
