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
    """A persistent compilation cache that also keeps sub-second programs while tests/train runs (also inherited by
    subprocesses through the env): the session's (tests/conftest.py) when there is one; afterwards the settings
    are as they were."""
    keys = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")
    previous = {k: os.environ.get(k) for k in keys}
    options = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
               "jax_persistent_cache_min_entry_size_bytes")
    previous_options = {name: getattr(jax.config, name) for name in options}
    path = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(tmp_path_factory.mktemp("jax_cache"))
    for name, value in zip(options, (path, 0, -1)):
        jax.config.update(name, value)
    os.environ.update(zip(keys, (path, "0", "-1")))
    yield path
    for name, value in previous_options.items():
        jax.config.update(name, value)
    try:  # the cache object is re-created from the restored settings on the next compile
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
