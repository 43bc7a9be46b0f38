"""Split assignment: which objects are for training and which for the seen / unseen-instance / unseen-category
tests. Deterministic (crc32 of the object id and a seed; independent of PYTHONHASHSEED and of the order of objects).
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

SPLITS = ("train", "test_seen", "test_unseen_instance", "test_unseen_category")


def _stable_fraction(key: str, seed: int) -> float:
    """Deterministic value in [0, 1) from a string and a seed (crc32; independent of PYTHONHASHSEED)."""
    return zlib.crc32(f"{seed}:{key}".encode()) / 2.0**32


def assign_splits(objects: Mapping[str, str], seed: int = 0, unseen_category_fraction: float = 0.2,
                  unseen_instance_fraction: float = 0.1, test_seen_fraction: float = 0.1,
                  unseen_categories: Sequence[str] | None = None) -> dict[str, str]:
    """Deterministic split of objects {object_id: category} -> {object_id: split}.

    Splits (SPLITS): whole categories go to "test_unseen_category" (`unseen_categories`, or a seeded
    `unseen_category_fraction` of the categories, at least one when there are >= 2 categories); of the other
    (seen) categories' objects, `unseen_instance_fraction` go to "test_unseen_instance" (instances never trained on),
    and `test_seen_fraction` go to "test_seen" (the paper's test split of seen objects; same objects are not shared
    with train either, the distinction is kept so the evaluation can report them separately); the rest is "train".
    The result depends only on the ids, categories and seed (not on dict order).
    """
    categories = sorted(set(objects.values()))
    if unseen_categories is None:
        ranked = sorted(categories, key=lambda c: _stable_fraction("category:" + c, seed))
        count = int(round(unseen_category_fraction * len(categories)))
        if unseen_category_fraction > 0 and len(categories) >= 2:
            count = max(count, 1)
        unseen_categories = ranked[:min(count, len(categories) - 1)] if count else []
    unknown = set(unseen_categories) - set(categories)
    if unknown:
        raise ValueError(f"assign_splits: unseen_categories {sorted(unknown)} have no objects")
    splits = {}
    for object_id in sorted(objects):
        if objects[object_id] in unseen_categories:
            splits[object_id] = "test_unseen_category"
            continue
        u = _stable_fraction("object:" + object_id, seed)
        if u < unseen_instance_fraction:
            splits[object_id] = "test_unseen_instance"
        elif u < unseen_instance_fraction + test_seen_fraction:
            splits[object_id] = "test_seen"
        else:
            splits[object_id] = "train"
    return splits
