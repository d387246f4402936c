"""Sequential design: which runs to train next to narrow a prediction at a target compute.

What to use when
----------------
``scalinglab sweep run FILE --until "width at 1e14 < 3%"`` (:func:`scalinglab.sweep.loop.run_loop`)
trains, refits and asks this module, every round, which of the runs the sweep file allows would
narrow the prediction at the target the most per FLOP. This module holds the statistics only
(numpy + scipy): the stop rules (:func:`parse_until`), how wide the prediction is now
(:func:`target_state`), and how wide it is expected to be after a candidate's runs are in
(:func:`score_candidates`, :func:`choose`). It never sees ladders, stores or executors: a
:class:`Candidate` is a set of (N, D) points, how many seeds each, and a cost in FLOPs.

How a candidate is scored
-------------------------
The fit's bootstrap refits ``theta_b`` (:mod:`scalinglab.laws.bootstrap`) are an ensemble of laws
compatible with the data. Over the ensemble, the log prediction at the target, ``g = log f(x*)``,
and at every candidate point, ``h_j = log f(x_j)``, have a joint covariance ``S``. A new run at
``x_j`` observes ``h_j`` plus noise of variance ``r_j`` (the fit's :class:`~scalinglab.laws.seeds.NoiseModel`:
seed spread over the seeds trained, plus misfit). Treating the ensemble as Gaussian and the
observation as linear in it, observing a set ``J`` of points leaves the target with variance::

    Var(g | y_J) = S_gg - S_gJ (S_JJ + R_J)^-1 S_Jg

the posterior variance of Bayesian linear design (Chaloner & Verdinelli 1995, "Bayesian
experimental design: a review", Sec. 2: c-optimality for one linear combination), estimated from
an ensemble as in the ensemble Kalman filter (Evensen 1994). The prediction interval's half-width
scales as ``sqrt(Var(g) + s^2)`` (``s``: the new-run noise the prediction interval adds, which no
run can remove), so the expected interval after the candidate is the current one times
``sqrt((Var(g | y_J) + s^2) / (Var(g) + s^2))``. That is the ``"gaussian"`` score (used for
comparisons and for the cheap rollouts of :func:`choose`); the default ``"importance"`` score
estimates ``E Var(g | y_J)`` without the Gaussian assumption, by reweighting the bootstrap refits
with the likelihood of simulated observations (preposterior importance sampling, Muller 1999),
so the heavy tails of the ensemble, which set a percentile interval, count. The planner picks the
largest ``(width now - width after) / cost``, after a rollout lookahead (:func:`choose`); a batch
of several candidates is chosen greedily, each scored jointly with those already chosen.

The interval scored is the one the stop rule reads. Beyond the data that is the calibrated
interval (:mod:`scalinglab.laws.intervals`), ``sqrt(h_boot^2 + kappa g(d))`` per side: the ratio
above shrinks the bootstrap part ``h_boot`` only, and the extrapolation part follows ``g(d)`` when
a candidate's points bring the data nearer the target (:class:`Extrapolation`; without a widening
the score is the plain ratio).

How many learning rates a new point searches
--------------------------------------------
:func:`fit_lr_optimum` pools every point tried at several learning rates into one model, the loss
quadratic in ``log2 lr`` around an optimum log-linear in N and D (:class:`LrOptimum`). The planner
probes the fewest learning rates whose expected mis-tuning (``c (miss^2 + se^2)``, conservative in
the curvature ``c``) is at most ``PIN_FRACTION`` (a quarter) of the point's run-to-run noise SD:
one where neighbouring points pin the optimum, the full window where they do not.

When the score is valid, and when not
-------------------------------------
It is a linearisation: good when the ensemble is roughly Gaussian in log space and the candidate
points are not far outside the data (a few doublings), rough for the first rounds of a 5-parameter
law on ten points, where the bootstrap itself is unreliable. It ranks candidates; it does not
promise the width a round will reach (the log records the expected and the realised width, so the
planner's calibration can be read off). It does not know about a change of regime beyond the
data, and it treats the points of a branched bundle as independent although they share a trunk.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, ScalingLabWarning
from .intervals import MIN_CALIBRATION_POINTS

__all__ = [
    "Candidate",
    "Extrapolation",
    "LrOptimum",
    "PIN_FRACTION",
    "Scored",
    "StopRule",
    "TargetState",
    "choose",
    "difference_draws",
    "difference_state",
    "extrapolation_variance",
    "fit_lr_optimum",
    "parse_until",
    "point_noise_var",
    "score_candidates",
    "target_state",
]


# ---------------------------------------------------------------------------------------------
# stop rules
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StopRule:
    """When a closed loop stops (besides running out of budget).

    Attributes
    ----------
    kind : str
        ``"width"``: the ``level`` prediction interval at ``flops`` is narrower than ``width``
        (relative: ``(high - low) / prediction``). ``"winner"``: the arms' predictions at
        ``flops`` differ with probability ``confidence`` (one arm is better in that fraction of
        the paired bootstrap draws).
    flops : float
        The target compute C*, in the procedure's FLOP count (the trainer's).
    rung : str or None
        Predict a run of this rung at C*; None: the rung predicted best at C* (re-chosen each round).
    width : float
        Relative width asked for (0.03 for "3%"); ``kind="width"`` only.
    confidence : float
        ``kind="winner"`` only.
    level : float
        Level of the prediction interval.
    text : str
        The rule as written.
    """

    kind: str
    flops: float
    rung: str | None = None
    width: float = math.nan
    confidence: float = math.nan
    level: float = 0.95
    text: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("width", "winner"):
            raise ConfigError(f"StopRule.kind must be 'width' or 'winner'; got {self.kind!r}")
        if not (self.flops > 0 and math.isfinite(self.flops)):
            raise ConfigError(f"the target compute must be a positive number of FLOPs; got {self.flops!r}")
        if self.kind == "width" and not (self.width >= 0 and math.isfinite(self.width)):
            raise ConfigError(f"the asked width must be >= 0 (e.g. 3%); got {self.width!r}")
        if self.kind == "winner" and not (0.5 < self.confidence < 1):
            raise ConfigError(f"the asked confidence must be in (50%, 100%); got {self.confidence!r}")
        if not 0 < self.level < 1:
            raise ConfigError(f"level must be in (0, 1); got {self.level!r}")

    def __str__(self) -> str:
        return self.text or (f"width at {self.flops:g} < {100 * self.width:g}%" if self.kind == "width"
                             else f"winner at {self.flops:g} at {100 * self.confidence:g}%")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "flops": self.flops, "rung": self.rung, "width": self.width,
                "confidence": self.confidence, "level": self.level, "text": self.text}


_NUM = r"([0-9.]+(?:e[+-]?[0-9]+)?)"
_UNTIL_WIDTH = re.compile(rf"^width\s+at\s+{_NUM}(?:\s+on\s+(\S+))?\s*<\s*{_NUM}\s*%"
                          rf"(?:\s+at\s+{_NUM}\s*%)?$", re.I)
_UNTIL_WINNER = re.compile(rf"^winner\s+at\s+{_NUM}(?:\s+on\s+(\S+))?\s+at\s+{_NUM}\s*%$", re.I)


def parse_until(text: str | StopRule) -> StopRule:
    """Parse a stop rule.

    Forms::

        width at 1e14 < 3%                 the 95% prediction interval at C* = 1e14 FLOPs
        width at 1e14 on gpt-tiny-5 < 3%   ... of a gpt-tiny-5 run at C* (else: the best rung)
        width at 1e14 < 3% at 90%          ... the 90% interval
        winner at 1e14 at 95%              two arms: one is better at C* with probability 0.95

    Examples
    --------
    >>> r = parse_until("width at 1e15 < 2%")
    >>> r.kind, r.flops, r.width, r.level
    ('width', 1e+15, 0.02, 0.95)
    >>> parse_until("winner at 3e14 on gpt-tiny-5 at 90%").confidence
    0.9
    """
    if isinstance(text, StopRule):
        return text
    t = " ".join(str(text).strip().split())
    m = _UNTIL_WIDTH.match(t)
    try:
        if m:
            c, rung, w, lvl = m.groups()
            return StopRule(kind="width", flops=float(c), rung=rung, width=float(w) / 100,
                            level=float(lvl) / 100 if lvl else 0.95, text=t)
        m = _UNTIL_WINNER.match(t)
        if m:
            c, rung, conf = m.groups()
            return StopRule(kind="winner", flops=float(c), rung=rung, confidence=float(conf) / 100, text=t)
    except ValueError:
        pass
    raise ConfigError(f"cannot read the stop rule {text!r}; write e.g. 'width at 1e14 < 3%', "
                      "'width at 1e14 on gpt-tiny-5 < 3%' or 'winner at 1e14 at 95%'")


# ---------------------------------------------------------------------------------------------
# where the prediction stands
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TargetState:
    """The prediction at the target now.

    Attributes
    ----------
    inputs : dict
        The predicted point (``n_params``, ``n_tokens``).
    mean, low, high : float
        Prediction and its ``level`` prediction interval for a new run.
    level : float
    interval : str
        Which interval (``Prediction.interval`` when the fit reports one, else ``"bootstrap"``).
    outside_decades : float
        How far outside the fitted data the target is (:func:`~scalinglab.laws.intervals.outside_decades`).
    base_width : float or None
        For a calibrated interval, the relative width of the bootstrap interval it widens: the
        rest is the extrapolation error the rolling backtests measured. None otherwise.
    calibration_points : int or None
        For a calibrated interval, the held-out runs of the rolling backtests that lie beyond
        their fold's data (the ones that calibrate). None otherwise.
    calibration_usable : bool or None
        For a calibrated interval, whether there were enough of them
        (:attr:`~scalinglab.laws.intervals.Calibration.usable`); when not, the interval is the
        bootstrap one unwidened, which undercovers beyond the data (docs/coverage.md).
    """

    inputs: Mapping[str, float]
    mean: float
    low: float
    high: float
    level: float
    interval: str = "bootstrap"
    outside_decades: float = 0.0
    base_width: float | None = None
    calibration_points: int | None = None
    calibration_usable: bool | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)

    @property
    def width(self) -> float:
        """Relative width ``(high - low) / mean``."""
        return float((self.high - self.low) / self.mean)

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": {k: float(v) for k, v in self.inputs.items()}, "mean": self.mean, "low": self.low,
                "high": self.high, "level": self.level, "width": self.width, "interval": self.interval,
                "outside_decades": self.outside_decades, "base_width": self.base_width,
                "calibration_points": self.calibration_points, "calibration_usable": self.calibration_usable}

    @property
    def uncalibrated(self) -> bool:
        """A calibrated interval whose calibration had too few backtest runs: the bootstrap one, unwidened."""
        return self.interval == "calibrated" and self.calibration_usable is False

    @property
    def widened(self) -> bool:
        """A calibrated interval the rolling backtests made wider than its bootstrap part."""
        return self.base_width is not None and self.base_width < self.width * (1 - 1e-9)

    def describe_extrapolation(self) -> str:
        """Which interval, how far beyond the data, and (calibrated) how much of the width is extrapolation error."""
        text = f"{100 * self.level:g}% {self.interval}, {self.outside_decades:.2f} decades beyond the data"
        n = self.calibration_points
        if self.uncalibrated:
            text += (f"; NOT calibrated: only {n} held-out runs of the rolling backtests lie beyond their "
                     f"fold's data ({MIN_CALIBRATION_POINTS} needed), so this is the bootstrap interval unwidened, "
                     "which undercovers beyond the data")
        elif self.widened:
            text += (f"; the bootstrap interval alone is {100 * self.base_width:.2f}% wide, the rest is the "
                     f"extrapolation error measured by rolling backtests inside the data ({n} held-out runs)")
        elif self.base_width is not None:
            text += f"; the rolling backtests inside the data ({n} held-out runs) added nothing to the bootstrap interval"
        if self.outside_decades > 0:
            # measured: worlds with the gpt-tiny ladder's misfit, whose upturn starts past the data (docs/sweeps.md)
            text += "; a change of regime beyond the data is not in it (a run at the target checks it)"
        return text


def target_state(fit: Any, inputs: Mapping[str, float], *, level: float = 0.95,
                 interval: str | None = None) -> TargetState:
    """The fit's prediction interval for a new run at ``inputs`` (its default interval method, or ``interval``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        p = fit.predict(level=level, interval=interval, **inputs)
        method = str(getattr(p, "method", None) or getattr(p, "interval", None) or "bootstrap")
        base = points = usable = None
        if method == "calibrated":
            if getattr(fit, "bootstrap", None) is not None:   # else the calibration bootstrapped its own
                b = fit.predict(level=level, interval="bootstrap", **inputs)
                base = float((np.asarray(b.high) - np.asarray(b.low)) / np.asarray(b.mean))
            cal = fit.calibration_used
            points, usable = cal.n_points, cal.usable
    outside = getattr(p, "outside_decades", None)
    return TargetState(inputs={k: float(v) for k, v in inputs.items()}, mean=float(np.asarray(p.mean)),
                       low=float(np.asarray(p.low)), high=float(np.asarray(p.high)), level=level,
                       interval=method, outside_decades=0.0 if outside is None else float(np.max(outside)),
                       base_width=base, calibration_points=points, calibration_usable=usable)


