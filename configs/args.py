"""Checking the `arg` of a config file's `get_config(arg)` (the part after ':' in `--config FILE.py:arg`).

Every config file accepts only the arguments it documents; anything else raises `ConfigArgError` (a ValueError)
that lists the valid ones, so a typo such as `configs/synth/paper.py:tinny` is an error instead of silently
running the paper-scale config. `launch`'s config loader turns it into a one-line message naming the file.
"""
from __future__ import annotations

import difflib
from typing import Sequence


class ConfigArgError(KeyError, ValueError):
    """An argument a config file does not accept; `valid` lists what it accepts ("" = no argument). A KeyError
    (an unknown key) and a ValueError (a bad value) for callers that catch either."""

    def __init__(self, arg: str, valid: Sequence[str], what: str = "argument"):
        """`what`: "argument" (a whole argument such as "tiny") or "key" (a key of "key=value" arguments)."""
        self.arg = arg
        self.valid = tuple(valid)
        shown = ", ".join(repr(v) for v in self.valid if v)
        choices = f"valid: {shown}" + (" or no argument" if "" in self.valid else "") if shown else \
            "this config takes no argument"
        self.suggestion = _closest(arg, [v for v in self.valid if v])
        guess = f" (did you mean {self.suggestion!r}?)" if self.suggestion else ""
        self.message = (f"unknown key {arg.split('=', 1)[0]!r} in config argument {arg!r}{guess}; {choices}"
                        if what == "key" else f"unknown config argument {arg!r}{guess}; {choices}")
        super().__init__(self.message)

    def __str__(self) -> str:  # not KeyError's quoted repr
        return self.message


def _closest(arg: str, valid: Sequence[str]) -> str | None:
    """The valid argument `arg` most likely misspells: a "key=VALUE" template by its key, others whole."""
    key = arg.split("=", 1)[0]
    templates = {v.split("=", 1)[0]: v for v in valid if v.endswith("=VALUE")}
    if templates and key not in templates:
        match = difflib.get_close_matches(key, list(templates), n=1)
        return templates[match[0]] if match else None
    match = difflib.get_close_matches(arg, [v for v in valid if not v.endswith("=VALUE")], n=1)
    return match[0] if match else None


def check_arg(arg: str | None, valid: Sequence[str]) -> str:
    """Returns `arg` ("" for None) if it is one of `valid` (include "" to accept no argument); raises
    `ConfigArgError` listing `valid` otherwise."""
    arg = arg or ""
    if arg not in valid:
        raise ConfigArgError(arg, valid)
    return arg
