"""`geometry.topk.smallest_k` against numpy's sort: the same k smallest values and a valid index for each."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.geometry.topk import smallest_k


@pytest.mark.parametrize("n, k, block", [(2048, 16, 16), (1000, 7, 16), (300, 16, 8), (40, 16, 16), (5, 8, 4)])
def test_smallest_k_matches_a_full_sort(n, k, block):
    """Rows of random values (some clustered in one block, so most of the k smallest share a block, and some +inf
    for entries that are not candidates): values equal numpy's k smallest, ascending, and each index points at its
    value. Covers N not a multiple of the block and rows too short for two passes."""
    rng = np.random.default_rng(n + k)
    values = rng.random((6, n)).astype(np.float32)
    values[1, :block] = rng.random(block) * 1e-3  # the smallest cluster in the first block
    values[2, rng.random(n) < 0.9] = np.inf  # a masked row (E_part's samples off the target part)
    values[3] = np.inf  # nothing finite
    got_values, got_index = jax.jit(lambda v: smallest_k(v, k, block))(jnp.asarray(values))
    want = np.sort(values, axis=1)[:, :min(k, n)]
    np.testing.assert_array_equal(np.asarray(got_values), want)
    finite = np.isfinite(want)
    picked = np.take_along_axis(values, np.asarray(got_index), 1)
    np.testing.assert_array_equal(picked[finite], want[finite])
    for row, index in zip(np.asarray(got_index), finite):
        assert len(set(row[index].tolist())) == index.sum()  # no entry taken twice
