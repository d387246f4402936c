"""The frozen result of a fit, :class:`FitResult` (contract: docs/ARCHITECTURE.md).

The verb is :func:`scalinglab.laws.fitting.fit`: it picks the estimator (:mod:`objectives`), runs the multi-start optimizer
(:mod:`_optimize`), checks the optimum (:class:`FitDiagnostics`, one warning per problem) and
returns a :class:`FitResult` that records the law, the options and a fingerprint of the data.
A result never changes; ``with_bootstrap`` returns a new one.

Standard errors and intervals
-----------------------------
* ``method="bootstrap"`` (the default once a bootstrap exists; see :mod:`bootstrap` for what it
  means and when it fails): percentile intervals of refits on resampled runs.
* ``method="wald"``: ``estimate +- t * se`` (Student t, n - k degrees of freedom) from the
  Gauss-Newton covariance
  ``s^2 (J^T J)^-1`` with ``s^2 = sum r^2 / (n - k)``, computed in the optimizer's coordinates
  (log scale for ``Law.log_params``, so those intervals are ``exp(log p +- z se)``). It is the
  textbook covariance of least squares under independent, equal-variance errors. Under robust
  losses (huber, lad, asymmetric, huber_likelihood) it is only an approximation: it is labelled
  with :class:`~scalinglab.errors.UnreliableErrorsWarning` and a note. Measured coverage of both
  methods is in docs/coverage.md.

Prediction intervals for new runs (``predict(level=...)``) are ``"bootstrap"``, ``"wald"`` or
``"calibrated"``, the default beyond the fitted data: see :mod:`scalinglab.laws.intervals`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    ExtrapolationWarning,
    FitAtBoundWarning,
    FitError,
    NotFittedError,
    UnknownNameError,
    UnreliableErrorsWarning,
)
from . import _optimize as opt
from ._serialize import decode_result, encode_result, read_artifact, write_artifact
from ._values import CITable, Derived, ParamMatrix, Prediction
from .bootstrap import BootstrapResult, group_labels, percentile_interval, resample_weights
from .diagnostics import FitDiagnostics
from .intervals import (
    INTERVALS,
    Calibration,
    calibration_min_train,
    outside_decades,
    rolling_folds,
    scale_coordinate,
)
from .law import Law, derive_inputs
from .objectives import Objective
from .runs import Runs
from .seeds import NoiseModel

__all__ = [
    "CITable",
    "Derived",
    "FitDiagnostics",
    "FitResult",
    "ParamMatrix",
    "FitData",
    "Prediction",
]

EXTRAPOLATION_FACTOR = 100.0   # predictions beyond 100x the fitted input range warn


# ---------------------------------------------------------------------------------------------
# FitResult
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class FitData:
    """The data a result was fitted on (kept so it can be bootstrapped, calibrated and saved)."""

    inputs: Mapping[str, np.ndarray]      # the law's inputs, float arrays (n,)
    target: np.ndarray                    # (n,)
    columns: Mapping[str, np.ndarray]     # columns available for grouping (str or float arrays)

    def __post_init__(self) -> None:
        freeze_fields(self)


@dataclass(frozen=True, eq=False)
class FitResult:
    """A fitted scaling law (frozen). Produced by :func:`fit`; see docs/ARCHITECTURE.md.

    Attributes
    ----------
    law : Law
    param_vector : ndarray
        Parameters in ``law.param_names`` order (natural units).
    objective : float
        Value of the minimized objective.
    residuals : ndarray
        Residuals in the fitted space (``log f - log y`` in log space, ``f - y`` in linear space).
    sigma : float
        Residual scale used for prediction intervals, in the fitted space: ``sqrt(sum r^2/(n-k))``
        for least squares, ``1.4826 * MAD`` of the residuals for robust losses.
    n_points : int
    input_range : dict of str -> (min, max)
        Of each input of the law and of ``"flops"``, the compute of the fitted runs (their own
        column, else 6ND per run): what allocation and comparison call "the data's range".
    runs_fingerprint : str
        :attr:`Runs.fingerprint` of the fitted data.
    options : dict
        Every option of the fit (loss, delta, space, reduce, tau, starts, seed, fixed, method).
    diagnostics : FitDiagnostics
    bootstrap : BootstrapResult or None
    calibration : Calibration or None
        Rolling-origin calibration of extrapolation intervals (:meth:`with_calibration`).
    noise : NoiseModel or None
        The noise of one new run that prediction intervals add (:mod:`scalinglab.laws.seeds`):
        from seed replicates in the data, else a registered seed study of the runs' ladder, else
        the residuals. None on results built by hand or loaded from older artifacts (residuals).
    """

    law: Law
    param_vector: np.ndarray
    objective: float
    residuals: np.ndarray
    sigma: float
    n_points: int
    input_range: Mapping[str, tuple[float, float]]
    runs_fingerprint: str
    options: Mapping[str, Any]
    diagnostics: FitDiagnostics
    bootstrap: BootstrapResult | None = None
    calibration: Calibration | None = None
    likelihood_scale: float | None = None
    noise: NoiseModel | None = None
    data: FitData | None = field(default=None, repr=False)      # what was fitted (bootstrap, calibration, save)
    cov_internal: np.ndarray | None = field(default=None, repr=False)   # Gauss-Newton covariance, optimizer coordinates
    meta: Mapping[str, Any] = field(default_factory=dict, repr=False)

    # -- parameters ------------------------------------------------------------------------
    def __post_init__(self) -> None:
        freeze_fields(self)

    @property
    def params(self) -> dict[str, float]:
        """``{name: value}`` in natural units."""
        return self.law.as_dict(self.param_vector)

    @property
    def ok(self) -> bool:
        """True when the diagnostics found no problem."""
        return self.diagnostics.ok

    @property
    def objective_spec(self) -> Objective:
        o = self.options
        return Objective(loss=o["loss"], space=o["space"], reduce=o["reduce"], delta=o["delta"],
                         tau=o["tau"], lad_scale=o.get("lad_scale", 1.0))

    def _problem(self) -> opt.Problem:
        if self.data is None:
            raise NotFittedError("this result carries no data (saved without it); refit to bootstrap")
        return opt.Problem(self.law, self.data.inputs, self.data.target, self.objective_spec,
                           fixed=self.options.get("fixed") or None)

    # -- uncertainty -----------------------------------------------------------------------
    def _warn_unreliable(self, what: str) -> None:
        if self.objective_spec.robust:
            warnings.warn(f"{what} are covariance-based (Wald) errors under the robust loss "
                          f"{self.options['loss']!r}: they assume least-squares-like behaviour and are "
                          "approximate. Use .with_bootstrap() for intervals that hold.",
                          UnreliableErrorsWarning, stacklevel=3)

    def _wald_quantile(self, level: float) -> float:
        """Student-t quantile with n - k degrees of freedom (exact for linear least squares)."""
        from scipy.stats import t

        dof = max(self.n_points - self.diagnostics.n_params, 1)
        return float(t.ppf(0.5 + level / 2, dof))

    @cached_property
    def _wald_natural_cov(self) -> np.ndarray:
        P = self.law.n_params
        out = np.zeros((P, P))
        if self.cov_internal is None:
            return np.full((P, P), np.nan)
        free = [j for j, k in enumerate(self.law.param_names) if k not in (self.options.get("fixed") or {})]
        scale = np.array([self.param_vector[j] if self.law.param_names[j] in self.law.log_params else 1.0
                          for j in free])
        c = self.cov_internal * np.outer(scale, scale)
        out[np.ix_(free, free)] = c
        return out

    @property
    def cov(self) -> ParamMatrix:
        """Covariance of the parameters, indexed by name.

        From the bootstrap draws when a bootstrap exists, else the Wald covariance (delta method
        from the optimizer's coordinates; flagged unreliable under robust losses).
        """
        if self.bootstrap is not None:
            d = self.bootstrap.params
            ok = np.all(np.isfinite(d), axis=1)
            return ParamMatrix(np.cov(d[ok].T, ddof=1).reshape(self.law.n_params, -1), self.law.param_names)
        self._warn_unreliable("covariances")
        return ParamMatrix(self._wald_natural_cov, self.law.param_names)

    @property
    def stderr(self) -> dict[str, float]:
        """Standard errors: bootstrap standard deviations if a bootstrap exists, else Wald."""
        if self.bootstrap is not None:
            return self.bootstrap.stderr
        self._warn_unreliable("standard errors")
        return {k: float(math.sqrt(max(v, 0.0))) if np.isfinite(v) else float("nan")
                for k, v in zip(self.law.param_names, np.diag(self._wald_natural_cov))}

    @property
    def stderr_method(self) -> str:
        """Where :attr:`stderr` comes from: ``"bootstrap"`` or ``"wald"``."""
        return "bootstrap" if self.bootstrap is not None else "wald"

    @property
    def noise_sigma(self) -> float:
        """The SD of one new run around the law that prediction intervals use (fitted space), at the
        median fitted point (``noise.sigma_at(...)`` gives it at any inputs)."""
        if self.noise is not None and self.noise.uses_seeds:
            return float(self.noise.sigma)
        return float(self.sigma)

    def ci(self, level: float = 0.95, method: str | None = None) -> CITable:
        """Confidence intervals per parameter.

        Parameters
        ----------
        level : float
            Nominal coverage, e.g. 0.95.
        method : {"bootstrap", "wald"}, optional
            Default: bootstrap when one exists, else wald. ``"bootstrap"`` gives percentile
            intervals of the refits (see :mod:`scalinglab.laws.bootstrap` for validity);
            ``"wald"`` gives ``estimate +- t se`` (Student t with n - k degrees of freedom) in the
            optimizer's coordinates (log scale for positive parameters) and is flagged unreliable
            under robust losses.
        """
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        method = method or self.stderr_method
        if method == "bootstrap":
            if self.bootstrap is None:
                raise NotFittedError("no bootstrap on this result; use res = res.with_bootstrap(n_boot=1000) "
                                     "or ci(method='wald')")
            rows = self.bootstrap.ci(level)
        elif method == "wald":
            self._warn_unreliable("intervals")
            z = self._wald_quantile(level)
            rows = {}
            free = [k for k in self.law.param_names if k not in (self.options.get("fixed") or {})]
            for j, k in enumerate(self.law.param_names):
                v = self.param_vector[j]
                if k not in free or self.cov_internal is None:
                    rows[k] = (float(v), float(v)) if k not in free else (float("nan"), float("nan"))
                    continue
                i = free.index(k)
                se = math.sqrt(max(self.cov_internal[i, i], 0.0))
                if k in self.law.log_params:
                    rows[k] = (float(v * math.exp(-z * se)), float(v * math.exp(z * se)))
                else:
                    rows[k] = (float(v - z * se), float(v + z * se))
        else:
            raise ConfigError(f"method must be 'bootstrap' or 'wald'; got {method!r}")
        return CITable(rows=rows, estimates=self.params, level=level, method=method)

    def with_bootstrap(self, n_boot: int = 1000, seed: int = 0, by: str | None = None) -> FitResult:
        """A new result carrying a nonparametric bootstrap of ``n_boot`` refits.

        Resamples single runs (``by=None``) or whole groups (``by="n_params"``, ``"flops"`` or
        any group column); ``by="auto"`` resamples whole model sizes when the runs have at least
        10 sizes and some size has several runs, else single runs. Under ``by=None`` rows with
        identical inputs (seed replicates of one point) are one unit (recorded as ``by="point"``):
        replicates measure noise, not the law, and resampling them one by one would make intervals
        too narrow; ``by="row"`` resamples rows regardless. All resamples are refitted in one batch, warm-started from this
        optimum and from the other distinct optima the multi-start found. See
        :mod:`scalinglab.laws.bootstrap` for what the intervals mean and when they are invalid.
        """
        if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
            raise ConfigError(f"n_boot must be an integer >= 2; got {n_boot!r}")
        problem = self._problem()
        n = problem.n
        if n <= problem.k:   # every resample is fitted exactly: the interval collapses onto the estimate
            raise DataError(f"cannot bootstrap the {self.law.name} fit: {n} points for {problem.k} free "
                            "parameters leave no residual degrees of freedom, so every resample is fitted "
                            "exactly and the interval would collapse onto the estimate. Fit at least "
                            f"{problem.k + 1} runs, or fix parameters (fixed=)")
        groups = None
        n_units = n
        if by == "auto":
            by = self._size_groups()
        if by in (None, "point"):
            ids = group_labels([" ".join(f"{float(v[i]):.12g}" for v in self.data.inputs.values())
                                for i in range(n)])
            if by == "point" or int(ids.max()) + 1 < n:
                by, groups, n_units = "point", ids, int(ids.max()) + 1
        elif by == "row":
            by = None
        else:
            cols = self.data.columns if self.data is not None else {}
            if by not in cols:

                raise MissingColumnError(f"cannot bootstrap by {by!r}: no such column.{suggest(by, cols)} "
                                         f"Available: {', '.join(cols)}")
            groups = group_labels(cols[by])
            n_units = int(groups.max()) + 1
        W = resample_weights(n, int(n_boot), seed=seed, groups=groups)
        if self.options["loss"] == "loglinear":
            th = opt.solve_loglinear(problem, W)
            P = problem.to_natural(th)
            F = np.array([problem.objective_value(t, w) for t, w in zip(th, W)])
            conv = np.ones(len(P), dtype=bool)
        else:
            warm = [self.param_vector]
            alts = self.meta.get("alternative_optima") or []
            warm += [np.asarray(a, dtype=float) for a in alts[:2]]
            P, F, conv = opt.solve_resamples(problem, W, np.array(warm))
        boot = BootstrapResult(params=P, param_names=self.law.param_names, objectives=F,
                               converged=conv, seed=int(seed), by=by, n_groups=n_units)
        if n_units < 10:
            warnings.warn(f"bootstrap over only {n_units} {'runs' if by is None else 'groups'}: "
                          "percentile intervals from so few units are unreliable",
                          UnreliableErrorsWarning, stacklevel=2)
        res = replace(self, bootstrap=boot, options={**self.options, "n_boot": int(n_boot),
                                                     "boot_seed": int(seed), "boot_by": by})
        return res

    # -- prediction ----------------------------------------------------------------------------
    def _inputs(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        x = derive_inputs(self.law.inputs, inputs)
        for k, v in x.items():
            lo, hi = self.input_range.get(k, (None, None))
            if lo is None or v.size == 0 or lo <= 0:
                continue
            vmin, vmax = float(np.min(v)), float(np.max(v))
            if vmax > hi * EXTRAPOLATION_FACTOR or vmin < lo / EXTRAPOLATION_FACTOR:
                warnings.warn(f"predicting at {k} in [{vmin:.3g}, {vmax:.3g}], more than "
                              f"{EXTRAPOLATION_FACTOR:g}x outside the fitted range [{lo:.3g}, {hi:.3g}]",
                              ExtrapolationWarning, stacklevel=3)
        return x

    def outside_decades(self, **inputs: Any) -> np.ndarray:
        """Decades outside the fitted data at these inputs (0 inside): see :func:`~.intervals.outside_decades`.

        Uses the fitted runs when the result carries them, else :attr:`input_range`.
        """
        x = derive_inputs(self.law.inputs, inputs)
        fitted = (self.data.inputs if self.data is not None
                  else {k: np.array(v, dtype=float) for k, v in self.input_range.items()})
        shape = np.shape(self.law(self.param_vector, **x))
        return np.broadcast_to(outside_decades(self.law, fitted, x), shape).copy()

    def _predictive_draws(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        """Bootstrap predictive draws minus the prediction, in the fitted space, shape (B, ...).

        ``t(f(x; theta_b)) - e_b - t(f(x; theta))`` with ``t`` = log (or identity in linear space)
        and ``e_b`` a residual drawn from the fit's residuals (seeded by the bootstrap's seed), or,
        when the :attr:`noise` model uses seeds (replicates in the data or a seed study of the
        ladder), a normal draw with SD ``noise.sigma_at(x)``.
        """
        mean = self.law(self.param_vector, **x)
        draws = self.law(self.bootstrap.params, **x)                      # (B, ...)
        rng = np.random.default_rng(self.bootstrap.seed + 1)
        if self.noise is not None and self.noise.uses_seeds:
            # a new run's noise: the seed spread at these inputs plus the misfit the seeds do not explain
            z = rng.standard_normal(size=draws.shape[0]).reshape((-1,) + (1,) * (draws.ndim - 1))
            e = z * self.noise.sigma_at(**x)
        else:
            res = self.residuals[np.isfinite(self.residuals)]
            e = rng.choice(res, size=draws.shape[0]).reshape((-1,) + (1,) * (draws.ndim - 1))
        with np.errstate(all="ignore"):
            if self.options["space"] == "log":
                return np.log(draws) - e - np.log(mean)
            return draws - e - mean

    def _bounds(self, mean: np.ndarray, lo_half: np.ndarray, hi_half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.options["space"] == "log":
            return mean * np.exp(-lo_half), mean * np.exp(hi_half)
        return mean - lo_half, mean + hi_half

    def default_interval(self, outside: Any = 0.0) -> str:
        """The interval :meth:`predict` uses when none is named, for points ``outside`` decades out.

        ``"calibrated"`` for any point outside the fitted data (when it can be calibrated: the
        result carries a calibration or its data), else ``"bootstrap"`` when a bootstrap exists,
        else ``"wald"``.
        """
        if np.any(np.asarray(outside) > 0) and (self.calibration is not None or self.data is not None):
            return "calibrated"
        return "bootstrap" if self.bootstrap is not None else "wald"

    @property
    def calibration_used(self) -> Calibration:
        """The calibration behind ``predict(interval="calibrated")``: this result's own, or the one
        computed once with the defaults (computing it on first use; it needs the fitted data)."""
        return self._calibrated.calibration

    @cached_property
    def _calibrated(self) -> FitResult:
        """This result with a calibration: its own, or one computed once with the defaults."""
        if self.calibration is not None:
            return self
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnreliableErrorsWarning)
            return self.with_calibration()

    def predict(self, *, level: float | None = None, interval: str | None = None,
                **inputs: Any) -> np.ndarray | Prediction:
        """Predict the target at new inputs.

        Parameters
        ----------
        level : float, optional
            With ``level`` (e.g. 0.95) return a :class:`Prediction` ``(mean, low, high)``: a
            *prediction interval* for a new run. It also records which interval it is
            (``.method``) and how far outside the fitted data each point is
            (``.outside_decades``).
        interval : {"calibrated", "bootstrap", "wald"}, optional
            Default (:meth:`default_interval`): ``"calibrated"`` when any point lies outside the
            fitted data, else the bootstrap when one exists, else Wald.

            * ``"bootstrap"``: percentiles of ``f(x; theta_b)`` combined with a residual drawn from
              the fit's residuals (in the fitted space). Holds inside the data.
            * ``"calibrated"``: the bootstrap interval widened with the distance from the data by
              the rolling-origin calibration of :meth:`with_calibration` (computed once, with its
              defaults, if this result has none; it needs the fitted data). Identical to the
              bootstrap interval inside the data. See :mod:`scalinglab.laws.intervals`.
            * ``"wald"``: the delta method with the Wald covariance plus ``sigma``, Student-t
              quantile, in the fitted space (approximate under robust losses: warns).
        **inputs : array_like
            The law's inputs (e.g. ``n_params=``, ``n_tokens=``) or quantities they derive from.
        """
        x = self._inputs(inputs)
        mean = self.law(self.param_vector, **x)
        if level is None:
            if interval is not None:
                raise ConfigError(f"interval={interval!r} needs level=, e.g. predict(level=0.95, interval={interval!r}, ...)")
            return mean
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        if interval is not None and interval not in INTERVALS:

            raise ConfigError(f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}."
                              f"{suggest(str(interval), INTERVALS)}")
        d = self.outside_decades(**x)
        method = interval or self.default_interval(d)
        if method == "calibrated":
            if self.calibration is None and self.data is None:
                raise NotFittedError("interval='calibrated' needs the fitted data (this result was saved "
                                     "without it) or a calibration: refit, or use interval='bootstrap'")
            src = self._calibrated
            cal = src.calibration
            rel = src._predictive_draws(x)
            lo, hi = percentile_interval(rel, level)
            L, H = cal.halfwidths(-lo, hi, d, level)
            low, high = src._bounds(mean, L, H)
            return Prediction(mean, low, high, "calibrated", d, level, cal.describe(level))
        if method == "bootstrap":
            if self.bootstrap is None:
                raise NotFittedError("no bootstrap on this result; use res = res.with_bootstrap(n_boot=1000) "
                                     "or interval='wald'")
            lo, hi = percentile_interval(self._predictive_draws(x), level)
            low, high = self._bounds(mean, -lo, hi)
            noise = ("seed-noise draws" if self.noise is not None and self.noise.uses_seeds
                     else "residual draws")
            return Prediction(mean, low, high, "bootstrap", d, level,
                              f"bootstrap of {self.bootstrap.n_boot} refits with {noise}")
        self._warn_unreliable("prediction intervals")
        z = self._wald_quantile(level)
        J = self.law.jac(self.param_vector, **x).reshape(-1, self.law.n_params)
        m = mean.reshape(-1)
        log = self.options["space"] == "log"
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                J = J / m[:, None]
        noise = (self.noise.sigma_at(**x) if self.noise is not None and self.noise.uses_seeds
                 else np.full(mean.shape, self.sigma))
        var = np.einsum("ni,ij,nj->n", J, self._wald_natural_cov, J) + np.broadcast_to(noise, mean.shape).reshape(-1) ** 2
        half = (z * np.sqrt(np.maximum(var, 0))).reshape(mean.shape)
        low, high = self._bounds(mean, half, half)
        return Prediction(mean, low, high, "wald", d, level, "delta method with the Wald covariance")

    def with_calibration(self, n_folds: int = 6, n_boot: int = 200, by: str | None = "auto",
                         seed: int | None = None, weighting: str = "fold") -> FitResult:
        """A new result carrying a rolling-origin calibration of its extrapolation intervals.

        The fitted runs are cut at ``n_folds`` cutoffs along compute (evenly spaced ranks between
        30% and 90% of the runs, never fewer than ``max(2 k + 2, 8)`` training runs for ``k``
        free parameters); each fold is refitted with this result's options, bootstrapped with
        ``n_boot`` refits, and predicts its held-out runs with the bootstrap interval. Their
        errors, base intervals and distances calibrate the widening (see
        :mod:`scalinglab.laws.intervals`). The calibrated interval is computed around *this*
        result's bootstrap (one of ``max(n_boot, 1000)`` refits is made if it has none), so the
        folds resample the same unit as that bootstrap.

        Parameters
        ----------
        n_folds : int
            Rolling-origin cutoffs.
        n_boot : int
            Bootstrap refits per fold.
        by : str, None or "auto"
            The bootstrap's resampled unit. ``"auto"``: this result's bootstrap unit if it has
            one, else whole model sizes (``"n_params"``) when the runs have at least 10 sizes and
            some size has several runs (their errors are correlated), else single runs.
        seed : int, optional
            Default: the bootstrap's seed (0 without one).
        weighting : {"fold", "point"}
            Conformal weights: every rolling origin counts the same (default), or every held-out run.

        Raises
        ------
        NotFittedError
            The result carries no data (saved without it).
        """
        if self.data is None:
            raise NotFittedError("this result carries no data (saved without it); refit to calibrate")
        if not isinstance(n_folds, (int, np.integer)) or n_folds < 1:
            raise ConfigError(f"n_folds must be a positive integer; got {n_folds!r}")
        if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
            raise ConfigError(f"n_boot must be an integer >= 2; got {n_boot!r}")
        if by == "auto":
            by = self.bootstrap.by if self.bootstrap is not None else self._size_groups()
        base = self
        if seed is None:
            seed = self.bootstrap.seed if self.bootstrap is not None else 0
        if base.bootstrap is None:
            base = base.with_bootstrap(n_boot=max(int(n_boot), 1000), seed=int(seed), by=by)
        elif base.bootstrap.by != by:
            raise ConfigError(f"this result's bootstrap resamples by {base.bootstrap.by!r}, not {by!r}: the "
                              "calibration must use the same unit; pass by='auto' or rebootstrap first")
        data = self.data
        law = self.law
        cols = {k: np.asarray(v) for k, v in {**data.columns, **data.inputs}.items()}
        order = scale_coordinate(law, cols)
        k = self.diagnostics.n_params
        masks = rolling_folds(order, n_folds=int(n_folds), min_train=calibration_min_train(k))
        errors, draws, dist, fold, folds, notes, held = [], [], [], [], [], [], []
        o = self.options
        fit_opts = {"loss": o["loss"], "delta": o["delta"], "space": o["space"], "reduce": o["reduce"],
                    "tau": o["tau"], "fixed": o.get("fixed") or None}
        for j, train in enumerate(masks):
            runs = self._runs(train)
            x_tr = {kk: v[train] for kk, v in data.inputs.items()}
            x_te = {kk: v[~train] for kk, v in data.inputs.items()}
            # this fit's optimum and its other optima, plus a thinned grid (about 100 starts): a
            # fold's optimum is rarely far from the full fit's, and the grid guards against it
            starts = law.default_starts(inputs=x_tr, target=data.target[train])
            alts = [np.asarray(a, dtype=float) for a in (self.meta.get("alternative_optima") or [])]
            starts = np.vstack([starts[::max(1, len(starts) // 100)], self.param_vector[None, :], *alts])
            by_j = by
            if by is not None and len(set(group_labels(cols[by][train]))) < 2:
                by_j = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    fj = fitting.fit(law, runs, starts=starts, **fit_opts)
                    fj = fj.with_bootstrap(n_boot=int(n_boot), seed=int(seed) + 1 + j, by=by_j)
                except (DataError, ConfigError, FitError) as exc:
                    notes.append(f"fold {j + 1} (C <= {order[train].max():.3g}) skipped: {exc}")
                    continue
            if any(issubclass(w.category, (ConvergenceWarning, FitAtBoundWarning)) for w in caught):
                notes.append(f"fold {j + 1} (C <= {order[train].max():.3g}): the fit had warnings")
            pred = law(fj.param_vector, **x_te)
            y = data.target[~train]
            with np.errstate(all="ignore"):
                u = np.log(y) - np.log(pred) if o["space"] == "log" else y - pred
            errors.append(u)
            draws.append(fj._predictive_draws(x_te))
            dist.append(outside_decades(law, x_tr, x_te))
            fold.append(np.full(u.size, j))
            held.append(x_te)
            folds.append({"cutoff": float(order[train].max()), "fold": j, "n_train": int(train.sum()),
                          "n_test": int((~train).sum())})
        if not folds:
            cal = Calibration(errors=np.zeros(0), draws=np.zeros((int(n_boot), 0)), distance=np.zeros(0),
                              fold=np.zeros(0, dtype=int), folds=(), shape="brownian", tau=0.0,
                              space=o["space"], by=by, n_boot=int(n_boot), seed=int(seed),
                              notes=tuple(notes) + (f"no rolling-origin fold has {calibration_min_train(k)} training "
                                                    "runs and runs beyond them",))
        else:
            B = min(d.shape[0] for d in draws)
            cal = Calibration.from_folds(np.concatenate(errors), np.concatenate([d[:B] for d in draws], axis=1),
                                         np.concatenate(dist), np.concatenate(fold), folds, space=o["space"],
                                         by=by, n_boot=int(n_boot), seed=int(seed), notes=notes,
                                         weighting=weighting,
                                         inputs={kk: np.concatenate([np.asarray(h[kk], dtype=float).reshape(-1)
                                                                     for h in held]) for kk in data.inputs})
        return replace(base, calibration=cal, options={**base.options, "calibration_folds": int(n_folds),
                                                       "calibration_n_boot": int(n_boot)})

    def _size_groups(self) -> str | None:
        """``"n_params"`` when whole model sizes can be resampled (>= 10 sizes, some with repeats)."""
        cols = {**self.data.columns, **self.data.inputs} if self.data is not None else {}
        if "n_params" not in cols:
            return None
        ids = group_labels(cols["n_params"])
        n_groups = int(ids.max()) + 1 if ids.size else 0
        return "n_params" if 10 <= n_groups < ids.size else None

    def _runs(self, mask: np.ndarray) -> Runs:
        """The fitted runs selected by ``mask``, as :class:`~scalinglab.laws.runs.Runs` (for refits)."""
        # the law's inputs from data.inputs (lossless through save/load), other columns as stored
        cols = {**self.data.columns, **self.data.inputs}
        named = {k: np.asarray(cols[k], dtype=float)[mask] for k in ("n_params", "n_tokens", "flops") if k in cols}
        groups = {k: np.asarray(v)[mask] for k, v in cols.items() if k not in named}
        return Runs.from_arrays(target=self.data.target[mask], groups=groups, **named)

    def derived(self, fn: Callable[..., Any] | str, level: float = 0.95, **kwargs: Any) -> Derived:
        """Estimate and interval of any function of the parameters.

        Parameters
        ----------
        fn : callable or str
            ``fn(params_dict, **kwargs)`` returning a number or an array; or the name of one of
            the law's :attr:`~Law.derived_quantities` (e.g. ``"allocation_exponent"``,
            ``"n_params_opt"`` with ``flops=`` for Chinchilla).
        level : float
            Interval level.

        Returns
        -------
        Derived
            ``(estimate, low, high)``: percentile interval over the bootstrap draws when a
            bootstrap exists (recommended; it respects the function's nonlinearity), otherwise a
            delta-method Wald interval from a numerical gradient.
        """
        if isinstance(fn, str):
            table = self.law.derived_quantities
            if fn not in table:

                raise UnknownNameError(f"{self.law.name!r} has no derived quantity {fn!r}.{suggest(fn, table)} "
                                       f"Available: {', '.join(table) or '(none)'}")
            func = table[fn][0]
        else:
            func = fn

        def call(vec: np.ndarray) -> np.ndarray:
            return np.asarray(func(self.law.as_dict(vec), **kwargs), dtype=float)

        est = call(self.param_vector)
        if self.bootstrap is not None:
            with np.errstate(all="ignore"):
                draws = np.stack([call(v) for v in self.bootstrap.params])
            lo, hi = percentile_interval(draws, level)
        else:
            self._warn_unreliable("delta-method intervals")
            z = self._wald_quantile(level)
            cov = self._wald_natural_cov
            grads = []
            for j in range(self.law.n_params):
                h = 1e-6 * max(abs(self.param_vector[j]), 1e-8)
                vp, vm = self.param_vector.copy(), self.param_vector.copy()
                vp[j] += h
                vm[j] -= h
                grads.append((call(vp) - call(vm)) / (2 * h))
            G = np.stack(grads, axis=-1)
            se = np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", G, cov, G), 0))
            lo, hi = est - z * se, est + z * se
        if est.ndim == 0:
            return Derived(float(est), float(lo), float(hi))
        return Derived(est, lo, hi)

    # -- reporting -------------------------------------------------------------------------------
    def summary(self, level: float = 0.95):
        """A :class:`~scalinglab.laws.summary.Summary`: header, parameters with ``level``
        intervals, diagnostics, notes."""

        return summarize(self, level)

    def notes(self) -> list[str]:
        """The numbered notes of the summary, as plain strings."""
        return list(self.summary().notes)

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        flag = "ok" if self.ok else "check notes"
        return (f"FitResult({self.law.name}, loss={self.options['loss']!r}, n={self.n_points}, {ps}; "
                f"{flag})")

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    # -- persistence (the format lives in scalinglab.laws._serialize) --------------------------------
    def to_dict(self, *, include_data: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; floats are stored as ``float.hex`` strings (lossless)."""
        return encode_result(self, include_data=include_data)

    def save(self, path: str | Path, *, include_data: bool = True) -> Path:
        """Write a versioned JSON artifact (lossless floats, atomic). ``FitResult.load`` reads it
        back and predicts bit-identically. ``include_data=False`` drops the fitted data (no
        bootstrap or calibration later)."""
        return write_artifact(path, self.to_dict(include_data=include_data))

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read an artifact written by :meth:`save`."""
        return cls.from_dict(read_artifact(path))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        kw = decode_result(d)
        data = kw.pop("data")
        return cls(**kw, data=None if data is None else FitData(**data))


# fitting (the fit verb) imports FitResult: this module refers to it as a module, imported last,
# so that either can be imported first
from ..errors import MissingColumnError, suggest
from . import fitting  # noqa: E402
from .summary import summarize
