"""Lossless float encoding for saved artifacts: every float as its exact ``float.hex`` string.

JSON numbers lose nothing for most floats, but not every writer and reader round-trips the last
bit; ``float.hex`` does, so a reloaded fit predicts bit-identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["hex_float", "hex_floats", "unhex_float", "unhex_floats"]


def hex_float(x: float) -> str:
    """``x`` as ``float.hex``: exact, and read back by :func:`unhex_float`."""
    return float(x).hex()


def unhex_float(s: str) -> float:
    return float.fromhex(s)


def hex_floats(a: Any) -> Any:
    """An array as nested lists of ``float.hex`` strings (a scalar as one string)."""
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 0:
        return hex_float(float(arr))
    return [hex_floats(v) for v in arr] if arr.ndim > 1 else [float(v).hex() for v in arr]


def unhex_floats(a: Any) -> np.ndarray:
    """Inverse of :func:`hex_floats`."""
    if isinstance(a, str):
        return np.array(unhex_float(a))
    return np.array([unhex_floats(v) if not isinstance(v, str) else unhex_float(v) for v in a], dtype=float)
