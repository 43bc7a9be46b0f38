"""What evaluation evaluates, read from a built dataset: the placed objects, their split labels, and the
(object, part, mode) conditions, with the ones the data engine could not produce skipped and explained.

A dataset directory (`data.pipeline.build_dataset`) holds `manifest.json` ("splits" {object_id: split},
"objects" {object_id: {"split", "tabletop"}}), `cache/objects/<object_id>.npz` (`objects.save_processed`) and
`cache/grasps/<object_id>.npz` (`grasp.io`, with `sim_success` / `sim_reason` and the placement `tabletop`).
Evaluation rebuilds nothing: an `EvalScene` is exactly the dataset's processed object resting where the data
engine placed it (`scene.Tabletop`), so object sizes, placements and seen/unseen mean what they say.

Split labels (the paper's table rows): train and test_seen objects are "seen", test_unseen_instance
"unseen_instance", test_unseen_category "unseen_category".

Coverage: a condition is evaluated only when the dataset has at least one grasp for it that passed the data
engine's simulation filter (valid and sim_success). Otherwise it is skipped (not a model failure) with the grasp
file's reason: the synthesis status for that part and mode (e.g. "part_too_big: ..."), or "no grasp passed the
simulation filter (<most frequent filter reason>)".
"""
from __future__ import annotations

import collections
import dataclasses
import os

import numpy as np

from dexvlg_jax import objects as objects_lib
from dexvlg_jax.data import writer
from dexvlg_jax.grasp import io as grasp_io
from dexvlg_jax.scene import Tabletop

SPLIT_LABELS = {"train": "seen", "test_seen": "seen", "test_unseen_instance": "unseen_instance",
                "test_unseen_category": "unseen_category"}


def split_label(split: str) -> str:
    """A dataset split (`data.SPLITS`) -> its evaluation row label ("seen", "unseen_instance", ...)."""
    if split not in SPLIT_LABELS:
        raise ValueError(f"split {split!r} is not one of {sorted(SPLIT_LABELS)}")
    return SPLIT_LABELS[split]


@dataclasses.dataclass(frozen=True)
class EvalScene:
    """One evaluated object as the dataset placed it. obj: the cached ProcessedObject (object frame);
    tabletop: the placement its grasps were made for; split: the dataset split; grasps: its grasp file's
    arrays (`grasp.io.load_grasps`)."""

    object_id: str
    obj: objects_lib.ProcessedObject
    tabletop: Tabletop
    split: str
    grasps: dict

    @property
    def label(self) -> str:
        return split_label(self.split)

    @property
    def category(self) -> str:
        return self.obj.category


@dataclasses.dataclass(frozen=True)
class Condition:
    """One (object, part, mode) to evaluate; part_id indexes the object's part_names."""

    object_id: str
    part_id: int
    part_name: str
    mode: str


def passing(grasps: dict) -> np.ndarray:
    """(G,) bool: grasps that are valid and passed the data engine's simulation filter."""
    return np.asarray(grasps["valid"], bool) & np.asarray(grasps["sim_success"], bool)


def _object_path(dataset: str, kind: str, object_id: str) -> str:
    return os.path.join(dataset, "cache", kind, f"{object_id}.npz")


def dataset_objects(dataset: str) -> dict:
    """{object_id: {"split", "tabletop"}} of the dataset's synthesised objects, from its manifest."""
    manifest = writer.read_manifest(dataset)
    table = manifest.get("objects")
    if not table:
        raise ValueError(f"{dataset}: manifest.json has no 'objects' table (object placements); rebuild the dataset "
                         f"with the current data engine (launch.build_dataset)")
    return table


def covered_conditions(dataset: str) -> set[tuple]:
    """{(object, part_id, mode)} with a sim-passing grasp in the dataset: the conditions its evaluation runs."""
    covered = set()
    for object_id in dataset_objects(dataset):
        grasps = grasp_io.load_grasps(_object_path(dataset, "grasps", object_id))
        keep = passing(grasps)
        parts, modes = np.asarray(grasps["part_id"])[keep], np.asarray(grasps["mode"]).astype(str)[keep]
        covered.update((object_id, int(p), str(m)) for p, m in zip(parts, modes))
    return covered


def load_scene(dataset: str, object_id: str, entry: dict) -> EvalScene:
    """The EvalScene of one manifest entry ({"split", "tabletop"}); a missing cache file names the path."""
    for kind in ("objects", "grasps"):
        if not os.path.exists(_object_path(dataset, kind, object_id)):
            raise FileNotFoundError(f"{_object_path(dataset, kind, object_id)}: listed in the manifest but missing")
    grasps = grasp_io.load_grasps(_object_path(dataset, "grasps", object_id))
    placement = entry.get("tabletop") or grasps.get("tabletop")
    if not placement:
        raise ValueError(f"{dataset}: object {object_id!r} has no tabletop placement (manifest or grasp file)")
    return EvalScene(object_id=object_id, obj=objects_lib.load_processed(_object_path(dataset, "objects", object_id)),
                     tabletop=Tabletop.from_json(placement), split=str(entry["split"]), grasps=grasps)


def load_scenes(dataset: str, splits=(), categories=(), objects_per_split: int | None = None) -> list[EvalScene]:
    """The dataset's objects as placed, optionally only some splits (dataset split names) and categories, and at
    most `objects_per_split` per split (in object-id order)."""
    table = dataset_objects(dataset)
    unknown = [s for s in splits if s not in SPLIT_LABELS]
    if unknown:
        raise ValueError(f"splits: unknown {unknown}; dataset splits are {list(SPLIT_LABELS)}")
    counts, scenes = collections.Counter(), []
    for object_id in sorted(table):
        entry = table[object_id]
        if splits and entry["split"] not in splits:
            continue
        if objects_per_split is not None and counts[entry["split"]] >= objects_per_split:
            continue
        scene = load_scene(dataset, object_id, entry)
        if categories and scene.category not in categories:
            continue
        counts[entry["split"]] += 1
        scenes.append(scene)
    return scenes


def uncovered_reason(grasps: dict, part_id: int, mode: str) -> str | None:
    """None when the grasp file has a sim-passing grasp for (part, mode); else why not."""
    rows = (np.asarray(grasps["part_id"]) == part_id) & (np.asarray(grasps["mode"]).astype(str) == mode)
    if not rows.any():
        return "no grasp was synthesised for this part and mode"
    if (rows & passing(grasps)).any():
        return None
    valid = rows & np.asarray(grasps["valid"], bool)
    if not valid.any():
        status = collections.Counter(np.asarray(grasps["status"]).astype(str)[rows].tolist())
        return status.most_common(1)[0][0]
    reasons = collections.Counter(np.asarray(grasps["sim_reason"]).astype(str)[valid].tolist())
    return f"no grasp passed the simulation filter ({reasons.most_common(1)[0][0]})"


def scene_conditions(scene: EvalScene, modes=("wrap", "pinch"), max_parts: int | None = None
                     ) -> tuple[list[Condition], list[dict]]:
    """The conditions of one object (its first `max_parts` parts x `modes`): (covered conditions, skipped
    [{"object_id", "split", "part", "mode", "reason"}])."""
    covered, skipped = [], []
    for part in range(scene.obj.num_parts)[:max_parts]:
        name = scene.obj.part_names[part]
        for mode in modes:
            reason = uncovered_reason(scene.grasps, part, mode)
            if reason is None:
                covered.append(Condition(scene.object_id, part, name, mode))
            else:
                skipped.append({"object_id": scene.object_id, "split": scene.split, "part": name, "mode": mode,
                                "reason": reason})
    return covered, skipped
