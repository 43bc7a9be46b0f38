"""User errors of the launch CLIs: one line on stderr, exit status 2, no traceback; `--debug` shows it.

In-process through each module's `cli_main` (what `python -m launch.X` runs) and the `dexvlg` dispatcher, plus one
real subprocess for the exit status of `python -m`. Cases: an unknown config argument (a typo must never run
another config), a missing config file, a missing grasp file, a grasp file with 0 grasps, an unknown --set key,
and every DatasetConfig field reachable from build_dataset's --set.
"""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from dexvlg_jax import config_files
from launch import build_dataset, cli, evaluate, synthesize, train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("spec, valid", [
    ("configs/synth/paper.py:tinny", ["'tiny'", "'runlocal'", "did you mean 'tiny'"]),
    ("configs/synth/tiny.py:bogus", ["'tiny'", "'runlocal'"]),
    ("configs/data/tiny.py:bogus", ["takes no argument"]),
    ("configs/data/demo.py:bogus", ["takes no argument"]),
    ("configs/eval/sim.py:tinny", ["'tiny'"]),
    ("configs/eval/model_tiny.py:smok", ["'smoke'"]),
    ("configs/train/tiny.py:stesp=3", ["'steps=VALUE'", "'head=VALUE'"]),
    ("configs/train/ddpm.py:base=huge", ["'base=tiny'", "'base=paligemma_3b'"]),
    ("configs/train/paligemma_3b.py:freeze_llm=maybe", ["expected true or false"]),
])
def test_unknown_config_argument_is_one_line_with_the_valid_ones(spec, valid, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    out = str(os.path.join(os.environ.get("TMPDIR", "/tmp"), "never_written"))
    if spec.startswith("configs/synth"):
        code = synthesize.cli_main(["--config", spec, "--out", out])
    elif spec.startswith("configs/data"):
        code = build_dataset.cli_main(["--config", spec, "--out", out])
    elif spec.startswith("configs/eval/sim"):
        code = evaluate.cli_main(["--poses", "missing.npz", "--config", spec])
    elif spec.startswith("configs/eval"):
        code = evaluate.cli_main(["--checkpoint", REPO, "--config", spec])
    else:
        code = train.cli_main(["--config", spec, "--workdir", out])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and spec in line and "error:" in line
    for text in valid:
        assert text in line
    assert not os.path.exists(out)


def test_missing_config_file_lists_the_folder(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code = train.cli_main(["--config", "configs/train/tiyn.py", "--workdir", "/tmp/never_written"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "'configs/train/tiyn.py' does not exist" in line and "tiny.py" in line


def test_missing_grasp_file(capsys, tmp_path):
    code = cli.main(["evaluate", "--poses", str(tmp_path / "nope.npz")])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and line.startswith("dexvlg evaluate: error:") and "nope.npz" in line


def test_grasp_file_with_zero_grasps(capsys, tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path, poses=np.zeros((0, 25)), object=np.array("mug:0"))
    code = evaluate.cli_main(["--poses", str(path)])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "holds 0 grasps" in line and str(path) in line


def test_corrupt_grasp_file(capsys, tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(b"PK\x03\x04 not really")
    code = evaluate.cli_main(["--poses", str(path)])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "not a readable grasp file" in line and str(path) in line


def test_unknown_set_key_lists_the_fields(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code = train.cli_main(["--config", "configs/train/tiny.py", "--workdir", "/tmp/never_written",
                           "--set", "optimizer.learning_rat=1e-3"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and "no field 'optimizer.learning_rat'" in line and "learning_rate" in line


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.chdir(REPO)
    from dexvlg_jax.cli_errors import UserError

    with pytest.raises(UserError, match="tinny"):
        synthesize.cli_main(["--config", "configs/synth/paper.py:tinny", "--out", "/tmp/never_written", "--debug"])


def test_python_dash_m_exit_status_and_debug():
    """The real entry point: exit status 2 and one line; with --debug the traceback."""
    command = [sys.executable, "-m", "launch.build_dataset", "--config", "configs/data/tiny.py:bogus",
               "--out", "/tmp/never_written"]
    plain = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2
    line = _one_error_line(plain.stderr)
    assert line.startswith("python -m launch.build_dataset: error: --config configs/data/tiny.py:bogus")
    debug = subprocess.run(command + ["--debug"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "ConfigArgError" in debug.stderr


def test_every_dataset_config_field_is_reachable_from_set(monkeypatch):
    monkeypatch.chdir(REPO)
    from dexvlg_jax.data.pipeline import DatasetConfig

    config = config_files.load_config_file("configs/data/tiny.py")
    for field in dataclasses.fields(DatasetConfig):
        assert field.name in config, field.name
    config = config_files.apply_overrides(config, ["mesh_folder=/data/meshes", "processing.grid_padding=0.05",
                                                   "tabletop.friction=0.8"])
    cfg = config_files.dataset_config(config)
    assert cfg.mesh_folder == "/data/meshes" and cfg.processing.grid_padding == 0.05
    assert cfg.tabletop.friction == 0.8
    # The overrides change nothing else.
    plain = config_files.dataset_config(config_files.load_config_file("configs/data/tiny.py"))
    assert dataclasses.replace(cfg, mesh_folder="", processing=plain.processing, tabletop=plain.tabletop) == plain
