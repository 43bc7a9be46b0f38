"""Shared fixtures for the model tests: one jitted init of the tiny DexVLG (parameters do not depend on the head)."""
import jax
import pytest

from dexvlg_jax.models.variants import get_variant
from dexvlg_jax.models.vlg import DexVLG


@pytest.fixture(scope="session")
def tiny_params():
    return jax.jit(DexVLG(get_variant("tiny")).init)(jax.random.key(0))
