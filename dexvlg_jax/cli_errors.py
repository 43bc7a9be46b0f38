"""User-facing errors of the command-line tools: one clear line and exit status 2, the traceback only with --debug.

Every `launch/*.py` CLI ends with `sys.exit(cli_main())`, where `cli_main(argv)` is `run_main(main, argv)`; the
`dexvlg` dispatcher wraps each stage's `main` the same way. `run_main` strips `--debug` from argv, calls
`main(argv)`, and turns a user error into

    <prog>: error: <what is wrong>; <what to type instead> (add --debug for the traceback)

on stderr with exit status 2 (argparse's own status for a bad command line); a long message, such as a checkpoint
mismatch, adds its details indented below. User errors are `UserError` (raise it with a hint) and the library's
input errors: a missing file, a bad config value or key, a file that cannot be parsed, a checkpoint that does not
match the configuration (`ValueError` and `KeyError` are how the library reports bad input, by the project's
conventions; a `TypeError` is a bug and keeps its traceback). With `--debug` (or DEXVLG_DEBUG=1) the exception is
re-raised with its full traceback. Anything else (a bug) keeps its traceback. An `OSError` on output (disk full,
read-only filesystem) or a `RunError` is reported in one line too, naming the path, with exit status 1 (the run
failed; the input was fine).
"""
from __future__ import annotations

import errno
import os
import sys
import zipfile
from typing import Callable, Sequence

EXIT_USER_ERROR = 2
EXIT_RUN_ERROR = 1


class UserError(Exception):
    """An error the user can fix: `message` says what is wrong, `hint` what to type or do instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UserFileNotFoundError(UserError, FileNotFoundError):
    """A missing input file or folder (also a FileNotFoundError, for callers that catch that)."""


class UserKeyError(UserError, KeyError):
    """An unknown key or field (also a KeyError)."""


class UserValueError(UserError, ValueError):
    """A bad value or unreadable input (also a ValueError)."""


class RunError(Exception):
    """The run could not complete for a reason outside the input (e.g. the output disk is full)."""


# Library exceptions that are the user's input. The stages' own (objects.errors.ObjectError is a ValueError,
# train.checkpoint.CheckpointError a UserError) are among these, so this module imports no stage.
USER_ERROR_TYPES = (UserError, FileNotFoundError, NotADirectoryError, IsADirectoryError, KeyError, ValueError,
                    zipfile.BadZipFile)


def _is_user_error(err: BaseException) -> bool:
    if isinstance(err, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return True
    if isinstance(err, OSError):
        return False  # other OS errors are the run's (disk, permissions): see _is_output_error
    return isinstance(err, USER_ERROR_TYPES)


def _is_output_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO,
                                                      errno.EACCES, errno.EPERM, errno.EFBIG)


def describe(err: BaseException) -> tuple[str, list[str]]:
    """An exception as (one headline, detail lines): the message without Python's decoration (KeyError's
    quotes). A multi-line message (e.g. a checkpoint mismatch listing arrays) keeps its first and last lines, which
    say what is wrong and what to do, in the headline, and its middle lines as details."""
    if isinstance(err, KeyError) and type(err).__str__ is KeyError.__str__ and len(err.args) == 1:
        text = str(err.args[0])
    else:
        text = str(err)
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f"{text}: {err.filename}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(err).__name__, []
    if len(lines) == 1:
        return lines[0], []
    return f"{lines[0]} {lines[-1]}", lines[1:-1]


def _print_error(prog: str, err: BaseException, advice: str) -> None:
    headline, details = describe(err)
    print(f"{prog}: error: {headline} ({advice})", file=sys.stderr)
    for line in details:
        print(f"    {line}", file=sys.stderr)


def debug_requested(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("DEXVLG_DEBUG", "") not in ("", "0")


def run_main(main: Callable[[list[str]], object], argv: Sequence[str] | None = None,
             prog: str | None = None) -> int:
    """Calls `main(argv without --debug)` and maps user errors to one line + exit 2 (see the module docstring).

    Returns the process exit status: `main`'s int result, 0 for any other result, 2 for a user error, 1 for an
    output (disk) error.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != "--debug"]
    prog = prog or os.path.basename(sys.argv[0] or "dexvlg")
    try:
        result = main(argv)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted (rerun the same command to resume where it stopped)", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - classified below; bugs are re-raised
        if debug:
            raise
        if isinstance(err, RunError) or _is_output_error(err):
            _print_error(prog, err, "free space or fix permissions there, then rerun the same command; add --debug "
                         "for the traceback")
            return EXIT_RUN_ERROR
        if not _is_user_error(err):
            raise
        _print_error(prog, err, "add --debug for the traceback")
        return EXIT_USER_ERROR
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
