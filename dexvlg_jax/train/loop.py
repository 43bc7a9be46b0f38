"""The training loop: mesh, data, state (fresh, pretrained or resumed), jitted steps, metrics, checkpoints.

`train(config, workdir)` is idempotent under preemption: it resumes from the newest restorable checkpoint in
`<workdir>/checkpoints` (train state and data-iterator position), trains to `config.num_steps`, saves every
`checkpoint_every` steps and at the end, and on SIGTERM (or JAX's multi-host preemption notice) saves the current
step and returns. Files in `workdir`: checkpoints/, metrics.jsonl, tensorboard/ (if a writer is installed),
config.json.
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Callable, Sequence

import jax
import numpy as np
import tqdm
from etils import epath

from dexvlg_jax import atomic_io
from dexvlg_jax.models import weights
from dexvlg_jax.models.variants import DexVLGConfig
from dexvlg_jax.models.vlg import DexVLG
from dexvlg_jax.train import sharding as sharding_lib
from dexvlg_jax.train.checkpoint import Checkpointer
from dexvlg_jax.train.curves import FixedBatchLoss
from dexvlg_jax.train.input_pipeline import MODEL_KEYS, dataset_pose_statistics, make_train_loader
from dexvlg_jax.train.metrics import MetricWriter
from dexvlg_jax.train.optimizer import count_trainable
from dexvlg_jax.train.run_config import TrainConfig, config_to_json, train_config_from_json  # noqa: F401 (re-exported)
from dexvlg_jax.train.state import TrainState, init_train_state, train_state_layout
from dexvlg_jax.train.step import make_train_step

Hook = Callable[[int, dict, dict], None]  # (step after the update, host batch, device metrics) -> None


@dataclasses.dataclass
class TrainResult:
    state: TrainState
    step: int
    resumed_from: int | None
    preempted: bool
    last_metrics: dict


def maybe_initialize_distributed() -> bool:
    """Calls `jax.distributed.initialize()` when the environment describes several processes (explicit
    JAX_COORDINATOR_ADDRESS/JAX_NUM_PROCESSES/JAX_PROCESS_ID, a multi-worker TPU slice, or SLURM with
    several tasks). Must run before anything touches the JAX backend. Returns whether it initialised."""
    env = os.environ
    if jax.distributed.is_initialized():
        return False
    if env.get("JAX_COORDINATOR_ADDRESS"):
        jax.distributed.initialize(coordinator_address=env["JAX_COORDINATOR_ADDRESS"],
                                   num_processes=int(env["JAX_NUM_PROCESSES"]),
                                   process_id=int(env["JAX_PROCESS_ID"]))
        return True
    multi_tpu = "," in env.get("TPU_WORKER_HOSTNAMES", "")
    multi_slurm = int(env.get("SLURM_NTASKS", "1")) > 1
    if multi_tpu or multi_slurm:
        jax.distributed.initialize()
        return True
    return False


def load_pretrained(path: str, model: DexVLGConfig) -> dict:
    """A PaliGemma checkpoint as a nested float32 numpy tree `{img, llm}` (big_vision .npz or HF safetensors)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"pretrained checkpoint {path!r} does not exist")
    if path.endswith(".npz"):
        return weights.load_npz(path, dtype=np.float32)
    return weights.load_hf_paligemma(path, model.vlm)


class _Preemption:
    """Sets a flag on SIGTERM (main thread only) instead of dying; the loop saves and returns."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame):
        print("SIGTERM received: saving a checkpoint and stopping", flush=True)
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def resolve_model_config(config: TrainConfig) -> DexVLGConfig:
    """The model config with the dataset's pose statistics when available."""
    if config.data.path is not None and config.data.use_pose_statistics:
        mean, std = dataset_pose_statistics(config.data.path, config.data.split)
        return config.model.replace(pose_mean=mean, pose_std=std)
    return config.model


