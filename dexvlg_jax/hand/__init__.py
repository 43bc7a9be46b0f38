"""The LEAP Hand (right): MJCF, constants, the `HandPose` type, differentiable forward kinematics, contact points
and SDF."""
from dexvlg_jax.hand import constants
from dexvlg_jax.hand.constants import JOINT_NAMES, LINK_NAMES, MJCF_PATH, MODES, NUM_JOINTS, POSE_DIM
from dexvlg_jax.hand.kinematics import (
    LinkFrames,
    contact_candidates,
    contact_sites,
    LinkPointGroups,
    forward_kinematics,
    group_link_points,
    grouped_points_to_world,
    hand_signed_distance,
    link_points_to_world,
    link_vectors_to_world,
    pose_from_vector,
    primitive_distances,
    primitive_frames,
    self_penetration,
    site_positions,
    surface_point_groups,
    surface_points,
)
from dexvlg_jax.hand.model import HandModel, load_hand
from dexvlg_jax.hand.pose import HandPose
