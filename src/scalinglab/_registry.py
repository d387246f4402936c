"""Explicit, lazy, strict registries (laws, ladders, tasks, metrics, backends).

An entry is either an object or a ``"module:attr"`` string imported on first use, so filling a
registry never imports an optional package. Unknown names raise :class:`UnknownNameError` with
suggestions. (Pattern: lm-evaluation-harness ``lm_eval/api/registry.py``.)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import ConfigError, UnknownNameError, suggest

__all__ = ["Registry", "import_target"]

T = TypeVar("T")


def import_target(target: str, *, what: str = "target") -> Any:
    """Import ``"package.module:attr"`` and return the attribute; ConfigError naming ``what`` otherwise."""
    mod, sep, attr = str(target).partition(":")
    if not sep or not mod or not attr:
        raise ConfigError(f"{what} must look like 'package.module:attr'; got {target!r}")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {what} {target!r}: {exc}") from None


class Registry(Generic[T]):
    """A named mapping of ``name -> object`` with lazy ``"module:attr"`` targets."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._frozen = False

    def register(self, name: str, obj: T | None = None, *, target: str | None = None,
                 overwrite: bool = False) -> Callable[[T], T] | T:
        """Register ``obj`` (or a lazy ``target="pkg.mod:attr"``) under ``name``.

        Usable as a decorator: ``@LAWS.register("chinchilla")``.
        """
        if self._frozen:
            raise ConfigError(f"the {self.kind} registry is frozen; cannot register {name!r}")

        def _add(o: Any) -> Any:
            if name in self._entries and not overwrite:
                raise ConfigError(
                    f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it"
                )
            self._entries[name] = o
            return o

        if target is not None:
            if ":" not in target:
                raise ConfigError(f"lazy target must look like 'package.module:attr'; got {target!r}")
            _add(target)
            return None  # type: ignore[return-value]
        if obj is None:
            return _add
        return _add(obj)

    def get(self, name: str) -> T:
        """Return the entry named ``name``, importing a lazy target now."""
        try:
            entry = self._entries[name]
        except KeyError:
            avail = ", ".join(sorted(self._entries)) or "(none)"
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{suggest(name, self._entries)} Available: {avail}"
            ) from None
        if isinstance(entry, str):
            entry = import_target(entry, what=f"{self.kind} {name!r}")
            self._entries[name] = entry
        return entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def freeze(self) -> None:
        self._frozen = True

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
