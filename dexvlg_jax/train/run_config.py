"""The training run's configuration: `TrainConfig` and its JSON form (saved in every checkpoint and as
`<workdir>/config.json`; `load_checkpoint` reads it back). Kept apart from the loop so that the checkpoint code can
read a saved configuration without importing the loop (no import circle)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from dexvlg_jax.config_convert import to_dataclass
from dexvlg_jax.models.variants import DexVLGConfig
from dexvlg_jax.train.input_pipeline import DataConfig
from dexvlg_jax.train.optimizer import OptimizerConfig
from dexvlg_jax.train.sharding import DEFAULT_MIN_FSDP_BYTES


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Attributes:
      model: the DexVLG variant (its pose_mean/pose_std are replaced by the dataset's when
        `data.use_pose_statistics` and `data.path` are set).
      optimizer: optimiser and schedule (`optimizer.total_steps` is usually `num_steps`).
      data: the input pipeline.
      batch_size: GLOBAL batch (divisible by the device count and the process count).
      num_steps: train until the state's step reaches this.
      seed: parameter init, training noise and data order all derive from it.
      fsdp: devices per FSDP group in the (data, fsdp) mesh; -1 = all devices.
      min_fsdp_bytes: arrays smaller than this are replicated.
      log_every: steps between metric records (means over the interval).
      checkpoint_every: steps between checkpoints (also at the end and on preemption).
      keep_checkpoints: how many recent checkpoints to keep.
      keep_period: also keep every checkpoint whose step is a multiple of this (points along the learning curve
        to evaluate afterwards: the held-out loss can turn up long before the end); None = only the recent ones.
      async_checkpoint: write checkpoints in the background.
      pretrained: optional PaliGemma weights for the VLM: a big_vision `.npz` or HF safetensors (file/dir).
      stop_after: if set, return after this many steps in this call (time-boxed jobs); resuming continues.
      heldout_split: a dataset split for learning curves (e.g. "test_unseen_instance"); every `heldout_every`
        steps (and at the end) the loop logs `curve_loss/train` and `curve_loss/<heldout_split>`, the loss on
        `heldout_batches` fixed batches of each with fixed noise (`train.curves`). None = no curves.
    """

    model: DexVLGConfig
    optimizer: OptimizerConfig = OptimizerConfig()
    data: DataConfig = DataConfig()
    batch_size: int = 8
    num_steps: int = 100
    seed: int = 0
    fsdp: int = -1
    min_fsdp_bytes: int = DEFAULT_MIN_FSDP_BYTES
    log_every: int = 10
    checkpoint_every: int = 100
    keep_checkpoints: int = 3
    keep_period: int | None = None
    async_checkpoint: bool = True
    pretrained: str | None = None
    stop_after: int | None = None
    heldout_split: str | None = None
    heldout_every: int = 500
    heldout_batches: int = 8


def config_to_json(config: Any) -> dict:
    """A dataclass tree -> JSON-compatible dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def train_config_from_json(payload: dict) -> TrainConfig:
    """Inverse of `config_to_json` for a TrainConfig (e.g. a checkpoint's saved config)."""
    return to_dataclass(TrainConfig, payload, ignore_unknown=True)
