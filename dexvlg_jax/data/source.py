"""Reading: a grain ArrayRecord data source over the shards, picklable transforms, an in-memory cache of the
transformed examples (`MemoizedExamples`, for datasets read for many epochs), and the DataLoader.

Transforms are module-level `grain.transforms.Map` classes holding only plain data (numpy arrays, ints, a
tokenizer object), so they pickle into grain worker processes. Typical chain:

    DecodeRecord() -> ResizeCrop(224) -> BackProjectDepth() -> RawPose()
      -> TokenizeInstruction(tokenizer, max_len) -> SelectFeatures(MODEL_FEATURES)

"pose" is the raw camera-frame pose: the model normalises it with its own `pose_mean/pose_std` (`models.vlg`).
Back-projection: `render.camera.backproject` (pinhole, OpenCV axes, pixel centres at integer coordinates).
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from absl import flags
import grain
import numpy as np

from dexvlg_jax.data.schema import decode_record
from dexvlg_jax.data.writer import read_manifest, shard_paths
from dexvlg_jax.render.camera import backproject

MODEL_FEATURES = ("rgb", "depth", "points", "part_mask", "intrinsics", "pose", "tokens", "token_mask", "part_id")


def open_data_source(paths: str | os.PathLike | Sequence[str], split: str | None = None):
    """grain ArrayRecordDataSource over shard files, or over the `split` shards of a dataset directory."""
    if isinstance(paths, (str, os.PathLike)) and os.path.isdir(paths):
        paths = shard_paths(paths, split)
    elif isinstance(paths, (str, os.PathLike)):
        paths = [os.fspath(paths)]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError(f"open_data_source: no shard files (split={split!r})")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"open_data_source: shard files do not exist: {missing}")
    return grain.sources.ArrayRecordDataSource(paths)


def pose_statistics(out_dir: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(mean (25,), std (25,)) float32 of pose_camera over `split`, from the manifest."""
    stats = read_manifest(out_dir)["pose_statistics"]
    if split not in stats:
        raise KeyError(f"{out_dir}: manifest has no pose statistics for split {split!r} (has {sorted(stats)})")
    return np.asarray(stats[split]["mean"], np.float32), np.asarray(stats[split]["std"], np.float32)


class DecodeRecord(grain.transforms.Map):
    """bytes -> dict of numpy arrays (GraspRecord.to_dict(); strings as 0-d unicode arrays)."""

    def map(self, element):
        return decode_record(element).to_dict()


class RawPose(grain.transforms.Map):
    """Adds "pose" (25,) float32 = the raw camera-frame pose (the model normalises it, `DexVLG.normalize`)."""

    def map(self, element):
        return {**element, "pose": np.asarray(element["pose_camera"], np.float32)}


class TokenizeInstruction(grain.transforms.Map):
    """Adds "tokens" (L,) int32 and "token_mask" (L,) bool from "instruction".

    `tokenizer` is any picklable object with `encode(text: str, max_len) -> (tokens (L,), mask (L,))`, e.g.
    dexvlg_jax.data.tokenizer.Tokenizer.
    """

    def __init__(self, tokenizer, max_len: int):
        self.tokenizer = tokenizer
        self.max_len = int(max_len)

    def map(self, element):
        element = dict(element)
        tokens, mask = self.tokenizer.encode(str(element["instruction"]), self.max_len)
        element["tokens"] = np.asarray(tokens, np.int32)
        element["token_mask"] = np.asarray(mask, bool)
        return element


def resize_crop(rgb, depth, part_mask, intrinsics, size: int):
    """Centre-crop to a square, resize to (size, size); returns the new arrays and intrinsics (3, 3).

    RGB is resized bilinearly; depth and mask with nearest neighbour (no mixed depths / labels).
    """
    from PIL import Image

    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = (slice(top, top + side), slice(left, left + side))
    scale = size / side

    def resize(image, resample):
        return np.asarray(Image.fromarray(image).resize((size, size), resample))

    new_rgb = resize(np.ascontiguousarray(rgb[crop]), Image.BILINEAR)
    new_depth = resize(np.ascontiguousarray(depth[crop], np.float32), Image.NEAREST)
    new_mask = resize(np.ascontiguousarray(part_mask[crop], np.int32), Image.NEAREST)
    k = np.asarray(intrinsics, np.float64).copy()
    k[0, 2] -= left
    k[1, 2] -= top
    # Pixel centres at integer coordinates: u' + 0.5 = s (u + 0.5).
    k[0, 0] *= scale
    k[1, 1] *= scale
    k[0, 2] = scale * (k[0, 2] + 0.5) - 0.5
    k[1, 2] = scale * (k[1, 2] + 0.5) - 0.5
    return new_rgb, new_depth.astype(np.float32), new_mask.astype(np.int32), k.astype(np.float32)


class ResizeCrop(grain.transforms.Map):
    """Centre-crop + resize rgb / depth / part_mask to (size, size) and update intrinsics accordingly."""

    def __init__(self, size: int):
        self.size = int(size)

    def map(self, element):
        element = dict(element)
        rgb, depth, mask, k = resize_crop(element["rgb"], element["depth"], element["part_mask"],
                                          element["intrinsics"], self.size)
        element.update(rgb=rgb, depth=depth, part_mask=mask, intrinsics=k)
        return element


