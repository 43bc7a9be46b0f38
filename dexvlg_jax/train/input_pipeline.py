"""Training input: grain loaders yielding the model's batch dict, from a dataset directory or synthetic records.

Batches are dicts of numpy arrays with a leading per-process batch axis b = global_batch / process_count:

    image (b, H, W, 3) float32 in [-1, 1]; depth (b, H, W) float32 metres; intrinsics (b, 3, 3) float32 pixels;
    tokens (b, L) int32; token_mask (b, L) bool; pose (b, 25) float32 RAW camera-frame pose (the model
    normalises with its `pose_mean/pose_std`, set from the dataset manifest by `dataset_pose_statistics`);
    index (b,) int64 record index (synthetic source only; used to check the data order).

Every process reads its own slice of the records (`ShardByJaxProcess`); the iterator's `get_state/set_state` is
checkpointed with the train state, so a resumed run continues with the next unseen batch.
"""
from __future__ import annotations

import dataclasses

import grain
import numpy as np

from dexvlg_jax.data.augment import InstructionNoise, RollAboutOpticalAxis, part_word_pieces
from dexvlg_jax.data.source import (DecodeRecord, ResizeCrop, TokenizeInstruction, grain_loader, make_data_loader,
                                    pose_statistics)
from dexvlg_jax.data.tokenizer import Tokenizer
from dexvlg_jax.data.writer import read_manifest
from dexvlg_jax.models.variants import DexVLGConfig
from dexvlg_jax.models.vlg import OBS_KEYS, fake_batch

