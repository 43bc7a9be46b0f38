"""Fault injection on `Checkpointer.restore_latest` with a small state tree (fast: no model, no compile).

The classification of restore failures (dexvlg_jax/train/checkpoint.py's docstring):
- another width (shape), another dtype, or another tree (an extra / missing array) than the saved state ->
  `ConfigMismatchError` listing the differing arrays; nothing is moved, even when a newer step is unreadable;
- truncated / missing files in the newest step with a good earlier step -> the earlier step is restored and the
  broken one moved to checkpoints_corrupt/ (only then);
- the only step unreadable -> `CheckpointError` naming the workdir; nothing is moved.
The same cases through the real training loop are in test_resume.py.
"""
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dexvlg_jax.train.checkpoint import CheckpointError, Checkpointer, ConfigMismatchError


def _state(width=4, dtype=jnp.float32, extra=False, value=1.0):
    tree = {"params": {"img": {"kernel": jnp.full((3, width), value, dtype)}, "head": {"bias": jnp.zeros((2,))}},
            "step": jnp.asarray(int(value), jnp.int32)}
    if extra:
        tree["opt_state"] = {"mu": jnp.zeros((3, width))}
    return tree


def _shardings(tree):
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.tree.map(lambda _: device, tree)


@pytest.fixture
def workdir(tmp_path):
    """A workdir with good steps 1 and 2 (values 1.0 and 2.0)."""
    checkpointer = Checkpointer(str(tmp_path / "run" / "checkpoints"), async_save=False)
    for step in (1, 2):
        checkpointer.save(step, _state(value=float(step)), config={"model": {"width": 4}})
    checkpointer.close()
    return str(tmp_path / "run")


def _restore(workdir, like, config=None):
    checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), async_save=False)
    try:
        return checkpointer.restore_latest(like, _shardings(like), config=config)
    finally:
        checkpointer.close()


def _steps(workdir):
    return sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())


def _truncate(step_dir):
    for root, _, files in os.walk(os.path.join(step_dir, "state")):
        for name in files:
            open(os.path.join(root, name), "wb").close()


def test_good_checkpoint_restores_the_newest_step(workdir):
    state, step = _restore(workdir, _state())
    assert step == 2 and float(state["params"]["img"]["kernel"][0, 0]) == 2.0


@pytest.mark.parametrize("like, expected", [
    (_state(width=8), "params.img.kernel: checkpoint float32[3, 4], configured float32[3, 8]"),
    (_state(dtype=jnp.bfloat16), "params.img.kernel: checkpoint float32[3, 4], configured bfloat16[3, 4]"),
    (_state(extra=True), "opt_state.mu: configured float32[3, 4], not in the checkpoint"),
], ids=["width", "dtype", "tree"])
def test_config_mismatch_is_an_error_that_moves_nothing(workdir, like, expected):
    with pytest.raises(ConfigMismatchError) as info:
        _restore(workdir, like, config={"model": {"width": 8}})
    message = str(info.value)
    assert expected in message
    assert "model.width: 4 -> 8" in message and "--workdir" in message and "Nothing was moved" in message
    assert _steps(workdir) == [1, 2] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


def test_mismatch_behind_an_unreadable_newest_step_is_still_a_mismatch(workdir):
    """Newest step truncated, the older one of another width: the error is the mismatch, and the unreadable
    step is not moved either (the configuration, not the files, is what needs fixing)."""
    _truncate(os.path.join(workdir, "checkpoints", "2"))
    with pytest.raises(ConfigMismatchError, match=r"checkpoint float32\[3, 4\], configured float32\[3, 8\]"):
        _restore(workdir, _state(width=8))
    assert _steps(workdir) == [1, 2] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_corrupt_latest_with_good_earlier_step_falls_back(workdir, capsys, how):
    step_dir = os.path.join(workdir, "checkpoints", "2")
    if how == "truncated":
        _truncate(step_dir)
    else:
        shutil.rmtree(os.path.join(step_dir, "state"))
    state, step = _restore(workdir, _state())
    assert step == 1 and float(state["params"]["img"]["kernel"][0, 0]) == 1.0
    assert "cannot be restored" in capsys.readouterr().out
    assert _steps(workdir) == [1]
    moved = os.listdir(os.path.join(workdir, "checkpoints_corrupt"))
    assert len(moved) == 1 and moved[0].startswith("2-")


def test_only_step_corrupt_is_an_error_naming_the_workdir(workdir):
    shutil.rmtree(os.path.join(workdir, "checkpoints", "1"))
    _truncate(os.path.join(workdir, "checkpoints", "2"))
    with pytest.raises(CheckpointError, match="refusing to start from scratch") as info:
        _restore(workdir, _state())
    assert workdir in str(info.value) and not isinstance(info.value, ConfigMismatchError)
    assert _steps(workdir) == [2] and not os.path.exists(os.path.join(workdir, "checkpoints_corrupt"))


def test_empty_directory_is_a_fresh_start(tmp_path):
    assert _restore(str(tmp_path / "new"), _state()) is None


def test_restored_values_are_the_saved_ones(workdir):
    state, _ = _restore(workdir, _state())
    np.testing.assert_array_equal(np.asarray(state["params"]["head"]["bias"]), np.zeros(2))


def test_keep_period_keeps_learning_curve_points(tmp_path):
    """max_to_keep=1 with keep_period=2: after steps 1..5 the multiples of 2 survive beside the newest step, and the
    kept points restore to their own values; keep_period=0 is a clear error."""
    directory = str(tmp_path / "run" / "checkpoints")
    checkpointer = Checkpointer(directory, max_to_keep=1, async_save=False, keep_period=2)
    for step in range(1, 6):
        checkpointer.save(step, _state(value=float(step)), config={"model": {"width": 4}})
    assert checkpointer.all_steps() == [2, 4, 5]
    like = _state()
    assert float(checkpointer.restore(2, like, _shardings(like))["params"]["img"]["kernel"][0, 0]) == 2.0
    checkpointer.close()
    with pytest.raises(ValueError, match="keep_period"):
        Checkpointer(str(tmp_path / "other"), keep_period=0)
