"""Test configuration: CPU only, optional fake devices, `slow` marker gated by --runslow, one compilation cache
per test session."""
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Hermetic: the CLIs' persistent caches under ~/.cache/dexvlg_jax stay off in tests: compiled programs,
os.environ.setdefault("DEXVLG_JAX_CACHE", "0")
os.environ.setdefault("DEXVLG_DATA_CACHE", "0")  # and the demo's dataset cache (data.build_cache)
# One persistent JAX compilation cache for the whole session, new and empty each time (hermetic): the xdist workers
# and the CLI subprocesses inherit this variable, so a program that several tests compile (the tiny model's train
# step, the toy synthesis) is compiled once. `pytest_sessionfinish` removes it.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="dexvlg_jax_test_cache_")
    os.environ["DEXVLG_TEST_OWNS_JAX_CACHE"] = os.environ["JAX_COMPILATION_CACHE_DIR"]
# Eight fake CPU devices so sharding code is exercised the same way as on an accelerator mesh.
if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def pytest_sessionfinish(session, exitstatus):
    owned = os.environ.get("DEXVLG_TEST_OWNS_JAX_CACHE")
    if owned and not hasattr(session.config, "workerinput"):  # the controller, after every worker is done
        shutil.rmtree(owned, ignore_errors=True)
