"""PaliGemma: SigLIP image tokens + Gemma decoder, with big_vision's top-level tree `{img: ..., llm: ...}`.

The input sequence is [image tokens (T), text tokens (L)]; image tokens are the SigLIP `head` outputs used as
embeddings directly (not multiplied by sqrt(width)); text tokens are Gemma embeddings times sqrt(width). The
attention mask is the prefix-LM mask of `gemma.prefix_lm_mask`: image tokens and the instruction carry ar = 0
(bidirectional), generated suffix tokens ar = 1 (causal). RoPE positions are cumsum(valid) - 1.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from dexvlg_jax.models.gemma import GEMMA_2B, Gemma, GemmaConfig, prefix_lm_mask
from dexvlg_jax.models.siglip import SO400M_14_224, SigLIP, SiglipConfig


@dataclasses.dataclass(frozen=True)
class PaliGemmaConfig:
    vision: SiglipConfig
    llm: GemmaConfig

    def __post_init__(self):
        if self.vision.out_dim != self.llm.width:
            raise ValueError(f"PaliGemmaConfig: vision.out_dim={self.vision.out_dim} must equal "
                             f"llm.width={self.llm.width}")


PALIGEMMA_3B_224 = PaliGemmaConfig(vision=SO400M_14_224, llm=GEMMA_2B)


def positions_from_mask(input_mask: Bool[Array, "B L"]) -> Int[Array, "B L"]:
    """RoPE positions: index among valid tokens (cumsum(valid) - 1)."""
    return jnp.cumsum(input_mask.astype(jnp.int32), axis=1) - 1


class PaliGemma(nn.Module):
    """The VLM. `__call__` returns next-token logits (B, T + L, V) in float32."""

    config: PaliGemmaConfig
    dtype: str = "float32"

    def setup(self):
        self.img = SigLIP(self.config.vision, self.dtype, name="img")
        self.llm = Gemma(self.config.llm, self.dtype, name="llm")

    def embed_image(self, image: Float[Array, "B H W 3"]) -> Float[Array, "B T D"]:
        return self.img(image)

    def __call__(self, image: Float[Array, "B H W 3"], tokens: Int[Array, "B L"], input_mask: Bool[Array, "B L"],
                 ar_mask: Int[Array, "B L"] | None = None) -> Float[Array, "B T+L V"]:
        """Full forward. `input_mask` marks valid text tokens; `ar_mask` (default all 0) the causal ones."""
        image_tokens = self.img(image)
        text = self.llm.embed_tokens(tokens)
        x = jnp.concatenate([image_tokens.astype(text.dtype), text], axis=1)
        batch, num_image = image_tokens.shape[:2]
        valid = jnp.concatenate([jnp.ones((batch, num_image), bool), input_mask.astype(bool)], axis=1)
        if ar_mask is None:
            ar_mask = jnp.zeros(tokens.shape, jnp.int32)
        ar = jnp.concatenate([jnp.zeros((batch, num_image), jnp.int32), ar_mask.astype(jnp.int32)], axis=1)
        hidden, _ = self.llm(x, positions_from_mask(valid), prefix_lm_mask(valid, ar))
        return self.llm.decode(hidden)
