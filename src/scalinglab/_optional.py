"""Import optional packages lazily, with an error that names the extra to install.

The core (``scalinglab.fit``, ``units``, ``store``) needs only numpy, scipy and pyyaml; torch,
matplotlib, typer, submitit, ray, pandas ... are imported through :func:`require` inside the
function that needs them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["has", "require"]


def has(module: str) -> bool:
    """True when ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, extra: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ImportError telling which scalinglab extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"{module!r} is needed{what} but is not installed. "
            f"Install it with: pip install 'scalinglab[{extra}]'"
        ) from exc
