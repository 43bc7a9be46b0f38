"""SigLIP vision tower (ViT, no pooling) with big_vision's parameter tree, as used by PaliGemma.

Parameter tree (depth `Lyr` stacked on the leading axis by `nn.scan`; W width, M mlp dim, Nh heads, Dh head dim):

    embedding/kernel (p, p, 3, W), embedding/bias (W,)         patchify convolution, stride p
    pos_embedding (1, T, W)                                    learned, T = (image_size / p)^2
    Transformer/encoderblock/LayerNorm_0/{scale,bias} (Lyr, W)
    Transformer/encoderblock/MultiHeadDotProductAttention_0/{query,key,value}/kernel (Lyr, W, Nh, Dh),
        bias (Lyr, Nh, Dh)
    Transformer/encoderblock/MultiHeadDotProductAttention_0/out/kernel (Lyr, Nh, Dh, W), bias (Lyr, W)
    Transformer/encoderblock/LayerNorm_1/{scale,bias} (Lyr, W)
    Transformer/encoderblock/MlpBlock_0/Dense_0/{kernel (Lyr, W, M), bias}, Dense_1/{kernel (Lyr, M, W), bias}
    Transformer/encoder_norm/{scale,bias} (W,)
    head/kernel (W, Dout), head/bias (Dout,)                   projection into the LLM width

Pre-norm blocks, LayerNorm eps 1e-6, tanh-GELU MLP, full (bidirectional) self-attention over patch tokens.
Input pixels are float in [-1, 1], (B, H, W, 3).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Float

from dexvlg_jax.models.gemma import checkpoint_policy, scan_unroll


@dataclasses.dataclass(frozen=True)
class SiglipConfig:
    """Shape of a SigLIP ViT. `head_dim` = width / num_heads; `out_dim` is the `head` projection width."""

    width: int
    depth: int
    mlp_dim: int
    num_heads: int
    patch_size: int
    image_size: int
    out_dim: int

    @property
    def num_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    def __post_init__(self):
        if self.image_size % self.patch_size:
            raise ValueError(f"SiglipConfig: image_size={self.image_size} is not a multiple of "
                             f"patch_size={self.patch_size}")
        if self.width % self.num_heads:
            raise ValueError(f"SiglipConfig: width={self.width} is not a multiple of num_heads={self.num_heads}")


SO400M_14_224 = SiglipConfig(width=1152, depth=27, mlp_dim=4304, num_heads=16, patch_size=14, image_size=224,
                             out_dim=2048)


class MlpBlock(nn.Module):
    mlp_dim: int
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x):
        width = x.shape[-1]
        x = nn.Dense(self.mlp_dim, dtype=self.dtype, kernel_init=nn.initializers.xavier_uniform(),
                     bias_init=nn.initializers.normal(stddev=1e-6))(x)
        x = nn.gelu(x, approximate=True)
        return nn.Dense(width, dtype=self.dtype, kernel_init=nn.initializers.xavier_uniform(),
                        bias_init=nn.initializers.normal(stddev=1e-6))(x)


class Encoder1DBlock(nn.Module):
    """Pre-norm transformer block; returns (x, None) so it can be scanned over depth."""

    mlp_dim: int
    num_heads: int
    dtype: str = "float32"

    @nn.compact
    def __call__(self, x, _):
        y = nn.LayerNorm(epsilon=1e-6, dtype=self.dtype)(x)
        y = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, dtype=self.dtype,
                                            kernel_init=nn.initializers.xavier_uniform(),
                                            deterministic=True)(y, y)
        x = x + y
        y = nn.LayerNorm(epsilon=1e-6, dtype=self.dtype)(x)
        x = x + MlpBlock(self.mlp_dim, self.dtype)(y)
        return x, None


class Encoder(nn.Module):
    """`depth` scanned blocks + final LayerNorm; remat_policy as `gemma.run_layers` (the parameter tree is the same)."""

    depth: int
    mlp_dim: int
    num_heads: int
    dtype: str = "float32"
    remat_policy: str = "none"

    @nn.compact
    def __call__(self, x):
        block = Encoder1DBlock
        if self.remat_policy != "none":
            block = nn.remat(block, policy=checkpoint_policy(self.remat_policy), prevent_cse=False)
        scanned = nn.scan(block, variable_axes={"params": 0}, split_rngs={"params": True},
                          in_axes=nn.broadcast, length=self.depth,
                          unroll=scan_unroll(self.depth, self.remat_policy))
        x, _ = scanned(self.mlp_dim, self.num_heads, self.dtype, name="encoderblock")(x, None)
        return nn.LayerNorm(epsilon=1e-6, dtype=self.dtype, name="encoder_norm")(x)


class SigLIP(nn.Module):
    """Image (B, H, W, 3) in [-1, 1] -> tokens (B, T, out_dim) in the LLM width (no pooling)."""

    config: SiglipConfig
    dtype: str = "float32"
    remat_policy: str = "none"

    @nn.compact
    def __call__(self, image: Float[Array, "B H W 3"]) -> Float[Array, "B T Dout"]:
        c = self.config
        if image.shape[1:3] != (c.image_size, c.image_size):
            raise ValueError(f"SigLIP: image is {image.shape[1:3]} pixels, expected "
                             f"({c.image_size}, {c.image_size})")
        x = nn.Conv(c.width, (c.patch_size, c.patch_size), strides=(c.patch_size, c.patch_size), padding="VALID",
                    dtype=self.dtype, name="embedding")(image.astype(self.dtype))
        x = x.reshape(x.shape[0], -1, c.width)
        pos = self.param("pos_embedding", nn.initializers.normal(stddev=1 / jnp.sqrt(c.width)),
                         (1, c.num_tokens, c.width))
        x = x + pos.astype(self.dtype)
        x = Encoder(c.depth, c.mlp_dim, c.num_heads, self.dtype, self.remat_policy, name="Transformer")(x)
        return nn.Dense(c.out_dim, dtype=self.dtype, name="head")(x)
