"""Checkpoints with orbax: train state + grain data-iterator state + config JSON, one directory per step.

Layout under `directory` (normally `<workdir>/checkpoints`):

    <step>/state/    the TrainState (step, params, opt_state, ema_params, rng), sharded arrays (orbax)
    <step>/data/     the grain iterator state, one JSON per process (so the data order resumes exactly)
    <step>/config/   the run's configuration as JSON (for the record; restore does not read it)

Saving is asynchronous (device -> host copy blocks, the write does not); `wait()` blocks until it is on disk.
Orbax writes a step into a temporary directory and renames it when complete, so an interrupted save never
appears as a step. Restore failures are classified:

- **Configuration mismatch**: the saved train state has other array names, shapes or dtypes than the configured
  one (another model width, other frozen groups, another optimiser): `ConfigMismatchError` says which arrays (and
  which config fields) differ and how to proceed (the old config, or a new workdir). Nothing is moved.
- **Unreadable step** (files deleted, truncated or corrupt): the previous step is tried; only once an earlier step
  restores are the unreadable newer ones moved to `<directory>/../checkpoints_corrupt/<step>-<time>`, with a
  warning. If no step restores, `CheckpointError` names the workdir and each failure and nothing is moved.

Restoring never silently falls back to a fresh initialisation. `load_checkpoint` (evaluation) skips unreadable
newer steps the same way but never moves anything.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from typing import Any

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp

from dexvlg_jax.cli_errors import UserError
from dexvlg_jax.models.vlg import DexVLG
from dexvlg_jax.train import sharding as sharding_lib
from dexvlg_jax.train.run_config import train_config_from_json
from dexvlg_jax.train.state import train_state_layout

log = logging.getLogger(__name__)


class CheckpointError(UserError, RuntimeError):
    """No checkpoint step in a directory could be restored (the user's input: the CLIs report it in one line)."""


class ConfigMismatchError(CheckpointError):
    """A checkpoint's saved train state does not match the configured one (tree structure, shapes or dtypes):
    the run's configuration changed, not the files. Nothing is moved aside."""


def _abstract(tree: Any, shardings: Any) -> Any:
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)


