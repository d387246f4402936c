"""Prediction intervals that hold beyond the data: rolling-origin calibration of extrapolation error.

What to use when
----------------
``FitResult.predict(level=0.95, interval=...)`` offers three intervals for a new run:

* ``"bootstrap"``: percentiles of ``f(x; theta_b) * exp(-e_b)`` over bootstrap refits ``theta_b``
  with a residual ``e_b`` drawn from the fit's residuals (Efron & Tibshirani 1993, Ch. 6 and 13;
  Davison & Hinkley 1997, Sec. 6.3.3). Valid *inside* the fitted range when the resampled units
  are independent: it carries parameter uncertainty and the scatter measured in the data, nothing
  else.
* ``"wald"``: the delta method with the Gauss-Newton covariance plus the residual scale; textbook
  for least squares with Gaussian noise, approximate under robust losses.
* ``"calibrated"`` (the default for any prediction outside the fitted range): the bootstrap
  interval widened by an extrapolation term measured on the data itself. Beyond the data a
  prediction also suffers from what the bootstrap cannot see: the law's form being slightly wrong,
  noise that changes along the range, errors shared by runs of one size. All of them make errors
  grow with the distance from the data, so the interval at distance ``d`` (decades outside the
  fitted range, :func:`outside_decades`) is, per side, in the fitted space (log or linear)::

      half(d)^2 = half_bootstrap(d)^2 + kappa * g(d)          g(d) = d  or  d^2

  ``g(d) = d`` ("brownian": errors that wander like a random walk in log compute) or ``d^2``
  ("drift": a systematically wrong exponent) is chosen by maximum likelihood (empirical Bayes,
  the discrepancy variance of Kennedy & O'Hagan 2001) on rolling-origin backtests inside the
  fitted data: fit the runs up to each of several compute cutoffs, predict the rest with the same
  bootstrap interval, record each held-out run's error ``u``, its base half-width ``h`` and its
  distance ``d``. ``kappa`` is then the split-conformal quantile (Vovk et al. 2005; Lei et al. 2018;
  the nested form of Gupta, Kuchibhotla & Ramdas 2022) of the scores ``(u^2 - h^2) / g(d)``: the
  smallest widening under which the nominal fraction of held-out runs would have been covered,
  with the usual ``ceil((m + 1) level)`` finite-sample rank, clipped at zero (never narrower than
  the bootstrap). At ``d = 0`` (inside the data) it is exactly the bootstrap interval.

When it is valid, and when not
------------------------------
The conformal guarantee needs the target's score to be exchangeable with the calibration scores.
Rolling-origin errors are not exchangeable (held-out runs of one fold share its fit, folds
overlap), and the target usually lies farther out than most calibration points: the method
follows split/rolling conformal prediction for time series under drift (Barber, Candes, Ramdas &
Tibshirani 2023, "Conformal prediction beyond exchangeability"), whose coverage gap is bounded by
how much the score distribution changes between calibration and target. The normalisation by
``g(d)`` is what makes scores comparable across distances; the fitted growth is extrapolated past
the largest calibrated distance (``Calibration.max_distance``), and the summary says when a
prediction goes farther. It measures how the law's errors grew *inside* the data; a change of
regime beyond the data (a new bottleneck, a different optimum learning rate) is not in it.
Measured coverage (simulated designs at 10x and 100x beyond the data, Chinchilla and the demo
ladder) is in docs/coverage.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ._hexfloat import hex_float, hex_floats, unhex_float, unhex_floats
from .bootstrap import percentile_interval

if TYPE_CHECKING:
    from .law import Law

__all__ = [
    "INTERVALS",
    "MIN_CALIBRATION_POINTS",
    "SHAPES",
    "Calibration",
    "calibration_point_count",
    "calibration_min_train",
    "choose_shape",
    "conformal_quantile",
    "interval_score",
    "outside_decades",
    "paired_calibration",
    "rolling_folds",
    "scale_coordinate",
]

INTERVALS = ("calibrated", "bootstrap", "wald")
SHAPES = ("brownian", "drift")     # g(d) = d, g(d) = d^2
WEIGHTINGS = ("fold", "point")     # each rolling origin counts equally / each held-out run does
MIN_CALIBRATION_POINTS = 10        # fewer scores than this: no calibration (the summary says so)


def interval_score(low: Any, high: Any, actual: Any, level: float) -> np.ndarray:
    """Interval score of central ``level`` prediction intervals (Gneiting & Raftery 2007, Eq. 43).

    ``S = (high - low) + (2 / alpha) (low - y) 1[y < low] + (2 / alpha) (y - high) 1[y > high]``
    with ``alpha = 1 - level``: the width plus a penalty for a miss proportional to how far it
    misses. Lower is better; it is a proper scoring rule, so an interval cannot improve its score
    by being wider or narrower than its true quantiles. In the target's units.
    """
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    lo, hi, y = (np.asarray(v, dtype=float) for v in (low, high, actual))
    a = 1.0 - level
    return (hi - lo) + (2.0 / a) * np.maximum(lo - y, 0.0) + (2.0 / a) * np.maximum(y - hi, 0.0)


def _coordinates(law: Any, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {k: np.asarray(inputs[k], dtype=float) for k in law.inputs if k in inputs}
    if law.of_n_and_d and "n_params" in out and "n_tokens" in out:
        out["n_params*n_tokens"] = out["n_params"] * out["n_tokens"]   # compute, up to C = 6ND's constant
    return out


def outside_decades(law: Law, fitted: Mapping[str, Any], inputs: Mapping[str, Any]) -> np.ndarray:
    """How far outside the fitted data each prediction point is, in decades (0 inside).

    The largest, over the law's positive inputs (and N * D, i.e. compute, for laws of N and D),
    of ``log10(x / max fitted)`` above the range or ``log10(min fitted / x)`` below it. A run at
    10x the largest fitted compute is 1 decade outside; one with 3x the largest fitted model size
    and the same compute is 0.48 decades outside.
    """
    fit_c, new_c = _coordinates(law, fitted), _coordinates(law, inputs)
    shape = np.broadcast_shapes(*(np.shape(v) for v in new_c.values())) if new_c else ()
    out = np.zeros(shape)
    for k, v in new_c.items():
        f = fit_c.get(k)
        if f is None or f.size == 0 or np.any(f <= 0) or np.any(v <= 0):
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            above = np.log10(v / f.max())
            below = np.log10(f.min() / v)
        out = np.maximum(out, np.maximum(above, below))
    return np.maximum(out, 0.0)


def scale_coordinate(law: Law, columns: Mapping[str, Any]) -> np.ndarray:
    """The coordinate rolling-origin folds cut along: compute when known, else N * D, else the first input."""
    if "flops" in columns and columns["flops"] is not None:
        return np.asarray(columns["flops"], dtype=float).reshape(-1)
    c = _coordinates(law, columns)
    if "n_params*n_tokens" in c:
        return c["n_params*n_tokens"].reshape(-1)
    return c[law.inputs[0]].reshape(-1)


def rolling_folds(order: np.ndarray, *, n_folds: int, min_train: int,
                  first: float = 0.3, last: float = 0.9) -> list[np.ndarray]:
    """Training masks of rolling-origin folds: all runs up to each cutoff along ``order``.

    Cutoffs sit at evenly spaced ranks between the ``first`` and ``last`` fractions of the runs
    (never before ``min_train`` runs); duplicate cutoffs (ties) are dropped and every fold keeps
    at least one run to predict.
    """
    order = np.asarray(order, dtype=float)
    n = order.size
    srt = np.sort(order)
    lo = max(first * n, float(min_train)) - 1
    hi = last * n - 1
    if n_folds < 1:
        raise ConfigError(f"n_folds must be >= 1; got {n_folds!r}")
    if hi < lo:
        return []
    masks, seen = [], set()
    for r in np.linspace(lo, hi, n_folds):
        c = srt[int(round(r))]
        if c in seen:
            continue
        seen.add(c)
        m = order <= c
        if m.sum() >= min_train and (~m).sum() >= 1:
            masks.append(m)
    return masks


def calibration_min_train(n_free: int) -> int:
    """Fewest training runs of a rolling-origin fold for a law with ``n_free`` parameters."""
    return max(2 * int(n_free) + 2, 8)


def calibration_point_count(law: Law, inputs: Mapping[str, Any], *, n_free: int, n_folds: int = 6) -> int:
    """Held-out runs beyond their fold's data that a rolling-origin calibration of a fit on
    ``inputs`` would have (what :attr:`Calibration.usable` counts), from the design alone.

    No fit is made: an upper bound, since a fold whose fit fails is skipped. Folds are cut along
    :func:`scale_coordinate` of ``inputs`` (N * D for a law of N and D given only those), so this
    can differ by a few runs from a calibration cut along a ``flops`` column. A planner uses it to
    see which new points would make a calibration usable.
    """
    cols = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in inputs.items()}
    order = scale_coordinate(law, cols)
    n = 0
    for m in rolling_folds(order, n_folds=n_folds, min_train=calibration_min_train(n_free)):
        x_tr = {k: v[m] for k, v in cols.items()}
        x_te = {k: v[~m] for k, v in cols.items()}
        n += int(np.count_nonzero(outside_decades(law, x_tr, x_te) > 0))
    return n


def conformal_quantile(scores: Sequence[float] | np.ndarray, level: float,
                       weights: Sequence[float] | np.ndarray | None = None) -> float:
    """The split-conformal quantile of ``m`` scores at ``level``.

    Unweighted: the ``ceil((m + 1) level)``-th smallest score; with exchangeable scores a new
    score falls at or below it with probability at least ``level`` (Vovk et al. 2005; Lei et al.
    2018, Sec. 2.2). With ``weights`` (nonnegative, one per score): the ``level`` quantile of
    ``sum_i w_i delta(s_i) + 1 delta(+inf)``, normalized (Tibshirani et al. 2019; Barber et al.
    2023, Eq. 9); equal weights give the unweighted rule. ``inf`` when the scores are too few to
    certify the level (19 equal-weight scores for 95%).
    """
    s = np.asarray(scores, dtype=float)
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=float)
    ok = np.isfinite(s) & (w > 0)
    s, w = s[ok], w[ok]
    o = np.argsort(s, kind="stable")
    s, w = s[o], w[o]
    cum = np.cumsum(w) / (w.sum() + 1.0)
    i = int(np.searchsorted(cum, level - 1e-12))
    return float(s[i]) if i < s.size else math.inf


def _g(shape: str, d: np.ndarray) -> np.ndarray:
    return d if shape == "brownian" else d * d


def choose_shape(errors: np.ndarray, scale: np.ndarray, distance: np.ndarray) -> tuple[str, float]:
    """Pick how extrapolation error grows with distance, by maximum likelihood (empirical Bayes).

    Models each held-out error as ``u ~ N(0, s^2 + tau^2 g(d))`` with ``s`` the base interval's
    own scale and ``g(d) = d`` ("brownian") or ``d^2`` ("drift"), maximizes over ``tau`` for each
    and returns the better ``(shape, tau)``.
    """
    from scipy.optimize import minimize_scalar

    u, s, d = (np.asarray(v, dtype=float) for v in (errors, scale, distance))
    ok = np.isfinite(u) & np.isfinite(s) & np.isfinite(d)
    u, s, d = u[ok], np.maximum(s[ok], 1e-12), d[ok]
    best = ("brownian", 0.0, math.inf)
    for shape in SHAPES:
        g = _g(shape, d)

        def nll(lt: float, g: np.ndarray = g) -> float:
            v = s * s + math.exp(2 * lt) * g
            return float(0.5 * np.sum(np.log(v) + u * u / v))

        span = math.log(max(float(np.std(u)), 1e-8))
        r = minimize_scalar(nll, bounds=(span - 12, span + 6), method="bounded")
        val = min(float(r.fun), nll(span - 30))          # tau = 0 is a candidate too
        tau = math.exp(float(r.x)) if float(r.fun) <= nll(span - 30) else 0.0
        if val < best[2]:
            best = (shape, tau, val)
    return best[0], best[1]


@dataclass(frozen=True, eq=False)
class Calibration:
    """Rolling-origin errors of a fit's own bootstrap intervals, and the widening they call for.

    Built by ``FitResult.with_calibration`` (or by the simulation studies of
    :mod:`scalinglab.laws.coverage`); see the module notes for the method and when it is valid.

    Attributes
    ----------
    errors : ndarray, shape (m,)
        Held-out errors ``actual - predicted`` in the fitted space (log or linear).
    draws : ndarray, shape (B, m)
        The base (bootstrap) predictive draws of each held-out run, minus its prediction, same space.
    distance : ndarray, shape (m,)
        Decades outside the fold's fitted data.
    fold : ndarray of int, shape (m,)
    folds : tuple of dict
        Per fold: ``cutoff`` (along :func:`scale_coordinate`), ``n_train``, ``n_test``.
    shape : {"brownian", "drift"}
        Growth of the extrapolation variance with distance (:func:`choose_shape`).
    tau : float
        Maximum-likelihood discrepancy scale of that shape (for reference; the interval uses the
        conformal ``discrepancy(level)``).
    space : {"log", "linear"}
    by : str or None
        Unit resampled by the bootstraps (None: single runs).
    n_boot, seed : int
    notes : tuple of str
    weighting : {"fold", "point"}
        Weights of the conformal quantile: ``"fold"`` (default) gives every rolling origin the
        same total weight, ``"point"`` every held-out run.
    inputs : dict of str to ndarray, optional
        The law's inputs of each held-out run (aligned with ``errors``): what lets two arms'
        calibrations be paired run by run (:func:`paired_calibration`). None in calibrations
        saved before 2026-12-07.
    """

    errors: np.ndarray
    draws: np.ndarray
    distance: np.ndarray
    fold: np.ndarray
    folds: tuple[Mapping[str, float], ...]
    shape: str
    tau: float
    space: str = "log"
    by: str | None = None
    n_boot: int = 0
    seed: int = 0
    notes: tuple[str, ...] = ()
    weighting: str = "fold"
    inputs: Mapping[str, np.ndarray] | None = None
    _kappa: dict = field(default_factory=dict, repr=False, compare=False)   # discrepancy(level) cache

    def __post_init__(self) -> None:
        for name, dtype in (("errors", float), ("draws", float), ("distance", float), ("fold", int)):
            a = np.array(getattr(self, name), dtype=dtype)
            a.flags.writeable = False
            object.__setattr__(self, name, a)
        if self.inputs is not None:
            cols = {}
            for k, v in self.inputs.items():
                a = np.array(v, dtype=float).reshape(-1)
                if a.size != self.errors.size:
                    raise ConfigError(f"inputs[{k!r}] has {a.size} values for {self.errors.size} held-out runs")
                a.flags.writeable = False
                cols[str(k)] = a
            object.__setattr__(self, "inputs", cols)
        if self.shape not in SHAPES:
            raise ConfigError(f"shape must be one of {', '.join(SHAPES)}; got {self.shape!r}")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"weighting must be one of {', '.join(WEIGHTINGS)}; got {self.weighting!r}")

    @classmethod
    def from_folds(cls, errors: np.ndarray, draws: np.ndarray, distance: np.ndarray, fold: np.ndarray,
                   folds: Sequence[Mapping[str, float]], *, space: str = "log", by: str | None = None,
                   n_boot: int = 0, seed: int = 0, notes: Sequence[str] = (),
                   weighting: str = "fold", inputs: Mapping[str, Any] | None = None) -> Calibration:
        """Collect fold results and choose the growth shape."""
        errors, distance = np.asarray(errors, dtype=float), np.asarray(distance, dtype=float)
        draws = np.asarray(draws, dtype=float).reshape(-1, errors.size)
        lo, hi = percentile_interval(draws, 0.6827)           # +-1 sd for a normal: the base scale
        shape, tau = choose_shape(errors, 0.5 * (hi - lo), distance)
        return cls(errors=errors, draws=draws, distance=distance, fold=fold,
                   folds=tuple(dict(f) for f in folds), shape=shape, tau=float(tau), space=space, by=by,
                   n_boot=int(n_boot), seed=int(seed), notes=tuple(notes), weighting=weighting, inputs=inputs)

    # -- the calibration -------------------------------------------------------------------------
    @property
    def n_points(self) -> int:
        """Held-out runs outside their fold's data (the ones that calibrate)."""
        return int(np.count_nonzero(self.distance > 0))

    @property
    def max_distance(self) -> float:
        """The farthest calibrated distance, in decades."""
        return float(self.distance.max()) if self.distance.size else 0.0

    @property
    def usable(self) -> bool:
        """Enough calibration points (>= 10 outside their fold's data) to calibrate anything."""
        return self.n_points >= MIN_CALIBRATION_POINTS

    def weights(self) -> np.ndarray:
        """Conformal weight of each calibration point (points at distance 0 weigh nothing).

        ``"fold"``: ``mean points per fold / points in this fold``, so each rolling origin
        carries the same total weight and the weights still sum to the number of points (the
        finite-sample correction stays that of ``m`` points).
        """
        out = self.distance > 0
        w = out.astype(float)
        if self.weighting == "fold" and out.any():
            ids, counts = np.unique(self.fold[out], return_counts=True)
            per = dict(zip(ids.tolist(), counts.tolist()))
            mean = out.sum() / len(per)
            w = np.where(out, np.array([mean / per.get(f, 1) for f in self.fold.tolist()]), 0.0)
        return w

    def base_halfwidths(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Per calibration point, the bootstrap interval's lower and upper half-widths."""
        lo, hi = percentile_interval(self.draws, level)
        return -lo, hi

    def discrepancy(self, level: float) -> float:
        """``kappa`` at ``level``: the conformal widening of ``half^2`` per unit of ``g(d)`` (>= 0)."""
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        if level in self._kappa:
            return self._kappa[level]
        if not self.usable:
            k = 0.0
        else:
            h_lo, h_hi = self.base_halfwidths(level)
            u, d = self.errors, self.distance
            h = np.maximum(np.where(u < 0, h_lo, h_hi), 0.0)
            out = d > 0
            scores = (u[out] ** 2 - h[out] ** 2) / _g(self.shape, d[out])
            q = conformal_quantile(scores, level, self.weights()[out])
            if not math.isfinite(q):        # too few scores to certify the level: take the largest
                q = float(np.max(scores))
            k = max(q, 0.0)
        self._kappa[level] = k
        return k

    def variance(self, distance: Any, level: float) -> np.ndarray:
        """The widening at ``distance`` decades read as a Gaussian error: ``kappa g(d) / z^2``.

        ``z`` is the two-sided normal quantile of ``level``, so a normal error of this variance
        widens a half-width in quadrature by what :meth:`halfwidths` adds. In the calibration's
        space (log units for a log-space fit); 0 at distance 0 or below.
        """
        from scipy.stats import norm

        d = np.maximum(np.asarray(distance, dtype=float), 0.0)
        return self.discrepancy(level) * _g(self.shape, d) / float(norm.ppf(0.5 + level / 2)) ** 2

    def halfwidths(self, h_lo: Any, h_hi: Any, distance: Any, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Widen base half-widths at ``distance`` decades: exactly the base ones at distance 0."""
        h_lo, h_hi, d = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (h_lo, h_hi, distance)))
        extra = self.discrepancy(level) * _g(self.shape, np.maximum(d, 0.0))
        out = []
        for h in (h_lo, h_hi):
            wide = np.sqrt(np.maximum(h, 0.0) ** 2 + extra)
            out.append(np.where(extra > 0, wide, h))
        return out[0], out[1]

    def coverage(self, level: float) -> float:
        """In-sample coverage of the calibrated intervals on the calibration points (outside their data)."""
        h_lo, h_hi = self.base_halfwidths(level)
        L, H = self.halfwidths(h_lo, h_hi, self.distance, level)
        out = self.distance > 0
        inside = (self.errors >= -L) & (self.errors <= H)
        return float(np.mean(inside[out])) if out.any() else math.nan

    def base_coverage(self, level: float) -> float:
        """The same for the uncalibrated bootstrap intervals."""
        h_lo, h_hi = self.base_halfwidths(level)
        out = self.distance > 0
        inside = (self.errors >= -h_lo) & (self.errors <= h_hi)
        return float(np.mean(inside[out])) if out.any() else math.nan

    def describe(self, level: float = 0.95) -> str:
        """One line: what the calibration found."""
        if not self.usable:
            return (f"too few held-out runs outside their fold's data ({self.n_points} < "
                    f"{MIN_CALIBRATION_POINTS}) to calibrate: bootstrap intervals are used unwidened")
        k = self.discrepancy(level)
        units = " (log units)" if self.space == "log" else ""
        growth = "sqrt(d)" if self.shape == "brownian" else "d"
        return (f"rolling origin, {len(self.folds)} folds, {self.n_points} held-out runs up to "
                f"{self.max_distance:.2f} decades out; the {100 * level:g}% half-width gains {math.sqrt(k):.3g}"
                f"{units} in quadrature at d = 1 decade, growing as {growth} ({self.shape}); bootstrap intervals "
                f"covered {self.base_coverage(level):.0%} of these runs, calibrated ones {self.coverage(level):.0%}")

    def __repr__(self) -> str:
        return (f"Calibration(folds={len(self.folds)}, points={self.n_points}, shape={self.shape!r}, "
                f"max_distance={self.max_distance:.2f}, by={self.by!r})")

    # -- persistence ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; floats as ``float.hex`` strings (lossless)."""
        return {"errors": hex_floats(self.errors), "draws": hex_floats(self.draws.reshape(-1)),
                "n_draws": int(self.draws.shape[0]), "distance": hex_floats(self.distance),
                "fold": [int(v) for v in self.fold], "folds": [dict(f) for f in self.folds],
                "shape": self.shape, "tau": hex_float(self.tau), "space": self.space, "by": self.by,
                "n_boot": self.n_boot, "seed": self.seed, "notes": list(self.notes), "weighting": self.weighting,
                "inputs": None if self.inputs is None else {k: hex_floats(v) for k, v in self.inputs.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Calibration:
        errors = unhex_floats(d["errors"])
        draws = unhex_floats(d["draws"]).reshape(int(d["n_draws"]), errors.size)
        return cls(errors=errors, draws=draws, distance=unhex_floats(d["distance"]),
                   fold=np.array(d["fold"], dtype=int), folds=tuple(dict(f) for f in d["folds"]),
                   shape=d["shape"], tau=unhex_float(d["tau"]), space=d["space"], by=d["by"],
                   n_boot=int(d["n_boot"]), seed=int(d["seed"]), notes=tuple(d.get("notes", ())),
                   weighting=d.get("weighting", "fold"),
                   inputs=None if d.get("inputs") is None else {k: unhex_floats(v) for k, v in d["inputs"].items()})


# ---------------------------------------------------------------------------------------------
# comparisons: the difference's own calibration
# ---------------------------------------------------------------------------------------------

def _point_keys(inputs: Mapping[str, np.ndarray], names: Sequence[str]) -> list[tuple[str, ...]]:
    return list(zip(*(tuple(f"{v:.9g}" for v in inputs[k]) for k in names)))


def _fold_groups(cal: Calibration, keys: list[tuple[str, ...]], fold: int) -> dict[tuple[str, ...], list[int]]:
    """Held-out runs of one fold, grouped by their inputs (replicate seeds together)."""
    g: dict[tuple[str, ...], list[int]] = {}
    for i in np.flatnonzero(cal.fold == fold):
        g.setdefault(keys[i], []).append(int(i))
    return g


def paired_calibration(cal_a: Calibration, cal_b: Calibration) -> tuple[Calibration | None, str]:
    """The rolling-origin calibration of the *difference* of two arms' log predictions.

    Two arms (procedures, datasets) fitted on the same design and calibrated with the same
    rolling-origin cutoffs predict the same held-out runs from the same cutoffs. The error of the
    log ratio ``log(L_A / L_B)`` at such a run is ``u_A - u_B``, and its base (bootstrap) draws are
    the arms' draws subtracted, paired across independent bootstraps (B's draws shifted by one
    refit, so that two bootstraps seeded alike do not share resamples). These are the scores of a
    calibration of the difference itself, built exactly like one arm's (:class:`Calibration`):
    the shape of growth with distance by maximum likelihood, ``kappa`` the conformal quantile.

    Why: summing each arm's widening as if their errors were independent is right for their random
    parts, but a *systematic* error of each arm (a law form that misfits, its own sign per arm)
    adds linearly in the difference: two arms erring in opposite directions make the difference
    err by the sum, beyond what the independent sum of widenings allows (docs/coverage.md,
    "Comparisons beyond the data", the ``opposite`` case). Arms erring the same way cancel, and
    the paired calibration sees that too. It follows the paired (common-origin) evaluation of
    forecast differences (Diebold & Mariano 1995) with the conformal calibration of the module
    notes.

    Pairs are held-out runs with the same law inputs (replicate seeds averaged within an arm) in
    folds with the same cutoff; the distance is the larger of the two arms'. Both calibrations must
    be in log space and carry their held-out inputs (calibrations made since 2026-12-07 do). Cutoffs
    sit at ranks of each arm's runs (:func:`rolling_folds`), so a run one arm lacks (a diverged run
    left out) can move its cutoffs off the other's: then nothing pairs, and ``compare`` falls back
    to each arm's calibration and says why.

    Returns
    -------
    (Calibration or None, str)
        The paired calibration (its :attr:`~Calibration.usable` says whether it has the 10 runs
        beyond their folds it needs) and, when None, why no pairing was possible.
    """
    for name, c in (("A", cal_a), ("B", cal_b)):
        if not c.folds:
            return None, f"arm {name}'s calibration has no rolling-origin fold"
        if c.space != "log":
            return None, f"arm {name}'s calibration is in {c.space} space (pairing needs log space)"
        if c.inputs is None or any("fold" not in f for f in c.folds):
            return None, f"arm {name}'s calibration does not record its held-out runs (made before 2026-12-07)"
    names = sorted(set(cal_a.inputs) & set(cal_b.inputs))
    if not names:
        return None, "the arms' calibrations share no input columns"
    cut_b = {int(f["fold"]): float(f["cutoff"]) for f in cal_b.folds}
    fold_b = {}
    for f in cal_a.folds:
        c = float(f["cutoff"])
        match = [j for j, cb in cut_b.items() if math.isclose(cb, c, rel_tol=1e-9)]
        if match:
            fold_b[int(f["fold"])] = match[0]
    if not fold_b:
        return None, "the arms' rolling backtests share no cutoff (their runs lie at different compute)"
    S = min(cal_a.draws.shape[0], cal_b.draws.shape[0])
    keys_a, keys_b = _point_keys(cal_a.inputs, names), _point_keys(cal_b.inputs, names)
    errors, draws, dist, fold, folds, ins = [], [], [], [], [], {k: [] for k in names}
    for fa, fb in fold_b.items():
        ga, gb = _fold_groups(cal_a, keys_a, fa), _fold_groups(cal_b, keys_b, fb)
        common = [k for k in ga if k in gb]
        if not common:
            continue
        for k in common:
            ia, ib = ga[k], gb[k]
            errors.append(float(np.mean(cal_a.errors[ia]) - np.mean(cal_b.errors[ib])))
            da = np.mean(cal_a.draws[:S, ia], axis=1)
            db = np.roll(np.mean(cal_b.draws[:S, ib], axis=1), 1)
            draws.append(da - db)
            dist.append(max(float(np.max(cal_a.distance[ia])), float(np.max(cal_b.distance[ib]))))
            fold.append(fa)
            for name in names:
                ins[name].append(float(cal_a.inputs[name][ia[0]]))
        f = next(f for f in cal_a.folds if int(f["fold"]) == fa)
        folds.append({"cutoff": float(f["cutoff"]), "fold": fa, "n_train": int(f["n_train"]), "n_test": len(common)})
    if not errors:
        return None, "the arms' rolling backtests share no held-out run (their designs differ)"
    by = cal_a.by if cal_a.by == cal_b.by else None
    notes = (f"paired from {len(errors)} held-out runs shared by both arms' rolling backtests "
             f"({len(folds)} common cutoffs)",)
    cal = Calibration.from_folds(np.array(errors), np.stack(draws, axis=1), np.array(dist),
                                 np.array(fold, dtype=int), folds, space="log", by=by, n_boot=S,
                                 seed=cal_a.seed, notes=notes, weighting=cal_a.weighting,
                                 inputs={k: np.array(v) for k, v in ins.items()})
    return cal, ""
