"""launch.train: the tiny config for 4 steps in a temp workdir writes checkpoints, metrics and config.json;
--config args and --set overrides reach the library config (every config file builds: tests/test_configs.py)."""
import json
import os

import pytest

from dexvlg_jax import config_files
from dexvlg_jax.train.metrics import read_metrics
from launch import train as launch_train
from tests.train.conftest import NUM_STEPS, TEST_OVERRIDES

CONFIGS = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "train")


def test_launch_train_tiny(tmp_path):
    workdir = str(tmp_path / "run")
    argv = ["--config", os.path.join(CONFIGS, f"tiny.py:steps={NUM_STEPS}"), "--workdir", workdir, "--no-progress"]
    for item in TEST_OVERRIDES:
        argv += ["--set", item]
    assert launch_train.main(argv) == 0
    assert sorted(d for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit()) == ["2", "4"]
    records = read_metrics(workdir)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all(set(r) >= {"loss", "grad_norm", "learning_rate", "steps_per_second"} for r in records)
    with open(os.path.join(workdir, "config.json")) as f:
        saved = json.load(f)
    assert saved["num_steps"] == NUM_STEPS and saved["model"]["head"] == "flow"
    # Rerunning the finished run resumes at step 4 and does nothing more.
    assert launch_train.main(argv) == 0
    assert len(read_metrics(workdir)) == 4


def test_overrides_and_errors():
    config = config_files.load_config_file(os.path.join(CONFIGS, "tiny.py:head=ddim,steps=7"))
    config = config_files.apply_overrides(config, ["optimizer.learning_rate=3e-4", "optimizer.frozen=['img/.*']",
                                                   "data.path=/some/dir"])
    train_config = config_files.train_config(config)
    assert train_config.model.head == "ddim" and train_config.num_steps == 7
    assert train_config.optimizer.learning_rate == 3e-4 and train_config.optimizer.frozen == ("img/.*",)
    assert train_config.data.path == "/some/dir"
    with pytest.raises(KeyError, match="no field"):
        config_files.apply_overrides(config, ["optimizer.nope=1"])
    with pytest.raises(KeyError, match="unknown key"):
        config_files.load_config_file(os.path.join(CONFIGS, "tiny.py:bogus=1"))
    with pytest.raises(FileNotFoundError):
        config_files.load_config_file("configs/train/missing.py")


@pytest.mark.slow
def test_subprocess_sigterm_then_resume(tmp_path):
    """A real process: SIGTERM after the first logged step -> it saves and exits 0; rerunning resumes to the end."""
    import signal
    import subprocess
    import sys

    workdir = str(tmp_path / "run")
    steps = 40
    cmd = [sys.executable, "-m", "launch.train", "--config", os.path.join(CONFIGS, f"tiny.py:steps={steps}"),
           "--workdir", workdir, "--no-progress", "--set", "log_every=1", "--set", "checkpoint_every=1000"]
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        if line.startswith("step 2:"):
            proc.send_signal(signal.SIGTERM)
            break
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output
    saved = [int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit()]
    assert len(saved) == 1 and 2 <= saved[0] < steps and "preempted" in output
    rerun = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"resumed from" in rerun.stdout and f"done at step {steps}" in rerun.stdout
