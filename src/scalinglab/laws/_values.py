"""Small value types of fit results: predictions, derived quantities, name-indexed matrices and
interval tables (all read-only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from ..config import freeze, freeze_fields
from ..errors import suggest

__all__ = ["CITable", "Derived", "ParamMatrix", "Prediction"]


class _Bounds(NamedTuple):
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


class Prediction(_Bounds):
    """A prediction with an interval: ``mean`` and the ``low``/``high`` prediction bounds (read-only).

    Unpacks as ``mean, low, high``. Also says which interval it is and how far it reaches:

    Attributes
    ----------
    method : str or None
        ``"calibrated"``, ``"bootstrap"`` or ``"wald"`` (see :mod:`scalinglab.laws.intervals`).
    outside_decades : ndarray or None
        Per point, decades outside the fitted data (0 inside; see
        :func:`~scalinglab.laws.intervals.outside_decades`).
    level : float or None
    note : str
        What the interval rests on (e.g. the calibration's one-line description).
    """

    method: str | None = None
    outside_decades: np.ndarray | None = None
    level: float | None = None
    note: str = ""

    def __new__(cls, mean: Any, low: Any, high: Any, method: str | None = None,
                outside_decades: Any = None, level: float | None = None, note: str = "") -> Prediction:
        obj = super().__new__(cls, freeze(mean), freeze(low), freeze(high))
        for k, v in (("method", method), ("outside_decades", freeze(outside_decades)),
                     ("level", level), ("note", note)):
            object.__setattr__(obj, k, v)
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Prediction is read-only; cannot set {name!r}")

    def __reduce__(self) -> Any:
        return (Prediction, (self.mean, self.low, self.high, self.method, self.outside_decades,
                             self.level, self.note))

    def describe(self) -> str:
        """One line: which interval, at what level, and how far outside the data."""
        if self.method is None:
            return "interval"
        d = np.asarray(self.outside_decades if self.outside_decades is not None else 0.0, dtype=float)
        far = float(np.max(d)) if d.size else 0.0
        where = "inside the fitted data" if far == 0 else f"up to {far:.2f} decades outside the fitted data"
        lvl = f"{100 * self.level:g}% " if self.level is not None else ""
        return f"{lvl}{self.method} interval, {where}"

    def __repr__(self) -> str:
        return (f"Prediction(mean={self.mean!r}, low={self.low!r}, high={self.high!r}; "
                f"{self.describe()})")


class _Derived(NamedTuple):
    estimate: Any
    low: Any
    high: Any


class Derived(_Derived):
    """A function of the parameters with its interval: ``(estimate, low, high)`` (read-only)."""

    __slots__ = ()

    def __new__(cls, estimate: Any, low: Any, high: Any) -> Derived:
        return super().__new__(cls, freeze(estimate), freeze(low), freeze(high))


class ParamMatrix(np.ndarray):
    """A (P, P) matrix that can be indexed by parameter names (``cov["A", "B"]``)."""

    names: tuple[str, ...]

    def __new__(cls, values: np.ndarray, names: Sequence[str]) -> ParamMatrix:
        obj = np.array(values, dtype=float).view(cls)      # a copy, read-only
        obj.names = tuple(names)
        obj.setflags(write=False)
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        self.names = getattr(obj, "names", ())

    def _idx(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return self.names.index(key)
            except ValueError:

                raise KeyError(f"no parameter {key!r}.{suggest(key, self.names)} Parameters: "
                               f"{', '.join(self.names)}") from None
        if isinstance(key, tuple):
            return tuple(self._idx(k) for k in key)
        return key

    def __getitem__(self, key: Any) -> Any:
        out = super().__getitem__(self._idx(key))
        if isinstance(out, ParamMatrix) and out.shape != (len(self.names), len(self.names)):
            return np.asarray(out)
        return out

    def corr(self) -> ParamMatrix:
        """The correlation matrix."""
        a = np.asarray(self)
        d = np.sqrt(np.clip(np.diag(a), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            c = a / np.outer(d, d)
        return ParamMatrix(c, self.names)

    def to_dict(self) -> dict[str, dict[str, float]]:
        a = np.asarray(self)
        return {r: {c: float(a[i, j]) for j, c in enumerate(self.names)} for i, r in enumerate(self.names)}

    def __repr__(self) -> str:
        w = max([len(n) for n in self.names] + [10])
        head = " " * w + "".join(f"{n:>12}" for n in self.names)
        rows = [f"{n:<{w}}" + "".join(f"{v:>12.4g}" for v in row) for n, row in zip(self.names, np.asarray(self))]
        return "\n".join([head, *rows])

    __str__ = __repr__


@dataclass(frozen=True)
class CITable:
    """Confidence intervals per parameter: ``table["alpha"] -> (low, high)``."""

    rows: Mapping[str, tuple[float, float]]
    estimates: Mapping[str, float]
    level: float
    method: str

    def __post_init__(self) -> None:
        freeze_fields(self)

    def __getitem__(self, name: str) -> tuple[float, float]:
        return self.rows[name]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def items(self):
        return self.rows.items()

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "method": self.method,
                "rows": {k: {"estimate": self.estimates[k], "low": lo, "high": hi}
                         for k, (lo, hi) in self.rows.items()}}

    def __str__(self) -> str:
        w = max([len(k) for k in self.rows] + [5])
        lines = [f"{'param':<{w}} {'estimate':>12} {'low':>12} {'high':>12}   ({self.level:.0%} {self.method})"]
        for k, (lo, hi) in self.rows.items():
            lines.append(f"{k:<{w}} {self.estimates[k]:>12.6g} {lo:>12.6g} {hi:>12.6g}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        body = "".join(f"<tr><td>{escape(k)}</td><td>{self.estimates[k]:.6g}</td><td>{lo:.6g}</td>"
                       f"<td>{hi:.6g}</td></tr>" for k, (lo, hi) in self.rows.items())
        return (f"<table><caption>{self.level:.0%} intervals ({escape(self.method)})</caption>"
                f"<tr><th>param</th><th>estimate</th><th>low</th><th>high</th></tr>{body}</table>")


# ---------------------------------------------------------------------------------------------
# lossless floats (float.hex round-trips every double exactly)
# ---------------------------------------------------------------------------------------------
