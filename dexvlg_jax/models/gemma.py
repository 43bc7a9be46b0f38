"""Gemma decoder with big_vision's parameter tree, written so several token streams can share attention.

Parameter tree of `Gemma` (the layer axis leads every array under `layers/`, `Lyr` = depth):

    embedder/input_embedding               (V, D)              only when vocab_size > 0
    layers/pre_attention_norm/scale        (Lyr, D)
    layers/attn/q_einsum/w                 (Lyr, N, D, H)
    layers/attn/kv_einsum/w                (Lyr, 2, K, D, H)
    layers/attn/attn_vec_einsum/w          (Lyr, N, H, D)
    layers/pre_ffw_norm/scale              (Lyr, D)
    layers/mlp/gating_einsum               (Lyr, 2, D, F)
    layers/mlp/linear                      (Lyr, F, D)
    final_norm/scale                       (D,)

N query heads, K key/value heads (K = 1 is multi-query attention, 1 < K < N grouped-query), H head dim,
F the MLP width. Conventions: RMSNorm `x * rsqrt(mean(x^2) + 1e-6) * (1 + scale)`, token embeddings times
sqrt(D), GeGLU with tanh GELU, rotary position embedding (RoPE, base 10000, rotating the two halves of each head).

The layer math is written as pure functions over those parameter dicts (`run_layers`) taking a *list of streams*:
each stream is a token sequence with its own weights (the VLM, the pose expert); in every layer the streams'
queries, keys and values are concatenated along the sequence axis and attend jointly under one mask, then every
stream applies its own output projection and MLP. This is the pi0 "mixture of experts sharing attention" pattern;
with a single stream it is plain Gemma. Keys/values of an earlier call (a prefix cache) can be prepended.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

_NEG_INF = -2.3819763e38  # big_vision's mask value: a large negative that survives float32 softmax.


@dataclasses.dataclass(frozen=True)
class GemmaConfig:
    """Shape of a Gemma decoder. `vocab_size = 0` builds no embedder (used by the pose expert)."""

    width: int
    depth: int
    mlp_dim: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    norm_eps: float = 1e-6
    rope_base: float = 10_000.0

    def __post_init__(self):
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"GemmaConfig: num_heads={self.num_heads} is not a multiple of "
                             f"num_kv_heads={self.num_kv_heads}")


GEMMA_2B = GemmaConfig(width=2048, depth=18, mlp_dim=16_384, num_heads=8, num_kv_heads=1, head_dim=256,
                       vocab_size=257_152)
# pi0's action expert ("gemma_300m"): same depth, heads and head_dim as gemma_2b, so attention is shared per layer.
GEMMA_300M_EXPERT = GemmaConfig(width=1024, depth=18, mlp_dim=4096, num_heads=8, num_kv_heads=1, head_dim=256,
                                vocab_size=0)


def rms_norm(x: Float[Array, "... D"], scale: Float[Array, "D"], eps: float = 1e-6) -> Float[Array, "... D"]:
    """Gemma RMSNorm, computed in float32 and cast back to x's dtype."""
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + eps)
    return (normed * (1.0 + scale.astype(jnp.float32))).astype(x.dtype)


def apply_rope(x: Float[Array, "B L N H"], positions: Int[Array, "B L"], base: float = 10_000.0
               ) -> Float[Array, "B L N H"]:
    """Rotary position embedding on the two halves of the head dimension (Gemma / HF `rotate_half` layout)."""
    half = x.shape[-1] // 2
    inv_timescale = base ** (-jnp.arange(half, dtype=jnp.float32) * 2.0 / x.shape[-1])
    angles = positions[..., None, None].astype(jnp.float32) * inv_timescale  # (B, L, 1, half)
    sin, cos = jnp.sin(angles), jnp.cos(angles)
    first, second = jnp.split(x.astype(jnp.float32), 2, axis=-1)
    rotated = jnp.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)
    return rotated.astype(x.dtype)


