"""Differentiable forward kinematics of the LEAP Hand and the points synthesis needs, in the world frame.

Single-pose functions (vmap them for batches; all are jit/vmap/grad-able):
  pose = (translation (3,) m, rotation (3, 3), joints (16,) rad), the palm frame in the world.
Shapes: L = 17 links (palm first), C contact candidates, S surface points, K self-penetration spheres.
"""
import dataclasses
import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from dexvlg_jax.geometry.primitives import primitive_sdf
from dexvlg_jax.geometry.rotations import axis_angle_to_matrix
from dexvlg_jax.hand import constants
from dexvlg_jax.hand.model import load_hand
from dexvlg_jax.hand.pose import HandPose


@flax.struct.dataclass
class LinkFrames:
    """World frames of the hand's links: `pos` (L, 3) metres, `rot` (L, 3, 3) link-to-world rotations."""

    pos: Float[Array, "L 3"]
    rot: Float[Array, "L 3 3"]


def pose_from_vector(pose: Float[Array, "25"]):
    """Flat pose (translation 3, rot6d 6, joints 16) -> (translation, rotation matrix, joints), the arguments of
    `forward_kinematics` (= `HandPose.from_vector`'s fields)."""
    hand_pose = HandPose.from_vector(pose)
    return hand_pose.translation, hand_pose.rotation, hand_pose.joints


def forward_kinematics(translation: Float[Array, "3"], rotation: Float[Array, "3 3"],
                       joints: Float[Array, "16"]) -> LinkFrames:
    """World frames of all 17 links for one hand pose (palm frame = (translation, rotation))."""
    hand = load_hand()
    pos, rot = [translation], [rotation]
    for link in range(1, hand.num_links):
        p = hand.parent[link]
        local_rot = jnp.asarray(hand.body_rot[link]) @ axis_angle_to_matrix(
            jnp.asarray(hand.joint_axis[link]), joints[hand.joint_index[link]])
        pos.append(pos[p] + rot[p] @ jnp.asarray(hand.body_pos[link]))
        rot.append(rot[p] @ local_rot)
    return LinkFrames(pos=jnp.stack(pos), rot=jnp.stack(rot))


def link_points_to_world(frames: LinkFrames, link: np.ndarray, local: np.ndarray) -> Float[Array, "N 3"]:
    """Points given in their links' frames (link (N,), local (N, 3)) -> world (N, 3)."""
    return frames.pos[link] + jnp.einsum("nij,nj->ni", frames.rot[link], jnp.asarray(local))


@dataclasses.dataclass(frozen=True, eq=False)
class LinkPointGroups:
    """Link points laid out in equal-size groups of one link each, for `grouped_points_to_world`.

    link (R,): each group's link; local (3, R, M): the points' coordinates in their link's frame (m); valid (R, M):
    False where a group is padded (a repeat of one of its points); index (R, M): each point's row in the input.
    """

    link: np.ndarray
    local: np.ndarray
    valid: np.ndarray
    index: np.ndarray


def group_link_points(link: np.ndarray, local: np.ndarray) -> LinkPointGroups:
    """Group points (link (N,), local (N, 3)) by link into groups of M = the smallest per-link count (a link with
    more points gets several groups; the last one of a link is padded)."""
    link, local = np.asarray(link), np.asarray(local, np.float32)
    counts = np.bincount(link)
    size = int(counts[counts > 0].min())
    groups = [(owner, rows[s:s + size]) for owner in np.flatnonzero(counts)
              for rows in [np.flatnonzero(link == owner)] for s in range(0, len(rows), size)]
    index = np.stack([np.resize(rows, size) for _, rows in groups])
    valid = np.stack([np.arange(size) < len(rows) for _, rows in groups])
    return LinkPointGroups(link=np.array([owner for owner, _ in groups]), local=np.moveaxis(local[index], -1, 0),
                           valid=valid, index=index)


def grouped_points_to_world(frames: LinkFrames, groups: LinkPointGroups) -> Float[Array, "R M 3"]:
    """World positions of grouped link points (`group_link_points`): the same values as `link_points_to_world`,
    about 3x faster with the gradient on a CPU (each group broadcasts its link's frame, one coordinate at a time:
    XLA vectorises that, and neither a per-point gather of frames nor its scatter-add gradient remains)."""
    rot, pos, local = frames.rot[groups.link], frames.pos[groups.link], jnp.asarray(groups.local)
    return jnp.stack([pos[:, i, None] + sum(rot[:, i, j, None] * local[j] for j in range(3)) for i in range(3)], -1)


@functools.lru_cache(maxsize=None)
def surface_point_groups(stride: int = 1) -> LinkPointGroups:
    """`group_link_points` of every `stride`-th hand surface point (`surface_points`; cached)."""
    hand = load_hand()
    return group_link_points(hand.surface_link[::stride], hand.surface_pos[::stride])