def difference_draws(fit_a: Any, inputs_a: Mapping[str, float], fit_b: Any, inputs_b: Mapping[str, float]) -> np.ndarray:
    """The paired bootstrap draws of ``log f_A - log f_B`` at the arms' target points (finite ones).

    Draw ``b`` pairs the ``b``-th refit of each arm (independent resamples of independent runs).
    """
    ga, gb = _log_draws(fit_a, [inputs_a])[:, 0], _log_draws(fit_b, [inputs_b])[:, 0]
    n = min(ga.size, gb.size)
    d = ga[:n] - gb[:n]
    return d[np.isfinite(d)]


def difference_state(fit_a: Any, inputs_a: Mapping[str, float], fit_b: Any, inputs_b: Mapping[str, float],
                     *, extra_var: float = 0.0, draws: np.ndarray | None = None) -> tuple[float, float]:
    """``(P(A better), sd)`` of ``log f_A - log f_B`` at the arms' target points.

    With ``extra_var == 0``: the share of paired bootstrap draws where A predicts the lower loss,
    and the SD over the draws (parameter uncertainty only: it compares the arms' expected losses,
    not two single runs). Valid inside the data; beyond it the bootstrap misses the extrapolation
    error (docs/coverage.md). ``extra_var`` adds that error, a Gaussian of this variance (log
    units, e.g. the sum of both arms' :func:`extrapolation_variance`) convolved with the draws:
    ``P = mean_b Phi(-d_b / sqrt(extra_var))`` and ``sd = sqrt(var(d) + extra_var)``. ``draws``:
    the arms' :func:`difference_draws`, when the caller has them already.
    """
    d = difference_draws(fit_a, inputs_a, fit_b, inputs_b) if draws is None else np.asarray(draws, dtype=float)
    if d.size < 2:
        return math.nan, math.nan
    if not extra_var >= 0:
        raise ConfigError(f"extra_var must be >= 0 (a variance in log units); got {extra_var!r}")
    if extra_var == 0:
        return float(np.mean(d < 0)), float(np.std(d, ddof=1))
    from scipy.stats import norm

    p = float(np.mean(norm.cdf(-d / math.sqrt(extra_var))))
    return p, float(math.sqrt(np.var(d, ddof=1) + extra_var))


