"""Strict loading of frozen dataclass configs from dicts, YAML or JSON (STYLE P9).

Unknown keys and wrong types raise :class:`~scalinglab.errors.ConfigError` with the offending
key, the expected type and close names. Configs are never ``exec``-ed.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Opt:
...     lr: float = 1e-3      # peak learning rate
...     steps: int = 100      # optimizer steps
>>> from_dict(Opt, {"lr": "3e-4"}).lr
0.0003
>>> from_dict(Opt, {"lr": 1e-3, "step": 5})
Traceback (most recent call last):
...
scalinglab.errors.ConfigError: unknown key 'step' in Opt. Did you mean: steps? Allowed keys: lr, steps
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError, suggest
from .units import parse_quantity

__all__ = ["freeze", "freeze_fields", "from_dict", "load_mapping", "to_dict"]

T = TypeVar("T")


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file that must contain a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
        raise ConfigError(f"cannot parse {str(path)!r}: {exc}") from None
    if data is None:
        raise ConfigError(f"config file {str(path)!r} is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{str(path)!r} must contain a mapping at top level; got {type(data).__name__}")
    return data


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {value!r} matches none of {tp}")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{where} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
                              f"{suggest(str(value), map(str, allowed))}")
        return value
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list; got {value!r}")
        args = get_args(tp)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where} must have {len(args)} items; got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping; got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        out = {_coerce(k, kt, f"{where} key"): _coerce(v, vt, f"{where}[{k!r}]") for k, v in value.items()}
        return freeze(out) if origin is Mapping else out
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_dict(tp, value, where=where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false; got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer; got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):

            try:
                f = parse_quantity(value, name=where)
            except Exception:
                f = None
            if f is not None and float(f).is_integer():
                return int(f)
        raise ConfigError(f"{where} must be an integer; got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be a number; got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):

            try:
                return parse_quantity(value, name=where)
            except Exception:
                pass
        raise ConfigError(f"{where} must be a number; got {value!r}")
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string; got {value!r}")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: cannot check a value against the type {tp!r} (got {value!r}); "
                      "declare the field with a plain type (int, float, str, bool, list, dict, "
                      "Mapping, Literal, a dataclass) or Any")


def from_dict(cls: type[T], data: Any, *, where: str | None = None) -> T:
    """Build the dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping; got {type(data).__name__}: {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = get_type_hints(cls)
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        raise ConfigError(f"unknown key {k!r} in {where}.{suggest(str(k), fields)} "
                          f"Allowed keys: {', '.join(fields)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    missing = [n for n, f in fields.items() if n not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where} is missing required key(s): {', '.join(missing)}")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def to_dict(obj: Any) -> Any:
    """Inverse of :func:`from_dict`: a JSON-able dict (tuples become lists, read-only mappings dicts)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become ``MappingProxyType``, lists and tuples tuples, numpy
    arrays read-only copies (``arr.flags.writeable`` False; the caller's array is left alone).

    What a frozen record holds, so that ``spec.extra["k"] = 1``, ``.append`` on a list inside or
    ``runs.target[0] = 99`` raises instead of silently changing something already hashed, stored
    or fitted. Already-frozen values are returned as they are (no copy).

    >>> frozen = freeze({"a": [1, 2]})
    >>> frozen["a"]
    (1, 2)
    >>> frozen["b"] = 3
    Traceback (most recent call last):
    ...
    TypeError: 'mappingproxy' object does not support item assignment
    """
    if isinstance(value, types.MappingProxyType) and all(_is_frozen(v) for v in value.values()):
        return value
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, tuple) and not hasattr(value, "_fields") and all(_is_frozen(v) for v in value):
        return value
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return tuple(freeze(v) for v in value)
    if hasattr(value, "setflags") and hasattr(value, "flags"):          # a numpy array
        if not value.flags.writeable:
            return value
        out = value.copy()
        out.setflags(write=False)
        return out
    return value


def _is_frozen(value: Any) -> bool:
    if isinstance(value, (list, dict)):
        return False
    if isinstance(value, types.MappingProxyType):
        return all(_is_frozen(v) for v in value.values())
    if isinstance(value, tuple):
        return all(_is_frozen(v) for v in value)
    if hasattr(value, "setflags") and hasattr(value, "flags"):
        return not value.flags.writeable
    return True


def freeze_fields(obj: Any, *names: str) -> None:
    """Freeze (:func:`freeze`) the named fields of a frozen dataclass instance in place, or all.

    Call it from ``__post_init__``: ``object.__setattr__`` is how a frozen dataclass sets its own
    fields once, at construction.
    """
    for name in names or [f.name for f in dataclasses.fields(obj)]:
        value = getattr(obj, name)
        frozen = freeze(value)
        if frozen is not value:
            object.__setattr__(obj, name, frozen)


_ = typing  # keep `typing` importable for string annotations in user configs
