"""The DexVLG network: RGB-D + instruction prefix through PaliGemma, pose tokens through a smaller expert.

Parameter tree (top level): `img` (SigLIP), `llm` (Gemma 2B layout), `depth` (depth patch encoder),
`pose_expert` (Gemma layers + final_norm, no embedder), `pose_in`, `time_mlp_in`, `time_mlp_out`, `pose_out`.

Sequence, per observation (all prefix tokens ar = 0, i.e. bidirectional among themselves):

    [ image tokens (T) | depth tokens (T) | text tokens (L) ] [ pose tokens (P) ]
      ------------------ prefix, VLM weights ----------------  -- expert weights --

In every layer the pose tokens attend to the valid prefix tokens and to each other (bidirectionally); the prefix
never attends to the pose tokens (pi0's pattern, ar = 1 on the first pose token). Because the prefix cannot see the
suffix, its per-layer keys/values do not depend on the noisy pose, so sampling runs the prefix once
(`encode_prefix`) and every denoising step runs only the expert against that cache (`denoise_cached`).
`denoise_joint` recomputes everything in one joint pass; it is mathematically identical (the test oracle).

Pose tokens: the normalised noisy pose (25) is projected to P expert tokens (`pose_in`, a learned split), each
token is mixed with the sin-cos time embedding through a swish MLP (pi0's `action_time_mlp`), and the P output
tokens are concatenated and projected back to 25 numbers (`pose_out`): the velocity (flow) or the noise (DDPM/DDIM).
"""
from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from dexvlg_jax.models.depth_encoder import DepthEncoder, DepthEncoderConfig
from dexvlg_jax.models.diffusion import sincos_time_embedding
from dexvlg_jax.models.gemma import Gemma, prefix_lm_mask, rms_norm, run_layers
from dexvlg_jax.models.paligemma import positions_from_mask
from dexvlg_jax.models.siglip import SigLIP
from dexvlg_jax.models.variants import POSE_DIM, DexVLGConfig

KVCache = tuple[Float[Array, "Lyr B Lp K H"], Float[Array, "Lyr B Lp K H"]]