def extrapolation_variance(fit: Any, inputs: Mapping[str, float], *, level: float = 0.95) -> float:
    """The calibrated extrapolation variance of ``log f`` at ``inputs``, in log units.

    The calibrated interval (:mod:`scalinglab.laws.intervals`) widens the bootstrap half-width
    ``h`` at distance ``d`` outside the data to ``sqrt(h^2 + kappa g(d))`` at ``level``; read as a
    Gaussian error, that is a variance ``kappa g(d) / z^2`` with ``z`` the two-sided normal
    quantile of ``level`` (divided by the prediction squared when the fit is in linear space).
    0 inside the data or where the rolling backtests widened nothing; ``nan`` where the
    calibration has too few backtest runs (:attr:`~scalinglab.laws.intervals.Calibration.usable`)
    to say: the bootstrap alone undercovers there, and nothing measured says by how much.
    """
    d = float(np.max(fit.outside_decades(**inputs)))
    if not d > 0:
        return 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        cal = fit.calibration_used
    if not cal.usable:
        return math.nan
    var = float(cal.variance(d, level))
    if cal.space == "linear":
        var /= float(np.asarray(fit.predict(**inputs))) ** 2
    return float(var)


# ---------------------------------------------------------------------------------------------
# candidates and their scores
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """What one decision would train, seen by the statistics: points, seeds and cost.

    Attributes
    ----------
    key : str
        A readable, unique name (``"gpt-tiny-5 D=1.05M,2.1M lr=3e-3..1.2e-2"``).
    points : tuple of dict
        The (``n_params``, ``n_tokens``) points it adds to the fit (a branched bundle has several).
    cost_flops : float
        Training FLOPs of all its runs (every learning rate and seed; the trainer's counts).
    seeds : int
        Seeds trained per point (the point's noise variance is divided by it).
    arm : str
        The fit it informs (``""`` with one arm).
    meta : dict
        Anything the caller wants back (rung, budgets, learning rates ...).
    mistuning_var : float
        Added to each point's noise variance (log loss squared): the square of the expected
        mis-tuning of a point probed at fewer learning rates than a search would use
        (:meth:`LrOptimum.penalty`). A bias scored as noise: it makes such a point worth less, it
        does not correct it.
    """

    key: str
    points: tuple[Mapping[str, float], ...]
    cost_flops: float
    seeds: int = 1
    arm: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    mistuning_var: float = 0.0

    def __post_init__(self) -> None:
        if not self.points:
            raise ConfigError(f"candidate {self.key!r} adds no point")
        if not (self.cost_flops > 0 and math.isfinite(self.cost_flops)):
            raise ConfigError(f"candidate {self.key!r} must cost > 0 FLOPs; got {self.cost_flops!r}")
        if not (self.mistuning_var >= 0 and math.isfinite(self.mistuning_var)):
            raise ConfigError(f"candidate {self.key!r}: mistuning_var is a variance (>= 0, finite); "
                              f"got {self.mistuning_var!r}")
        freeze_fields(self)


