"""Metric sinks: a JSONL file (always), TensorBoard (tensorboardX if installed, else flax's writer if TensorFlow is
installed), and one stdout line per log step. Only process 0 writes.

`<workdir>/metrics.jsonl` holds one JSON object per log step: {"step": int, "time": unix seconds, <name>: float}.
TensorBoard event files go to `<workdir>/tensorboard/`.
"""
from __future__ import annotations

import json
import math
import os
import time
from typing import Mapping

import jax


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
        self.backend, self._tb = None, None
        if not self.active:
            return
        os.makedirs(workdir, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            self.backend, self._tb = _tensorboard_writer(os.path.join(workdir, "tensorboard"))

    def write(self, step: int, metrics: Mapping[str, float]) -> None:
        """Records `metrics` (name -> float) at `step`."""
        if not self.active:
            return
        values = {k: float(v) for k, v in metrics.items()}
        self._file.write(json.dumps({"step": int(step), "time": round(time.time(), 3), **values}) + "\n")
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
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def _fmt(value: float) -> str:
    if value == 0 or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.3e}"


def read_metrics(workdir: str) -> list[dict]:
    """The records of `<workdir>/metrics.jsonl` in order."""
    path = os.path.join(workdir, "metrics.jsonl")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