class DexVLGNet(nn.Module):
    """Flax module; see the module docstring. Observation arrays follow `vlg.py`'s batch dict."""

    config: DexVLGConfig

    def setup(self):
        c, dtype = self.config, self.config.dtype
        self.img = SigLIP(c.vlm.vision, dtype, c.remat_policy, name="img")
        self.llm = Gemma(c.vlm.llm, dtype, name="llm")
        self.depth = DepthEncoder(DepthEncoderConfig(c.vlm.vision.patch_size, c.depth_hidden, c.vlm.llm.width),
                                  dtype, name="depth")
        self.pose_expert = Gemma(c.expert, dtype, name="pose_expert")
        width = c.expert.width
        self.pose_in = nn.Dense(c.num_pose_tokens * width, dtype=dtype, name="pose_in")
        self.time_mlp_in = nn.Dense(width, dtype=dtype, name="time_mlp_in")
        self.time_mlp_out = nn.Dense(width, dtype=dtype, name="time_mlp_out")
        self.pose_out = nn.Dense(POSE_DIM, dtype=dtype, name="pose_out")

    # ----- prefix -----
    def embed_prefix(self, image: Float[Array, "B H W 3"], depth: Float[Array, "B H W"],
                     intrinsics: Float[Array, "B 3 3"], tokens, token_mask
                     ) -> tuple[Float[Array, "B Lp D"], Bool[Array, "B Lp"]]:
        """Prefix embeddings [image, depth, text] and their validity."""
        image_tokens = self.img(image)
        depth_tokens, depth_valid = self.depth(depth, intrinsics)
        text = self.llm.embed_tokens(tokens)
        x = jnp.concatenate([image_tokens.astype(text.dtype), depth_tokens.astype(text.dtype), text], axis=1)
        image_valid = jnp.ones(image_tokens.shape[:2], bool)
        return x, jnp.concatenate([image_valid, depth_valid, token_mask.astype(bool)], axis=1)

    def encode_prefix(self, image, depth, intrinsics, tokens, token_mask) -> tuple[KVCache, Bool[Array, "B Lp"]]:
        """Runs the VLM layers over the prefix once; returns the per-layer K/V cache and the prefix validity."""
        x, valid = self.embed_prefix(image, depth, intrinsics, tokens, token_mask)
        mask = prefix_lm_mask(valid, jnp.zeros(valid.shape, jnp.int32))
        _, kv = run_layers([self.llm.layer_params()], [x], [positions_from_mask(valid)], mask, None,
                           jnp.dtype(self.config.dtype), self.config.vlm.llm.norm_eps, self.config.vlm.llm.rope_base,
                           self.config.remat_policy)
        return kv, valid

    # ----- suffix -----
    def embed_suffix(self, noisy_pose: Float[Array, "N 25"], t: Float[Array, "N"]) -> Float[Array, "N P We"]:
        """Noisy normalised pose + time -> P expert tokens."""
        c = self.config
        width = c.expert.width
        tokens = self.pose_in(noisy_pose.astype(c.dtype)).reshape(-1, c.num_pose_tokens, width)
        time = sincos_time_embedding(t, width).astype(tokens.dtype)
        time = jnp.broadcast_to(time[:, None], tokens.shape)
        mixed = nn.swish(self.time_mlp_in(jnp.concatenate([tokens, time], axis=-1)))
        return self.time_mlp_out(mixed)

    def readout(self, hidden: Float[Array, "N P We"]) -> Float[Array, "N 25"]:
        hidden = rms_norm(hidden, self.pose_expert.final_norm_scale(), self.config.expert.norm_eps)
        return self.pose_out(hidden.reshape(hidden.shape[0], -1)).astype(jnp.float32)

    def denoise_cached(self, kv: KVCache, prefix_valid: Bool[Array, "N Lp"], noisy_pose: Float[Array, "N 25"],
                       t: Float[Array, "N"]) -> Float[Array, "N 25"]:
        """Network output for noisy poses, attending to a prefix cache (N rows: cache already repeated)."""
        c = self.config
        suffix = self.embed_suffix(noisy_pose, t)
        num = c.num_pose_tokens
        positions = prefix_valid.sum(axis=1, keepdims=True).astype(jnp.int32) + jnp.arange(num)[None]
        mask = jnp.concatenate([jnp.broadcast_to(prefix_valid[:, None, :], (suffix.shape[0], num,
                                                                             prefix_valid.shape[1])),
                                jnp.ones((suffix.shape[0], num, num), bool)], axis=2)
        (hidden,), _ = run_layers([self.pose_expert.layer_params()], [suffix], [positions], mask, kv,
                                  jnp.dtype(c.dtype), c.expert.norm_eps, c.expert.rope_base, c.remat_policy)
        return self.readout(hidden)

    def denoise_joint(self, image, depth, intrinsics, tokens, token_mask, noisy_pose: Float[Array, "B 25"],
                      t: Float[Array, "B"]) -> Float[Array, "B 25"]:
        """Same output as `encode_prefix` + `denoise_cached`, computed in one joint pass with no cache."""
        c = self.config
        prefix, prefix_valid = self.embed_prefix(image, depth, intrinsics, tokens, token_mask)
        suffix = self.embed_suffix(noisy_pose, t)
        batch, num = suffix.shape[:2]
        valid = jnp.concatenate([prefix_valid, jnp.ones((batch, num), bool)], axis=1)
        ar = jnp.zeros(valid.shape, jnp.int32).at[:, prefix.shape[1]].set(1)
        positions = positions_from_mask(valid)
        split = prefix.shape[1]
        (_, hidden), _ = run_layers([self.llm.layer_params(), self.pose_expert.layer_params()], [prefix, suffix],
                                    [positions[:, :split], positions[:, split:]], prefix_lm_mask(valid, ar), None,
                                    jnp.dtype(c.dtype), c.expert.norm_eps, c.expert.rope_base, c.remat_policy)
        return self.readout(hidden)

    def init_all(self, image, depth, intrinsics, tokens, token_mask, noisy_pose, t):
        """Touches every parameter (for `init`): the joint pass plus the text decoder head."""
        out = self.denoise_joint(image, depth, intrinsics, tokens, token_mask, noisy_pose, t)
        hidden, _ = self.llm(self.llm.embed_tokens(tokens), positions_from_mask(token_mask),
                             prefix_lm_mask(token_mask, jnp.zeros(tokens.shape, jnp.int32)))
        return out, self.llm.decode(hidden[:, :1])