@dataclass(frozen=True)
class Scored:
    """A candidate with its expected effect on the target.

    Attributes
    ----------
    candidate : Candidate
    width_now : float
        Relative width now (of the prediction interval; of the difference for a comparison).
    width_after : float
        Expected relative width once this candidate (and those chosen before it) are in.
    gain_per_flop : float
        ``(width_now - width_after) / cost``, in width per FLOP (of this candidate alone, given
        those chosen before it).
    """

    candidate: Candidate
    width_now: float
    width_after: float
    gain_per_flop: float

    @property
    def why(self) -> str:
        """The reason logged for choosing it."""
        c = self.candidate
        return (f"expected width {100 * self.width_now:.2f}% -> {100 * self.width_after:.2f}% for "
                f"{c.cost_flops:.3g} FLOPs ({100 * self.gain_per_flop * 1e12:.3g} width points per TFLOP)")

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {"key": c.key, "arm": c.arm, "cost_flops": c.cost_flops, "seeds": c.seeds,
                "points": [{k: float(v) for k, v in p.items()} for p in c.points],
                "width_now": self.width_now, "width_after": self.width_after,
                "gain_per_flop": self.gain_per_flop, **({"meta": dict(c.meta)} if c.meta else {})}


@dataclass(frozen=True)
class Extrapolation:
    """The calibrated interval's extrapolation term, so that candidates are scored on the interval
    the stop rule reads (:mod:`scalinglab.laws.intervals`).

    The calibrated half-width is ``sqrt(h_boot^2 + kappa g(d))`` per side. A candidate changes both
    parts: the bootstrap part shrinks as the scores estimate, and the extrapolation part follows
    ``g(d)`` when its points bring the data nearer the target (smaller ``d``). In relative widths::

        width_after = 2 sqrt((base_width / 2 * r)^2 + extra * growth(candidates))

    with ``r`` the bootstrap part's expected ratio, ``extra = (width_now / 2)^2 - (base_width / 2)^2``
    the widening now, and ``growth`` the ratio ``g(d after) / g(d now)``. With no widening
    (``extra = 0``: inside the data, or an uncalibrated interval) it is the plain ratio.

    Attributes
    ----------
    base_width : float
        Relative width of the bootstrap interval at the target now.
    extra : float
        The widening's share now, in squared relative half-widths (>= 0).
    growth : callable
        ``growth(candidates) -> g(d after them) / g(d now)`` (1 when they leave ``d`` unchanged).
    usable : callable or None
        ``usable(candidates) -> bool``: whether the interval would be calibrated with their points
        in (enough rolling-backtest runs beyond their folds). None: it is now, and stays so. While
        it is not, ``extra`` is a provisional widening (the maximum-likelihood discrepancy of
        the few backtests there are) and :func:`choose`'s rollouts count the asked width as
        reached only where ``usable`` holds: a width the stop rule could not claim.
    """

    base_width: float
    extra: float
    growth: Any
    usable: Any = None

    def width(self, boot_ratio: float, cands: Sequence[Candidate]) -> float:
        g = float(self.growth(cands)) if self.extra > 0 else 1.0
        return 2.0 * math.sqrt((0.5 * self.base_width * boot_ratio) ** 2 + self.extra * g)


def point_noise_var(noise: Any, seeds: int, *, inputs: Mapping[str, float] | None = None,
                    fallback_sigma: float = 0.0) -> float:
    """Variance of a tuned point averaged over ``seeds`` seeds, in the fit's space.

    ``sigma_seed(x)^2 / seeds + lack^2``: the seed part at the point's inputs (the spread's trend,
    :mod:`scalinglab.laws.seeds`) shrinks with more seeds, the misfit part does not; the residual
    scale when no seed spread is known.
    """
    if noise is None:
        return float(fallback_sigma) ** 2
    if not noise.uses_seeds:
        return float(noise.sigma) ** 2
    seed = float(np.asarray(noise.seed_sigma_at(**dict(inputs or {}))).reshape(-1)[0]) if inputs else \
        (float(noise.sigma_seed) if math.isfinite(noise.sigma_seed) else 0.0)
    return seed ** 2 / max(int(seeds), 1) + float(noise.lack) ** 2


def _log_draws(fit: Any, inputs: Sequence[Mapping[str, float]]) -> np.ndarray:
    """``log f(x; theta_b)`` for every bootstrap draw and point: shape (B, len(inputs))."""
    boot = getattr(fit, "bootstrap", None)
    if boot is None:
        raise ConfigError("the design needs a fit with a bootstrap: fit(..., n_boot=200)")
    P = np.asarray(boot.params, dtype=float)
    cols = []
    for x in inputs:
        with np.errstate(all="ignore"):
            v = fit.law(P, **{k: np.asarray(float(x[k])) for k in fit.law.inputs})
            cols.append(np.log(np.asarray(v, dtype=float).reshape(-1)))
    return np.stack(cols, axis=1)


def _robust_cov(Z: np.ndarray) -> np.ndarray:
    """Covariance of the ensemble rows after dropping non-finite and wild refits (> 8 MAD)."""
    Z = Z[np.all(np.isfinite(Z), axis=1)]
    if Z.shape[0] < 3:
        return np.full((Z.shape[1], Z.shape[1]), np.nan)
    med = np.median(Z, axis=0)
    mad = 1.4826 * np.median(np.abs(Z - med), axis=0)
    mad = np.where(mad > 0, mad, np.inf)
    keep = np.all(np.abs(Z - med) <= 8 * mad, axis=1)
    if keep.sum() >= 3:
        Z = Z[keep]
    return np.atleast_2d(np.cov(Z.T, ddof=1))


def new_run_noise_var(fits: Mapping[str, Any], targets: Mapping[str, Mapping[str, float]], *,
                      comparison: bool) -> float:
    """Noise variance (log space) of the target run itself: its seed noise at the target under the
    first arm's noise model, or the fit's residual sigma; 0 for a comparison (the question is which
    law is lower, not where one run lands)."""
    if comparison:
        return 0.0
    a0, f0 = next(iter(fits.items()))
    nz = f0.noise
    if nz is not None:
        return float(np.asarray(nz.sigma_at(**targets[a0])).reshape(-1)[0]) ** 2
    return float(f0.noise_sigma) ** 2


