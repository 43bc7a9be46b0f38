"""Device mesh and sharding rules: a 2-axis `Mesh(("data", "fsdp"))`, size-based FSDP, batch over both axes.

- Batch arrays are split along their leading axis over ("data", "fsdp") together (every device gets
  `global_batch / device_count` examples).
- Parameters and optimizer state follow a size rule (as openpi's FSDP): an array smaller than
  `min_fsdp_bytes`, a scalar, or one with no axis divisible by the "fsdp" size is replicated; otherwise its
  largest axis divisible by the "fsdp" size is sharded over "fsdp" (ties: the earliest axis). On a mesh with
  fsdp = 1 everything is replicated (pure data parallelism).

Usage:
    mesh = make_mesh(fsdp=-1)                         # all devices on "fsdp"
    shardings = fsdp_shardings(jax.eval_shape(init), mesh)
    batch = shard_batch(local_numpy_batch, mesh)      # global jax.Arrays from per-process data
"""
from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dexvlg_jax.devices import BATCH_AXES, DATA_AXIS, FSDP_AXIS, make_mesh  # noqa: F401  (the one mesh builder)

DEFAULT_MIN_FSDP_BYTES = 4 * 2**20  # 4 MiB: below this, sharding costs more communication than it saves


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the full array."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over ("data", "fsdp")."""
    return NamedSharding(mesh, PartitionSpec(BATCH_AXES))


def fsdp_spec(shape: tuple[int, ...], itemsize: int, fsdp_size: int,
              min_bytes: int = DEFAULT_MIN_FSDP_BYTES) -> PartitionSpec:
    """The partition spec the size rule gives one array of `shape` with `itemsize` bytes per element."""
    if fsdp_size <= 1 or not shape or math.prod(shape) * itemsize < min_bytes:
        return PartitionSpec()
    candidates = [axis for axis in sorted(range(len(shape)), key=lambda a: (-shape[a], a))
                  if shape[axis] % fsdp_size == 0]
    if not candidates:
        return PartitionSpec()
    spec = [None] * len(shape)
    spec[candidates[0]] = FSDP_AXIS
    return PartitionSpec(*spec)


def _itemsize(leaf) -> int:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        return 8
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # typed PRNG keys and other extended dtypes: always replicated (tiny)
        return 0


def fsdp_shardings(tree: Any, mesh: Mesh, min_bytes: int = DEFAULT_MIN_FSDP_BYTES) -> Any:
    """A tree of `NamedSharding`s for `tree` (arrays or ShapeDtypeStructs) under the FSDP size rule."""
    fsdp_size = mesh.shape[FSDP_AXIS]

    def one(leaf):
        shape = tuple(getattr(leaf, "shape", ()))
        return NamedSharding(mesh, fsdp_spec(shape, _itemsize(leaf), fsdp_size, min_bytes))

    return jax.tree.map(one, tree)


def check_batch_size(global_batch: int, mesh: Mesh) -> int:
    """Validates the global batch against the mesh and process count; returns the per-process batch."""
    devices, processes = mesh.devices.size, jax.process_count()
    if global_batch % devices:
        raise ValueError(f"batch_size={global_batch} must be divisible by the number of devices {devices} "
                         f"(mesh {dict(mesh.shape)})")
    if global_batch % processes:
        raise ValueError(f"batch_size={global_batch} must be divisible by the process count {processes}")
    return global_batch // processes


def shard_batch(local_batch: dict[str, Any], mesh: Mesh) -> dict[str, jax.Array]:
    """Per-process numpy batch (leading axis = per-process batch) -> global jax.Arrays split over the mesh.

    Each process passes its own slice (grain's `ShardByJaxProcess`); the global batch is their concatenation.
    """
    sharding = batch_sharding(mesh)
    return {key: jax.make_array_from_process_local_data(sharding, np.asarray(value))
            for key, value in local_batch.items()}


def put(tree: Any, shardings: Any) -> Any:
    """`jax.device_put` of a host tree with a matching tree of shardings (works across processes for
    host-replicated data, e.g. a pretrained checkpoint every process reads)."""
    return jax.tree.map(lambda x, s: jax.make_array_from_callback(np.shape(x), s, lambda idx: np.asarray(x)[idx]),
                        tree, shardings)


def describe(shardings: Any, tree: Any | None = None) -> str:
    """One line per sharded leaf ("path shape spec"), for logs."""
    lines = []
    leaves = jax.tree_util.tree_leaves_with_path(shardings)
    shapes = jax.tree.leaves(tree) if tree is not None else [None] * len(leaves)
    for (path, sharding), leaf in zip(leaves, shapes):
        if any(axis is not None for axis in sharding.spec):
            shape = tuple(leaf.shape) if leaf is not None else ""
            lines.append(f"{jax.tree_util.keystr(path)} {shape} {sharding.spec}")
    return "\n".join(lines)
