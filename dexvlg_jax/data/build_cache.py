"""A dataset built once per (config, code): later builds with the same config and the same source copy it.

The data engine is deterministic given its config and the code (seeded synthesis, placement, cameras), and it is
most of a first run's time (the demo's 10 objects: about 5.5 of its 8 minutes on a 2-core CPU, of which
compilation is under a minute: the optimiser's 800 steps per grasp batch are run time). `build_or_reuse` keeps a
finished build under the user's cache directory, keyed by a digest of

* the `DatasetConfig` (every field, as the manifest records it), and
* the bytes of every file of the installed `dexvlg_jax` package (code, the hand's MJCF, the tokenizer), so any
  change to the code that could change the data builds anew,

and copies it into the output folder on the next build with the same key. The copy is the dataset as built:
shards, manifest, build state and the per-object caches (processed objects, grasps with their simulation
verdicts); statistics are re-drawn by the caller. A build from a mesh folder (user meshes) is never cached here:
the key would have to cover the files, and `pipeline.build_dataset` already resumes in place.

Cache: `devices.user_cache_dir("datasets")/<key>` (~/.cache/dexvlg_jax/datasets; `DEXVLG_CACHE_DIR` moves it,
`DEXVLG_DATA_CACHE=0` turns it off). Entries are written to a temporary folder and renamed, so an interrupted
store leaves no entry that looks complete.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

from dexvlg_jax import devices
from dexvlg_jax.data import pipeline, writer

PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIPPED = ("statistics", "statistics.json")  # drawn per output folder (absolute paths inside)


def source_digest(package_dir: str = PACKAGE_DIR) -> str:
    """sha256 over the relative path and bytes of every file under the package (caches excluded)."""
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(package_dir):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(os.path.relpath(path, package_dir).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def build_key(cfg: pipeline.DatasetConfig, package_dir: str = PACKAGE_DIR) -> str:
    """The cache key of a build: 24 hex digits of sha256(config JSON, source digest)."""
    config = json.dumps(pipeline.config_dict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(f"{config}\n{source_digest(package_dir)}".encode()).hexdigest()[:24]


def enabled() -> bool:
    return os.environ.get("DEXVLG_DATA_CACHE", "1") != "0"


def _stored(entry: str) -> bool:
    """An entry exists only once a build that returned normally was copied in and renamed into place."""
    return os.path.exists(os.path.join(entry, writer.MANIFEST_NAME))


def build_or_reuse(cfg: pipeline.DatasetConfig, out_dir: str, progress: bool = True,
                   cache_root: str | None = None) -> tuple[dict, str]:
    """Builds the dataset into `out_dir` (`pipeline.build_dataset`, resuming there), first copying a cached build
    with the same key when `out_dir` holds no dataset yet, and caching a fresh complete build afterwards.

    Returns (manifest, how): how is "built", "resumed" (out_dir already held this dataset, or part of it),
    "reused <cache folder>" or "built, not cached (<why>)". cache_root: default `devices.user_cache_dir("datasets")`.
    """
    if cfg.mesh_folder or not enabled():
        why = "a mesh folder" if cfg.mesh_folder else "DEXVLG_DATA_CACHE=0"
        return pipeline.build_dataset(cfg, out_dir, progress=progress), f"built, not cached ({why})"
    entry = os.path.join(cache_root or devices.user_cache_dir("datasets"), build_key(cfg))
    fresh = not os.path.exists(os.path.join(out_dir, writer.MANIFEST_NAME))
    if fresh and _stored(entry):
        shutil.copytree(entry, out_dir, dirs_exist_ok=True)
        return pipeline.build_dataset(cfg, out_dir, progress=progress), f"reused {entry}"
    manifest = pipeline.build_dataset(cfg, out_dir, progress=progress)  # raises if the build stops
    if not _stored(entry):
        os.makedirs(os.path.dirname(entry), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".staging-", dir=os.path.dirname(entry))
        shutil.copytree(out_dir, staging, dirs_exist_ok=True, ignore=lambda _, names: [n for n in names
                                                                                      if n in SKIPPED])
        shutil.rmtree(entry, ignore_errors=True)
        os.replace(staging, entry)
    return manifest, "built" if fresh else "resumed"
