"""The device mesh: one builder for every stage (synthesis, MJX simulation, training).

A 2-axis `Mesh` with axes ("data", "fsdp"). Synthesis and simulation shard independent items (grasps, trials)
over "data" with fsdp = 1 (`data_mesh`); training splits the batch over both axes and shards large parameters over
"fsdp" (`train.sharding`).
"""
from __future__ import annotations

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
