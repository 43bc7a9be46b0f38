"""ArrayRecord shard writer with an atomic, resumable JSON manifest (split assignment: `data.splits`; shard
planning and work sharding: `data.shards`).

Layout of a dataset directory:

    OUT/<split>-<index:05d>.array_record        one complete shard (records = schema.encode_record bytes)
    OUT/<split>-<index:05d>.summary.json        its summary (counts, pose sums, failures), written first
    OUT/manifest.json                           aggregate of all complete shards (rebuilt, never appended)

Commit protocol of `DatasetWriter.write_shard`: records stream into `.<name>.array_record.tmp-<pid>`; when the
iterable is exhausted the writer is closed, the summary is written atomically (tmp + os.replace), and finally the
shard file is renamed into place (os.replace, atomic): **a shard is done iff its .array_record file exists**.
A crash at any moment leaves either nothing or a stale temp file (removed on the next attempt), never a partial
shard. `update_manifest` rebuilds manifest.json from the summaries of done shards, so it is correct whatever
process wrote which shard (several hosts may write disjoint shards into one directory).

Resume: plan the same shards from the same inputs (`plan_shards` is deterministic), skip `is_done` shards.
Scale-out: `shard_of_work(shards, jax.process_index(), jax.process_count())` or a `--shard i/n` flag.
"""
from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from dexvlg_jax import atomic_io
from dexvlg_jax.data.schema import POSE_DIM, SCHEMA_VERSION, GraspRecord, decode_record, encode_record
from dexvlg_jax.data.shards import ShardSpec

MANIFEST_NAME = "manifest.json"
SHARD_SUFFIX = ".array_record"
SUMMARY_SUFFIX = ".summary.json"
_VERSIONED_PACKAGES = ("dexvlg_jax", "jax", "jaxlib", "numpy", "grain", "array-record", "trimesh", "scipy", "pillow")