class BackProjectDepth(grain.transforms.Map):
    """Adds "points" (H, W, 3) float32: the depth back-projected into the camera frame (metres; zeros where there
    is no surface), by `render.camera.backproject`."""

    def map(self, element):
        element = dict(element)
        depth = np.asarray(element["depth"], np.float32)
        element["points"] = backproject(depth, np.asarray(element["intrinsics"], np.float32))
        return element


class SelectFeatures(grain.transforms.Map):
    """Keeps only `keys` (those present), so that batches hold numeric arrays only."""

    def __init__(self, keys: Sequence[str] = MODEL_FEATURES):
        self.keys = tuple(keys)

    def map(self, element):
        return {k: element[k] for k in self.keys if k in element}


def default_operations(tokenizer=None, max_len: int = 32, image_size: int | None = None,
                       keys: Sequence[str] = MODEL_FEATURES) -> list:
    """The standard transform chain (tokenisation only when a tokenizer is given)."""
    operations = [DecodeRecord()]
    if image_size is not None:
        operations.append(ResizeCrop(image_size))
    operations += [BackProjectDepth(), RawPose()]
    if tokenizer is not None:
        operations.append(TokenizeInstruction(tokenizer, max_len))
    operations.append(SelectFeatures(keys))
    return operations


def make_data_loader(paths, batch_size: int, operations: Sequence | None = None, *, seed: int = 0,
                     num_epochs: int | None = None, shuffle: bool = True, shard_by_process: bool = True,
                     worker_count: int = 0, drop_remainder: bool = True, split: str | None = None,
                     cache_bytes: int = 0, augment: Sequence = (), read_threads: int = 16):
    """grain DataLoader over shards (`paths`: files or a dataset directory + `split`).

    Each JAX process reads its own slice of the records (`ShardByJaxProcess`) when `shard_by_process`;
    `batch_size` is per process. `operations` default to `[DecodeRecord()]`; a `Batch` is appended. The loader's
    iterator supports `get_state()` / `set_state(state)` (JSON bytes) for checkpointing. cache_bytes > 0: the
    operations must be deterministic (no random augmentation); their results are kept in memory up to that many
    bytes (`MemoizedExamples`), so later epochs skip decoding. augment: random transforms run after the
    operations (and after the cache), e.g. `data.augment.RollAboutOpticalAxis`. read_threads: threads that read
    (and, through the cache, decode) records ahead of the batches, 0 = read in the loader's own thread (see
    `train.DataConfig.read_threads`).
    """
    source = open_data_source(paths, split)
    operations = list(operations) if operations is not None else [DecodeRecord()]
    if cache_bytes > 0:  # the operations run inside the source, once per record while the cache has room
        source, operations = MemoizedExamples(source, operations, cache_bytes), []
    shard_options = (grain.sharding.ShardByJaxProcess(drop_remainder=True) if shard_by_process
                     else grain.sharding.NoSharding())
    sampler = grain.samplers.IndexSampler(num_records=len(source), shard_options=shard_options, shuffle=shuffle,
                                          num_epochs=num_epochs, seed=seed)
    operations += list(augment)
    operations.append(grain.transforms.Batch(batch_size=batch_size, drop_remainder=drop_remainder))
    read = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=32 * read_threads)
    return grain_loader(source, sampler, operations, worker_count, read)


class MemoizedExamples:
    """A random-access source: record i of `source` passed through the deterministic `operations`, each result
    kept in memory until `max_bytes` (the arrays' nbytes) are held; records beyond that are recomputed each time.

    Decoding a record (an npz archive with 3 PNGs) costs ~1 ms on a 2-core CPU, a third of a tiny-model training
    step at batch 16 (measured on the demo dataset: loader 23 ms + step 42 ms per batch), and a small dataset is
    read for hundreds of epochs. Picklable (grain worker processes each hold their own cache).
    """

    def __init__(self, source, operations: Sequence, max_bytes: int):
        self.source, self.operations, self.max_bytes = source, tuple(operations), int(max_bytes)
        self._cache: dict[int, dict] = {}
        self._bytes = 0
        self._lock = threading.Lock()  # grain reads the source from several threads

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        example = self._cache.get(index)
        if example is None:
            example = self.source[index]
            for operation in self.operations:
                example = operation.map(example)
            size = sum(np.asarray(v).nbytes for v in example.values())
            with self._lock:
                if index not in self._cache and self._bytes + size <= self.max_bytes:
                    self._cache[index] = example
                    self._bytes += size
        return example

    def __getstate__(self):
        return {"source": self.source, "operations": self.operations, "max_bytes": self.max_bytes}

    def __setstate__(self, state):
        self.__init__(state["source"], state["operations"], state["max_bytes"])

    def __repr__(self) -> str:
        # What the source IS, not how full its cache is: grain stores the repr in the iterator state and refuses
        # a restore whose repr differs, and a resumed run starts with an empty cache.
        return f"MemoizedExamples({self.source!r}, {len(self.operations)} operations, max_bytes={self.max_bytes})"


def grain_loader(source, sampler, operations: Sequence, worker_count: int = 0,
                 read_options: grain.ReadOptions | None = None) -> grain.DataLoader:
    """`grain.DataLoader`, usable with worker processes outside an absl app too (a script, a notebook, pytest):
    grain's workers read absl flags, which raise `UnparsedFlagAccessError` until parsed, so unparsed flags are
    marked parsed with their defaults first."""
    if worker_count > 0 and not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return grain.DataLoader(data_source=source, sampler=sampler, operations=operations, worker_count=worker_count,
                            read_options=read_options)
