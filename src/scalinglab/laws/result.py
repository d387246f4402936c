"""The ``fit`` verb and its frozen result, :class:`FitResult` (contract: docs/ARCHITECTURE.md).

``fit(law, runs, ...)`` picks the estimator (:mod:`objectives`), runs the multi-start optimizer
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
"""

from __future__ import annotations

import json
import math
import platform
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..config import freeze_fields
from .._version import __version__
from ..errors import (
    ConfigError,
    DataError,
    ExtrapolationWarning,
    NotFittedError,
    UnknownNameError,
    UnreliableErrorsWarning,
)
from . import _optimize as opt
from ._tables import CITable, Derived, ParamMatrix, Prediction, _hex, _hex_array, _unhex, _unhex_array
from .bootstrap import BootstrapResult, group_labels, percentile_interval, resample_weights
from .diagnostics import FitDiagnostics, diagnose
from .specs import LAWS, Law, derive_inputs, get_law
from .objectives import Objective
from .seeds import NoiseModel, SeedSpread, noise_model, seed_spread, seed_study

__all__ = [
    "CITable",
    "Derived",
    "FitDiagnostics",
    "FitResult",
    "ParamMatrix",
    "Prediction",
    "fit",
]

SCHEMA = "scalinglab.FitResult"
SCHEMA_VERSION = 1
EXTRAPOLATION_FACTOR = 100.0   # predictions beyond 100x the fitted input range warn