def train(config: TrainConfig, workdir: str, hooks: Sequence[Hook] = (), progress: bool = True) -> TrainResult:
    """Runs (or resumes) training; see the module docstring. Returns the final state and bookkeeping."""
    maybe_initialize_distributed()
    epath.Path(workdir).mkdir(parents=True, exist_ok=True)
    model_config = resolve_model_config(config)
    config = dataclasses.replace(config, model=model_config)
    config_json = config_to_json(config)
    if jax.process_index() == 0:
        if "://" in workdir:  # object stores replace whole objects: already atomic
            epath.Path(workdir, "config.json").write_text(json.dumps(config_json, indent=1))
        else:
            atomic_io.write_json(os.path.join(workdir, "config.json"), config_json, indent=1)

    mesh = sharding_lib.make_mesh(config.fsdp)
    local_batch = sharding_lib.check_batch_size(config.batch_size, mesh)
    model = DexVLG(model_config)
    loader = make_train_loader(config.data, model_config, local_batch, seed=config.seed)
    data_iter = iter(loader)
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints,
                                config.async_checkpoint, keep_period=config.keep_period)

    shapes, shardings, optimizer = train_state_layout(model.init, config.optimizer, mesh, config.min_fsdp_bytes)
    # A config that no longer fits the saved state raises ConfigMismatchError (nothing moved); steps that cannot be
    # read fall back to an earlier good one; a workdir with checkpoints never silently restarts from step 0.
    restored = checkpointer.restore_latest(shapes, shardings, data_iter, config=config_json)
    if restored is not None:
        state, resumed_from = restored
        print(f"resumed from {checkpointer.directory}/{resumed_from}", flush=True)
    else:
        pretrained = load_pretrained(config.pretrained, model_config) if config.pretrained else None
        state, shardings, optimizer = init_train_state(model.init, config.optimizer, config.seed, mesh,
                                                       config.min_fsdp_bytes, pretrained)
        resumed_from = None
    trainable, total = count_trainable(shapes.params, config.optimizer)
    print(f"mesh {dict(mesh.shape)}, global batch {config.batch_size}, parameters {total:,} "
          f"({trainable:,} trainable), start step {int(state.step)}", flush=True)

    step_fn = make_train_step(model.compute_loss, optimizer, config.optimizer, shardings, mesh)
    writer = MetricWriter(workdir)
    curves = ({split: FixedBatchLoss(config, model, mesh, split) for split in (config.data.split, config.heldout_split)}
              if config.heldout_split else {})
    start = int(state.step)
    end = config.num_steps if config.stop_after is None else min(config.num_steps, start + config.stop_after)
    pending: list[dict] = []
    last_metrics: dict = {}
    preempted = False
    bar = tqdm.tqdm(total=config.num_steps, initial=start, disable=not progress or jax.process_index() != 0,
                    desc="train", dynamic_ncols=True)
    interval_start, interval_steps = time.time(), 0
    try:
        with _Preemption() as preemption:
            step = start
            while step < end:
                batch = next(data_iter)
                model_batch = sharding_lib.shard_batch({k: batch[k] for k in MODEL_KEYS}, mesh)
                state, metrics = step_fn(state, model_batch)
                step += 1
                interval_steps += 1
                pending.append(metrics)
                bar.update(1)
                for hook in hooks:
                    hook(step, batch, metrics)
                if step % config.log_every == 0 or step == end:
                    last_metrics = _summarise(pending, step, interval_start, interval_steps, config.batch_size)
                    bar.set_postfix(loss=f"{last_metrics['loss']:.4f}")
                    writer.write(step, last_metrics)
                    pending, interval_start, interval_steps = [], time.time(), 0
                if curves and (step % config.heldout_every == 0 or step == end):
                    writer.write(step, {f"curve_loss/{split}": loss(state) for split, loss in curves.items()})
                preempted = preemption.requested or checkpointer.reached_preemption(step)
                if step % config.checkpoint_every == 0 or step == end or preempted:
                    checkpointer.save(step, state, data_iter, config_json)
                if preempted:
                    break
    finally:
        bar.close()
        writer.close()
        checkpointer.close()
    return TrainResult(state=state, step=int(state.step), resumed_from=resumed_from, preempted=preempted,
                       last_metrics=last_metrics)


def _summarise(pending: list[dict], step: int, start_time: float, steps: int, batch_size: int) -> dict:
    """Means of the interval's device metrics on the host, plus throughput; raises on a non-finite loss."""
    host = jax.device_get(pending)
    summary = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
    if not np.isfinite(summary["loss"]):
        raise FloatingPointError(f"train: non-finite loss {summary['loss']} at step {step}; the last checkpoint "
                                 "is left as it was")
    seconds = max(time.time() - start_time, 1e-9)
    summary["steps_per_second"] = steps / seconds
    summary["examples_per_second"] = steps * batch_size / seconds
    return summary
