"""scalinglab: reproducible scaling-law science.

What to use when
----------------
* **Results from elsewhere** (a paper's CSV, open_clip / open_lm / lm-eval runs): :func:`load_runs`
  (or :func:`load_lm_eval`), then :func:`fit` a law from :data:`LAWS` (see :func:`list_laws`).
* **Decisions**: :func:`compare` two procedures or datasets (difference at larger compute,
  effective-compute multiplier, crossover), :func:`allocate` compute between N and D,
  :func:`backtest` a law on held-out larger runs. :func:`best_per_size` and
  :func:`compute_envelope` build the frontier a law should be fitted on.
* **Your own ladders**: :func:`plan_sweep` / :func:`run_sweep` train a sweep into a
  :class:`ResultsStore`, whose ``to_runs()`` feeds the same verbs. Ladders: :func:`list_ladders`.
* **Robustness evaluation** ("Alice in Wonderland"): :mod:`scalinglab.evals`.
* **Reports**: :mod:`scalinglab.report` (figures and a self-contained HTML report).

Importing this package never imports torch, matplotlib or typer; the sweep, store and ladder names
below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .errors import (
    ConfigError,
    DataError,
    DataWarning,
    FitError,
    ScalingLabError,
    ScalingLabWarning,
    TuningEdgeWarning,
    UnknownNameError,
)
from .laws import (
    LAWS,
    FitResult,
    Runs,
    allocate,
    backtest,
    best_per_size,
    compare,
    compute_envelope,
    coverage_check,
    fit,
    get_law,
    isoflop_slices,
    list_laws,
    load_lm_eval,
    load_runs,
    register_law,
)
from .units import parse_quantity

# Names resolved lazily (PEP 562) so that `import scalinglab` stays light.
_LAZY = {
    "ResultsStore": "scalinglab.store",
    "plan_sweep": "scalinglab.sweep",
    "run_sweep": "scalinglab.sweep",
    "list_ladders": "scalinglab.ladders",
    "get_ladder": "scalinglab.ladders",
}

__all__ = [
    "ConfigError",
    "DataError",
    "DataWarning",
    "FitError",
    "FitResult",
    "LAWS",
    "ResultsStore",
    "Runs",
    "ScalingLabError",
    "ScalingLabWarning",
    "TuningEdgeWarning",
    "UnknownNameError",
    "__version__",
    "allocate",
    "backtest",
    "best_per_size",
    "compare",
    "compute_envelope",
    "coverage_check",
    "fit",
    "get_ladder",
    "get_law",
    "isoflop_slices",
    "list_ladders",
    "list_laws",
    "load_lm_eval",
    "load_runs",
    "parse_quantity",
    "plan_sweep",
    "register_law",
    "run_sweep",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalinglab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
