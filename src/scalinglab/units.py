"""Units and definitions: N (parameters), D (tokens or samples seen), C (training FLOPs).

This module is the one place these quantities are defined (STYLE P11).

* **N** (``n_params``): parameters, *non-embedding* by default (Kaplan et al. 2020, Sec. 2.1).
* **D** (``n_tokens`` in a runs table): training data seen, in tokens for language models or in
  samples for image-text models (a run's own unit is its procedure's: ``RunSpec.unit``).
* **C** (``flops``): training FLOPs. For a table the default convention is ``"6ND"``
  (Kaplan et al. 2020, Eq. 2.1; Hoffmann et al. 2022, Sec. 3): 2ND for the forward pass and 4ND
  for the backward pass, ignoring attention and embeddings; :data:`FLOPS_CONVENTIONS` lists the
  others. Model-specific counts (exact per-token FLOPs with attention and the output layer,
  Hoffmann et al. 2022, App. F; parameter conventions) belong to each procedure's config
  (:mod:`scalinglab.procedures`), never here.

Human-readable quantities ("70M", "1.4e12", "3B", "2.5k") are parsed by :func:`parse_quantity`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import DataError, UnknownNameError, suggest

__all__ = [
    "FLOPS_CONVENTIONS",
    "FlopsConvention",
    "format_quantity",
    "get_flops_convention",
    "parse_quantity",
]

_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9, "g": 1e9,
           "G": 1e9, "t": 1e12, "T": 1e12, "p": 1e15, "P": 1e15}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtTpP]?)\s*$")


def parse_quantity(value: object, *, name: str = "value") -> float:
    """Parse ``"70M"``, ``"1.4e12"``, ``"3B"``, ``"2.5k"``, ``1e9`` or ``7`` into a float.

    Suffixes: k/K = 1e3, M = 1e6, B/G = 1e9, T = 1e12, P = 1e15 (case-insensitive except that
    a lone ``m`` also means million: nobody trains a milli-parameter model).

    >>> parse_quantity("70M"), parse_quantity("1.4e12"), parse_quantity("3B")
    (70000000.0, 1400000000000.0, 3000000000.0)
    """
    if isinstance(value, bool):
        raise DataError(f"{name}: expected a number like 7e7 or '70M'; got the boolean {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    try:  # numpy scalars and friends
        import numpy as np

        if isinstance(value, np.generic) and np.issubdtype(type(value), np.number):
            return float(value)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if isinstance(value, str):
        s = value.strip().replace("_", "").replace(",", "")
        if s.lower() in {"nan", "inf", "+inf", "-inf", "infinity", "-infinity"}:
            return float(s)
        m = _QUANTITY.match(s)
        if m:
            return float(m.group(1)) * _SUFFIX[m.group(2)]
    raise DataError(
        f"{name}: cannot read {value!r} as a number. Use plain numbers (70000000, 7e7) "
        "or a suffix k, M, B, T, P (e.g. '70M', '1.4T')."
    )


def format_quantity(x: float, digits: int = 3) -> str:
    """Inverse of :func:`parse_quantity` for display: 7e7 -> '70M', 1.4e12 -> '1.4T'."""
    if not math.isfinite(x) or x == 0:
        return f"{x:g}"
    for suffix, scale in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.{digits}g}"


@dataclass(frozen=True)
class FlopsConvention:
    """How training compute C is obtained for a row of a runs table.

    ``requires`` lists the logical columns the convention needs; ``formula`` documents it.
    """

    name: str
    formula: str
    requires: tuple[str, ...]
    citation: str

    def compute(self, *, n_params=None, n_tokens=None, flops=None, gflops_per_sample=None,
                gmacs_per_sample=None, samples_seen=None):
        """Return C (array-like) from the columns this convention requires."""
        if self.name == "6ND":
            return 6.0 * n_params * n_tokens
        if self.name == "explicit":
            return flops
        if self.name == "gflops_per_sample":
            return 1e9 * gflops_per_sample * samples_seen
        if self.name == "gmacs_per_sample":
            return 2e9 * gmacs_per_sample * samples_seen
        raise AssertionError(self.name)  # pragma: no cover


FLOPS_CONVENTIONS: dict[str, FlopsConvention] = {
    c.name: c
    for c in (
        FlopsConvention("6ND", "C = 6 * N * D", ("n_params", "n_tokens"),
                        "Kaplan et al. 2020 (arXiv:2001.08361) Eq. 2.1; Hoffmann et al. 2022"),
        FlopsConvention("explicit", "C = the table's FLOP column", ("flops",),
                        "as reported by the source of the table"),
        FlopsConvention("gflops_per_sample", "C = 1e9 * GFLOP/sample * samples seen",
                        ("gflops_per_sample", "samples_seen"),
                        "Cherti et al. 2023, OpenCLIP scaling laws (arXiv:2212.07143)"),
        FlopsConvention("gmacs_per_sample", "C = 2e9 * GMAC/sample * samples seen",
                        ("gmacs_per_sample", "samples_seen"),
                        "1 multiply-accumulate = 2 FLOPs"),
    )
}


def get_flops_convention(name: str) -> FlopsConvention:
    try:
        return FLOPS_CONVENTIONS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown FLOP convention {name!r}.{suggest(name, FLOPS_CONVENTIONS)} "
            f"Available: {', '.join(FLOPS_CONVENTIONS)}"
        ) from None
