"""tpu_scripts/: shellcheck-clean (when shellcheck is installed) and the gcloud commands they issue, checked with
a fake `gcloud` on PATH that records its arguments (no network, no cloud)."""
import os
import shutil
import stat
import subprocess

import pytest

SCRIPTS = os.path.join(os.path.dirname(__file__), "..", "..", "tpu_scripts")
NAMES = ("create.sh", "install.sh", "run.sh", "tail.sh", "stop.sh", "delete.sh")


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shellcheck_clean():
    paths = [os.path.join(SCRIPTS, name) for name in NAMES]
    result = subprocess.run(["shellcheck", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture()
def fake_gcloud(tmp_path):
    log = tmp_path / "gcloud.log"
    script = tmp_path / "bin" / "gcloud"
    script.parent.mkdir()
    # One argument per \x1f-terminated field, one call per \x1e-terminated record (arguments may span lines).
    script.write_text(f'#!/usr/bin/env bash\nfor a in "$@"; do printf "%s\\037" "$a"; done >> {log}\n'
                      f'printf "\\036" >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f"{script.parent}:{os.environ['PATH']}")

    def run(name, *args, extra_env=None):
        subprocess.run(["bash", os.path.join(SCRIPTS, name), *args], check=True, env={**env, **(extra_env or {})})
        return log.read_text().split("\x1e")[-2].split("\x1f")[:-1]

    return run


def test_commands(fake_gcloud):
    args = fake_gcloud("create.sh", "pod", "us-central2-b", "v4-32", extra_env={"EXTRA_FLAGS": "--spot --x=1"})
    assert args[:5] == ["compute", "tpus", "tpu-vm", "create", "pod"]
    assert "--accelerator-type=v4-32" in args and args[-2:] == ["--spot", "--x=1"]
    args = fake_gcloud("run.sh", "pod", "zone", "--", "python3", "-m", "launch.train", "--workdir", "/mnt/bucket/r 1")
    assert "--worker=all" in args
    remote = args[-1]
    assert remote.startswith("cd ~/dexvlg_jax && nohup python3 -m launch.train --workdir /mnt/bucket/r\\ 1")
    assert "~/dexvlg_run.log" in remote and "~/dexvlg_run.pid" in remote
    args = fake_gcloud("install.sh", "pod", "zone", "https://example.invalid/repo.git", "dev")
    assert "git clone -b dev https://example.invalid/repo.git ~/dexvlg_jax\n" in args[-1]
    assert fake_gcloud("tail.sh", "pod", "zone")[-2:] == ["--command", "tail -n 100 -f ~/dexvlg_run.log"]
    assert "kill -TERM" in fake_gcloud("stop.sh", "pod", "zone")[-1]
    assert fake_gcloud("delete.sh", "pod", "zone")[3:5] == ["delete", "pod"]
