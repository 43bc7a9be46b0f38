"""The tabletop world shared by synthesis, simulation, rendering, the data engine and evaluation.

    placed = scene.place_object(obj, rng)        # a Tabletop: object_to_world, yaw, mass, friction
    up, offset = placed.table_plane()            # the table top in the object frame (synthesis)
    eyes = scene.camera_eyes(scene.camera_azimuths(rng, 8))            # the camera rig (world frame)
    target, fov = scene.object_framing(placed.object_to_world, obj.vertices, eyes)  # aim + zoom at the object
"""
from dexvlg_jax.scene.cameras import (
    CAMERA_DISTANCE,
    CAMERA_ELEVATION_DEG,
    FRAMINGS,
    camera_azimuths,
    camera_eyes,
    object_framing,
)
from dexvlg_jax.scene.tabletop import (
    PLACEMENTS,
    Tabletop,
    TabletopConfig,
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
    "CAMERA_DISTANCE", "CAMERA_ELEVATION_DEG", "FRAMINGS", "PLACEMENTS", "Tabletop", "TabletopConfig",
    "camera_azimuths", "camera_eyes", "object_framing",
    "collision_points", "mesh_volume", "object_mass", "object_volume", "place_object", "rest", "stable_poses",
    "yaw_matrix",
]