class Checkpointer:
    """A thin wrapper over `ocp.CheckpointManager` with the items "state", "data" and "config".

    Args:
      directory: where step directories live (local path or gs://...); created if missing.
      max_to_keep: number of most recent steps kept (older ones are deleted after a save).
      async_save: write in a background thread.
      keep_period: steps that are multiples of this are never deleted (None: none are kept beyond max_to_keep).
    """

    def __init__(self, directory: str, max_to_keep: int = 3, async_save: bool = True, keep_period: int | None = None):
        self.directory = os.path.abspath(directory) if "://" not in directory else directory
        if keep_period is not None and keep_period < 1:
            raise ValueError(f"Checkpointer: keep_period must be None or >= 1, got {keep_period}")
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, keep_period=keep_period, create=True,
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
        """Restores `step` into arrays laid out like `state_shardings` (and the iterator's state in place).

        Raises `ConfigMismatchError` when the saved arrays differ from `state_like` in names, shapes or dtypes
        (nothing is read then); any other exception means the step's files cannot be read.
        """
        differences = self.layout_differences(step, state_like)
        if differences:
            raise ConfigMismatchError(self._mismatch_message(step, differences, None))
        items = {"state": ocp.args.StandardRestore(_abstract(state_like, state_shardings))}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        restored = self.manager.restore(int(step), args=ocp.args.Composite(**items))
        return restored["state"]

    def saved_layout(self, step: int) -> dict[str, tuple[tuple[int, ...], str]]:
        """{array name: (shape, dtype)} of the saved train state of `step`, from orbax's metadata (small files;
        no array is read). Raises if the metadata is missing or unreadable (a corrupt step)."""
        metadata = self.manager.item_metadata(int(step))["state"]
        if metadata is None:
            raise FileNotFoundError(f"step {step} has no readable 'state' metadata")
        tree = getattr(metadata, "tree", metadata)
        layout = {}
        for leaf in jax.tree.leaves(tree):
            if hasattr(leaf, "shape") and hasattr(leaf, "name"):
                layout[str(leaf.name)] = (tuple(leaf.shape), _dtype_name(leaf.dtype))
        return layout

    def layout_differences(self, step: int, state_like: Any) -> list[str]:
        """How the configured state `state_like` differs from what `step` holds: one line per differing array
        (missing on either side, other shape, other dtype), sorted; [] when they match. Raises (like
        `saved_layout`) when the step's metadata cannot be read."""
        saved = self.saved_layout(step)
        wanted = _state_layout(state_like)
        lines = []
        for name in sorted(set(saved) | set(wanted)):
            if name not in wanted:
                lines.append(f"{name}: in the checkpoint {_fmt(saved[name])}, not in the configured state")
            elif name not in saved:
                lines.append(f"{name}: configured {_fmt(wanted[name])}, not in the checkpoint")
            elif saved[name] != wanted[name]:
                lines.append(f"{name}: checkpoint {_fmt(saved[name])}, configured {_fmt(wanted[name])}")
        return lines

    def saved_config(self, step: int) -> dict | None:
        """The run configuration saved with `step` (JSON), or None if it has none or it cannot be read."""
        try:
            payload = self.manager.restore(int(step), args=ocp.args.Composite(config=ocp.args.JsonRestore()))
            return payload["config"]
        except Exception:  # noqa: BLE001 - a missing or unreadable config item is reported by the caller
            return None

    def _mismatch_message(self, step: int, differences: list[str], config: dict | None) -> str:
        workdir = _workdir_of(self.directory)
        shown = "\n  ".join(differences[:_SHOWN_DIFFERENCES])
        more = len(differences) - _SHOWN_DIFFERENCES
        config_lines = ""
        if config is not None:
            changed = _config_differences(self.saved_config(step), config)
            if changed:
                config_lines = ("\nconfiguration fields that differ from the checkpoint's (saved -> now):\n  "
                                + "\n  ".join(changed[:_SHOWN_DIFFERENCES]))
        return (f"the checkpoint at {os.path.join(self.directory, str(step))} was saved with a different model or "
                f"optimizer configuration than the one given now: {len(differences)} array(s) differ\n  {shown}"
                + (f"\n  ... and {more} more" if more > 0 else "") + config_lines
                + f"\nTo continue that run, rerun with the configuration it was saved with ({workdir}/config.json "
                "records it); to train with the new configuration, pass a new --workdir. Nothing was moved or deleted.")

    def restore_latest(self, state_like: Any, state_shardings: Any, data_iterator: Any | None = None,
                       config: dict | None = None) -> tuple[Any, int] | None:
        """Restores the newest restorable step; returns (state, step), or None if the directory has no steps.

        Steps are tried newest first. A step whose saved arrays differ from `state_like` (another model width,
        other frozen parameter groups, ...) raises `ConfigMismatchError` at once, listing the differences (and
        the differing fields of `config`, the run's configuration JSON, when given); nothing is moved. A step
        whose files cannot be read is skipped; once an earlier step restores, the unreadable newer ones are
        moved aside with a warning (see the module docstring). When no step restores, `CheckpointError` names
        the directory and each failure, and nothing is moved: the run never silently starts from scratch.
        """
        unreadable: list[tuple[int, str]] = []
        for step in reversed(self.all_steps()):
            try:
                differences = self.layout_differences(step, state_like)
            except Exception as err:  # orbax/tensorstore raise many types for missing or corrupt files
                differences, problem = [], _one_line(err)
            else:
                problem = None
            if differences:
                raise ConfigMismatchError(self._mismatch_message(step, differences, config)
                                          + _unreadable_note(unreadable))
            if problem is None:
                try:
                    state = self.restore(step, state_like, state_shardings, data_iterator)
                except ConfigMismatchError:
                    raise
                except Exception as err:  # noqa: BLE001 - corrupt array data, see above
                    problem = _one_line(err)
                else:
                    for bad_step, message in unreadable:
                        self._move_aside(bad_step, message, step)
                    return state, step
            path = os.path.join(self.directory, str(step))
            log.warning("checkpoint step %d at %s cannot be restored (%s); trying the previous step",
                        step, path, problem)
            print(f"WARNING: checkpoint {path} cannot be restored ({problem}); trying the previous step", flush=True)
            unreadable.append((step, problem))
        if unreadable:
            failures = "\n  ".join(f"step {s} ({os.path.join(self.directory, str(s))}): {m}" for s, m in unreadable)
            raise CheckpointError(
                f"the training run in {_workdir_of(self.directory)} has checkpoints but none can be restored; "
                f"refusing to start from scratch. Failures:\n  {failures}\nNothing was moved or deleted. To start "
                f"over, pass a new --workdir (or delete {self.directory}); to recover, restore the step directories "
                "from a backup.")
        return None

    def _move_aside(self, step: int, reason: str, restored_step: int) -> None:
        """Moves an unreadable step to `<directory>/../checkpoints_corrupt/<step>-<time>` (so it is neither
        retried nor overwritten) after step `restored_step` restored; local filesystems only (elsewhere it stays,
        and a later save of the same step number replaces it)."""
        source = os.path.join(self.directory, str(step))
        target_root = os.path.join(os.path.dirname(self.directory.rstrip("/")), "checkpoints_corrupt")
        target = os.path.join(target_root, f"{step}-{int(time.time())}")
        if jax.process_index() == 0 and "://" not in self.directory and os.path.isdir(source):
            os.makedirs(target_root, exist_ok=True)
            shutil.move(source, target)
            print(f"WARNING: checkpoint step {step} cannot be restored ({reason}); restored the earlier step "
                  f"{restored_step} and moved {source} to {target}", flush=True)
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils
            multihost_utils.sync_global_devices(f"dexvlg_checkpoint_move_aside_{step}")
        self.manager.reload()