def prefix_lm_mask(input_mask: Bool[Array, "B L"], ar_mask: Bool[Array, "B L"] | Int[Array, "B L"]
                   ) -> Bool[Array, "B L L"]:
    """Token i attends to token j iff cumsum(ar)[j] <= cumsum(ar)[i] and both are valid.

    ar = 0 tokens join the block of the token before them (bidirectional prefix); ar = 1 starts a new causal
    block. All-zero ar gives full bidirectional attention among valid tokens.
    """
    cumsum = jnp.cumsum(jnp.asarray(ar_mask, jnp.int32), axis=1)
    attend = cumsum[:, None, :] <= cumsum[:, :, None]
    valid = input_mask[:, None, :] & input_mask[:, :, None]
    return attend & valid


def _gelu_tanh(x):
    return jax.nn.gelu(x, approximate=True)


def _attend(q, k, v, mask):
    """q (B,Lq,N,H), k/v (B,Lk,K,H), mask (B,Lq,Lk) -> (B,Lq,N,H). Groups of N/K query heads share a kv head."""
    batch, q_len, num_heads, head_dim = q.shape
    num_kv = k.shape[2]
    q = q.reshape(batch, q_len, num_kv, num_heads // num_kv, head_dim) * head_dim ** -0.5
    logits = jnp.einsum("bqkgh,bskh->bkgqs", q, k, preferred_element_type=jnp.float32)
    logits = jnp.where(mask[:, None, None, :, :], logits, _NEG_INF)
    probs = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    out = jnp.einsum("bkgqs,bskh->bqkgh", probs, v)
    return out.reshape(batch, q_len, num_heads, head_dim)


# Rematerialisation choices (`jax.checkpoint_policies` names; "none" keeps every activation): what a layer saves
# for its backward pass. nothing_saveable: only the layer inputs (least memory, one extra forward pass);
# dots_with_no_batch_dims_saveable: also the weight matmul outputs (less recomputation, more memory).
REMAT_POLICIES = ("none", "nothing_saveable", "dots_with_no_batch_dims_saveable", "dots_saveable")


def checkpoint_policy(name: str):
    """The `jax.checkpoint_policies` function named `name` (one of `REMAT_POLICIES` other than "none")."""
    if name not in REMAT_POLICIES[1:]:
        raise ValueError(f"remat_policy must be one of {REMAT_POLICIES}, got {name!r}")
    return getattr(jax.checkpoint_policies, name)


def _cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype), tree)


def layer_streams(layer_params: Sequence[dict], xs: Sequence[Float[Array, "B Ls Ds"]],
                  positions: Sequence[Int[Array, "B Ls"]], mask: Bool[Array, "B Lq Lk"],
                  cached_kv: tuple[Array, Array] | None = None, eps: float = 1e-6, rope_base: float = 10_000.0):
    """One Gemma layer over several streams that attend jointly.

    Args:
      layer_params: per stream, the dict of one layer (`attn`, `mlp`, `pre_attention_norm`, `pre_ffw_norm`).
      xs: per stream, hidden states (B, Ls, Ds) (stream widths may differ; heads/head_dim must agree).
      positions: per stream, RoPE positions (B, Ls).
      mask: (B, sum Ls, Lc + sum Ls) where Lc is the cached length (0 without a cache).
      cached_kv: optional (k, v), each (B, Lc, K, H), prepended to this call's keys and values.
    Returns:
      (new xs, (k, v) of this call's tokens, each (B, sum Ls, K, H)).
    """
    queries, keys, values = [], [], []
    for params, x, pos in zip(layer_params, xs, positions):
        h = rms_norm(x, params["pre_attention_norm"]["scale"], eps)
        q = jnp.einsum("bld,ndh->blnh", h, params["attn"]["q_einsum"]["w"])
        k, v = jnp.einsum("bld,sndh->sblnh", h, params["attn"]["kv_einsum"]["w"])
        queries.append(apply_rope(q, pos, rope_base))
        keys.append(apply_rope(k, pos, rope_base))
        values.append(v)
    q, k, v = (jnp.concatenate(t, axis=1) for t in (queries, keys, values))
    new_kv = (k, v)
    if cached_kv is not None:
        k = jnp.concatenate([cached_kv[0].astype(k.dtype), k], axis=1)
        v = jnp.concatenate([cached_kv[1].astype(v.dtype), v], axis=1)
    attended = _attend(q, k, v, mask)
    outs, start = [], 0
    for params, x in zip(layer_params, xs):
        part = attended[:, start:start + x.shape[1]]
        start += x.shape[1]
        x = x + jnp.einsum("blnh,nhd->bld", part, params["attn"]["attn_vec_einsum"]["w"])
        h = rms_norm(x, params["pre_ffw_norm"]["scale"], eps)
        gate, up = jnp.einsum("bld,sdf->sblf", h, params["mlp"]["gating_einsum"])
        x = x + jnp.einsum("blf,fd->bld", _gelu_tanh(gate) * up, params["mlp"]["linear"])
        outs.append(x)
    return outs, new_kv


