"""Exact k smallest entries along the last axis, in two passes: cheaper than one `jax.lax.top_k` over long rows.

`jax.lax.top_k` on a CPU partially sorts every row: for the optimiser's culling sets (33 hand primitives x 2,048
object points, k = 16, per grasp) it was most of a refresh's cost. `smallest_k` first takes the minimum of each
block of `block` consecutive entries, keeps the k blocks with the smallest minima, and runs the exact top-k only on
their k * block entries. That is exact: each of the k smallest entries e lies in a block whose minimum is <= e <= the
k-th smallest value, and at most k blocks have a minimum that small (their minima are distinct entries among the k
smallest), so all of them are kept. Ties at the k-th value may pick a different index of equal value.
Measured (2-core CPU, 64 x 33 rows of 2,048 random values, k = 16, block 16): 16.6 ms -> 10.5 ms.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def smallest_k(values: Float[Array, "... N"], k: int, block: int = 16) -> tuple[Array, Array]:
    """(values (..., k), indices (..., k)) of the k smallest entries along the last axis, ascending, like
    `jax.lax.top_k(-values, k)` (values negated back). N is padded with +inf to a multiple of `block`; a row with
    fewer than k finite entries returns +inf values for the rest (their indices are arbitrary)."""
    n = values.shape[-1]
    if n <= k * block:  # short rows (k >= n included): the one-pass top-k is as cheap
        neg, index = jax.lax.top_k(-values, min(k, n))
        return -neg, index
    pad = (-n) % block
    padded = jnp.concatenate([values, jnp.full(values.shape[:-1] + (pad,), jnp.inf, values.dtype)], -1)
    blocks = padded.reshape(values.shape[:-1] + (-1, block))  # (..., B, block)
    _, chosen = jax.lax.top_k(-jnp.min(blocks, -1), k)  # (..., k) blocks with the smallest minima
    candidates = jnp.take_along_axis(blocks, chosen[..., None], axis=-2).reshape(values.shape[:-1] + (k * block,))
    neg, slot = jax.lax.top_k(-candidates, k)
    index = jnp.take_along_axis(chosen, slot // block, -1) * block + slot % block
    return -neg, index