def link_vectors_to_world(frames: LinkFrames, link: np.ndarray, local: np.ndarray) -> Float[Array, "N 3"]:
    """Directions given in link frames -> world directions (rotation only)."""
    return jnp.einsum("nij,nj->ni", frames.rot[link], jnp.asarray(local))


def site_positions(frames: LinkFrames, names) -> Float[Array, "N 3"]:
    """World positions of named MJCF sites (e.g. constants.FINGERTIP_SITES)."""
    hand = load_hand()
    link = np.array([hand.site_link[n] for n in names])
    local = np.stack([hand.site_pos[n] for n in names])
    return link_points_to_world(frames, link, local)


def contact_sites(frames: LinkFrames, mode: str) -> Float[Array, "N 3"]:
    """The fixed contact set of a grasp mode: 'wrap' (7 points) or 'pinch' (4 points), world frame."""
    if mode not in constants.MODES:
        raise ValueError(f"mode must be one of {constants.MODES}, got {mode!r}")
    return site_positions(frames, constants.WRAP_CONTACT_SITES if mode == "wrap" else constants.PINCH_CONTACT_SITES)


def contact_candidates(frames: LinkFrames):
    """All contact candidates on the palmar surfaces: positions (C, 3) and outward normals (C, 3), world."""
    hand = load_hand()
    return (link_points_to_world(frames, hand.candidate_link, hand.candidate_pos),
            link_vectors_to_world(frames, hand.candidate_link, hand.candidate_normal))


def surface_points(frames: LinkFrames):
    """Points on every collision surface (S, 3) and their outward normals (S, 3), world frame."""
    hand = load_hand()
    return (link_points_to_world(frames, hand.surface_link, hand.surface_pos),
            link_vectors_to_world(frames, hand.surface_link, hand.surface_normal))


def penetration_spheres(frames: LinkFrames):
    """Self-penetration keypoints: sphere centres (K, 3) world, radii (K,), and the pairs (P, 2) to test."""
    hand = load_hand()
    return (link_points_to_world(frames, hand.sphere_link, hand.sphere_pos), jnp.asarray(hand.sphere_radius),
            hand.sphere_pairs)


def self_penetration(frames: LinkFrames) -> Float[Array, "P"]:
    """Overlap depth (m, >= 0) of every allowed sphere pair: max(0, r_i + r_j - |c_i - c_j|)."""
    centres, radius, pairs = penetration_spheres(frames)
    d = jnp.linalg.norm(centres[pairs[:, 0]] - centres[pairs[:, 1]] + 1e-12, axis=-1)
    return jax.nn.relu(radius[pairs[:, 0]] + radius[pairs[:, 1]] - d)


def primitive_frames(frames: LinkFrames):
    """World centre (G, 3) and rotation (G, 3, 3) of every collision primitive."""
    hand = load_hand()
    link_rot = frames.rot[hand.geom_link]
    return (frames.pos[hand.geom_link] + jnp.einsum("gij,gj->gi", link_rot, jnp.asarray(hand.geom_pos)),
            link_rot @ jnp.asarray(hand.geom_rot))


def primitive_distances(frames: LinkFrames, points: Float[Array, "P 3"]) -> Float[Array, "P G"]:
    """Signed distance (m, negative inside) from each world point to each collision primitive.

    `geometry.primitives.primitive_sdf` on (P, G) arrays, one per coordinate, which XLA vectorises (a vmap over
    points and primitives works on trailing axes of 3). Measured (2-core CPU, 32 poses x 1,024 points x 33
    primitives): 6.7 ms instead of 78 ms, the gradient of the summed penetration 86 ms instead of 244 ms (ranking
    and refinement, `grasp.refine`).
    """
    hand = load_hand()
    centre, rot = primitive_frames(frames)  # (G, 3), (G, 3, 3) primitive-to-world
    offset = [points[:, j, None] - centre[None, :, j] for j in range(3)]  # world offsets, 3 x (P, G)
    # primitive-frame coordinates: local_i = sum_j rot[g, j, i] offset_j
    local = tuple(sum(offset[j] * rot[None, :, j, i] for j in range(3)) for i in range(3))  # 3 x (P, G)
    size = jnp.asarray(hand.geom_size, points.dtype).T[:, None, :]  # (3, 1, G)
    return primitive_sdf(local, jnp.asarray(hand.geom_kind), size)


def hand_signed_distance(frames: LinkFrames, points: Float[Array, "P 3"]) -> Float[Array, "P"]:
    """Signed distance (m, negative inside) from world points to the hand: min over its collision primitives."""
    return jnp.min(primitive_distances(frames, points), axis=-1)