# ---------------------------------------------------------------------------------------------
# FitResult
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _FitData:
    """The data a result was fitted on (kept so it can be bootstrapped and saved)."""

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
    likelihood_scale: float | None = None
    noise: NoiseModel | None = None
    _data: _FitData | None = field(default=None, repr=False)
    _cov_internal: np.ndarray | None = field(default=None, repr=False)
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
        if self._data is None:
            raise NotFittedError("this result carries no data (saved without it); refit to bootstrap")
        return opt.Problem(self.law, self._data.inputs, self._data.target, self.objective_spec,
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
        if self._cov_internal is None:
            return np.full((P, P), np.nan)
        free = [j for j, k in enumerate(self.law.param_names) if k not in (self.options.get("fixed") or {})]
        scale = np.array([self.param_vector[j] if self.law.param_names[j] in self.law.log_params else 1.0
                          for j in free])
        c = self._cov_internal * np.outer(scale, scale)
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
                if k not in free or self._cov_internal is None:
                    rows[k] = (float(v), float(v)) if k not in free else (float("nan"), float("nan"))
                    continue
                i = free.index(k)
                se = math.sqrt(max(self._cov_internal[i, i], 0.0))
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
        any group column). Rows with identical inputs (seed replicates of one point) are resampled
        together under ``by=None`` (recorded as ``by="point"``): replicates measure noise, not the
        law, and resampling them one by one would make intervals too narrow; ``by="row"``
        resamples rows regardless. All resamples are refitted in one batch, warm-started from this
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
        if by is None:
            # rows with identical inputs (seeds of one point) are one unit: replicates are noise,
            # not independent evidence about the law, so they are resampled together
            ids = group_labels([" ".join(f"{float(v[i]):.12g}" for v in self._data.inputs.values())
                                for i in range(n)])
            if int(ids.max()) + 1 < n:
                by, groups, n_units = "point", ids, int(ids.max()) + 1
        elif by == "row":
            by = None
        elif by == "point":
            groups = group_labels([" ".join(f"{float(v[i]):.12g}" for v in self._data.inputs.values())
                                   for i in range(n)])
            n_units = int(groups.max()) + 1
        else:
            cols = self._data.columns if self._data is not None else {}
            if by not in cols:
                from ..errors import MissingColumnError, suggest

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

    def predict(self, *, level: float | None = None, **inputs: Any) -> np.ndarray | Prediction:
        """Predict the target at new inputs.

        Parameters
        ----------
        level : float, optional
            With ``level`` (e.g. 0.95) return a :class:`Prediction` ``(mean, low, high)``: a
            *prediction interval* for a new run, combining parameter uncertainty and the residual
            scatter of the fit. With a bootstrap: percentiles of ``f(x; theta_b)`` combined with a
            residual drawn from the fit's residuals, or, when the :attr:`noise` model uses seeds
            (replicates in the data or a seed study of the ladder), a normal draw with SD
            ``noise.sigma``. Without: the delta method with the Wald covariance plus
            :attr:`noise_sigma`, Student-t quantile, in the fitted space.
        **inputs : array_like
            The law's inputs (e.g. ``n_params=``, ``n_tokens=``) or quantities they derive from.
        """
        x = self._inputs(inputs)
        mean = self.law(self.param_vector, **x)
        if level is None:
            return mean
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        log = self.options["space"] == "log"
        if self.bootstrap is not None:
            draws = self.law(self.bootstrap.params, **x)                  # (B, ...)
            rng = np.random.default_rng(self.bootstrap.seed + 1)
            if self.noise is not None and self.noise.uses_seeds:
                # a new run's noise: the seed spread at these inputs (measured or from a study)
                # plus the misfit the seeds do not explain
                z = rng.standard_normal(size=draws.shape[0]).reshape((-1,) + (1,) * (draws.ndim - 1))
                e = z * self.noise.sigma_at(**x)
            else:
                res = self.residuals[np.isfinite(self.residuals)]
                e = rng.choice(res, size=draws.shape[0]).reshape((-1,) + (1,) * (draws.ndim - 1))
            with np.errstate(all="ignore"):
                new = draws * np.exp(-e) if log else draws - e
            lo, hi = percentile_interval(new, level)
            return Prediction(mean, lo, hi)
        self._warn_unreliable("prediction intervals")
        z = self._wald_quantile(level)
        J = self.law.jac(self.param_vector, **x).reshape(-1, self.law.n_params)
        m = mean.reshape(-1)
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                J = J / m[:, None]
        noise = (self.noise.sigma_at(**x) if self.noise is not None and self.noise.uses_seeds
                 else np.full(mean.shape, self.sigma))
        var = np.einsum("ni,ij,nj->n", J, self._wald_natural_cov, J) + np.broadcast_to(noise, mean.shape).reshape(-1) ** 2
        half = (z * np.sqrt(np.maximum(var, 0))).reshape(mean.shape)
        if log:
            return Prediction(mean, mean * np.exp(-half), mean * np.exp(half))
        return Prediction(mean, mean - half, mean + half)

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
                from ..errors import suggest

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
        from .summary import summarize

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

    # -- persistence --------------------------------------------------------------------------------
    def to_dict(self, *, include_data: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; floats are stored as ``float.hex`` strings (lossless)."""
        opts = {k: v for k, v in self.options.items()}
        data = None
        if include_data and self._data is not None:
            data = {"inputs": {k: _hex_array(v) for k, v in self._data.inputs.items()},
                    "target": _hex_array(self._data.target),
                    "columns": {k: (_hex_array(v) if np.asarray(v).dtype.kind in "fiu" else [str(x) for x in v])
                                for k, v in self._data.columns.items()}}
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "law": {**self.law.config(), "class": f"{type(self.law).__module__}:{type(self.law).__qualname__}"},
            "params": {k: _hex(v) for k, v in self.params.items()},
            "param_vector": _hex_array(self.param_vector),
            "objective": _hex(self.objective),
            "residuals": _hex_array(self.residuals),
            "sigma": _hex(self.sigma),
            "likelihood_scale": None if self.likelihood_scale is None else _hex(self.likelihood_scale),
            "noise": None if self.noise is None else self.noise.to_dict(),
            "n_points": int(self.n_points),
            "input_range": {k: [_hex(a), _hex(b)] for k, (a, b) in self.input_range.items()},
            "runs_fingerprint": self.runs_fingerprint,
            "options": _jsonable(opts),
            "diagnostics": _jsonable(self.diagnostics.to_dict()),
            "cov_internal": None if self._cov_internal is None else _hex_array(self._cov_internal),
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "data": data,
            "meta": _jsonable(dict(self.meta)),
            "versions": _versions(),
        }

    def save(self, path: str | Path, *, include_data: bool = True) -> Path:
        """Write a versioned JSON artifact (lossless floats). ``FitResult.load`` reads it back and
        predicts bit-identically. ``include_data=False`` drops the fitted data (no bootstrap later)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(include_data=include_data), indent=1, sort_keys=True))
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> FitResult:
        """Read an artifact written by :meth:`save`."""
        p = Path(path)
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise DataError(f"no fit artifact at {str(p)!r}") from None
        except json.JSONDecodeError as exc:
            raise DataError(f"{str(p)!r} is not a fit artifact (invalid JSON: {exc.msg})") from None
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FitResult:
        if d.get("schema") != SCHEMA:
            raise DataError(f"not a FitResult artifact (schema {d.get('schema')!r}; expected {SCHEMA!r})")
        if int(d.get("schema_version", -1)) > SCHEMA_VERSION:
            raise DataError(f"artifact schema version {d.get('schema_version')} is newer than this "
                            f"scalinglab understands ({SCHEMA_VERSION}); upgrade scalinglab")
        law = _law_from_config(d["law"])
        data = None
        if d.get("data"):
            dd = d["data"]
            cols = {}
            for k, v in dd["columns"].items():
                try:
                    cols[k] = _unhex_array(v)
                except (ValueError, TypeError):
                    cols[k] = np.array(v, dtype=object)
            data = _FitData(inputs={k: _unhex_array(v) for k, v in dd["inputs"].items()},
                            target=_unhex_array(dd["target"]), columns=cols)
        diag = dict(d["diagnostics"])
        diag["at_bound"] = tuple(diag["at_bound"])
        return cls(law=law, param_vector=_unhex_array(d["param_vector"]), objective=_unhex(d["objective"]),
                   residuals=_unhex_array(d["residuals"]), sigma=_unhex(d["sigma"]),
                   n_points=int(d["n_points"]),
                   input_range={k: (_unhex(a), _unhex(b)) for k, (a, b) in d["input_range"].items()},
                   runs_fingerprint=d["runs_fingerprint"], options=dict(d["options"]),
                   diagnostics=FitDiagnostics(**diag),
                   bootstrap=None if d.get("bootstrap") is None else BootstrapResult.from_dict(d["bootstrap"]),
                   likelihood_scale=None if d.get("likelihood_scale") is None else _unhex(d["likelihood_scale"]),
                   noise=None if d.get("noise") is None else NoiseModel.from_dict(d["noise"]),
                   _data=data,
                   _cov_internal=None if d.get("cov_internal") is None else _unhex_array(d["cov_internal"]),
                   meta=dict(d.get("meta") or {}))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else repr(f)
    return obj


