"""Depth tokens for the prefix: back-projected camera-frame points, encoded patch by patch into the LLM width.

Design (one token per p x p pixel patch, p = the SigLIP patch size, so depth token k covers image token k):

1. `backproject_depth` (`render.camera.backproject`): every pixel (u, v) (column, row; OpenCV convention, integer
   pixel coordinates) with
   depth z > 0 (metres, along the optical axis) becomes the camera-frame point
   ((u - cx) z / fx, (v - cy) z / fy, z); camera frame: +x right, +y down, +z forward (OpenCV).
   Pixels with z <= 0 or non-finite depth are invalid (holes).
2. Per patch: centroid c = mean of the valid points; local offsets (p - c) / 5 cm for valid pixels (0 for holes),
   the patch's validity map, the centroid (metres) and sin/cos Fourier features of the centroid.
3. A 3-layer MLP (GELU) maps those features to the LLM width D. A patch with no valid pixel yields an invalid
   token (masked out of attention).

Points stay in the camera frame, and grasp poses are predicted in the same frame, so no extrinsics enter the model.
Parameters live under `depth/` (Dense_0..2).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from dexvlg_jax.render.camera import backproject


@dataclasses.dataclass(frozen=True)
class DepthEncoderConfig:
    patch_size: int
    hidden_dim: int
    out_dim: int
    num_frequencies: int = 6        # Fourier features of the centroid at 2^k / (1 m), k < num_frequencies
    offset_scale: float = 0.05      # metres; local offsets are divided by this


def backproject_depth(depth: Float[Array, "B H W"], intrinsics: Float[Array, "B 3 3"]
                      ) -> tuple[Float[Array, "B H W 3"], Bool[Array, "B H W"]]:
    """Depth image (metres) + pinhole intrinsics -> camera-frame points (`render.camera.backproject`) and validity."""
    return backproject(depth, intrinsics), jnp.isfinite(depth) & (depth > 0)


def patchify(x: Float[Array, "B H W C"], patch: int) -> Float[Array, "B T P C"]:
    """(B, H, W, C) -> (B, (H/p)(W/p), p*p, C), patches in row-major order (same order as the SigLIP tokens)."""
    batch, height, width, channels = x.shape
    x = x.reshape(batch, height // patch, patch, width // patch, patch, channels)
    x = x.transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(batch, (height // patch) * (width // patch), patch * patch, channels)


class DepthEncoder(nn.Module):
    """(depth, intrinsics) -> depth tokens (B, T, D) and their validity (B, T)."""

    config: DepthEncoderConfig
    dtype: str = "float32"

    @nn.compact
    def __call__(self, depth: Float[Array, "B H W"], intrinsics: Float[Array, "B 3 3"]
                 ) -> tuple[Float[Array, "B T D"], Bool[Array, "B T"]]:
        c = self.config
        if depth.shape[1] % c.patch_size or depth.shape[2] % c.patch_size:
            raise ValueError(f"DepthEncoder: depth image {depth.shape[1:]} is not a multiple of the patch size "
                             f"{c.patch_size}")
        points, valid = backproject_depth(depth.astype(jnp.float32), intrinsics.astype(jnp.float32))
        points = patchify(points, c.patch_size)                                  # (B, T, P, 3)
        valid = patchify(valid[..., None].astype(jnp.float32), c.patch_size)     # (B, T, P, 1)
        count = valid.sum(axis=2)                                                # (B, T, 1)
        centroid = (points * valid).sum(axis=2) / jnp.maximum(count, 1.0)        # (B, T, 3)
        offsets = (points - centroid[:, :, None]) * valid / c.offset_scale       # (B, T, P, 3)
        freqs = 2.0 ** jnp.arange(c.num_frequencies, dtype=jnp.float32)
        angles = (centroid[..., None] * freqs).reshape(*centroid.shape[:2], -1)
        features = jnp.concatenate([
            offsets.reshape(*offsets.shape[:2], -1), valid.reshape(*valid.shape[:2], -1),
            centroid, jnp.sin(angles), jnp.cos(angles), count / valid.shape[2]], axis=-1)
        x = nn.gelu(nn.Dense(c.hidden_dim, dtype=self.dtype)(features.astype(self.dtype)))
        x = nn.gelu(nn.Dense(c.hidden_dim, dtype=self.dtype)(x))
        tokens = nn.Dense(c.out_dim, dtype=self.dtype)(x)
        return tokens, count[..., 0] > 0
