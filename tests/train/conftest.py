"""Shared fixtures of the training tests.

Every model test uses the tiny variant with configs/train/tiny.py's optimiser and 4 steps, and the same
(data=4, fsdp=2) mesh with FSDP forced on every array (min_fsdp_bytes=0), so the loop's programs are identical
across tests and a session-wide persistent XLA compilation cache turns every compile after the first into a
cache hit (cold compiles of the tiny model take ~30-60 s of CPU each).
"""
import os

import jax
import pytest

from configs.train import tiny
from dexvlg_jax.config_files import apply_overrides, train_config

NUM_STEPS = 4
TEST_OVERRIDES = ["fsdp=2", "min_fsdp_bytes=0", "log_every=1", "checkpoint_every=2", "keep_checkpoints=3",
                  "data.num_synthetic=64", "async_checkpoint=True"]


@pytest.fixture(scope="package", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    """A persistent compilation cache while tests/train runs (also inherited by subprocesses through the env);
    removed again afterwards."""
    path = str(tmp_path_factory.mktemp("jax_cache"))
    previous = {k: os.environ.get(k) for k in ("JAX_COMPILATION_CACHE_DIR",
                                               "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
                                               "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")}
    path = os.environ.get("JAX_COMPILATION_CACHE_DIR") or path
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    os.environ.update(JAX_COMPILATION_CACHE_DIR=path, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1")
    yield path
    # Leave later test directories as they were: no persistent cache.
    jax.config.update("jax_compilation_cache_dir", None)
    try:
        from jax.experimental.compilation_cache import compilation_cache
        compilation_cache.reset_cache()
    except (ImportError, AttributeError):
        pass
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def tiny_train_config(**changes):
    """The TrainConfig of configs/train/tiny.py with the tests' overrides (4 steps, (4, 2) mesh)."""
    import dataclasses

    config = apply_overrides(tiny.get_config(f"steps={NUM_STEPS}"), TEST_OVERRIDES)
    return dataclasses.replace(train_config(config), **changes)