_SHOWN_DIFFERENCES = 5


def _fmt(entry: tuple[tuple[int, ...], str]) -> str:
    shape, dtype = entry
    return f"{dtype}{list(shape)}"


def _dtype_name(dtype: Any) -> str:
    try:
        return str(np.dtype(dtype))
    except TypeError:  # extended dtypes (PRNG keys)
        return str(dtype)


def _state_layout(state_like: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    """{orbax array name: (shape, dtype)} of a state tree (arrays or ShapeDtypeStructs), named as orbax names
    them when it saves (dotted key paths)."""
    from orbax.checkpoint._src.tree import utils as tree_utils

    leaves, _ = jax.tree_util.tree_flatten_with_path(state_like)
    return {tree_utils.param_name_from_keypath(path): (tuple(leaf.shape), _dtype_name(leaf.dtype))
            for path, leaf in leaves if hasattr(leaf, "shape")}


def _config_differences(saved: dict | None, current: dict, prefix: str = "") -> list[str]:
    """Dotted fields whose values differ between two configuration JSON dicts ("field: saved -> now")."""
    if not isinstance(saved, dict):
        return []
    lines = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            lines += _config_differences(a, b, name + ".")
        elif a != b and not key.startswith("pose_"):  # the dataset's pose statistics are not a choice
            lines.append(f"{name}: {_short(a)} -> {_short(b)}")
    return lines


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"


def _unreadable_note(unreadable: list[tuple[int, str]]) -> str:
    if not unreadable:
        return ""
    return "\n(newer steps that cannot be read were left in place: " + ", ".join(str(s) for s, _ in unreadable) + ")"


def _workdir_of(directory: str) -> str:
    """The training workdir of a checkpoints directory (its parent when it is named "checkpoints")."""
    stripped = directory.rstrip("/")
    return os.path.dirname(stripped) if os.path.basename(stripped) == "checkpoints" else stripped


def checkpoint_directory(path: str) -> str:
    """A training workdir (with `checkpoints/` inside) or a checkpoints directory -> the checkpoints directory."""
    candidate = os.path.join(path, "checkpoints")
    return candidate if os.path.isdir(candidate) else path


def _existing_checkpoint_directory(path: str, caller: str) -> str:
    """`checkpoint_directory(path)`, or FileNotFoundError naming `caller` and `path` when it does not exist."""
    directory = checkpoint_directory(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{caller}: {path!r} is neither a training workdir nor a checkpoints directory "
                                "(give a launch.train --workdir)")
    return directory


def kept_steps(path: str) -> list[int]:
    """Finished checkpoint steps of a training workdir (or its checkpoints directory), ascending."""
    checkpointer = Checkpointer(_existing_checkpoint_directory(path, "kept_steps"), async_save=False)
    try:
        return checkpointer.all_steps()
    finally:
        checkpointer.close()


def load_checkpoint(path: str, step: int | None = None, mesh=None):
    """Loads a finished training run for inference: (TrainConfig, TrainState, step).

    `path` is a training workdir or its checkpoints directory; `step` defaults to the newest restorable one:
    a newer step whose files cannot be read is skipped with a warning (never moved: evaluation may run beside
    training) and the one before it is used. The config comes from the checkpoint itself, so no config file is
    needed; arrays are laid out on `mesh` (default: all devices, replicated parameters below the FSDP threshold as
    in training). Raises `CheckpointError` when no (requested) step can be read, `ConfigMismatchError` when the
    saved arrays do not fit the model this code builds from the saved config.
    """
    directory = _existing_checkpoint_directory(path, "load_checkpoint")
    checkpointer = Checkpointer(directory, async_save=False)
    try:
        steps = checkpointer.all_steps()
        if not steps:
            raise CheckpointError(f"load_checkpoint: no finished checkpoint step in {directory}")
        if step is not None and int(step) not in steps:
            raise CheckpointError(f"load_checkpoint: step {step} not in {directory} (steps: {steps})")
        candidates = [int(step)] if step is not None else list(reversed(steps))
        failures = []
        layouts: dict[str, tuple] = {}
        for candidate in candidates:
            try:
                payload = checkpointer.manager.restore(candidate,
                                                       args=ocp.args.Composite(config=ocp.args.JsonRestore()))
                config = train_config_from_json(payload["config"])
                key = json.dumps(payload["config"], sort_keys=True, default=str)
                if key not in layouts:
                    run_mesh = mesh
                    if run_mesh is None:
                        fsdp = config.fsdp if config.fsdp > 0 and jax.device_count() % config.fsdp == 0 else -1
                        run_mesh = sharding_lib.make_mesh(fsdp)
                    layouts[key] = train_state_layout(DexVLG(config.model).init, config.optimizer, run_mesh,
                                                      config.min_fsdp_bytes)[:2]
                shapes, shardings = layouts[key]
                state = checkpointer.restore(candidate, shapes, shardings)
            except ConfigMismatchError:
                raise
            except Exception as err:  # noqa: BLE001 - missing / truncated / corrupt files
                failures.append(f"step {candidate} ({os.path.join(directory, str(candidate))}): {_one_line(err)}")
                print(f"WARNING: load_checkpoint: checkpoint {os.path.join(directory, str(candidate))} cannot be "
                      f"restored ({_one_line(err)})" + ("; trying the previous step" if step is None else ""),
                      flush=True)
                continue
            return config, state, candidate
        raise CheckpointError(f"load_checkpoint: no checkpoint step in {directory} can be restored:\n  "
                              + "\n  ".join(failures))
    finally:
        checkpointer.close()
