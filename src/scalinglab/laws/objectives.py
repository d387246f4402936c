"""Estimators: how residuals between a law and the data are turned into one number to minimize.

What to use when
----------------
``loss=`` names an estimator so a published fit can be reproduced by name:

* ``"ls"``: least squares, ``rho(r) = r^2 / 2``. Efficient under Gaussian noise; a single
  outlier moves it. In linear space it uses variable projection (linear parameters solved exactly).
* ``"lad"``: least absolute deviations, ``rho(r) = |r|`` (computed as a Huber loss with a tiny
  threshold, ``1e-7`` times the residual scale, so the optimizer sees a smooth function). The
  conditional median; robust to outliers.
* ``"huber"``: ``rho(r) = r^2/2`` for ``|r| <= delta``, ``delta (|r| - delta/2)`` beyond, on log
  residuals ``log f - log y`` summed over points (Hoffmann et al. 2022, Sec. 3.3, delta = 1e-3).
  With delta = 1e-3 and residuals of a few percent it is nearly LAD.
* ``"huber_likelihood"``: the negative log-likelihood of a Huber density with a free scale sigma
  (Besiroglu et al. 2024, arXiv:2404.10102, Sec. 4 and their replication code): ``sum_i h(r_i/sigma)
  + n log sigma + n log Z(delta)``. Sigma is profiled out exactly for every parameter vector, so
  the fitted law minimizes a Huber loss whose threshold ``delta * sigma`` adapts to the data;
  ``FitResult.sigma`` reports it. This is the estimator behind Table 1 of the replication.
* ``"asymmetric"``: the expectile loss ``rho(r) = |tau - 1[y > f]| r^2 / 2`` (Newey & Powell 1987).
  With ``tau = 0.1`` (default) points above the curve weigh 0.1 and points below it 0.9, so the
  curve tracks the lower envelope of the data: the right choice when each point is one of several
  hyper-parameter settings and only the best one at each scale matters. ``tau = 0.5`` is least squares.
* ``"loglinear"``: ordinary least squares of log y on log x (a straight line in log-log space),
  only for laws that are log-linear in their parameters (``"power_law"``). Closed form.

``space="log"`` (default) compares log f with log y: every point counts by its relative error,
which is right for losses spanning a wide range. ``space="linear"`` compares f with y.
``reduce="sum"`` (default) sums over points, as Hoffmann et al.; ``reduce="mean"`` averages.
Both have the same minimizer; scalinglab's stopping rules are relative, so both reach it. (SciPy's
L-BFGS-B with its default absolute ``pgtol=1e-5`` stops at the start on a mean-reduced Huber
objective, whose gradient is ~1e-6: the trap documented by Besiroglu et al.; a fit that never
moved from its start is flagged by ``FitDiagnostics.never_moved``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, suggest

__all__ = ["ESTIMATORS", "Objective", "huber_log_normalizer"]

ESTIMATORS = ("ls", "lad", "huber", "huber_likelihood", "asymmetric", "loglinear")
SPACES = ("log", "linear")
REDUCTIONS = ("sum", "mean")
ROBUST = frozenset({"lad", "huber", "huber_likelihood", "asymmetric"})
LAD_RELATIVE_DELTA = 1e-7   # threshold of the smoothed |r| relative to the residual scale


def huber_log_normalizer(delta: float) -> float:
    """log Z(delta), Z = integral of exp(-h_delta(u)) du = sqrt(2 pi) erf(delta/sqrt 2) + 2 exp(-delta^2/2)/delta."""
    z = math.sqrt(2 * math.pi) * math.erf(delta / math.sqrt(2)) + 2.0 * math.exp(-0.5 * delta * delta) / delta
    return math.log(z)


@dataclass(frozen=True)
class Objective:
    """One estimator with its options (validated on construction).

    Parameters
    ----------
    loss : str
        One of :data:`ESTIMATORS`.
    space : {"log", "linear"}
        Residuals ``log f - log y`` or ``f - y``.
    reduce : {"sum", "mean"}
        Sum or average over points (weights from a bootstrap resample count points).
    delta : float
        Huber threshold (on residuals; for ``huber_likelihood`` on standardized residuals r/sigma).
    tau : float
        Expectile level of ``"asymmetric"``, in (0, 1); small values track the lower envelope.
    lad_scale : float
        Residual scale that sets the smoothing threshold of ``"lad"`` (set by the fit from data).
    """

    loss: str = "huber"
    space: str = "log"
    reduce: str = "sum"
    delta: float = 1e-3
    tau: float = 0.1
    lad_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.loss not in ESTIMATORS:
            raise ConfigError(f"unknown loss {self.loss!r}.{suggest(self.loss, ESTIMATORS)} "
                              f"Available: {', '.join(ESTIMATORS)}")
        if self.space not in SPACES:
            raise ConfigError(f"space must be 'log' or 'linear'; got {self.space!r}")
        if self.reduce not in REDUCTIONS:
            raise ConfigError(f"reduce must be 'sum' or 'mean'; got {self.reduce!r}")
        if not (isinstance(self.delta, (int, float)) and self.delta > 0 and math.isfinite(self.delta)):
            raise ConfigError(f"delta must be a positive number; got {self.delta!r}")
        if not 0 < self.tau < 1:
            raise ConfigError(f"tau (expectile level of the asymmetric loss) must be in (0, 1); got {self.tau!r}")
        if self.loss == "loglinear" and self.space != "log":
            raise ConfigError("loss='loglinear' is least squares in log-log space; use space='log'")

    @property
    def robust(self) -> bool:
        """True for losses under which covariance-based standard errors are not the usual ones."""
        return self.loss in ROBUST

    @property
    def threshold(self) -> float:
        """The Huber threshold actually applied to residuals (``lad`` smooths with a tiny one)."""
        if self.loss == "lad":
            return LAD_RELATIVE_DELTA * self.lad_scale
        return self.delta

    def residuals(self, f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(r, dr/df)``: residuals of predictions ``f`` against targets ``y`` in this space."""
        if self.space == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(f) - np.log(y), 1.0 / f
        return f - y, np.ones_like(f)

    def terms(self, r: np.ndarray, wt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Objective value and its pieces for residuals ``r`` of shape (S, n).

        Returns ``(F, psi, curv, sigma)``: ``F`` (S,) the reduced objective; ``psi`` (S, n) the
        weighted derivative dF/dr_i; ``curv`` (S, n) the weighted curvature used by the
        Gauss-Newton / IRLS model (``psi_i / r_i`` for M-estimators, a majorizer of the loss);
        ``sigma`` (S,) the profiled scale of ``huber_likelihood`` (else None).
        ``wt`` (n,) or (S, n) are nonnegative point weights (bootstrap counts).
        """
        wt = np.broadcast_to(wt, r.shape)
        W = wt.sum(axis=-1)
        sigma = None
        if self.loss in ("ls", "loglinear"):
            rho, psi, curv = 0.5 * r * r, r, np.ones_like(r)
        elif self.loss == "asymmetric":
            # r = f - y; points above the curve (y > f, r < 0) weigh tau
            k = np.where(r < 0, self.tau, 1.0 - self.tau)
            rho, psi, curv = 0.5 * k * r * r, k * r, k
        elif self.loss in ("huber", "lad"):
            d = self.threshold
            rho, psi, curv = _huber(r, d)
            if self.loss == "lad":
                rho, psi, curv = rho / d, psi / d, curv / d
        else:  # huber_likelihood
            sigma = profile_scale(r, wt, self.delta)
            s = sigma[..., None]
            u = r / s
            h, hp, hc = _huber(u, self.delta)
            rho = h + np.log(s) + huber_log_normalizer(self.delta)
            psi, curv = hp / s, hc / (s * s)
        F = np.sum(wt * rho, axis=-1)
        psi, curv = wt * psi, wt * curv
        if self.reduce == "mean":
            inv = 1.0 / np.maximum(W, 1e-300)
            F, psi, curv = F * inv, psi * inv[..., None], curv * inv[..., None]
        return F, psi, curv, sigma

    def floor(self, y: np.ndarray) -> float:
        """The objective when every residual is 1e-10 (relative): differences below it are noise.

        Relative stopping rules use ``max(scale, floor)``, so noise-free data (objective ~ 0)
        still converge.
        """
        y = np.asarray(y, dtype=float)
        size = 1e-10 * (float(np.median(np.abs(y))) if self.space == "linear" else 1.0)
        r = np.full((1, y.shape[0]), size)
        if self.loss == "huber_likelihood":
            return 0.0
        return float(self.terms(r, np.ones(y.shape[0]))[0][0])

    def scale(self, F: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """A natural size of the objective, for relative stopping rules (never 0 for sane data)."""
        if self.loss == "huber_likelihood":
            W = np.broadcast_to(wt, (np.shape(F)[0], np.shape(wt)[-1])).sum(axis=-1)
            return W / W if self.reduce == "mean" else W
        return np.abs(F)


def _huber(r: np.ndarray, d: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.abs(r)
    inside = a <= d
    rho = np.where(inside, 0.5 * r * r, d * (a - 0.5 * d))
    psi = np.where(inside, r, d * np.sign(r))
    with np.errstate(divide="ignore", invalid="ignore"):
        curv = np.where(inside, 1.0, d / a)
    return rho, psi, curv


def profile_scale(r: np.ndarray, wt: np.ndarray, delta: float, iters: int = 60) -> np.ndarray:
    """The maximum-likelihood scale sigma of a Huber density for residuals ``r`` (S, n).

    Solves ``sum_i wt_i phi(|r_i| / sigma) = sum_i wt_i`` with ``phi(t) = t^2`` (t <= delta),
    ``delta t`` beyond (the score equation in log sigma, whose left side falls monotonically in
    sigma): safeguarded Newton steps in log sigma, only on the rows not yet solved. The all-linear
    solution ``delta * mean|r|`` is exact whenever no standardized residual falls inside
    ``delta``, so most rows finish in one step.
    """
    a = np.abs(r)
    wt = np.broadcast_to(wt, a.shape)
    W = wt.sum(axis=-1)
    tiny = 1e-300
    s_lin = delta * np.sum(wt * a, axis=-1) / np.maximum(W, tiny)
    s_quad = np.sqrt(np.sum(wt * a * a, axis=-1) / np.maximum(W, tiny))
    out = np.log(np.maximum(s_lin, tiny))
    todo = np.flatnonzero((s_lin > tiny) & np.isfinite(s_lin))
    if todo.size == 0:
        return np.exp(out)
    lo = np.log(np.maximum(np.minimum(s_lin, s_quad), tiny))[todo] - 1.0
    hi = np.log(np.maximum(np.maximum(s_lin, s_quad), tiny))[todo] + 1.0
    s = out[todo]
    aa, ww, WW = a[todo], wt[todo], W[todo]
    for _ in range(iters):
        t = aa * np.exp(-s)[:, None]
        inside = t <= delta
        g = np.sum(ww * np.where(inside, t * t, delta * t), axis=-1) - WW      # decreasing in s
        dg = -np.sum(ww * np.where(inside, 2 * t * t, delta * t), axis=-1)
        lo = np.where(g > 0, s, lo)
        hi = np.where(g <= 0, s, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(dg < 0, -g / dg, 0.0)
        new = s + step
        bad = ~np.isfinite(new) | (new < lo) | (new > hi)
        new = np.where(bad, 0.5 * (lo + hi), new)
        done = np.abs(new - s) <= 1e-13 * (1.0 + np.abs(s))
        out[todo] = new
        keep = ~done
        if not keep.any():
            break
        todo, s, lo, hi = todo[keep], new[keep], lo[keep], hi[keep]
        aa, ww, WW = aa[keep], ww[keep], WW[keep]
    return np.exp(out)
