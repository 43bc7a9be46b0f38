"""The one converter between experiment configs (`ml_collections.ConfigDict` files in `configs/`) and the
library's frozen dataclasses, in both directions, for any dataclass.

- `to_dataclass(cls, values, default=None)`: a ConfigDict (or dict, or `config_to_json` output) -> `cls`,
  recursively: nested dicts become the nested dataclasses, lists become tuples, fields left out keep `default`'s
  values (or the dataclass defaults), and an unknown key raises `ConfigKeyError` naming it and the valid keys.
- `config_dict(cls_or_instance, skip=())`: every field of a dataclass (or of an instance) as a ConfigDict, with
  its default value: config files start from it and override only what differs, so each default is defined once
  (in the dataclass) and every field can still be changed with `--set`.

Library code never takes a ConfigDict; `dexvlg_jax.config_files` builds the stages' configs with these.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Iterable, Mapping

import ml_collections

_SCALARS = (bool, int, float, str)


class ConfigKeyError(KeyError, ValueError):
    """A config key that is not a field of the dataclass it is converted to; `valid` lists the fields."""

    def __init__(self, where: str, unknown: Iterable[str], valid: Iterable[str]):
        self.where, self.unknown, self.valid = where, tuple(unknown), tuple(sorted(valid))
        guesses = [g for key in self.unknown for g in difflib.get_close_matches(key, self.valid, n=1)]
        guess = f" (did you mean {', '.join(repr(g) for g in guesses)}?)" if guesses else ""
        self.message = (f"config {where}: unknown key{'s' if len(self.unknown) > 1 else ''} "
                        f"{', '.join(repr(k) for k in self.unknown)}{guess}; valid keys: {', '.join(self.valid)}")
        super().__init__(self.message)

    def __str__(self) -> str:  # not KeyError's quoted repr
        return self.message


def _plain(values: Any) -> Any:
    """ConfigDict / FrozenConfigDict / FieldReference -> plain Python (dicts, lists, tuples, scalars)."""
    if isinstance(values, (ml_collections.ConfigDict, ml_collections.FrozenConfigDict)):
        return values.to_dict()
    if isinstance(values, ml_collections.FieldReference):
        return values.get()
    return values


def _hints(cls) -> dict:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - an annotation that cannot be resolved: fall back to the defaults' types
        return {}


def _field_default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _nested_class(cls, field: dataclasses.Field, current: Any):
    """The dataclass a field holds (from its current/default value, else its annotation), or None."""
    if dataclasses.is_dataclass(current) and not isinstance(current, type):
        return type(current)
    hint = _hints(cls).get(field.name)
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def to_dataclass(cls, values: Mapping | Any, default: Any = None, *, where: str | None = None,
                 ignore_unknown: bool = False):
    """`values` (ConfigDict or mapping, nested) -> a `cls` instance.

    default: an instance of `cls` whose values fill the fields `values` leaves out (None: the dataclass
      defaults; fields without a default must then be given).
    ignore_unknown: drop keys that are not fields (reading files written by an older version) instead of raising
      `ConfigKeyError`.
    A value that is already a dataclass instance is kept as it is; lists and tuples become tuples; a nested dict
    becomes the field's dataclass, itself filled from the default's value of that field.
    """
    where = where or cls.__name__
    values = _plain(values)
    if not isinstance(values, Mapping):
        raise ValueError(f"config {where}: expected a mapping of {cls.__name__} fields, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in fields]
    if unknown and not ignore_unknown:
        raise ConfigKeyError(where, unknown, fields)
    kwargs = {}
    for name, value in values.items():
        if name not in fields:
            continue
        field = fields[name]
        current = getattr(default, name) if default is not None else _field_default(field)
        nested = _nested_class(cls, field, current)
        if nested is not None and isinstance(value, Mapping):
            kwargs[name] = to_dataclass(nested, value, current if dataclasses.is_dataclass(current) else None,
                                        where=f"{where}.{name}", ignore_unknown=ignore_unknown)
        elif nested is not None and value is not None and not dataclasses.is_dataclass(value):
            raise ValueError(f"config {where}.{name}: expected a mapping of {nested.__name__} fields, got {value!r}")
        else:
            kwargs[name] = _tuples(value)
    try:
        return dataclasses.replace(default, **kwargs) if default is not None else cls(**kwargs)
    except TypeError as err:  # a required field left out
        raise ValueError(f"config {where}: {err}") from err


def _tuples(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


def _reference_type(hint: Any) -> type:
    """The ml_collections field type of a None default: X for `X | None` with X a scalar, object otherwise."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1 and args[0] in _SCALARS:
        return args[0]
    return object


def config_dict(source: Any, skip: Iterable[str] = ()) -> ml_collections.ConfigDict:
    """Every field of a dataclass (a class: its defaults; an instance: its values) as a ConfigDict; nested
    dataclasses become nested ConfigDicts. A None value becomes a typed `FieldReference` so that `--set` can give
    it a value later (its type from the annotation `X | None`; any type when it cannot be told).
    skip: field names left out, dotted for nested fields ("optimizer.total_steps"); fields without a default
    (of a class) are left out too."""
    skip = set(skip)
    cls = source if isinstance(source, type) else type(source)
    hints = _hints(cls)
    out = ml_collections.ConfigDict()
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        value = getattr(source, field.name) if not isinstance(source, type) else _field_default(field)
        if value is dataclasses.MISSING:
            continue
        if dataclasses.is_dataclass(value):
            inner = [s.split(".", 1)[1] for s in skip if s.startswith(field.name + ".")]
            out[field.name] = config_dict(value, inner)
        elif value is None:
            out[field.name] = ml_collections.FieldReference(None, field_type=_reference_type(hints.get(field.name)))
        else:
            out[field.name] = value
    return out


def unset_fields(source: Any, names: Iterable[str]) -> ml_collections.ConfigDict:
    """`names` of a dataclass instance as None-valued typed references (each typed like the instance's value):
    a ConfigDict of optional overrides, None meaning "keep the instance's value" (e.g. a model variant's
    fields: `configs/train/common.py`)."""
    return ml_collections.ConfigDict({
        name: ml_collections.FieldReference(None, field_type=type(getattr(source, name))) for name in names})


def given(values: Mapping | Any) -> dict:
    """The entries of `values` that are not None (the overrides actually set in an `unset_fields` dict)."""
    return {k: _tuples(v) for k, v in _plain(values).items() if v is not None}