def _versions() -> dict[str, str]:
    import scipy

    return {"scalinglab": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def _law_from_config(cfg: Mapping[str, Any]) -> Law:
    name = cfg.get("name", "")
    bounds = {k: tuple(v) for k, v in (cfg.get("bounds") or {}).items()}
    if name in LAWS:
        return get_law(name, bounds=bounds or None)
    raise UnknownNameError(f"the artifact was fitted with law {name!r} ({cfg.get('class')}), which is not "
                           f"registered here; import the module that defines it (register_law) before "
                           f"FitResult.load. Registered: {', '.join(LAWS.names())}")


# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------

def _robust_scale(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def fit(law: str | Law, runs: Any, *, loss: str = "huber", delta: float = 1e-3, space: str = "log",
        reduce: str = "sum", starts: Any = None, n_starts: int | None = None, seed: int = 0,
        n_boot: int = 0, boot_by: str | None = None, fixed: Mapping[str, float] | None = None,
        tau: float = 0.1, method: str = "batched", noise: Any = "auto") -> FitResult:
    """Fit a scaling law to runs.

    Parameters
    ----------
    law : str or Law
        A registered name (:func:`~scalinglab.laws.specs.list_laws`) or a Law instance.
    runs : Runs
        From :func:`~scalinglab.laws.data.load_runs` (or ``Runs.from_arrays``).
    loss : str
        Estimator: ``"huber"`` (default; Hoffmann et al. 2022), ``"ls"``, ``"lad"``,
        ``"huber_likelihood"`` (Besiroglu et al. 2024), ``"asymmetric"``, ``"loglinear"``;
        see :mod:`scalinglab.laws.objectives`.
    delta : float
        Huber threshold (default 1e-3, on log residuals).
    space : {"log", "linear"}
        Residuals in log space (default) or linear space.
    reduce : {"sum", "mean"}
        Sum (default, as Hoffmann et al.) or mean over points; same optimum.
    starts : array (S, P) or dict or "grid", optional
        Explicit starting points (natural units). Default: the law's grid.
    n_starts : int, optional
        Use ``n_starts`` random starts drawn uniformly within the grid's range (log-uniform for
        log-scale parameters) instead of the grid, reproducibly from ``seed``.
    seed : int
        Seed for random starts.
    n_boot : int
        If > 0, also run a bootstrap of ``n_boot`` refits (see :meth:`FitResult.with_bootstrap`).
    boot_by : str, optional
        Group column for the bootstrap (``"n_params"``, ``"flops"``, ...).
    fixed : dict, optional
        Parameters held at given values.
    tau : float
        Expectile level of ``loss="asymmetric"``.
    method : {"batched", "scipy", "scipy-default"}
        ``"batched"`` (default): the vectorized multi-start of :mod:`scalinglab.laws._optimize`.
        ``"scipy"``: one SciPy L-BFGS-B per start with scale-free tolerances (slow, same optimum).
        ``"scipy-default"``: SciPy's default tolerances on the raw objective, to reproduce
        published fits that used them; diagnostics flag the early stop.
    noise : "auto", "residuals", float or SeedSpread
        The noise of one new run that prediction intervals add (:class:`~scalinglab.laws.seeds.NoiseModel`).
        ``"auto"`` (default): the seed spread measured from replicates in ``runs`` (a
        ``best_per_size(mean_over="seed")`` frontier, or rows differing only in ``seed``); with one
        seed per point, the registered seed study of the runs' ``ladder`` column
        (:func:`~scalinglab.laws.seeds.seed_study`); else the residuals alone. A float (SD of log
        target) or a :class:`~scalinglab.laws.seeds.SeedSpread` gives the seed spread;
        ``"residuals"`` ignores seeds (the behaviour before seed handling). The summary says which.

    Returns
    -------
    FitResult

    Warns
    -----
    ConvergenceWarning, FitAtBoundWarning, UnreliableErrorsWarning
        One per problem found; the same text appears as a numbered note in ``summary()``.

    Examples
    --------
    >>> import numpy as np
    >>> from scalinglab.laws import Runs, fit
    >>> C = np.logspace(18, 21, 12)
    >>> runs = Runs.from_arrays(flops=C, target=2.0 + 300 * C ** -0.15)
    >>> res = fit("saturating_power_law", runs, loss="ls")
    >>> round(res.params["alpha"], 3), round(res.params["E"], 3)
    (0.15, 2.0)
    """
    law = get_law(law)
    if method not in ("batched", "scipy", "scipy-default"):
        raise ConfigError(f"method must be 'batched', 'scipy' or 'scipy-default'; got {method!r}")
    x = law.inputs_from(runs)
    y = np.asarray(runs.target, dtype=float)
    n = y.shape[0]
    if n == 0:
        raise DataError("no runs to fit")
    lad_scale = 1.0
    if space == "linear":
        lad_scale = float(np.median(np.abs(y))) or 1.0
    objective = Objective(loss=loss, space=space, reduce=reduce, delta=float(delta), tau=float(tau),
                          lad_scale=lad_scale)
    if objective.space == "log" and law.positive is False:
        raise ConfigError(f"{law.name!r} can take non-positive values; fit it with space='linear'")
    problem = opt.Problem(law, x, y, objective, fixed=fixed)
    # one BLAS thread: the batched work gains nothing from threads, SciPy loses a lot to them
    with opt.pin_blas_threads(1):
        start_desc, start_arr = _resolve_starts(law, problem, starts, n_starts, seed, x, y)
        alternatives: list[list[float]] = []
        if objective.loss == "loglinear":
            theta = opt.solve_loglinear(problem)[0]
            F = problem.objective_value(theta, np.ones(n))
            sol = opt.Solution(theta=theta, params=problem.to_natural(theta)[0], objective=F, converged=True,
                               n_starts=1, n_run=1, finals=problem.to_natural(theta), final_objectives=np.array([F]),
                               start_of_best=problem.to_natural(theta)[0] * np.nan, n_iter=0, method="closed form")
        elif method == "batched":
            sol = opt.solve_batch(problem, start_arr)
        else:
            sol = opt.solve_scipy_loop(problem, start_arr, default_tolerances=(method == "scipy-default"))
        # distinct other optima (warm starts for the bootstrap)
        fin_th = problem.to_internal(sol.finals)
        for i in opt._distinct(fin_th, sol.final_objectives, 3)[1:]:
            if sol.final_objectives[i] <= sol.objective + 0.5 * abs(sol.objective) + 1e-300:
                alternatives.append([float(v) for v in sol.finals[i]])
        diag, cov_int = diagnose(problem, sol)
    f_hat = law(sol.params, **x)
    r, _ = objective.residuals(f_hat, y)
    if objective.loss in ("ls", "loglinear"):
        sigma = float(np.sqrt(np.sum(r * r) / max(n - problem.k, 1)))
    else:
        sigma = _robust_scale(r)
    columns: dict[str, np.ndarray] = {}
    for k in ("n_params", "n_tokens", "flops"):
        v = getattr(runs, k, None)
        if v is not None:
            columns[k] = np.asarray(v, dtype=float)
    for k, v in getattr(runs, "groups", {}).items():
        columns[k] = np.asarray(v)
    for k, v in x.items():
        columns.setdefault(k, v)
    noise_m = _noise_model(noise, runs, y, sigma, objective.space, x)
    options = {"loss": objective.loss, "delta": objective.delta, "space": objective.space,
               "reduce": objective.reduce, "tau": objective.tau, "lad_scale": lad_scale,
               "starts": start_desc, "n_starts": int(sol.n_starts), "seed": int(seed),
               "fixed": dict(fixed or {}), "method": sol.method}
    res = FitResult(law=law, param_vector=np.asarray(sol.params, dtype=float), objective=float(sol.objective),
                    residuals=np.asarray(r, dtype=float), sigma=sigma, n_points=n,
                    input_range=_input_range(x, runs),
                    runs_fingerprint=str(getattr(runs, "fingerprint", "")), options=options,
                    diagnostics=diag, likelihood_scale=sol.sigma, noise=noise_m,
                    _data=_FitData(inputs=x, target=y, columns=columns), _cov_internal=cov_int,
                    meta={"alternative_optima": alternatives, "target_name": getattr(runs, "target_name", "target"),
                          "n_tokens_derived": bool(getattr(runs, "n_tokens_derived", False)
                                                   and "n_tokens" in law.inputs)})
    for cls, msg in diag.problems():
        warnings.warn(f"{law.name}: {msg}", cls, stacklevel=2)
    if n_boot:
        res = res.with_bootstrap(n_boot=n_boot, seed=seed, by=boot_by)
    return res


def _noise_model(noise: Any, runs: Any, y: np.ndarray, sigma: float, space: str,
                 x: Mapping[str, np.ndarray]) -> NoiseModel:
    """The noise of one new run (see ``fit(noise=)`` and :mod:`scalinglab.laws.seeds`)."""
    # seed spreads are SDs of log(target); a linear-space fit needs them in the target's units
    scale = 1.0 if space == "log" else float(np.median(np.abs(y)))
    at = {k: x[k] for k in ("n_params", "n_tokens") if k in x}
    if isinstance(noise, str) and noise == "residuals":
        return noise_model(sigma)
    if isinstance(noise, SeedSpread):
        return noise_model(sigma, sigma_seed=noise, source="given", detail=noise.source, fitted=at, scale=scale)
    if isinstance(noise, (int, float, np.floating)) and not isinstance(noise, bool):
        if not (math.isfinite(float(noise)) and noise >= 0):
            raise ConfigError(f"noise must be 'auto', 'residuals', a seed spread >= 0 or a SeedSpread; got {noise!r}")
        return noise_model(sigma, sigma_seed=float(noise), source="given", detail="given", scale=scale)
    if not (isinstance(noise, str) and noise == "auto"):
        raise ConfigError(f"noise must be 'auto', 'residuals', a seed spread (SD of log target) or a "
                          f"SeedSpread; got {noise!r}")
    groups = getattr(runs, "groups", None) or {}
    spread = getattr(runs, "spread", None)        # a Frontier averaged over seeds
    if isinstance(spread, SeedSpread):
        members = getattr(runs, "members", ()) or ()
        k = float(np.mean([len(m) for m in members])) if members else 1.0
        return noise_model(sigma, sigma_seed=spread, seeds_per_point=k, source="replicates",
                           detail=f"{spread.n_points} points, df={spread.df}", fitted=at, scale=scale)
    if "seed" in groups and np.all(y > 0):
        spread = seed_spread(runs)
        if spread is not None:
            return noise_model(sigma, sigma_seed=spread, source="replicates",
                               detail=f"{spread.n_points} points, df={spread.df}", fitted=at, scale=scale)
    ladders = {str(v) for v in groups.get("ladder", ())}
    if len(ladders) == 1:
        study = seed_study(next(iter(ladders)))
        if study is not None:
            return noise_model(sigma, sigma_seed=study, source="study", fitted=at, scale=scale,
                               detail=f"{next(iter(ladders))} seed study ({study.reference or study.source}, "
                                      f"df={study.df})")
    return noise_model(sigma)


def _input_range(x: Mapping[str, np.ndarray], runs: Any) -> dict[str, tuple[float, float]]:
    """(min, max) of each law input and of the runs' compute C (their own column, else 6ND per run).

    The compute range is that of the runs themselves: for a law of N and D it is not
    min(N) min(D) .. max(N) max(D), which can be far wider than any run.
    """
    out = {k: (float(np.min(v)), float(np.max(v))) for k, v in x.items()}
    if "flops" not in out:
        c = getattr(runs, "flops", None)
        if c is None and "n_params" in x and "n_tokens" in x:
            c = 6.0 * x["n_params"] * x["n_tokens"]
        if c is not None and np.size(c):
            out["flops"] = (float(np.min(c)), float(np.max(c)))
    return out


def _resolve_starts(law: Law, problem: opt.Problem, starts: Any, n_starts: int | None, seed: int,
                    x: Mapping[str, np.ndarray], y: np.ndarray) -> tuple[Any, np.ndarray]:
    if starts is not None and n_starts is not None:
        raise ConfigError("pass either starts= or n_starts=, not both")
    if starts is None or (isinstance(starts, str) and starts == "grid"):
        arr = law.default_starts(inputs=x, target=y)
        desc: Any = "grid"
    elif isinstance(starts, Mapping):
        arr = law.vector(starts)[None, :]
        desc = "given"
    elif isinstance(starts, str):
        raise ConfigError(f"starts must be 'grid', a dict or an (S, P) array; got {starts!r}")
    else:
        arr = np.atleast_2d(np.asarray(starts, dtype=float))
        if arr.shape[1] != law.n_params:
            raise ConfigError(f"starts must have {law.n_params} columns ({', '.join(law.param_names)}); "
                              f"got shape {arr.shape}")
        desc = "given"
    if n_starts is not None:
        if int(n_starts) < 1:
            raise ConfigError(f"n_starts must be >= 1; got {n_starts!r}")
        grid = problem.to_internal(law.default_starts(inputs=x, target=y))
        lo, hi = grid.min(axis=0), grid.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        lo, hi = lo - 0.25 * span, hi + 0.25 * span
        lo, hi = np.maximum(lo, problem.lo), np.minimum(hi, problem.hi)
        rng = np.random.default_rng(seed)
        th = lo + (hi - lo) * rng.random((int(n_starts), problem.k))
        arr = problem.to_natural(th)
        desc = {"random": int(n_starts), "seed": int(seed)}
    if problem.fixed:
        for k, v in problem.fixed.items():
            arr[:, law.param_names.index(k)] = v
    return desc, law.clip(arr)


