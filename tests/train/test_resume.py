"""Resume and checkpoint robustness, through the real loop (`dexvlg_jax.train.train`) on the tiny config.

- 4 steps straight == 2 steps + SIGTERM (the loop saves and returns) + resume + 2 steps: bit-identical params,
  EMA and optimizer state, and the same data order (record indices of every batch).
- A corrupt newest checkpoint is moved aside with a warning and training continues from the previous step (and
  reaches the same params); when no step can be restored, `CheckpointError` names the workdir, nothing is
  reinitialised and nothing is moved; orbax's temporary (unfinished) step directories are never taken as steps.
- Rerunning a workdir with a configuration whose train state differs (other frozen groups) is a
  `ConfigMismatchError` naming the differing arrays and config fields; both healthy steps stay where they were.
- `load_checkpoint` (evaluation) skips a truncated newest step and loads the previous one, moving nothing.
"""
import dataclasses
import os
import shutil
import signal

import jax
import numpy as np
import pytest

from dexvlg_jax.train import CheckpointError, ConfigMismatchError, load_checkpoint, train
from tests.train.conftest import NUM_STEPS, tiny_train_config


def _record_order(order):
    def hook(step, batch, metrics):
        order.append(batch["index"].tolist())
    return hook


def _sigterm_at(stop_step):
    def hook(step, batch, metrics):
        if step == stop_step:
            os.kill(os.getpid(), signal.SIGTERM)
    return hook


def _assert_trees_equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(jax.device_get(a)), jax.tree.leaves(jax.device_get(b))
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """4 steps in one go (checkpoints at 2 and 4)."""
    workdir = str(tmp_path_factory.mktemp("straight"))
    order = []
    result = train(tiny_train_config(), workdir, hooks=[_record_order(order)], progress=False)
    return workdir, result, order


def test_straight_run_writes_checkpoints_and_metrics(straight):
    workdir, result, order = straight
    assert result.step == NUM_STEPS and not result.preempted and result.resumed_from is None
    assert sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit()) == [2, 4]
    assert len(order) == NUM_STEPS and all(len(batch) == 8 for batch in order)
    assert os.path.exists(os.path.join(workdir, "metrics.jsonl"))


def test_preempt_and_resume_is_identical(straight, tmp_path):
    _, expected, expected_order = straight
    workdir = str(tmp_path / "resumed")
    order = []
    # Checkpoints only every 100 steps: the one at step 2 can only come from the SIGTERM handler.
    config = tiny_train_config(checkpoint_every=100)
    first = train(config, workdir, hooks=[_record_order(order), _sigterm_at(2)], progress=False)
    assert first.preempted and first.step == 2
    assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2"]
    second = train(config, workdir, hooks=[_record_order(order)], progress=False)
    assert second.resumed_from == 2 and second.step == NUM_STEPS
    assert order == expected_order  # same data order across the restart
    _assert_trees_equal(second.state.params, expected.state.params)
    _assert_trees_equal(second.state.ema_params, expected.state.ema_params)
    _assert_trees_equal(second.state.opt_state, expected.state.opt_state)
    _assert_trees_equal(second.state.rng, expected.state.rng)


def _corrupt(step_dir, how):
    state_dir = os.path.join(step_dir, "state")
    if how == "deleted":
        shutil.rmtree(state_dir)
    else:  # truncate every file of the array store to zero bytes
        for root, _, files in os.walk(state_dir):
            for name in files:
                open(os.path.join(root, name), "wb").close()


@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_corrupt_latest_falls_back_to_previous(straight, tmp_path, capsys, how):
    source, expected, _ = straight
    workdir = str(tmp_path / "run")
    shutil.copytree(source, workdir)
    _corrupt(os.path.join(workdir, "checkpoints", "4"), how)
    # An unfinished save (orbax's temporary directory) must not count as a step either.
    os.makedirs(os.path.join(workdir, "checkpoints", "6.orbax-checkpoint-tmp-1234567"))
    result = train(tiny_train_config(), workdir, progress=False)
    assert result.resumed_from == 2 and result.step == NUM_STEPS
    assert "cannot be restored" in capsys.readouterr().out
    moved = os.listdir(os.path.join(workdir, "checkpoints_corrupt"))
    assert len(moved) == 1 and moved[0].startswith("4-")
    _assert_trees_equal(result.state.params, expected.state.params)


def _steps(workdir):
    return sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())


def test_all_checkpoints_corrupt_is_an_error_not_a_fresh_start(straight, tmp_path):
    source, _, _ = straight
    workdir = str(tmp_path / "run")
    shutil.copytree(source, workdir)
    for step in ("2", "4"):
        _corrupt(os.path.join(workdir, "checkpoints", step), "truncated")
    with pytest.raises(CheckpointError, match="refusing to start from scratch") as info:
        train(tiny_train_config(), workdir, progress=False)
    assert workdir in str(info.value) and not isinstance(info.value, ConfigMismatchError)
    # Nothing moved aside (no good step to fall back to), nothing new written.
    assert _steps(workdir) == [2, 4] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


def test_only_step_corrupt_is_an_error_not_a_fresh_start(straight, tmp_path):
    source, _, _ = straight
    workdir = str(tmp_path / "run")
    shutil.copytree(source, workdir)
    shutil.rmtree(os.path.join(workdir, "checkpoints", "2"))
    _corrupt(os.path.join(workdir, "checkpoints", "4"), "deleted")
    with pytest.raises(CheckpointError, match="none can be restored"):
        train(tiny_train_config(), workdir, progress=False)
    assert _steps(workdir) == [4] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


def test_config_mismatch_is_an_error_that_moves_nothing(straight, tmp_path):
    """The README's `--set optimizer.frozen="['img/.*']"` on an existing workdir: the optimizer state's tree
    differs from the saved one. Both healthy steps stay; the error names arrays and the config field."""
    source, _, _ = straight
    workdir = str(tmp_path / "run")
    shutil.copytree(source, workdir)
    config = tiny_train_config()
    config = dataclasses.replace(config, optimizer=dataclasses.replace(config.optimizer, frozen=("img/.*",)))
    with pytest.raises(ConfigMismatchError) as info:
        train(config, workdir, progress=False)
    message = str(info.value)
    assert "opt_state" in message and "array(s) differ" in message
    assert "optimizer.frozen" in message and "--workdir" in message and "Nothing was moved" in message
    assert _steps(workdir) == [2, 4] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


def test_load_checkpoint_falls_back_to_the_latest_good_step(straight, tmp_path, capsys):
    source, _, _ = straight
    workdir = str(tmp_path / "run")
    shutil.copytree(source, workdir)
    _corrupt(os.path.join(workdir, "checkpoints", "4"), "truncated")
    config, state, step = load_checkpoint(workdir)
    assert step == 2 and int(state.step) == 2 and config.num_steps == NUM_STEPS
    assert "cannot be restored" in capsys.readouterr().out
    assert _steps(workdir) == [2, 4]  # evaluation never moves anything
    with pytest.raises(CheckpointError, match="step 4"):
        load_checkpoint(workdir, step=4)  # an explicitly requested unreadable step is an error