class _Arm:
    """One fit's ensemble over the target and every candidate point of that arm."""

    def __init__(self, fit: Any, target: Mapping[str, float], points: list[Mapping[str, float]]):
        self.fit = fit
        keys = []
        self.index: dict[tuple, int] = {}
        for p in points:
            k = _pkey(p)
            if k not in self.index:
                self.index[k] = len(keys) + 1
                keys.append(p)
        Z = _log_draws(fit, [target, *keys])
        self.Z = Z[np.all(np.isfinite(Z), axis=1)]
        self.S = _robust_cov(Z)
        self.var0 = float(self.S[0, 0])

    def var_after(self, obs: Mapping[int, float]) -> float:
        """Posterior variance of the target after observing points ``{index: noise variance}``."""
        if not obs or not math.isfinite(self.var0):
            return self.var0
        J = np.array(sorted(obs))
        R = np.diag([obs[j] for j in J])
        SJJ = self.S[np.ix_(J, J)] + R
        SgJ = self.S[0, J]
        try:
            red = float(SgJ @ np.linalg.solve(SJJ + 1e-15 * np.eye(len(J)), SgJ))
        except np.linalg.LinAlgError:
            red = float(SgJ @ np.linalg.pinv(SJJ) @ SgJ)
        return max(self.var0 - red, 0.0)


    def widths_after(self, obs: Mapping[int, float], *, noise_var: float, level: float, n_truths: int = 48,
                     seed: int = 0) -> tuple[float, float]:
        """``(prior, expected posterior)`` SD-scale of the target (``sqrt(var + noise_var)``), by
        importance reweighting of the ensemble.

        Preposterior analysis on the ensemble itself (Muller 1999, "Simulation-based optimal
        design"): ``n_truths`` draws play the truth in turn, the candidate's points are observed
        from it with their noise, every draw is reweighted by the likelihood of that observation
        (tempered so that at least 10 draws keep weight: a particle filter's guard), and the
        reweighted variance of the log target is averaged over the truths. By the law of total
        variance its expectation never exceeds the prior variance. Unlike the Gaussian update on
        a trimmed covariance it keeps the ensemble's tails, which set a percentile interval.
        Both numbers include ``noise_var``; their ratio is what a caller should use.
        """
        Z = self.Z
        B = Z.shape[0]
        if B < 10:
            return math.nan, math.nan
        g = Z[:, 0]
        prior = math.sqrt(float(np.var(g)) + max(noise_var, 0.0))
        if not obs:
            return prior, prior
        rng = np.random.default_rng(seed)
        J = np.array(sorted(obs))
        r = np.array([obs[j] for j in J])
        truths = rng.choice(B, size=min(n_truths, B), replace=False)
        y = Z[np.ix_(truths, J)] + rng.normal(size=(truths.size, J.size)) * np.sqrt(r)
        logw = -0.5 * (((Z[None, :, J] - y[:, None, :]) ** 2) / r).sum(axis=2)        # (K, B)
        W = np.vstack([_tempered(lw, min(10.0, B / 10)) for lw in logw])
        m = W @ g
        var = W @ (g * g) - m * m
        post = math.sqrt(float(np.mean(np.maximum(var, 0.0))) + max(noise_var, 0.0))
        return prior, min(post, prior)


def _tempered(logw: np.ndarray, ess_min: float) -> np.ndarray:
    """Normalised weights ``exp(t logw)`` with the largest ``t <= 1`` whose effective sample size >= ess_min."""
    def weights(t: float) -> np.ndarray:
        w = np.exp(t * (logw - logw.max()))
        return w / w.sum()

    def ess(w: np.ndarray) -> float:
        return 1.0 / float(np.sum(w * w))

    w = weights(1.0)
    if ess(w) >= ess_min:
        return w
    lo, hi = 0.0, 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if ess(weights(mid)) >= ess_min:
            lo = mid
        else:
            hi = mid
    return weights(lo)


def _pkey(p: Mapping[str, float]) -> tuple:
    return tuple(sorted((k, float(f"{float(v):.9g}")) for k, v in p.items()))


def score_candidates(fits: Mapping[str, Any], targets: Mapping[str, Mapping[str, float]],
                     candidates: Sequence[Candidate], *, width_now: float, noise_var_new: float | None = None,
                     chosen: Sequence[Candidate] = (), comparison: bool = False, level: float = 0.95,
                     method: str | None = None, extrapolation: Extrapolation | None = None) -> list[Scored]:
    """Score every candidate: expected relative width after it, and gain per FLOP.

    Parameters
    ----------
    fits : dict arm -> FitResult
        Fits with a bootstrap (one arm ``""`` for a single target).
    targets : dict arm -> inputs
        The predicted point of each arm.
    candidates : sequence of Candidate
    width_now : float
        The relative width now (from :func:`target_state`, or of the difference).
    noise_var_new : float, optional
        Variance of the new-run noise that the interval carries and no run removes (log space);
        default: the single arm's ``noise_sigma ** 2``; 0 for a comparison.
    chosen : sequence of Candidate
        Candidates already chosen this round; each score is joint with them.
    comparison : bool
        Score the difference between two arms (the variances of the arms add).
    level : float
        Level of the interval (``method="importance"``).
    method : {"importance", "gaussian"}, optional
        ``"importance"`` (default for one arm): the expected spread of the reweighted ensemble
        (``widths_after`` of the arm's ensemble, preposterior importance sampling). ``"gaussian"`` (default
        for a comparison): the linear-Gaussian update of the module notes.
    extrapolation : Extrapolation, optional
        Score the calibrated interval (one arm): the bootstrap part as above, the extrapolation
        part by how far the candidate's points bring the data towards the target.

    Returns
    -------
    list of Scored, best gain per FLOP first.
    """
    method = method or ("gaussian" if comparison else "importance")
    if method not in ("importance", "gaussian"):
        raise ConfigError(f"method must be 'importance' or 'gaussian'; got {method!r}")
    if method == "importance" and (comparison or len(fits) != 1):
        raise ConfigError("method='importance' scores one arm's interval; use 'gaussian' for a comparison")
    arms = {a: _Arm(f, targets[a], [p for c in (*candidates, *chosen) if c.arm == a for p in c.points])
            for a, f in fits.items()}
    if noise_var_new is None:
        noise_var_new = new_run_noise_var(fits, targets, comparison=comparison)
    noise_of = {a: f.noise for a, f in fits.items()}
    sig_of = {a: float(f.noise_sigma) for a, f in fits.items()}

    def obs_of(cands: Sequence[Candidate]) -> dict[str, dict[int, float]]:
        out: dict[str, dict[int, float]] = {a: {} for a in arms}
        for c in cands:
            if c.arm not in arms:
                raise ConfigError(f"candidate {c.key!r} is for arm {c.arm!r}; the fits have {sorted(arms)}")
            for p in c.points:
                r = point_noise_var(noise_of[c.arm], c.seeds, inputs=p, fallback_sigma=sig_of[c.arm]) + c.mistuning_var
                j = arms[c.arm].index[_pkey(p)]
                out[c.arm][j] = 1.0 / (1.0 / out[c.arm][j] + 1.0 / r) if j in out[c.arm] else r
        return out

    def total_var(cands: Sequence[Candidate]) -> float:
        obs = obs_of(cands)
        return sum(arms[a].var_after(obs[a]) for a in arms)

    if method == "importance":
        arm_name, arm = next(iter(arms.items()))

        def width(cands: Sequence[Candidate]) -> tuple[float, float]:
            return arm.widths_after(obs_of(cands)[arm_name], noise_var=noise_var_new, level=level)

        prior, base = width(chosen)
        if not (math.isfinite(prior) and prior > 0):
            return [Scored(c, width_now, width_now, 0.0) for c in candidates]

        def after(ratio: float, cands: Sequence[Candidate]) -> float:
            return width_now * ratio if extrapolation is None else extrapolation.width(ratio, cands)

        w_base = after(base / prior, chosen)
        out = []
        for c in candidates:
            w = after(width([*chosen, c])[1] / prior, [*chosen, c])
            out.append(Scored(c, width_now, w, (w_base - w) / c.cost_flops))
        out.sort(key=lambda s: (-s.gain_per_flop, s.candidate.cost_flops, s.candidate.key))
        return out

    v_base = total_var(chosen)
    v_now = sum(arm.var0 for arm in arms.values())
    if not (math.isfinite(v_now) and v_now > 0):
        return [Scored(c, width_now, width_now, 0.0) for c in candidates]

    def gauss(v: float, cands: Sequence[Candidate]) -> float:
        r = math.sqrt((v + noise_var_new) / (v_now + noise_var_new))
        return width_now * r if extrapolation is None else extrapolation.width(r, cands)

    w_base = gauss(v_base, chosen)
    out = []
    for c in candidates:
        w = gauss(total_var([*chosen, c]), [*chosen, c])
        out.append(Scored(c, width_now, w, (w_base - w) / c.cost_flops))
    out.sort(key=lambda s: (-s.gain_per_flop, s.candidate.cost_flops, s.candidate.key))
    return out


