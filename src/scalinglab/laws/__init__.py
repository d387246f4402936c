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
  lower envelope of many settings per scale. Details: :mod:`scalinglab.laws.objectives`.
* Uncertainty: ``res.with_bootstrap(n_boot=1000, by=...)`` then ``res.ci()``, ``res.derived(...)``,
  ``res.predict(level=0.95, ...)``. Wald errors exist but are flagged under robust losses.
  Beyond the fitted data ``predict`` gives the *calibrated* interval (:mod:`.intervals`: the
  bootstrap interval widened by rolling-origin backtests inside the data,
  ``res.with_calibration()``); every :class:`Prediction` says which interval it is and how many
  decades outside the data it lies.
* Frontiers: :func:`best_per_size` (best hyper-parameters per (N, D), flags a best LR at the
  edge of its grid), :func:`compute_envelope` / :func:`binned_minimum` (lower envelope over
  compute), :func:`pareto_bins` (Nezhurina et al.'s binned, monotone frontier of error vs
  compute), :func:`isoflop_slices`. Every frontier point keeps the id of its defining run.
* Decisions: :func:`allocate` (compute-optimal N*(C), D*(C) by Hoffmann et al.'s three
  approaches; ``law.optimal_loss(params, flops)`` gives a law's L*(C) and N*(C)), :func:`compare` (which of two procedures wins at larger compute: difference,
  effective-compute multiplier, equal-exponent test, crossover), :func:`backtest` (fit small,
  predict held-out large runs, or an explicit published split with ``test=``; scored by coverage
  and :func:`interval_score`).
* Trust: ``res.diagnostics`` / ``res.ok`` / the numbered notes of ``res.summary()``;
  :func:`coverage_check` measures whether intervals cover the truth on simulated data,
  :func:`extrapolation_coverage` whether prediction intervals hold new runs beyond it.

A guide with examples is in docs/fitting.md.
"""

from ._values import CITable, Derived, ParamMatrix, Prediction
from .allocation import Allocation, AllocationPrediction, allocate
from .backtesting import Backtest, BacktestFold, backtest
from .bootstrap import BootstrapResult
from .comparison import Comparison, Crossover, DataMultiplier, ExponentTest, compare, data_multiplier
from .coverage import CoverageReport, ExtrapolationCoverage, coverage_check, extrapolation_coverage
from .diagnostics import FitDiagnostics
from .fitting import fit
from .frontier import (
    Frontier,
    IsoFlopSlices,
    TuningEdge,
    best_per_size,
    binned_minimum,
    compute_envelope,
    isoflop_slices,
    pareto_bins,
)
from .intervals import Calibration, interval_score
from .law import LAWS, Law, get_law, list_laws, register_law
from .objectives import ESTIMATORS
from .result import FitData, FitResult
from .runs import Runs
from .specs import (
    Chinchilla,
    DataConstrained,
    DownstreamLink,
    Overtraining,
    PowerLaw,
    SaturatingError,
    SaturatingPowerLaw,
)
from .summary import Summary
from .tables import load_lm_eval, load_runs

__all__ = [
    "Allocation",
    "AllocationPrediction",
    "Backtest",
    "BacktestFold",
    "BootstrapResult",
    "CITable",
    "Calibration",
    "Chinchilla",
    "Comparison",
    "CoverageReport",
    "Crossover",
    "DataConstrained",
    "DataMultiplier",
    "Derived",
    "DownstreamLink",
    "ESTIMATORS",
    "ExponentTest",
    "ExtrapolationCoverage",
    "FitData",
    "FitDiagnostics",
    "FitResult",
    "Frontier",
    "IsoFlopSlices",
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
    "TuningEdge",
    "allocate",
    "backtest",
    "best_per_size",
    "binned_minimum",
    "compare",
    "compute_envelope",
    "coverage_check",
    "data_multiplier",
    "extrapolation_coverage",
    "fit",
    "get_law",
    "interval_score",
    "isoflop_slices",
    "list_laws",
    "load_lm_eval",
    "load_runs",
    "pareto_bins",
    "register_law",
]