def _atomic_write_json(path: str, payload) -> None:
    atomic_io.write_json(path, payload, indent=1, sort_keys=True)  # temp names are unique across hosts


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the data (and Python's), for the manifest."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


class _ShardStats:
    """Running counts and pose moments of one shard (summed across shards by the manifest)."""

    def __init__(self):
        self.num_records = 0
        self.counts = {key: {} for key in ("split", "category", "part", "mode", "object")}
        self.pose_sum = np.zeros(POSE_DIM)
        self.pose_sq_sum = np.zeros(POSE_DIM)

    def add(self, rec: GraspRecord) -> None:
        self.num_records += 1
        for key, value in (("split", rec.split), ("category", rec.category), ("part", rec.part_name),
                           ("mode", rec.mode), ("object", rec.object_id)):
            self.counts[key][value] = self.counts[key].get(value, 0) + 1
        pose = np.asarray(rec.pose_camera, np.float64)
        self.pose_sum += pose
        self.pose_sq_sum += pose * pose


class DatasetWriter:
    """Writes complete shards into `out_dir` and keeps `manifest.json` equal to the aggregate of done shards.

    Args:
      out_dir: dataset directory (created).
      config: JSON-serialisable build configuration copied into the manifest.
    """

    def __init__(self, out_dir: str | os.PathLike, config: Mapping | None = None):
        self.out_dir = os.fspath(out_dir)
        self.config = dict(config or {})
        os.makedirs(self.out_dir, exist_ok=True)

    def shard_path(self, name: str) -> str:
        return os.path.join(self.out_dir, name + SHARD_SUFFIX)

    def is_done(self, name: str) -> bool:
        """True iff shard `name` was completely written (its final file exists, with its summary)."""
        return os.path.exists(self.shard_path(name)) and os.path.exists(self._summary_path(name))

    def _summary_path(self, name: str) -> str:
        return os.path.join(self.out_dir, name + SUMMARY_SUFFIX)

    def write_shard(self, spec: ShardSpec, records: Iterable[GraspRecord],
                    failures: Sequence[Mapping] | None = None) -> dict:
        """Consume `records` into shard `spec.name`; commit atomically; return its summary.

        `records` may be a lazy generator doing the real work (a crash inside it leaves no shard). `failures` is a
        list of {"object_id", "stage", "reason"} dicts for inputs skipped while producing this shard (a list the
        generator may append to while running: it is read after the generator is exhausted).
        Records whose split or object is not in `spec` raise ValueError (they would break resume bookkeeping).
        """
        from array_record.python.array_record_module import ArrayRecordWriter

        failures = [] if failures is None else failures
        for stale in glob.glob(os.path.join(self.out_dir, f".{spec.name}{SHARD_SUFFIX}.tmp-*")):
            os.remove(stale)
        tmp_path = os.path.join(self.out_dir, f".{spec.name}{SHARD_SUFFIX}.tmp-{os.getpid()}")
        stats, allowed = _ShardStats(), set(spec.object_ids)
        started = time.time()
        writer = ArrayRecordWriter(tmp_path, "group_size:1")
        try:
            for rec in records:
                if rec.object_id not in allowed or rec.split != spec.split:
                    raise ValueError(f"shard {spec.name}: record of object {rec.object_id!r} (split {rec.split!r}) "
                                     f"does not belong to this shard (split {spec.split!r})")
                writer.write(encode_record(rec))
                stats.add(rec)
        except BaseException:
            writer.close()
            os.remove(tmp_path)
            raise
        writer.close()
        summary = {
            "name": spec.name, "split": spec.split, "object_ids": list(spec.object_ids),
            "file": os.path.basename(self.shard_path(spec.name)), "num_records": stats.num_records,
            "counts": stats.counts, "pose_sum": stats.pose_sum.tolist(), "pose_sq_sum": stats.pose_sq_sum.tolist(),
            "failures": [dict(f) for f in failures], "seconds": round(time.time() - started, 3),
            "schema_version": SCHEMA_VERSION,
        }
        _atomic_write_json(self._summary_path(spec.name), summary)
        os.replace(tmp_path, self.shard_path(spec.name))  # the commit point
        return summary

    def summaries(self) -> list[dict]:
        """Summaries of all done shards in the directory, sorted by name."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.out_dir, "*" + SHARD_SUFFIX))):
            name = os.path.basename(path)[:-len(SHARD_SUFFIX)]
            if os.path.exists(self._summary_path(name)):
                with open(self._summary_path(name), encoding="utf-8") as f:
                    out.append(json.load(f))
        return out

    def update_manifest(self, extra: Mapping | None = None) -> dict:
        """Rebuild manifest.json (atomically) from the done shards' summaries; returns the manifest.

        Contents: schema_version, config, package versions, num_records, counts per split / category / part /
        mode / object, per-split shard file lists, failures, and `pose_statistics[split]` = {"count", "mean" (25,),
        "std" (25,)} of pose_camera (the training transform normalises with the "train" entry). `extra` is merged
        in at top level (e.g. annotation results from the pipeline).
        """
        summaries = self.summaries()
        counts = {key: {} for key in ("split", "category", "part", "mode", "object")}
        moments, shards, failures = {}, {}, []
        for summary in summaries:
            for key, table in summary["counts"].items():
                for value, count in table.items():
                    counts[key][value] = counts[key].get(value, 0) + count
            split = summary["split"]
            shards.setdefault(split, []).append(summary["file"])
            m = moments.setdefault(split, [0, np.zeros(POSE_DIM), np.zeros(POSE_DIM)])
            m[0] += summary["num_records"]
            m[1] += np.asarray(summary["pose_sum"])
            m[2] += np.asarray(summary["pose_sq_sum"])
            failures.extend(dict(f, shard=summary["name"]) for f in summary["failures"])
        statistics = {}
        for split, (count, total, sq_total) in moments.items():
            if count:
                mean = total / count
                std = np.sqrt(np.maximum(sq_total / count - mean * mean, 0.0))
                statistics[split] = {"count": count, "mean": mean.tolist(), "std": std.tolist()}
        manifest = {
            "format": "dexvlg_jax grasp records (ArrayRecord, dexvlg_jax.data.schema)",
            "schema_version": SCHEMA_VERSION,
            "config": self.config,
            "versions": package_versions(),
            "num_records": sum(s["num_records"] for s in summaries),
            "num_shards": len(summaries),
            "counts": counts,
            "shards": shards,
            "failures": failures,
            "pose_statistics": statistics,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        manifest.update(dict(extra or {}))
        _atomic_write_json(os.path.join(self.out_dir, MANIFEST_NAME), manifest)
        return manifest


def read_manifest(out_dir: str | os.PathLike) -> dict:
    """Load OUT/manifest.json."""
    path = os.path.join(os.fspath(out_dir), MANIFEST_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no manifest (build the dataset first)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def shard_paths(out_dir: str | os.PathLike, split: str | None = None) -> list[str]:
    """Paths of the done shards of `split` (all splits when None), sorted; from the manifest."""
    manifest = read_manifest(out_dir)
    splits = [split] if split is not None else sorted(manifest["shards"])
    return [os.path.join(os.fspath(out_dir), f) for s in splits for f in sorted(manifest["shards"].get(s, []))]


def compute_pose_statistics(paths: Sequence[str]) -> dict:
    """Mean / std (25,) of pose_camera over every record in the given shard files (a full read; the manifest's
    `pose_statistics` is the same figure computed while writing)."""
    from array_record.python.array_record_module import ArrayRecordReader

    stats = _ShardStats()
    for path in paths:
        reader = ArrayRecordReader(path)
        try:
            for index in range(reader.num_records()):
                stats.add(decode_record(reader.read([index])[0]))
        finally:
            reader.close()
    if not stats.num_records:
        raise ValueError(f"compute_pose_statistics: no records in {list(paths)}")
    mean = stats.pose_sum / stats.num_records
    std = np.sqrt(np.maximum(stats.pose_sq_sum / stats.num_records - mean * mean, 0.0))
    return {"count": stats.num_records, "mean": mean.tolist(), "std": std.tolist()}
