"""`HandPose`: the project's one hand-pose type, and the flat 25-vector layout it converts to and from.

    pose = HandPose.from_vector(v)      # v (..., 25) = translation (3, m), rot6d (6), joints (16, rad)
    pose.translation (..., 3), pose.rotation (..., 3, 3), pose.joints (..., 16)
    pose.to_vector()  pose.rot6d()  pose.transform(T)  pose.clip_to_limits()

The pose is the palm frame (translation, rotation: palm-to-frame, `p_frame = R @ p_palm + t`) in some frame (object,
world or camera: the caller names it) plus the 16 joint angles in DESIGN order. 6D = the first two columns of the
rotation (col 0 then col 1); `geometry.rotations.rot6d_to_matrix` (Gram-Schmidt) is the only way back.

A `flax.struct.dataclass`, so it passes through jit / vmap / tree_map. Every method works on any leading batch
shape and keeps the array library of its input: NumPy in (any float dtype, e.g. float64 for simulation), NumPy out;
JAX arrays or tracers in, JAX out.
"""
from __future__ import annotations

import flax.struct
from jaxtyping import Array, Float

from dexvlg_jax.geometry.rotations import array_module, matrix_to_rot6d, rot6d_to_matrix
from dexvlg_jax.hand.constants import NUM_JOINTS, POSE_DIM
from dexvlg_jax.hand.model import load_hand

TRANSLATION = slice(0, 3)
ROT6D = slice(3, 9)
JOINTS = slice(9, POSE_DIM)


@flax.struct.dataclass
class HandPose:
    """Palm frame + joints: translation (..., 3) m, rotation (..., 3, 3), joints (..., 16) rad."""

    translation: Float[Array, "... 3"]
    rotation: Float[Array, "... 3 3"]
    joints: Float[Array, "... 16"]

    @classmethod
    def from_vector(cls, vector: Float[Array, "... 25"]) -> HandPose:
        """Flat (..., 25) (translation, rot6d, joints) -> HandPose; the rotation by Gram-Schmidt."""
        xp = array_module(vector)
        vector = xp.asarray(vector)
        if vector.shape[-1:] != (POSE_DIM,):
            raise ValueError(f"HandPose.from_vector: expected (..., {POSE_DIM}) = translation 3, rot6d 6, "
                             f"{NUM_JOINTS} joints; got shape {vector.shape}")
        return cls(translation=vector[..., TRANSLATION], rotation=rot6d_to_matrix(vector[..., ROT6D]),
                   joints=vector[..., JOINTS])

    @classmethod
    def from_arrays(cls, translation, rotation, joints) -> HandPose:
        """From separate arrays (same leading shape), with their trailing shapes checked."""
        xp = array_module(translation, rotation, joints)
        t, r, q = xp.asarray(translation), xp.asarray(rotation), xp.asarray(joints)
        if t.shape[-1:] != (3,) or r.shape[-2:] != (3, 3) or q.shape[-1:] != (NUM_JOINTS,):
            raise ValueError(f"HandPose: translation (..., 3), rotation (..., 3, 3), joints (..., {NUM_JOINTS}) "
                             f"expected; got {t.shape}, {r.shape}, {q.shape}")
        return cls(translation=t, rotation=r, joints=q)

    @property
    def batch_shape(self) -> tuple:
        return tuple(self.translation.shape[:-1])

    def rot6d(self) -> Float[Array, "... 6"]:
        """The rotation's first two columns, (..., 6)."""
        return matrix_to_rot6d(self.rotation)

    def to_vector(self) -> Float[Array, "... 25"]:
        """(..., 25): translation, rot6d, joints (the record / model layout)."""
        xp = array_module(self.translation, self.rotation, self.joints)
        return xp.concatenate([xp.asarray(self.translation), self.rot6d(), xp.asarray(self.joints)], axis=-1)

    def transform(self, transform: Float[Array, "4 4"]) -> HandPose:
        """The same hand expressed in frame B, given `transform` (4, 4) mapping frame-A points to frame B
        (`p_B = R_T p_A + t_T`, e.g. `object_to_camera`): t' = R_T t + t_T, R' = R_T R, joints unchanged."""
        xp = array_module(self.translation, self.rotation, transform)
        transform = xp.asarray(transform)
        if transform.shape != (4, 4):
            raise ValueError(f"HandPose.transform: expected a (4, 4) rigid transform, got {transform.shape}")
        rot_t, t_t = transform[:3, :3], transform[:3, 3]
        translation = xp.einsum("ij,...j->...i", rot_t, xp.asarray(self.translation)) + t_t
        rotation = xp.einsum("ij,...jk->...ik", rot_t, xp.asarray(self.rotation))
        return self.replace(translation=translation, rotation=rotation)

    def clip_to_limits(self) -> HandPose:
        """Joints clipped to the LEAP Hand's joint ranges (the MJCF's)."""
        hand = load_hand()
        xp = array_module(self.joints)
        return self.replace(joints=xp.clip(self.joints, hand.joint_lower, hand.joint_upper))

    def astype(self, dtype) -> HandPose:
        """Every field cast to `dtype` (same array library)."""
        return HandPose(*(x.astype(dtype) for x in (self.translation, self.rotation, self.joints)))