UNROLL_MAX_DEPTH = 4


def scan_unroll(depth: int, remat_policy: str = "none") -> int:
    """How many layers one iteration of the layer scan runs: all of them for stacks of at most UNROLL_MAX_DEPTH
    layers without rematerialisation (the CPU models: the loop's per-layer slicing of parameters and stacking of
    gradients was ~12% of the tiny_64 train step, 78 -> 67 ms on a 2-core CPU), one otherwise (a deep stack
    compiles its layer once; remat needs the loop: unrolled, XLA keeps the activations anyway). The parameter tree
    and the values are the same either way."""
    return depth if depth <= UNROLL_MAX_DEPTH and remat_policy == "none" else 1


def run_layers(stacked_params: Sequence[dict], xs: Sequence[Float[Array, "B Ls Ds"]],
               positions: Sequence[Int[Array, "B Ls"]], mask: Bool[Array, "B Lq Lk"],
               cached_kv: tuple[Array, Array] | None = None, dtype=jnp.float32,
               eps: float = 1e-6, rope_base: float = 10_000.0, remat_policy: str = "none"):
    """All layers (lax.scan over the leading layer axis) for one or more streams; see `layer_streams`.

    `stacked_params[i]` is stream i's `layers` dict; `cached_kv` is (k, v) each (Lyr, B, Lc, K, H).
    remat_policy: "none", or a `jax.checkpoint_policies` name (`REMAT_POLICIES`): each layer is rematerialised
    in the backward pass, keeping only what the policy saves (same values and gradients, less activation memory).
    Returns (xs after the last layer, (k, v) each (Lyr, B, sum Ls, K, H)) in `dtype`.
    """
    stacked_params = [_cast(p, dtype) for p in stacked_params]
    xs = [x.astype(dtype) for x in xs]

    def body(carry, scanned):
        params, cache = scanned
        new_xs, kv = layer_streams(params, carry, positions, mask, cache, eps, rope_base)
        return new_xs, kv

    if remat_policy != "none":
        body = jax.checkpoint(body, policy=checkpoint_policy(remat_policy), prevent_cse=False)
    depth = jax.tree.leaves(stacked_params)[0].shape[0]
    xs, kv = jax.lax.scan(body, xs, (list(stacked_params), cached_kv), unroll=scan_unroll(depth, remat_policy))
    return xs, kv


def _stacked(init, depth):
    """Initialise a (depth, ...) array with `init` applied per layer (independent keys)."""
    def init_fn(rng, shape, dtype=jnp.float32):
        return jax.vmap(lambda r: init(r, shape[1:], dtype))(jax.random.split(rng, shape[0]))
    return init_fn


class _ParamGroup(nn.Module):
    """Declares named arrays (name, shape, init) and returns them as a dict; gives big_vision's leaf names."""

    specs: tuple

    @nn.compact
    def __call__(self):
        return {name: self.param(name, init, shape) for name, shape, init in self.specs}


