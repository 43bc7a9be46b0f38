"""A wall-clock budget split into sections, per-size time estimates, device facts, OOM detection, timing and the
rounding of reported figures.

    budget = Budget(480.0, {"synthesis": 0.35, "simulation": 0.25, "model": 0.3, "render": 0.1})
    deadline = budget.open("synthesis")          # share of what is left, given to the sections still to run
    est = scaled_estimate(prev_seconds, prev_batch, batch)
    if not budget.fits(est, deadline): record a skip
"""
from __future__ import annotations

import math
import time

import numpy as np

import jax


class Budget:
    """A global deadline `total_s` from construction, shared among named sections by weight.

    `open(name)` gives that section a deadline: now + (time left) x weight / (sum of the weights of the sections
    not yet opened, this one included), so time a section leaves unused passes to the ones after it.
    """

    def __init__(self, total_s: float, weights: dict[str, float], clock=time.monotonic):
        self.clock = clock
        self.start = clock()
        self.total_s = float(total_s)
        self.weights = dict(weights)
        self.pending = list(weights)

    @property
    def deadline(self) -> float:
        return self.start + self.total_s

    def left(self, deadline: float | None = None) -> float:
        return (self.deadline if deadline is None else min(deadline, self.deadline)) - self.clock()

    def open(self, name: str) -> float:
        if name in self.pending:
            share = self.weights[name] / sum(self.weights[n] for n in self.pending)
            self.pending.remove(name)
        else:
            share = 1.0
        return self.clock() + max(self.left(), 0.0) * share

    def fits(self, estimate_s: float | None, deadline: float) -> bool:
        """True when a run estimated at `estimate_s` (None: unknown, assumed to fit) ends before `deadline`."""
        if self.left(deadline) <= 0:
            return False
        return estimate_s is None or estimate_s <= self.left(deadline)

    def skip_note(self, estimate_s: float | None, deadline: float) -> str:
        est = "unknown" if estimate_s is None else f"{estimate_s:.1f} s"
        return f"skipped by the time guard: estimated {est}, {max(self.left(deadline), 0.0):.1f} s left in the section"


def scaled_estimate(prev_seconds: float | None, prev_batch: int | None, batch: int, overhead_s: float = 0.0
                    ) -> float | None:
    """Time of a run at `batch` from a measured run at `prev_batch` (linear in batch: conservative on
    accelerators, where throughput grows with batch), plus a fixed overhead (e.g. one compilation)."""
    if prev_seconds is None or not prev_batch:
        return None
    return prev_seconds * batch / prev_batch + overhead_s


def device_info() -> dict:
    """What every section records: JAX version, backend, device kind and count, process count."""
    devices = jax.devices()
    return {"jax_version": jax.__version__, "backend": jax.default_backend(),
            "device_kind": str(devices[0].device_kind), "device_count": len(devices),
            "process_count": jax.process_count()}


def is_oom(error: BaseException) -> bool:
    """Whether an exception from XLA means the device ran out of memory."""
    text = f"{type(error).__name__}: {error}"
    return any(s in text for s in ("RESOURCE_EXHAUSTED", "Out of memory", "out of memory", "OOM"))


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of `repeats` calls of `fn` (each blocked until ready); the caller warms up first."""
    times = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def rounded(x, digits: int = 4):
    """A reported figure: a finite number rounded to `digits` significant digits (float); anything else (None,
    inf, nan, text) unchanged."""
    if x is None or not isinstance(x, (int, float, np.floating, np.integer)):
        return x
    x = float(x)
    return x if not math.isfinite(x) else float(f"{x:.{digits}g}")
