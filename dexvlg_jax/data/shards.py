"""Shard planning and work sharding: objects of one split grouped into deterministic shards (a re-run plans the
same shards and skips done ones), and a host's share of the shards (`jax.process_index()` or `--shard i/n`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence


@dataclasses.dataclass(frozen=True)
class ShardSpec:
    """One unit of resumable work: the records of `object_ids` (all in `split`) go into shard `name`."""

    name: str
    split: str
    object_ids: tuple[str, ...]


def plan_shards(splits: Mapping[str, str], objects_per_shard: int) -> list[ShardSpec]:
    """Group objects {object_id: split} into shards of <= objects_per_shard objects, per split, sorted by id.

    Deterministic: the same inputs give the same shard names and contents, so a re-run can skip done shards.
    """
    if objects_per_shard < 1:
        raise ValueError(f"plan_shards: objects_per_shard must be >= 1, got {objects_per_shard}")
    specs = []
    for split in sorted(set(splits.values())):
        ids = sorted(k for k, v in splits.items() if v == split)
        for index, start in enumerate(range(0, len(ids), objects_per_shard)):
            specs.append(ShardSpec(f"{split}-{index:05d}", split, tuple(ids[start:start + objects_per_shard])))
    return specs


def shard_of_work(items: Sequence, index: int, count: int) -> list:
    """This worker's share of `items`: items[index::count] (round robin; disjoint and complete over workers).

    Use with (jax.process_index(), jax.process_count()) on a pod or with a `--shard i/n` flag on one machine.
    """
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard_of_work: need 0 <= index < count, got index={index}, count={count}")
    return list(items)[index::count]


def parse_shard_flag(flag: str) -> tuple[int, int]:
    """"i/n" -> (i, n) with 0 <= i < n."""
    try:
        index, count = (int(x) for x in flag.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {flag!r}") from None
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {flag!r}: need 0 <= i < n")
    return index, count