def choose(fits: Mapping[str, Any], targets: Mapping[str, Mapping[str, float]],
           candidates: Sequence[Candidate], *, width_now: float, budget_flops: float, k: int = 1,
           noise_var_new: float | None = None, comparison: bool = False, level: float = 0.95,
           method: str | None = None, exclusive: Any = None, goal_width: float = 0.0,
           lookahead: int = 4, extrapolation: Extrapolation | None = None) -> tuple[list[Scored], list[Scored]]:
    """Choose up to ``k`` candidates by expected width reduction per FLOP, with a rollout lookahead.

    Never chooses a candidate over the remaining ``budget_flops`` (the budget shrinks with each
    choice) or one that gains nothing. ``exclusive(a, b)`` says two candidates cannot be chosen
    together (e.g. the same rung twice in one round).

    Greedy choice by gain per FLOP is myopic when one candidate costs a large part of the budget:
    cheap points win round after round until the expensive, decisive one no longer fits. So the
    ``lookahead`` best candidates by gain per FLOP and the ``lookahead`` best by absolute gain are
    each *rolled out* (Bertsekas, Tsitsiklis & Wu 1997, "Rollout algorithms for combinatorial
    optimization"): chosen first, then followed by greedy choices (linear-Gaussian scores, which
    are cheap) until the budget is spent. The first choice whose rollout reaches ``goal_width``
    with the fewest FLOPs wins, or, when none does, the one whose rollout ends narrowest.
    ``lookahead=0`` is the plain greedy choice. ``extrapolation`` scores the calibrated interval
    (:class:`Extrapolation`), in the scores and the rollouts.

    Returns
    -------
    (chosen, first_scores) : the chosen candidates in order (each scored given those before it)
        and the scores of every affordable candidate in the first pass (for the decision log).
    """
    left = float(budget_flops)
    chosen: list[Scored] = []
    first: list[Scored] = []
    pool = [c for c in candidates if c.cost_flops <= left]
    gauss = _Scorer(fits, targets, candidates, noise_var_new=noise_var_new, comparison=comparison,
                    extrapolation=extrapolation, width_now=width_now) if lookahead and pool else None
    for i in range(max(int(k), 1)):
        pool = [c for c in pool if c.cost_flops <= left
                and not any(exclusive is not None and exclusive(c, s.candidate) for s in chosen)]
        if not pool:
            break
        scored = score_candidates(fits, targets, pool, width_now=width_now, noise_var_new=noise_var_new,
                                  chosen=[s.candidate for s in chosen], comparison=comparison, level=level,
                                  method=method, extrapolation=extrapolation)
        if i == 0:
            first = scored
        best = scored[0]
        if not best.gain_per_flop > 0:
            break
        if gauss is not None and len(scored) > 1:
            useful = [x for x in scored if x.gain_per_flop > 0]
            picks = list({x.candidate.key: x for x in
                          [*useful[:lookahead], *sorted(useful, key=lambda x: x.width_after)[:lookahead]]}.values())
            goal = goal_width / width_now if width_now > 0 else 0.0
            ends = {x.candidate.key: gauss.rollout(x.candidate, [c.candidate for c in chosen], pool, left, goal)
                    for x in picks}
            best = min(picks, key=lambda x: (*ends[x.candidate.key], -x.gain_per_flop))
        chosen.append(best)
        left -= best.candidate.cost_flops
        pool = [c for c in pool if c.key != best.candidate.key]
    return chosen, first


