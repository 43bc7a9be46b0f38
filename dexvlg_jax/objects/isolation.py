"""Crash isolation for the native steps of object processing (coacd, manifold3d, any C extension).

`call_isolated(function, args, source=..., step=..., timeout=...)` runs one module-level function in a fresh
Python interpreter (a subprocess started for this call: never a fork, so JAX in the parent is never forked) and
returns its result; arguments and results travel by pickling through two temporary files. Only the step runs
there: the worker imports the step's own module (for `decomposition` and `watertight` without the objects
package's __init__, so no JAX). Measured on a 2-core CPU that was also running another job: ~0.5 s per call
(interpreter + numpy/scipy/coacd or manifold3d imports; a bare interpreter is 0.03 s), median +0.7 s per object
for `process_object` (two steps; mug/bottle/kettle with the default config take 1-10 s in process).

What the parent sees:
- the function's result, or its exception re-raised (an `ObjectError` keeps its source and reason; other types
  are re-raised as themselves when they pickle, else as RuntimeError, with the worker's traceback as a note);
- `StepCrashed(source, "<step> crashed (signal 11, SIGSEGV)")` when the worker dies from a signal, or
  "<step> crashed (exit code N)" when it exits without a result (e.g. a C library calling exit());
- `StepTimedOut(source, "<step> timed out after T s")` when it runs past `timeout` (the worker is killed).

Both are `ObjectError`s, so batch jobs (`process_many`, the data engine, `launch.synthesize`) record them with the
file and go on; the data engine's build state keeps them as permanent failures that a rerun skips.

The function is passed by reference (module + qualified name, as pickle does), so a test can monkeypatch a step
in the parent with another module-level function and the worker runs that one.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import warnings

from dexvlg_jax.objects.errors import ObjectError

# Modules whose import needs nothing from dexvlg_jax/objects/__init__.py: the worker loads them alone (fast).
LIGHT_MODULES = frozenset({"dexvlg_jax.objects.decomposition", "dexvlg_jax.objects.watertight",
                           "dexvlg_jax.objects.remesh", "dexvlg_jax.objects.errors"})
_WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native_worker.py")
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1])['main'](sys.argv[2], sys.argv[3])"


class StepCrashed(ObjectError):
    """A native step killed its worker (a signal such as SIGSEGV, or an exit without a result)."""


class StepTimedOut(ObjectError):
    """A native step ran past its time limit; the worker was killed."""


class ProcessingWarning(UserWarning):
    """Processing succeeded after a fallback (e.g. coacd retried with another preprocess mode)."""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _reference(function) -> tuple[str, str]:
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", None)
    if not module or not qualname or "<locals>" in qualname or "<lambda>" in qualname:
        raise TypeError(f"call_isolated needs a module-level function, got {function!r}")
    target = sys.modules.get(module)
    for part in qualname.split("."):
        target = getattr(target, part, None)
    if target is not function:
        raise TypeError(f"call_isolated: {module}.{qualname} does not name {function!r} (the worker imports it)")
    return module, qualname


def _tail(path: str, limit: int = 300) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _reraise(info: dict, source: str):
    note = f"raised in an isolated worker:\n{info['traceback']}"
    if info["object_error"] and info["reason"] is not None:
        error = ObjectError(info["source"] if info["source"] is not None else source, info["reason"])
    else:
        error = None
        if info["pickled"] is not None:
            try:
                error = pickle.loads(info["pickled"])
            except Exception:  # noqa: BLE001 - the class may not import here: fall back to the text
                error = None
        if not isinstance(error, BaseException):
            error = RuntimeError(f"{info['type']}: {info['message']}")
    error.add_note(note)
    raise error


def call_isolated(function, args=(), kwargs=None, *, source: str, step: str, timeout: float | None = None):
    """function(*args, **kwargs) in a fresh worker process; crash / timeout -> StepCrashed / StepTimedOut.

    source: the object's file or name (goes into errors); step: what runs, in words ("convex decomposition").
    timeout: seconds, None for no limit. Exceptions raised by the function come back as themselves.
    """
    module, qualname = _reference(function)
    with tempfile.TemporaryDirectory(prefix="dexvlg-native-") as folder:
        request, response, log = (os.path.join(folder, name) for name in ("request.pkl", "response.pkl", "log.txt"))
        with open(request, "wb") as f:
            pickle.dump((list(sys.path), module, qualname, module in LIGHT_MODULES), f)
            pickle.dump((tuple(args), dict(kwargs or {})), f, protocol=pickle.HIGHEST_PROTOCOL)
        with open(log, "wb") as output:
            try:
                completed = subprocess.run([sys.executable, "-c", _BOOT, _WORKER, request, response],
                                           stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                           timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                raise StepTimedOut(source, f"{step} timed out after {timeout:g} s") from None
        if os.path.exists(response):
            with open(response, "rb") as f:
                status, value = pickle.load(f)
            if status == "ok":
                return value
            _reraise(value, source)
        code = completed.returncode
        detail = _tail(log)
        detail = f": {detail}" if detail else ""
        if code < 0:
            name = signal_name(-code)
            raise StepCrashed(source, f"{step} crashed (signal {-code}, {name}){detail}")
        raise StepCrashed(source, f"{step} crashed (exit code {code} without a result){detail}")


def run_step(function, args=(), *, source: str, step: str, isolate: bool, timeout: float | None):
    """function(*args) in a worker (isolate=True, see call_isolated) or in this process (isolate=False)."""
    if isolate:
        return call_isolated(function, args, source=source, step=step, timeout=timeout)
    return function(*args)


def warn(source: str, message: str) -> None:
    warnings.warn(ProcessingWarning(f"{source}: {message}"), stacklevel=3)
