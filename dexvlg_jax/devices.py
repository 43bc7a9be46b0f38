"""The device mesh: one builder for every stage (synthesis, MJX simulation, training).

A 2-axis `Mesh` with axes ("data", "fsdp"). Synthesis and simulation shard independent items (grasps, trials)
over "data" with fsdp = 1 (`data_mesh`); training splits the batch over both axes and shards large parameters over
"fsdp" (`train.sharding`).
"""
from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import Mesh

DATA_AXIS, FSDP_AXIS = "data", "fsdp"
BATCH_AXES = (DATA_AXIS, FSDP_AXIS)


def make_mesh(fsdp: int = -1, devices: list | None = None) -> Mesh:
    """A (data, fsdp) mesh over `devices` (default all global devices).

    Args:
      fsdp: devices per FSDP group; -1 = all devices (data = 1); 1 = pure data parallelism. Must divide the
        device count.
    """
    devices = list(jax.devices() if devices is None else devices)
    count = len(devices)
    fsdp = count if fsdp in (-1, 0, None) else int(fsdp)
    if fsdp < 1 or count % fsdp:
        raise ValueError(f"make_mesh: fsdp={fsdp} must be a positive divisor of the device count {count}")
    grid = np.asarray(devices, dtype=object).reshape(count // fsdp, fsdp)
    return Mesh(grid, BATCH_AXES)


def data_mesh(devices: list | None = None) -> Mesh:
    """Every device on "data" (fsdp = 1): for independent items (grasps, simulation trials)."""
    return make_mesh(fsdp=1, devices=devices)


def user_cache_dir(name: str) -> str:
    """`$DEXVLG_CACHE_DIR/<name>`, else `$XDG_CACHE_HOME/dexvlg_jax/<name>` (~/.cache/dexvlg_jax/<name>)."""
    root = os.environ.get("DEXVLG_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "dexvlg_jax")
    return os.path.join(root, name)


def enable_compilation_cache(path: str | None = None) -> str | None:
    """Keep compiled XLA programs on disk so that a second run skips compilation (minutes on a CPU).

    path: default `$DEXVLG_CACHE_DIR/jax`, else `$XDG_CACHE_HOME/dexvlg_jax/jax` (~/.cache/dexvlg_jax/jax);
    "" or DEXVLG_JAX_CACHE=0 turns it off. Programs that compile in under a second are not stored. Returns the
    directory used (None when off)."""
    if os.environ.get("DEXVLG_JAX_CACHE", "1") == "0" or path == "":
        return None
    if path is None:
        path = user_cache_dir("jax")
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path