class _Scorer:
    """Linear-Gaussian widths of any set of candidates, relative to the current width (rollouts)."""

    def __init__(self, fits: Mapping[str, Any], targets: Mapping[str, Mapping[str, float]],
                 candidates: Sequence[Candidate], *, noise_var_new: float | None, comparison: bool,
                 extrapolation: Extrapolation | None = None, width_now: float = 1.0):
        self.extrapolation, self.width_now = extrapolation, float(width_now)
        self.arms = {a: _Arm(f, targets[a], [p for c in candidates if c.arm == a for p in c.points])
                     for a, f in fits.items()}
        if noise_var_new is None:
            noise_var_new = new_run_noise_var(fits, targets, comparison=comparison)
        self.s2 = float(noise_var_new)
        self.fits = fits
        self.v0 = sum(arm.var0 for arm in self.arms.values())

    def ratio(self, cands: Sequence[Candidate]) -> float:
        """Expected width after ``cands`` as a fraction of the width now."""
        obs: dict[str, dict[int, float]] = {a: {} for a in self.arms}
        for c in cands:
            f = self.fits[c.arm]
            for p in c.points:
                r = point_noise_var(f.noise, c.seeds, inputs=p, fallback_sigma=float(f.noise_sigma)) + c.mistuning_var
                j = self.arms[c.arm].index[_pkey(p)]
                obs[c.arm][j] = 1.0 / (1.0 / obs[c.arm][j] + 1.0 / r) if j in obs[c.arm] else r
        v = sum(self.arms[a].var_after(obs[a]) for a in self.arms)
        if not (math.isfinite(self.v0) and self.v0 + self.s2 > 0):
            return 1.0
        r = math.sqrt((v + self.s2) / (self.v0 + self.s2))
        if self.extrapolation is None or not self.width_now > 0:
            return r
        return self.extrapolation.width(r, cands) / self.width_now

    def rollout(self, first: Candidate, chosen: Sequence[Candidate], pool: Sequence[Candidate], left: float,
                goal_ratio_width: float) -> tuple[float, float]:
        """``(FLOPs to reach the goal or inf, final relative width)`` of ``first`` then greedy choices."""
        sel = [*chosen, first]
        taken = {(c.arm, _pkey(p)) for c in sel for p in c.points}
        rem = left - first.cost_flops
        spent = first.cost_flops
        w = self.ratio(sel)
        ok = self.extrapolation.usable if self.extrapolation is not None and self.extrapolation.usable else None
        # goal_ratio_width is the asked width as a fraction of the width now; reached only where the
        # stop rule could claim it (calibrated)
        reach = spent if w <= goal_ratio_width and (ok is None or ok(sel)) else math.inf
        while True:
            options = [c for c in pool if c.cost_flops <= rem and c.key not in {x.key for x in sel}
                       and not any((c.arm, _pkey(p)) in taken for p in c.points)]
            if not options:
                break
            ws = [(self.ratio([*sel, c]), c) for c in options]
            wc, c = max(ws, key=lambda t: ((w - t[0]) / t[1].cost_flops, -t[1].cost_flops))
            if not (w - wc) > 0:
                break
            sel.append(c)
            taken |= {(c.arm, _pkey(p)) for p in c.points}
            rem -= c.cost_flops
            spent += c.cost_flops
            w = wc
            if w <= goal_ratio_width and reach == math.inf and (ok is None or ok(sel)):
                reach = spent
        return reach, w


# ---------------------------------------------------------------------------------------------
# learning rates: when one probe is enough
# ---------------------------------------------------------------------------------------------

#: One learning rate is probed at a new point when the expected excess log loss of that probe
#: (mis-tuning) is at most this fraction of the point's run-to-run noise SD.
PIN_FRACTION = 0.25


@dataclass(frozen=True)
class LrOptimum:
    """A pooled model of how the loss depends on the learning rate, fitted on every tuned point.

    ``log L(point i, lr) = m_i + c (log2 lr - u(N_i, D_i))^2`` with one level ``m_i`` per (N, D)
    point, one curvature ``c`` (excess log loss per squared doubling of the learning rate) shared
    by all points, and the optimum ``u = a0 + a1 log2(N / N0) + a2 log2(D / D0)`` linear in log N
    and log D: the quadratic-in-log-learning-rate sensitivity curves and power-law optimum fits of
    DeepSeek-AI 2024 ("DeepSeek LLM", Sec. 3.1) and Bjorck et al. 2024 ("Scaling optimal LR across
    token horizons"). Weighted least squares with each run's noise SD; the covariance of
    ``(c, a)`` is the Gauss-Newton one, scaled up by the reduced chi-square when the model misfits.

    When it is valid: the optimum moves smoothly (log-linearly) with N and D over the range of the
    data and a little beyond, and the loss near the optimum is quadratic in log learning rate (true
    within a few doublings of it; far off the optimum the loss rises faster, or diverges, which
    makes this estimate of ``c`` conservative). It says nothing about a change of regime (a new
    instability) at sizes the data do not reach.

    Attributes
    ----------
    curvature, curvature_se : float
        ``c`` and its standard error.
    coef : ndarray, shape (3,)
        ``(a0, a1, a2)``; ``a2`` (and ``a1``) are 0 when the data have too few budgets (sizes).
    cov : ndarray, shape (4, 4)
        Covariance of ``(c, a0, a1, a2)``.
    n0, d0 : float
        Reference N and D (geometric means of the points).
    n_points : int
        (N, D) points with two or more learning rates.
    n_tokens_range : tuple of float
        The smallest and largest D of those points: the range over which ``a2`` (the optimum's
        drift with D) was measured.
    """

    curvature: float
    curvature_se: float
    coef: np.ndarray
    cov: np.ndarray
    n0: float
    d0: float
    n_points: int
    n_tokens_range: tuple[float, float]

    def __post_init__(self) -> None:
        freeze_fields(self, "coef", "cov")

    def optimum(self, n_params: float, n_tokens: float) -> tuple[float, float]:
        """``(learning rate, SE of its log2)`` predicted at ``(N, D)``."""
        z = np.array([1.0, math.log2(n_params / self.n0), math.log2(n_tokens / self.d0)])
        u = float(self.coef @ z)
        with np.errstate(invalid="ignore"):
            var = float(z @ self.cov[1:, 1:] @ z)
        if not math.isfinite(var):
            return 2.0 ** u, math.inf
        return 2.0 ** u, math.sqrt(max(var, 0.0))

    def penalty(self, lrs: float | Sequence[float], n_params: float, n_tokens: float) -> float:
        """Expected excess log loss of the best of the runs at ``lrs`` over the tuned optimum at ``(N, D)``.

        ``c_up E[min_j (log2 lr_j - u)^2]`` over the optimum's uncertainty ``u ~ N(u_hat, se^2)``,
        with ``c_up = c + 2 se(c)``: the mis-tuning bias the point brings into the fit, conservative
        in the curvature. One learning rate: ``c_up ((log2 lr - u_hat)^2 + se^2)``.
        """
        opt, se = self.optimum(n_params, n_tokens)
        if not math.isfinite(se):
            return math.inf
        x = np.log2(np.atleast_1d(np.asarray(lrs, dtype=float)) / opt)
        z, wz = np.polynomial.hermite_e.hermegauss(40)          # u - u_hat = se z, z ~ N(0, 1)
        miss = np.min((x[:, None] - se * z[None, :]) ** 2, axis=0)
        c_up = max(self.curvature, 0.0) + 2.0 * self.curvature_se
        return float(c_up * np.sum(wz * miss) / np.sum(wz))

    def probes(self, grid: Sequence[float], n_params: float, n_tokens: float, k: int) -> tuple[float, ...]:
        """The ``k`` consecutive values of ``grid`` (ascending) with the least :meth:`penalty` at ``(N, D)``."""
        g = tuple(sorted(float(v) for v in grid))
        k = max(1, min(int(k), len(g)))
        return min((g[i:i + k] for i in range(len(g) - k + 1)),
                   key=lambda w: (self.penalty(w, n_params, n_tokens), w))


