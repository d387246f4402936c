"""scalinglab: reproducible scaling-law science.

What to use when
----------------
* Results from elsewhere (a paper's CSV, open_clip / lm-eval runs): :func:`load_runs`, then
  :func:`fit` a law from :data:`LAWS`, :func:`compare` two procedures, :func:`allocate` compute,
  :func:`backtest` on held-out larger runs.
* Your own ladders: ``scalinglab.sweep`` (plan and run sweeps) writes a results store that the
  same verbs read.
* Robustness evaluation (AIW): ``scalinglab.evals``.

Importing this package never imports torch, matplotlib or typer.
"""

from ._version import __version__
from .errors import (
    ConfigError,
    DataError,
    DataWarning,
    FitError,
    ScalingLabError,
    ScalingLabWarning,
    UnknownNameError,
)
from .fit.data import Runs, load_runs
from .units import parse_quantity

__all__ = [
    "ConfigError",
    "DataError",
    "DataWarning",
    "FitError",
    "Runs",
    "ScalingLabError",
    "ScalingLabWarning",
    "UnknownNameError",
    "__version__",
    "load_runs",
    "parse_quantity",
]
