"""The data engine's memory across runs (`OUT/build_state.json`): which input content each object's caches and
shards were made from, and which objects failed and why. Failure is a state, never "done"."""
from __future__ import annotations

import json
import os

from dexvlg_jax import atomic_io
from dexvlg_jax.data import writer
from dexvlg_jax.objects.errors import ObjectError

# Bad input: the object's own file is at fault (unloadable, unrepairable, a native crash or time-out while
# processing it, non-finite synthesis). Anything else (an annotator outage, an OSError reading it) is transient.
PERMANENT_ERRORS = (ObjectError, ValueError, FloatingPointError)


def failure_record(object_id: str, stage: str, error: BaseException) -> dict:
    """{"object_id", "stage", "reason" ("<Type>: <message>"), "permanent"} of one failed object: permanent for
    PERMANENT_ERRORS (a rerun skips the object until its input changes), transient otherwise (retried)."""
    return {"object_id": object_id, "stage": stage, "reason": f"{type(error).__name__}: {error}",
            "permanent": isinstance(error, PERMANENT_ERRORS)}


class BuildState:
    """What the build knows across runs, in `OUT/build_state.json` (one file per host, `build_state-<i>of<n>.json`
    with `--shard i/n`; written atomically): per object the
    fingerprint its caches were made from and its failure {stage, reason, permanent}, and per shard the
    fingerprints of the objects it holds. A failure is a state, never "done": a shard holding an object that
    failed transiently (annotator outage, timeout) is rebuilt on the next run; a permanent failure (the file itself
    is bad) is skipped until the file's content changes."""

    def __init__(self, out_dir: str, shard: tuple[int, int] = (0, 1)):
        name = "build_state.json" if shard[1] == 1 else f"build_state-{shard[0]}of{shard[1]}.json"
        self.path = os.path.join(out_dir, name)
        self.data = {"objects": {}, "shards": {}}
        if os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as f:
                    self.data = json.load(f)
            except (OSError, ValueError) as err:  # a corrupt state file: name it, move it aside, rebuild
                atomic_io.move_aside(self.path, f"unreadable build state ({err})")

    def _save(self) -> None:
        atomic_io.write_json(self.path, self.data, indent=1)

    def invalidate_changed(self, fingerprints: dict, cache_dir: str) -> None:
        """Drop the caches, failures and shard claims of objects whose input content changed."""
        for object_id, fingerprint in fingerprints.items():
            known = self.data["objects"].get(object_id)
            if known is not None and known.get("fingerprint") != fingerprint:
                for sub in ("objects", "grasps"):
                    path = os.path.join(cache_dir, sub, f"{object_id}.npz")
                    if os.path.exists(path):
                        os.remove(path)
                self.data["objects"][object_id] = {"fingerprint": fingerprint}
            elif known is None:
                self.data["objects"][object_id] = {"fingerprint": fingerprint}
        self._save()

    def record_failure(self, failure: dict, fingerprint: str) -> None:
        self.data["objects"][failure["object_id"]] = {"fingerprint": fingerprint, "failure": dict(failure)}
        self._save()

    def permanent_failure(self, object_id: str, fingerprint: str) -> dict | None:
        entry = self.data["objects"].get(object_id, {})
        failure = entry.get("failure")
        return failure if failure and failure.get("permanent") and entry.get("fingerprint") == fingerprint else None

    def clear_failure(self, object_id: str, save: bool = False) -> None:
        """Forget the object's failure (it succeeded); save=True writes the state now (else with the next save)."""
        if self.data["objects"].get(object_id, {}).pop("failure", None) is not None and save:
            self._save()

    def shard_done(self, out, spec, fingerprints: dict) -> bool:
        claim = self.data["shards"].get(spec.name)
        return (out.is_done(spec.name) and claim is not None and
                claim == {oid: fingerprints.get(oid) for oid in spec.object_ids})

    def commit_shard(self, spec, fingerprints: dict, failures: list) -> None:
        """Mark the shard done for its objects' current content, unless one of them failed transiently."""
        if any(not f.get("permanent") for f in failures):
            self.data["shards"].pop(spec.name, None)
        else:
            self.data["shards"][spec.name] = {oid: fingerprints.get(oid) for oid in spec.object_ids}
        self._save()

    def remove_unplanned_shards(self, out, specs) -> None:
        """Delete shards of an earlier plan (objects added or removed since): their objects are in new shards."""
        planned = {s.name for s in specs}
        for summary in out.summaries():
            if summary["name"] not in planned:
                for path in (out.shard_path(summary["name"]), out.shard_path(summary["name"])[:-len(
                        writer.SHARD_SUFFIX)] + writer.SUMMARY_SUFFIX):
                    if os.path.exists(path):
                        os.remove(path)
                self.data["shards"].pop(summary["name"], None)
        self._save()

    def failure_list(self) -> list[dict]:
        return [dict(e["failure"]) for e in self.data["objects"].values() if e.get("failure")]
