"""Geometry: rotations (quaternion, matrix, 6D), primitive and mesh signed distances."""
from dexvlg_jax.geometry.primitives import BOX, CAPSULE, box_sdf, capsule_sdf, primitive_sdf, safe_norm
from dexvlg_jax.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_quat,
    matrix_to_rot6d,
    quat_to_matrix,
    random_rotation,
    rot6d_to_matrix,
    rotation_angle_between,
)
