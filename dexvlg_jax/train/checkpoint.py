"""Checkpoints with orbax: train state + grain data-iterator state + config JSON, one directory per step.

Layout under `directory` (normally `<workdir>/checkpoints`):

    <step>/state/    the TrainState (step, params, opt_state, ema_params, rng), sharded arrays (orbax)
    <step>/data/     the grain iterator state, one JSON per process (so the data order resumes exactly)
    <step>/config/   the run's configuration as JSON (for the record; restore does not read it)

Saving is asynchronous (device -> host copy blocks, the write does not); `wait()` blocks until it is on disk.
Orbax writes a step into a temporary directory and renames it when complete, so an interrupted save never
appears as a step. A step that exists but cannot be restored (files deleted, truncated or corrupt) is moved to
`<directory>/../checkpoints_corrupt/<step>` with a warning and the previous step is tried; if every step fails,
`CheckpointError` is raised naming each failure. Restoring never silently falls back to a fresh initialisation.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any

import grain
import jax
import orbax.checkpoint as ocp

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    """No checkpoint step in a directory could be restored."""


def _abstract(tree: Any, shardings: Any) -> Any:
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)


class Checkpointer:
    """A thin wrapper over `ocp.CheckpointManager` with the items "state", "data" and "config".

    Args:
      directory: where step directories live (local path or gs://...); created if missing.
      max_to_keep: number of most recent steps kept (older ones are deleted after a save).
      async_save: write in a background thread.
    """

    def __init__(self, directory: str, max_to_keep: int = 3, async_save: bool = True):
        self.directory = os.path.abspath(directory) if "://" not in directory else directory
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                               enable_async_checkpointing=async_save,
                                               cleanup_tmp_directories=True)
        self.manager = ocp.CheckpointManager(
            self.directory, options=options,
            item_handlers={"state": ocp.StandardCheckpointHandler(), "data": grain.checkpoint.CheckpointHandler(),
                           "config": ocp.JsonCheckpointHandler()})

    # ----- queries -----
    def all_steps(self) -> list[int]:
        """Finished steps on disk, ascending."""
        return sorted(self.manager.all_steps())

    def latest_step(self) -> int | None:
        steps = self.all_steps()
        return steps[-1] if steps else None

    # ----- save -----
    def save(self, step: int, state: Any, data_iterator: Any | None = None, config: dict | None = None,
             force: bool = True) -> bool:
        """Starts saving `state` (and the iterator's position and `config`) as `step`; returns True if it saves."""
        items = {"state": ocp.args.StandardSave(state)}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        if config is not None:
            items["config"] = ocp.args.JsonSave(config)
        return self.manager.save(int(step), args=ocp.args.Composite(**items), force=force)

    def reached_preemption(self, step: int) -> bool:
        """True when JAX's preemption service says every process should save now (multi-host TPU)."""
        return bool(self.manager.reached_preemption(int(step)))

    def wait(self) -> None:
        """Blocks until pending asynchronous saves are on disk."""
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()

    # ----- restore -----
    def restore(self, step: int, state_like: Any, state_shardings: Any, data_iterator: Any | None = None) -> Any:
        """Restores `step` into arrays laid out like `state_shardings` (and the iterator's state in place)."""
        items = {"state": ocp.args.StandardRestore(_abstract(state_like, state_shardings))}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        restored = self.manager.restore(int(step), args=ocp.args.Composite(**items))
        return restored["state"]

    def restore_latest(self, state_like: Any, state_shardings: Any,
                       data_iterator: Any | None = None) -> tuple[Any, int] | None:
        """Restores the newest restorable step; returns (state, step), or None if the directory has no steps.

        A step that fails to restore is moved aside (see the module docstring) and the previous one is tried.
        Raises `CheckpointError` when steps exist but none restores.
        """
        failures = []
        for step in reversed(self.all_steps()):
            try:
                return self.restore(step, state_like, state_shardings, data_iterator), step
            except Exception as err:  # orbax/tensorstore raise many types for missing or corrupt files
                path = os.path.join(self.directory, str(step))
                message = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                failures.append(f"step {step} ({path}): {message}")
                log.warning("checkpoint step %d at %s cannot be restored (%s); trying the previous step",
                            step, path, message)
                print(f"WARNING: checkpoint {path} cannot be restored ({message}); "
                      "moving it aside and trying the previous step", flush=True)
                self._move_aside(step)
        if failures:
            raise CheckpointError(f"no checkpoint in {self.directory} could be restored; refusing to start from "
                                  "scratch (delete the directory to start over). Failures:\n  "
                                  + "\n  ".join(failures))
        return None

    def _move_aside(self, step: int) -> None:
        """Moves a broken step to `<directory>/../checkpoints_corrupt/<step>-<time>` so it is not retried or
        overwritten; local filesystems only (elsewhere it stays and is skipped by the caller's error)."""
        source = os.path.join(self.directory, str(step))
        if jax.process_index() == 0 and "://" not in self.directory and os.path.isdir(source):
            target_root = os.path.join(os.path.dirname(self.directory.rstrip("/")), "checkpoints_corrupt")
            os.makedirs(target_root, exist_ok=True)
            shutil.move(source, os.path.join(target_root, f"{step}-{int(time.time())}"))
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            multihost_utils.sync_global_devices(f"dexvlg_checkpoint_move_aside_{step}")
        self.manager.reload()


def checkpoint_directory(path: str) -> str:
    """A training workdir (with `checkpoints/` inside) or a checkpoints directory -> the checkpoints directory."""
    candidate = os.path.join(path, "checkpoints")
    return candidate if os.path.isdir(candidate) else path


def load_checkpoint(path: str, step: int | None = None, mesh=None):
    """Loads a finished training run for inference: (TrainConfig, TrainState, step).

    `path` is a training workdir or its checkpoints directory; `step` defaults to the newest restorable one.
    The config comes from the checkpoint itself, so no config file is needed; arrays are laid out on `mesh`
    (default: all devices, replicated parameters below the FSDP threshold as in training).
    """
    from dexvlg_jax.models.vlg import DexVLG
    from dexvlg_jax.train import sharding as sharding_lib
    from dexvlg_jax.train.loop import train_config_from_json
    from dexvlg_jax.train.state import train_state_layout

    directory = checkpoint_directory(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"load_checkpoint: {path!r} is neither a training workdir nor a checkpoints "
                                "directory")
    checkpointer = Checkpointer(directory, async_save=False)
    steps = checkpointer.all_steps()
    if not steps:
        raise CheckpointError(f"load_checkpoint: no finished checkpoint step in {directory}")
    step = steps[-1] if step is None else int(step)
    if step not in steps:
        raise CheckpointError(f"load_checkpoint: step {step} not in {directory} (steps: {steps})")
    payload = checkpointer.manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    config = train_config_from_json(payload["config"])
    if mesh is None:
        fsdp = config.fsdp if config.fsdp > 0 and jax.device_count() % config.fsdp == 0 else -1
        mesh = sharding_lib.make_mesh(fsdp)
    shapes, shardings, _ = train_state_layout(DexVLG(config.model).init, config.optimizer, mesh,
                                              config.min_fsdp_bytes)
    try:
        state = checkpointer.restore(step, shapes, shardings)
    except Exception as err:
        raise CheckpointError(f"load_checkpoint: step {step} in {directory} cannot be restored: "
                              f"{type(err).__name__}: {err}") from err
    finally:
        checkpointer.close()
    return config, state, step