MODEL_KEYS = OBS_KEYS + ("pose",)
MIN_POSE_STD = 1e-3  # floor of the per-dimension pose std (constant dimensions in a small dataset)


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where training examples come from.

    Attributes:
      path: dataset directory (ArrayRecord shards + manifest.json from `launch.build_dataset`); None = synthetic.
      split: the split trained on.
      num_synthetic: number of distinct synthetic records (only when `path` is None).
      worker_count: grain worker processes (0 = in the main process).
      tokenizer_path: SentencePiece model; None = the embedded instruction tokenizer.
      use_pose_statistics: set the model's pose_mean/pose_std from the manifest's statistics of `split`.
      cache_mb: decoded examples kept in memory per process (MiB; `data.source.MemoizedExamples`): a small
        dataset is decoded once instead of every epoch (the demo's training runs ~1.3x faster); 0 = off.
      roll_deg: each training example's camera is rolled about its optical axis by a uniform random angle in
        +-roll_deg degrees, image and grasp label together (`data.augment.RollAboutOpticalAxis`); 0 = off.
      token_noise: per-token probability that an instruction piece is dropped or replaced by a random one
        (`data.augment.InstructionNoise`); 0 = off.
      token_noise_keeps_parts: the noise leaves the part nouns alone (`data.augment.part_word_pieces` of the
        manifest's part names), so the part an instruction names always reaches the model.
      read_threads: threads reading records ahead of the batches (grain `ReadOptions`, 32 records buffered per
        thread); 0 = read in the loader's thread. A dataset that fits `cache_mb` is read from memory after its
        first epoch, where threads only add bookkeeping: the demo's loader took 2.7 ms per batch of 16 with 0,
        3.5 ms with 2, 7.7 ms with grain's default (16 threads, 500 records) on a 2-core CPU. Raise it for a
        dataset that does not fit the cache (every record decoded every epoch, ~1 ms each).
    """

    path: str | None = None
    split: str = "train"
    num_synthetic: int = 256
    worker_count: int = 0
    tokenizer_path: str | None = None
    use_pose_statistics: bool = True
    cache_mb: int = 512
    roll_deg: float = 0.0
    token_noise: float = 0.0
    token_noise_keeps_parts: bool = False
    read_threads: int = 0


class SyntheticSource:
    """A grain random-access source of `fake_batch`-style single examples (index i is seeded by i).

    Picklable (holds only the frozen model config), so it also works with grain worker processes.
    """

    def __init__(self, config: DexVLGConfig, num_records: int):
        if num_records <= 0:
            raise ValueError(f"SyntheticSource: num_records must be positive, got {num_records}")
        self.config = config
        self.num_records = int(num_records)

    def __len__(self) -> int:
        return self.num_records

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        example = {k: v[0] for k, v in fake_batch(self.config, batch_size=1, seed=index).items()}
        example["index"] = np.int64(index)
        return example

    def __repr__(self) -> str:
        return f"SyntheticSource(num_records={self.num_records})"


class ToModelInputs(grain.transforms.Map):
    """A decoded, resized, tokenised record -> the model's example (image in [-1, 1], raw camera-frame pose)."""

    def map(self, element):
        image = np.asarray(element["rgb"], np.float32) / 127.5 - 1.0
        return {"image": image.astype(np.float32),
                "depth": np.asarray(element["depth"], np.float32),
                "intrinsics": np.asarray(element["intrinsics"], np.float32),
                "tokens": np.asarray(element["tokens"], np.int32),
                "token_mask": np.asarray(element["token_mask"], bool),
                "pose": np.asarray(element["pose_camera"], np.float32)}


def instruction_noise(data: DataConfig, tokenizer: Tokenizer) -> InstructionNoise:
    """The training instructions' token noise; with `token_noise_keeps_parts`, the dataset's part nouns (its
    manifest's part counts) are never dropped or replaced."""
    protected = ()
    if data.token_noise_keeps_parts:
        parts = read_manifest(data.path).get("counts", {}).get("part")
        if not parts:
            raise ValueError(f"{data.path}: manifest.json has no part counts, which token_noise_keeps_parts needs "
                             "(rebuild the dataset with the current data engine)")
        protected = part_word_pieces(tokenizer, parts)
    return InstructionNoise(data.token_noise, tokenizer.vocab_size, protected)


def dataset_pose_statistics(path: str, split: str = "train") -> tuple[tuple, tuple]:
    """(mean (25,), std (25,)) of the raw camera-frame pose from the manifest, std floored at MIN_POSE_STD."""
    mean, std = pose_statistics(path, split)
    return tuple(float(v) for v in mean), tuple(float(max(v, MIN_POSE_STD)) for v in std)


def make_train_loader(data: DataConfig, model: DexVLGConfig, batch_size: int, seed: int,
                      num_epochs: int | None = None) -> grain.DataLoader:
    """The per-process training loader (`batch_size` examples per process per step, shuffled, endless by
    default)."""
    if data.path is None:
        source = SyntheticSource(model, data.num_synthetic)
        sampler = grain.samplers.IndexSampler(
            num_records=len(source), shard_options=grain.sharding.ShardByJaxProcess(drop_remainder=True),
            shuffle=True, num_epochs=num_epochs, seed=seed)
        return grain_loader(source, sampler, [grain.transforms.Batch(batch_size, drop_remainder=True)],
                            data.worker_count)

    tokenizer = Tokenizer(data.tokenizer_path)
    if tokenizer.vocab_size > model.vlm.llm.vocab_size:
        raise ValueError(f"tokenizer {tokenizer.model_path!r} has {tokenizer.vocab_size} pieces but the model's "
                         f"vocab_size is {model.vlm.llm.vocab_size}")
    operations = [DecodeRecord(), ResizeCrop(model.image_size), TokenizeInstruction(tokenizer, model.max_text_len),
                  ToModelInputs()]
    return make_data_loader(data.path, batch_size, operations, seed=seed, num_epochs=num_epochs, shuffle=True,
                            shard_by_process=True, worker_count=data.worker_count, split=data.split,
                            cache_bytes=data.cache_mb * 2**20,
                            augment=([RollAboutOpticalAxis(data.roll_deg)] if data.roll_deg else [])
                            + ([instruction_noise(data, tokenizer)] if data.token_noise else []),
                            read_threads=data.read_threads)