def fit_lr_optimum(n_params: Any, n_tokens: Any, lr: Any, loss: Any, sigma: Any) -> LrOptimum | None:
    """Fit :class:`LrOptimum` to runs (one value per run: N, D, learning rate, loss, noise SD of log loss).

    Only (N, D) points tried at two or more learning rates inform it. Returns None when fewer than
    3 such points (or fewer than 2 with three learning rates) exist, or the fit fails.
    """
    n, d, x, y, s = (np.asarray(v, dtype=float).reshape(-1) for v in (n_params, n_tokens, lr, loss, sigma))
    ok = np.isfinite(y) & (y > 0) & (x > 0) & np.isfinite(s) & (s > 0)
    n, d, x, y, s = n[ok], d[ok], np.log2(x[ok]), np.log(y[ok]), s[ok]
    keys = [(f"{a:.6g}", f"{b:.6g}") for a, b in zip(n, d)]
    pts: dict[tuple, list[int]] = {}
    for i, k in enumerate(keys):
        pts.setdefault(k, []).append(i)
    pts = {k: v for k, v in pts.items() if len({round(x[i], 6) for i in v}) >= 2}
    if len(pts) < 3 or sum(len({round(x[i], 6) for i in v}) >= 3 for v in pts.values()) < 2:
        return None
    rows = [i for v in pts.values() for i in v]
    grp = np.concatenate([[j] * len(v) for j, v in enumerate(pts.values())])
    n, d, x, y, s = n[rows], d[rows], x[rows], y[rows], s[rows]
    n0, d0 = float(np.exp(np.mean(np.log(n)))), float(np.exp(np.mean(np.log(d))))
    ln, ld = np.log2(n / n0), np.log2(d / d0)
    w = 1.0 / s ** 2
    G = len(pts)
    # the optimum's dependence on N and D: the model of lowest AIC among constant, + log N, + log D, both
    free = [len({f"{v:.6g}" for v in n}) >= 3, len({f"{v:.6g}" for v in d}) >= 3]
    best = None
    for use in ([True, False, False], [True, True, False], [True, False, True], [True, True, True]):
        if (use[1] and not free[0]) or (use[2] and not free[1]):
            continue
        sol = _fit_lr_model(x, y, s, w, grp, G, ln, ld, use)
        if sol is None:
            continue
        aic = float(np.sum(sol.fun ** 2)) + 2 * (len(sol.x) + G)
        if best is None or aic < best[0] - 1e-9:
            best = (aic, use, sol)
    if best is None:
        return None
    _, use, sol = best
    J = sol.jac
    dof = max(len(y) - G - J.shape[1], 1)
    chi2 = float(np.sum(sol.fun ** 2)) / dof
    cov = np.linalg.pinv(J.T @ J) * max(chi2, 1.0)
    if not sol.located:
        # no curvature measured, or the optimum runs off the searched range: its location is not
        # identified (the loss is flat in the learning rate, or the noise hides its curvature)
        cov[1:, :] = cov[:, 1:] = np.inf
    full = np.zeros((4, 4))
    idx = [0] + [1 + j for j in range(3) if use[j]]
    full[np.ix_(idx, idx)] = cov
    coef = np.zeros(3)
    coef[np.array(use)] = sol.x[1:]
    return LrOptimum(curvature=float(sol.x[0]), curvature_se=float(math.sqrt(max(cov[0, 0], 0.0))), coef=coef,
                     cov=full, n0=n0, d0=d0, n_points=G, n_tokens_range=(float(d.min()), float(d.max())))


def _fit_lr_model(x, y, s, w, grp, G, ln, ld, use):
    """Weighted least squares of :class:`LrOptimum` with the levels profiled out (None on failure)."""
    from scipy.optimize import least_squares

    mask = np.array(use)

    def resid(p: np.ndarray) -> np.ndarray:
        a = np.zeros(3)
        a[mask] = p[1:]
        r = y - p[0] * (x - (a[0] + a[1] * ln + a[2] * ld)) ** 2
        m = np.bincount(grp, weights=w * r, minlength=G) / np.bincount(grp, weights=w, minlength=G)
        return (r - m[grp]) / s

    k = int(mask.sum())
    # the optimum within two doublings of the searched learning rates, moving at most 2 doublings
    # per doubling of N or D: a fit that runs into these bounds has not located it
    lo = np.array([0.0, x.min() - 2, *([-2.0] * (k - 1))])
    hi = np.array([np.inf, x.max() + 2, *([2.0] * (k - 1))])
    start = np.array([0.01, float(np.mean(x)), *([0.0] * (k - 1))])
    try:
        sol = least_squares(resid, start, x_scale="jac", method="trf", bounds=(lo, hi))
    except (ValueError, np.linalg.LinAlgError):
        return None
    if not np.all(np.isfinite(sol.x)):
        return None
    sol.located = bool(sol.x[0] > 1e-9 and np.all(sol.x[1:] > lo[1:] + 1e-6) and np.all(sol.x[1:] < hi[1:] - 1e-6))
    return sol
