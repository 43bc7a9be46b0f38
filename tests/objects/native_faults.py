"""Native steps that fail on purpose, for tests/objects/test_isolation.py.

Isolated workers import these by module path (a fresh interpreter sees no monkeypatching, only which function
the parent names), so this module imports nothing heavy at the top. Each call appends its name to the file in
$DEXVLG_TEST_NATIVE_CALLS when that is set (workers inherit the environment), so tests can count worker calls.
"""
import os
import signal
import time

import numpy as np

CALLS = "DEXVLG_TEST_NATIVE_CALLS"


def _log(name: str) -> None:
    path = os.environ.get(CALLS)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(name + "\n")


def segfault(*args, **kwargs):
    _log("segfault")
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(30)  # not reached


def sleep(seconds):
    time.sleep(seconds)
    return "woke up"


def echo(*args, **kwargs):
    return args, kwargs


def raise_object_error(source, reason):
    from dexvlg_jax.objects.errors import ObjectError

    raise ObjectError(source, reason)


def raise_value_error(message):
    raise ValueError(message)


def _hull(vertices):
    from scipy.spatial import ConvexHull

    points = np.asarray(vertices, np.float32)
    return [points[ConvexHull(points).vertices]]


def off_crashes(vertices, faces, config):
    """coacd stand-in: preprocess_mode 'off' segfaults, any other mode returns the mesh's hull."""
    _log(config.preprocess_mode)
    if config.preprocess_mode == "off":
        segfault()
    return _hull(vertices)


def off_raises(vertices, faces, config):
    _log(config.preprocess_mode)
    if config.preprocess_mode == "off":
        raise RuntimeError("coacd: bad input")
    return _hull(vertices)


def boxes_crash(vertices, faces, config):
    """The real decomposition, except that a mesh of 8 vertices (a box) segfaults in every mode."""
    if len(vertices) <= 8:
        segfault()
    from dexvlg_jax.objects.decomposition import convex_decomposition

    _log("decomposed")
    return convex_decomposition(vertices, faces, config)


def watertight_or_crash(vertices, faces, labels, source, resolution):
    """`make_watertight` that segfaults for a mesh whose name contains "crash" (a native crash in one file of a
    folder) and repairs every other mesh for real."""
    if "crash" in source:
        segfault()
    from dexvlg_jax.objects.watertight import make_watertight

    return make_watertight(vertices, faces, labels, source, resolution)
