"""The one exception and warning tree of scalinglab.

Every error a user can trigger is one of these, with a message that says what was expected,
what arrived and how to fix it. ``assert`` is used only for internal invariants.

Exceptions::

    ScalingLabError
     ├── ConfigError(ValueError)          bad option, unknown key, wrong type in a config / YAML
     ├── DataError(ValueError)            a table of runs that cannot be used (columns, values)
     │    └── MissingColumnError(KeyError) a named column is absent (suggests close names)
     ├── UnknownNameError(KeyError)       unknown law / ladder / task / backend (suggests names)
     ├── NotFittedError(ValueError, AttributeError)
     ├── FitError(RuntimeError)           no start converged to a finite objective
     ├── StoreError(RuntimeError)         results store cannot be opened / written / conflicts
     ├── BackendError(RuntimeError)       an executor or model server failed
     └── TrainingError(RuntimeError)      a run could not be trained (diverged runs are *recorded*)

Warnings::

    ScalingLabWarning(UserWarning)
     ├── DataWarning                      rows excluded (NaN/inf targets = diverged runs), coerced units
     ├── ConvergenceWarning               optimizer stopped early or starts disagree
     ├── FitAtBoundWarning                a parameter sits at its bound
     ├── UnreliableErrorsWarning          covariance errors under a robust loss, too few points
     ├── ExtrapolationWarning             prediction far outside the fitted range
     ├── TuningEdgeWarning                best learning rate sits at the edge of the searched grid
     ├── MigrationWarning                 a store's runs were migrated to the current schema
     └── OptionalDependencyWarning
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BackendError",
    "ConfigError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "ExtrapolationWarning",
    "FitAtBoundWarning",
    "FitError",
    "MigrationWarning",
    "MissingColumnError",
    "NotFittedError",
    "OptionalDependencyWarning",
    "ScalingLabError",
    "ScalingLabWarning",
    "StoreError",
    "TrainingError",
    "TuningEdgeWarning",
    "UnknownNameError",
    "UnreliableErrorsWarning",
    "suggest",
]


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``" Did you mean: a, b?"`` for close matches of ``name`` in ``choices`` (or "")."""
    choices = [str(c) for c in choices]
    close = difflib.get_close_matches(str(name), choices, n=n, cutoff=0.6)
    if not close:  # case-insensitive second chance ("Loss" vs "loss")
        lower = {c.lower(): c for c in choices}
        close = [lower[c] for c in difflib.get_close_matches(str(name).lower(), list(lower), n=n, cutoff=0.6)]
    return f" Did you mean: {', '.join(close)}?" if close else ""


class ScalingLabError(Exception):
    """Root of every error scalinglab raises on purpose."""


class ConfigError(ScalingLabError, ValueError):
    """A config, option or YAML file is invalid (unknown key, wrong type, out of range)."""


class DataError(ScalingLabError, ValueError):
    """A table of runs cannot be used as given."""


class MissingColumnError(DataError, KeyError):
    """A column named in the column mapping is not in the table."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownNameError(ScalingLabError, KeyError):
    """A registry lookup failed; the message lists close names and what is available."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFittedError(ScalingLabError, ValueError, AttributeError):
    """A result was used before the estimate it needs exists (e.g. no bootstrap was run)."""


class FitError(ScalingLabError, RuntimeError):
    """The optimizer found no finite optimum from any start."""


class StoreError(ScalingLabError, RuntimeError):
    """The results store cannot be opened or written, or a record conflicts with a stored one."""


class BackendError(ScalingLabError, RuntimeError):
    """An execution backend or a model server failed."""


class TrainingError(ScalingLabError, RuntimeError):
    """A run could not be trained. (A run that diverges is recorded as diverged, not raised.)"""


class ScalingLabWarning(UserWarning):
    """Root of every warning scalinglab emits."""


class DataWarning(ScalingLabWarning):
    """Rows were excluded or values coerced while loading runs."""


class ConvergenceWarning(ScalingLabWarning):
    """The optimizer did not converge, or the multi-start optima disagree."""


class FitAtBoundWarning(ScalingLabWarning):
    """A fitted parameter sits at one of its bounds."""


class UnreliableErrorsWarning(ScalingLabWarning):
    """Standard errors were asked for where they do not mean what they seem to."""


class ExtrapolationWarning(ScalingLabWarning):
    """A prediction lies far outside the range the law was fitted on."""


class TuningEdgeWarning(ScalingLabWarning):
    """The best hyper-parameter of a tuned point sits at the edge of its searched grid."""


class MigrationWarning(ScalingLabWarning):
    """A results store was migrated to the current run schema (run ids changed; nothing lost)."""


class OptionalDependencyWarning(ScalingLabWarning):
    """An optional package is missing; a feature is degraded."""
