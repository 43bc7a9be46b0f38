"""Atomic file writes: every file the project writes goes through here.

A write goes to a hidden temporary file in the destination's folder (`.<name>.tmp-<host>-<pid>-<random>`), is
flushed and fsync'ed, and is renamed over the destination with `os.replace` (atomic on POSIX filesystems), so a
reader sees either the old file or the complete new one, never a truncated one, whatever interrupts the writer
(kill -9, a full disk, a power cut after the rename). On any error the temporary file is removed and the error
propagates unchanged (an `OSError` keeps its errno and names the destination in its message), so a caller can tell
"the output could not be written" (a run error) from bad input. A kill -9 between open and rename leaves the
temporary behind: a resuming job calls `remove_dead_temps(folder)` (the data engine and `launch.synthesize` do).

    from dexvlg_jax import atomic_io
    atomic_io.write_json(path, {"a": 1}, indent=1)
    atomic_io.write_npz(path, compressed=True, poses=poses)
    atomic_io.write_image(path, pil_image); atomic_io.write_figure(path, matplotlib_figure)
    with atomic_io.atomic_open(path, "w") as f:   # anything that writes to a file object
        f.write(text)
"""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import platform
import secrets
import time
import warnings
from typing import IO, Any, Iterator

import numpy as np

TEMP_MARKER = ".tmp-"


def temp_path(path: str | os.PathLike) -> str:
    """A unique temporary name next to `path` (same folder, so the final rename never crosses filesystems);
    unique across hosts sharing a folder and across processes."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}{TEMP_MARKER}{platform.node()}-{os.getpid()}-{secrets.token_hex(4)}")


def _fsync_dir(folder: str) -> None:
    """Makes the rename itself durable (best effort: some filesystems do not support opening directories)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = "utf-8",
                make_dirs: bool = True) -> Iterator[IO[Any]]:
    """Opens a temporary file for writing; on a clean exit it is fsync'ed and renamed to `path`.

    `mode` is "w" (text) or "wb" (binary). On an exception inside the block (or while finishing the file)
    the temporary file is deleted, `path` is left as it was and the exception propagates; an `OSError` that does
    not name a file gets `path` as its filename so the message says which output failed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = temp_path(path)
    try:
        if make_dirs:
            os.makedirs(folder, exist_ok=True)
        with open(tmp, mode, encoding=encoding if mode == "w" else None) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        _remove_quietly(tmp)
        if err.filename is None or err.filename == tmp:
            raise OSError(err.errno, f"{err.strerror or err} (writing {path})", path) from err
        raise
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(folder)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def write_bytes(path: str | os.PathLike, data: bytes) -> str:
    """Writes `data` to `path` atomically; returns the path."""
    with atomic_open(path, "wb") as f:
        f.write(data)
    return os.fspath(path)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> str:
    """Writes `text` to `path` atomically; returns the path."""
    with atomic_open(path, "w", encoding=encoding) as f:
        f.write(text)
    return os.fspath(path)


def write_json(path: str | os.PathLike, payload: Any, **dump_kwargs) -> str:
    """Writes `json.dumps(payload, **dump_kwargs)` to `path` atomically; the JSON is encoded before the file is
    opened, so a payload that cannot be serialised leaves nothing behind. Returns the path."""
    return write_text(path, json.dumps(payload, **dump_kwargs))


def write_npz(path: str | os.PathLike, compressed: bool = True, **arrays) -> str:
    """Writes an `.npz` archive of `arrays` to exactly `path` atomically (no ".npz" suffix is appended);
    returns the path."""
    with atomic_open(path, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)
    return os.fspath(path)


def write_image(path: str | os.PathLike, image, **save_kwargs) -> str:
    """Saves a PIL image to `path` atomically, in the format its extension names (".png", ".jpg", ...)."""
    from PIL import Image

    extension = os.path.splitext(os.fspath(path))[1].lower()
    image_format = save_kwargs.pop("format", None) or Image.registered_extensions().get(extension, "PNG")
    with atomic_open(path, "wb") as f:
        image.save(f, format=image_format, **save_kwargs)
    return os.fspath(path)


def write_figure(path: str | os.PathLike, figure, **savefig_kwargs) -> str:
    """Saves a matplotlib figure to `path` atomically, in the format its extension names."""
    extension = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    savefig_kwargs.setdefault("format", extension)
    with atomic_open(path, "wb") as f:
        figure.savefig(f, **savefig_kwargs)
    return os.fspath(path)


def move_aside(path: str | os.PathLike, reason: str = "") -> str:
    """Renames a corrupt file to `<path>.corrupt-<unix time>` (kept for inspection, never read again) with a
    warning naming it and `reason`; returns the new path. The caller then rebuilds `path`."""
    path = os.fspath(path)
    target = f"{path}.corrupt-{int(time.time())}"
    os.replace(path, target)
    message = f"{path} is corrupt{f' ({reason})' if reason else ''}; moved it to {target} and rebuilding it"
    warnings.warn(message, RuntimeWarning, stacklevel=2)
    print(f"WARNING: {message}", flush=True)
    return target


def remove_dead_temps(folder: str | os.PathLike) -> list[str]:
    """Removes the temporary files in `folder` (not recursive) left by writers on THIS host whose process is no
    longer running (a kill -9 between opening and renaming); returns their paths. Temporaries of live processes,
    and of other hosts sharing the folder (whose processes this host cannot see), are left alone."""
    removed = []
    host = platform.node()
    for path in glob.glob(os.path.join(glob.escape(os.fspath(folder)), f".*{TEMP_MARKER}*")):
        owner = os.path.basename(path).rpartition(TEMP_MARKER)[2]
        owner_host, _, rest = owner.rpartition("-")[0].rpartition("-")
        pid = rest if owner_host else ""
        if owner_host != host or not pid.isdigit() or _process_alive(int(pid)):
            continue
        _remove_quietly(path)
        removed.append(path)
    return sorted(removed)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_disk_error(err: BaseException) -> bool:
    """True for output-side OS errors (disk full, quota, read-only filesystem, I/O error, permission)."""
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO,
                                                       errno.EACCES, errno.EPERM, errno.EFBIG)