class Gemma(nn.Module):
    """Gemma decoder (embedder, stacked layers, final norm). Methods take embeddings so prefixes can mix modalities.

    Attributes:
      config: the shape.
      dtype: compute dtype (parameters stay float32; they are cast per call).
    """

    config: GemmaConfig
    dtype: str = "float32"

    def setup(self):
        c = self.config
        if c.vocab_size:
            self.embedder = _ParamGroup(
                (("input_embedding", (c.vocab_size, c.width), nn.initializers.normal(stddev=1.0)),), name="embedder")
        self.layers = _GemmaLayerParams(c, name="layers")
        self.final_norm = _ParamGroup((("scale", (c.width,), nn.initializers.zeros),), name="final_norm")

    def embed_tokens(self, tokens: Int[Array, "B L"]) -> Float[Array, "B L D"]:
        """Token embeddings times sqrt(width) (Gemma convention), in the compute dtype."""
        table = self.embedder()["input_embedding"].astype(self.dtype)
        return table[tokens] * jnp.sqrt(float(self.config.width)).astype(self.dtype)

    def decode(self, hidden: Float[Array, "B L D"]) -> Float[Array, "B L V"]:
        """Logits against the tied input embedding, in float32."""
        table = self.embedder()["input_embedding"]
        return jnp.einsum("bld,vd->blv", hidden.astype(jnp.float32), table.astype(jnp.float32))

    def layer_params(self) -> dict:
        """The `layers` dict (float32 leaves with leading layer axis)."""
        return self.layers()

    def final_norm_scale(self) -> Float[Array, "D"]:
        return self.final_norm()["scale"]

    def __call__(self, embeddings: Float[Array, "B L D"], positions: Int[Array, "B L"], mask: Bool[Array, "B L Lk"],
                 cached_kv: tuple[Array, Array] | None = None):
        """Runs all layers and the final norm. Returns (hidden (B, L, D), (k, v) each (Lyr, B, L, K, H))."""
        (hidden,), kv = run_layers([self.layers()], [embeddings], [positions], mask, cached_kv,
                                   jnp.dtype(self.dtype), self.config.norm_eps, self.config.rope_base)
        return rms_norm(hidden, self.final_norm()["scale"], self.config.norm_eps), kv

    def init_all(self, tokens: Int[Array, "B L"]):
        """Touches every parameter (for `init`): embed, run, decode."""
        if self.config.vocab_size:
            x = self.embed_tokens(tokens)
        else:
            x = jnp.zeros(tokens.shape + (self.config.width,), self.dtype)
        mask = prefix_lm_mask(jnp.ones(tokens.shape, bool), jnp.zeros(tokens.shape, jnp.int32))
        hidden, _ = self(x, jnp.broadcast_to(jnp.arange(tokens.shape[1]), tokens.shape), mask)
        return self.decode(hidden) if self.config.vocab_size else hidden


class _AttentionParams(nn.Module):
    config: GemmaConfig

    @nn.compact
    def __call__(self):
        c = self.config
        init = lambda in_axis, out_axis: _stacked(  # noqa: E731
            nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=in_axis, out_axis=out_axis),
            c.depth)
        return {
            "q_einsum": _ParamGroup((("w", (c.depth, c.num_heads, c.width, c.head_dim), init(-2, -1)),),
                                    name="q_einsum")(),
            "kv_einsum": _ParamGroup((("w", (c.depth, 2, c.num_kv_heads, c.width, c.head_dim), init(-2, -1)),),
                                     name="kv_einsum")(),
            "attn_vec_einsum": _ParamGroup((("w", (c.depth, c.num_heads, c.head_dim, c.width), init((-3, -2), -1)),),
                                           name="attn_vec_einsum")(),
        }


class _GemmaLayerParams(nn.Module):
    """`layers/` with `attn/` as a real child module so the tree reads layers/attn/q_einsum/w."""

    config: GemmaConfig

    @nn.compact
    def __call__(self) -> dict:
        c = self.config
        init = _stacked(nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=-2, out_axis=-1),
                        c.depth)
        zeros = nn.initializers.zeros
        return {
            "pre_attention_norm": _ParamGroup((("scale", (c.depth, c.width), zeros),), name="pre_attention_norm")(),
            "attn": _AttentionParams(c, name="attn")(),
            "pre_ffw_norm": _ParamGroup((("scale", (c.depth, c.width), zeros),), name="pre_ffw_norm")(),
            "mlp": _ParamGroup((("gating_einsum", (c.depth, 2, c.width, c.mlp_dim), init),
                                ("linear", (c.depth, c.mlp_dim, c.width), init)), name="mlp")(),
        }
