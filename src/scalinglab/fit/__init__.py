"""Fitting scaling laws (numpy + scipy only; never torch, matplotlib or typer).

What to use when
----------------
* Load results with :func:`load_runs` (or ``Runs.from_arrays``), then ``fit(law, runs)``.
* Pick a law from :data:`LAWS` (:func:`list_laws`): ``"saturating_power_law"`` for loss vs
  compute with a floor, ``"power_law"`` without one (``loss="loglinear"`` for a log-log line),
  ``"chinchilla"`` for L(N, D), ``"overtraining"`` for L(C, M = D/N), ``"saturating_error"`` for
  error rates, ``"downstream_link"`` for error as a function of loss. Add your own with
  :func:`register_law`.
* Pick an estimator with ``loss=``: ``"huber"`` (default, Hoffmann et al. 2022) for reproducing
  the literature and resisting outliers; ``"ls"`` under Gaussian noise; ``"huber_likelihood"``
  (Besiroglu et al. 2024) for a likelihood with a fitted scale; ``"asymmetric"`` to track the
  lower envelope of many settings per scale. Details: :mod:`scalinglab.fit.objectives`.
* Uncertainty: ``res.with_bootstrap(n_boot=1000, by=...)`` then ``res.ci()``, ``res.derived(...)``,
  ``res.predict(level=0.95, ...)``. Wald errors exist but are flagged under robust losses.
* Trust: ``res.diagnostics`` / ``res.ok`` / the numbered notes of ``res.summary()``;
  :func:`coverage_check` measures whether intervals cover the truth on simulated data.

A guide with examples is in docs/fitting.md.
"""

from .bootstrap import BootstrapResult
from .coverage import CoverageReport, coverage_check
from .data import Runs, load_runs
from .laws import (
    LAWS,
    Chinchilla,
    DownstreamLink,
    Law,
    Overtraining,
    PowerLaw,
    SaturatingError,
    SaturatingPowerLaw,
    get_law,
    list_laws,
    register_law,
)
from .objectives import ESTIMATORS
from ._tables import CITable, Derived, ParamMatrix, Prediction
from .diagnostics import FitDiagnostics
from .result import FitResult, fit
from .summary import Summary

__all__ = [
    "BootstrapResult",
    "CITable",
    "Chinchilla",
    "CoverageReport",
    "Derived",
    "DownstreamLink",
    "ESTIMATORS",
    "FitDiagnostics",
    "FitResult",
    "LAWS",
    "Law",
    "Overtraining",
    "ParamMatrix",
    "PowerLaw",
    "Prediction",
    "Runs",
    "SaturatingError",
    "SaturatingPowerLaw",
    "Summary",
    "coverage_check",
    "fit",
    "get_law",
    "list_laws",
    "load_runs",
    "register_law",
]
