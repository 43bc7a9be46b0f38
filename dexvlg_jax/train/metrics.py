"""Metric sinks: a JSONL file (always), TensorBoard (tensorboardX if installed, else flax's writer if TensorFlow is
installed), and one stdout line per log step. Only process 0 writes.

`<workdir>/metrics.jsonl` holds one JSON object per log step: {"step": int, "time": unix seconds, <name>: float}.
TensorBoard event files go to `<workdir>/tensorboard/`. Remote workdirs (gs://...) are written through
`etils.epath`; object stores cannot append, so there the JSONL file is rewritten whole at each log step. Locally
each record is one appended line (a killed run can leave at most its last line incomplete; `read_metrics` skips it).
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Mapping

import jax
from etils import epath


def _tensorboard_writer(logdir: str):
    try:
        from tensorboardX import SummaryWriter
        return "tensorboardX", SummaryWriter(logdir)
    except ImportError:
        pass
    try:
        import tensorflow  # noqa: F401  (flax's writer needs it; never a dependency of this project)
        from flax.metrics.tensorboard import SummaryWriter
        return "flax", SummaryWriter(logdir)
    except ImportError:
        return None, None


class MetricWriter:
    """Writes scalar metrics to every available sink.

    Args:
      workdir: run directory (created).
      tensorboard: also write TensorBoard events when a writer library is installed.
      stdout: print one line per `write` call.
    """

    def __init__(self, workdir: str, tensorboard: bool = True, stdout: bool = True):
        self.active = jax.process_index() == 0
        self.stdout = stdout
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.remote = "://" in workdir
        self.backend, self._tb, self._file, self._lines = None, None, None, []
        if not self.active:
            return
        epath.Path(workdir).mkdir(parents=True, exist_ok=True)
        if self.remote:
            target = epath.Path(self.path)
            self._lines = target.read_text().splitlines(keepends=True) if target.exists() else []
        else:
            _drop_incomplete_last_line(self.path)
            self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            try:
                self.backend, self._tb = _tensorboard_writer(os.path.join(workdir, "tensorboard"))
            except Exception as err:  # e.g. a writer without support for the workdir's filesystem
                print(f"WARNING: no TensorBoard events ({type(err).__name__}: {err})", flush=True)

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        """Records `metrics` (name -> float) at `step`."""
        if not self.active:
            return
        values = {k: float(v) for k, v in metrics.items()}
        line = json.dumps({"step": int(step), "time": round(time.time(), 3), **values}) + "\n"
        if self.remote:
            self._lines.append(line)
            epath.Path(self.path).write_text("".join(self._lines))
        else:
            self._file.write(line)
            self._file.flush()
        if self._tb is not None:
            for name, value in values.items():
                if self.backend == "tensorboardX":
                    self._tb.add_scalar(name, value, int(step))
                else:
                    self._tb.scalar(name, value, int(step))
            self._tb.flush()
        if self.stdout:
            shown = " ".join(f"{k}={_fmt(v)}" for k, v in sorted(values.items()))
            print(f"step {int(step)}: {shown}", flush=True)

    def close(self) -> None:
        if not self.active:
            return
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()


def _fmt(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"


def _drop_incomplete_last_line(path: str) -> None:
    """Cuts a last line without its newline (a writer killed mid-line) so the next record starts on its own line."""
    if not os.path.exists(path):
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def read_metrics(workdir: str) -> list[dict]:
    """The records of `<workdir>/metrics.jsonl` in order (an incomplete last line of a killed writer is skipped)."""
    text = epath.Path(os.path.join(workdir, "metrics.jsonl")).read_text()
    lines = text.splitlines()
    if lines and not text.endswith("\n"):
        lines = lines[:-1]
    return [json.loads(line) for line in lines if line.strip()]
