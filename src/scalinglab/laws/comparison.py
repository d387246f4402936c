"""Compare two procedures (or datasets) by their fitted scaling laws.

What to use when
----------------
``compare(res_a, res_b, flops=[...])`` takes two fits of the same law, one per arm (training
procedure, dataset, architecture), and answers the questions a scaling study is run for:

* **How much better is A at compute C?** ``difference`` (L_A - L_B) with an interval and the
  probability that A is better (``prob_a_better``).
* **How much compute is the better procedure worth?** The effective-compute multiplier k:
  B reaches A's loss at C with k times less compute, ``L_B(C / k) = L_A(C)``
  (k > 1: B is more compute-efficient; the "compute-equivalent gain" of Hoffmann et al. 2022,
  Sec. 4 and of the "effective compute" comparisons in Kaplan et al. 2020, Sec. 6).
* **Do the arms scale differently?** A test of equal exponents: a bootstrap interval of
  alpha_A - alpha_B and a p-value. Equal exponents mean a constant multiplier in compute;
  different exponents mean the gap grows or shrinks with scale.
* **Does one overtake the other?** The crossover compute where L_A = L_B within a search range,
  with its interval, or the state ``"none in range"``.
* **How many tokens of B is a token of A worth?** For laws of N and D, the effective-data
  multiplier m (``data_multiplier``): at a model size N and a token budget D, B needs m D tokens
  to reach the loss A reaches with D, ``L_B(N, m D) = L_A(N, D)`` (m > 1: A's data is worth more
  per token; "unreachable" when A's loss is below B's floor at N). This is how datasets are
  compared at a fixed model: the "effective data" of Muennighoff et al. 2023, Sec. 3, and of the
  dataset comparisons of Li et al. 2024 (DCLM).

For laws of compute, L(C) (``"saturating_power_law"``, ``"power_law"``, ``"saturating_error"``)
the laws are compared directly. For laws of N and D (``"chinchilla"``, ``"overtraining"``) each arm
is evaluated on its own compute-optimal frontier, L*(C) = min over N of L(N, C / (6N)): the loss
each procedure reaches when it is scaled the best way it can be. The arms may have been measured on
different (N, D) grids; only their fitted laws meet.

All intervals are percentile intervals over *paired* bootstrap draws: draw i of A is paired with
draw i of B. The two fits are independent (different runs), so pairing is only a convenient way to
form the distribution of differences; it is valid when each arm's bootstrap resampled independent
units (see :mod:`scalinglab.laws.bootstrap`) and neither fit sits at a parameter bound.

Beyond the data the bootstrap misses the extrapolation error (the law's form, noise that changes
along the range; docs/coverage.md). With ``interval="calibrated"`` (and by default when both fits
carry a calibration, ``FitResult.with_calibration``) each paired draw of a target beyond the data
gets the calibrated extrapolation error *of the difference* added, measured on the data itself:
where the two arms were run on the same design (one ladder, two datasets or procedures), their
rolling backtests predict the same held-out runs from the same cutoffs, and the errors of
``log(L_A / L_B)`` there calibrate a log-normal factor on the ratio
(:func:`~scalinglab.laws.intervals.paired_calibration`; ``interval="calibrated, paired"``) for the
difference and ``P(A better)``. That sees systematic errors the arms share (they cancel in the
difference) and, in part, ones that pull them apart (they add). Where the arms share too few
held-out runs, each arm's own calibrated error is added independently (``interval="calibrated"``,
or asked for by ``interval="calibrated-independent"``): right for their random parts, conservative
when both laws err the same way, too narrow when their errors pull apart; the notes say so. The
compute multiplier always carries each arm's own error, independently: it reads B's curve at
another compute (``C / k``), where the backtests pair nothing. Measured coverage of all three
(docs/coverage.md, "Comparisons over many replications"): with the law right they hold 98-99%;
where both arms miss the law the same way the paired difference holds the truth at the bootstrap's
width where the independent one is 2-5x wider; where their errors pull apart neither holds it
(28-32% paired, 14-30% independent, beyond the data). The added factor is drawn ``ceil(4000 / S)``
times per paired bootstrap draw, so its percentiles rest on at least 4000 samples. The exponent tests and the crossover stay
bootstrap statistics. Uncalibrated, the summary says how far beyond each arm's data the targets lie.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, DataError, NotFittedError, ScalingLabWarning, suggest
from ..units import parse_quantity
from .design import extrapolation_variance
from .intervals import MIN_CALIBRATION_POINTS, paired_calibration
from .summary import fmt_compact as _fmt
from .summary import tables_summary as _summary

if TYPE_CHECKING:
    from .result import FitResult

__all__ = ["Comparison", "Crossover", "DataMultiplier", "ExponentTest", "compare", "data_multiplier"]

EXPONENT_NAMES = ("alpha", "beta", "eta", "c")
_FACTOR_SAMPLES = 4000          # draws of a calibrated factor: at least this many (S R) per target
_GRID_STEP_DECADES = 0.02        # spacing of the compute grid the curves are tabulated on
_GRID_MARGIN_DECADES = 6.0       # how far beyond the requested compute the multiplier is searched
_DATA_SEARCH_DECADES = (-6.0, 12.0)   # D' is searched from 1e-6 D to 1e12 D
_BISECTIONS = 64                 # halvings of the log D' bracket (18 decades -> ~1e-18 relative)


@dataclass(frozen=True)
class ExponentTest:
    """Test of equal exponents between the arms for one parameter.

    Attributes
    ----------
    param : str
    value_a, value_b : float
        Point estimates.
    difference, low, high : float
        ``value_a - value_b`` and its percentile interval over paired bootstrap draws.
    p_value : float
        Two-sided bootstrap p-value of "equal exponents": ``2 min(P(d <= 0), P(d >= 0))`` over
        draws d of the difference (the smallest attainable value is ``2 / n_boot``).
    p_value_normal : float
        Two-sided p-value of ``difference / sqrt(sd_a^2 + sd_b^2)`` against a standard normal,
        with bootstrap standard deviations (Wald test; valid when the draws look Gaussian).
    """

    param: str
    value_a: float
    value_b: float
    difference: float
    low: float
    high: float
    p_value: float
    p_value_normal: float

    def __post_init__(self) -> None:
        freeze_fields(self)


@dataclass(frozen=True)
class Crossover:
    """Where the arms' curves cross inside the search range.

    Attributes
    ----------
    state : str
        ``"crossover"`` (the point estimates cross) or ``"none in range"``.
    flops, low, high : float
        The crossing compute and its percentile interval over the draws that cross (NaN when
        none cross).
    fraction : float
        Fraction of bootstrap draws with a crossing inside the range.
    before, after : str
        The arm that is better below and above the crossover (the better arm throughout, twice,
        when there is none).
    search_flops : tuple of float
    n_crossings : int
        Crossings of the point estimates in the range (the first one is reported).
    """

    state: str
    flops: float
    low: float
    high: float
    fraction: float
    before: str
    after: str
    search_flops: tuple[float, float]
    n_crossings: int = 0

    def __post_init__(self) -> None:
        freeze_fields(self)


@dataclass(frozen=True, eq=False)
class DataMultiplier:
    """Effective-data multiplier of a law of N and D at given (N, D) points (arrays follow them).

    ``multiplier[j]`` is m with ``L_B(N_j, m D_j) = L_A(N_j, D_j)``: arm B needs m times the tokens
    A was given to reach A's loss with the same model size. m > 1: a token of A is worth m tokens
    of B (A is the better data for this model); m < 1: B is. ``inf`` means *unreachable*: A's loss
    is below B's floor at N_j (``L_B(N_j, D -> inf)``), so no amount of B's data matches it with
    this model.

    Attributes
    ----------
    names : (str, str)
    n_params, n_tokens : ndarray
        The points (N, D) at which A's loss is taken.
    allocation : str
        How (N, D) were chosen (e.g. "compute-optimal N of A at each budget, D = C / (6 N)").
    flops : ndarray
        The budget of each point (``6 N D`` when given as (N, D)).
    loss_a : ndarray
        ``L_A(N, D)`` (point estimate).
    multiplier, low, high : ndarray
        m and its percentile interval over the paired bootstrap draws (``inf`` counts as a value:
        an ``inf`` upper bound means more than ``(1 - level) / 2`` of the draws are unreachable).
    prob_unreachable : ndarray
        Share of draws in which A's loss is below B's floor at N.
    level : float
    n_boot : int
    """

    names: tuple[str, str]
    n_params: np.ndarray
    n_tokens: np.ndarray
    flops: np.ndarray
    loss_a: np.ndarray
    multiplier: np.ndarray
    low: np.ndarray
    high: np.ndarray
    prob_unreachable: np.ndarray
    level: float
    n_boot: int
    allocation: str = ""

    def __post_init__(self) -> None:
        freeze_fields(self)

    def __repr__(self) -> str:
        a, b = self.names
        return (f"DataMultiplier({a!r} vs {b!r}, n_params={[_fmt(n) for n in self.n_params]}, "
                f"n_tokens={[_fmt(d) for d in self.n_tokens]}, multiplier={[_fmt_m(m) for m in self.multiplier]})")

    def rows(self) -> list[list[str]]:
        """One table row per point: C, N, D, L_A, m [interval], P(unreachable)."""
        return [[_fmt(c), _fmt(n), _fmt(d), f"{la:.4g}", f"{_fmt_m(m)} [{_fmt_m(lo)}, {_fmt_m(hi)}]", f"{pu:.2f}"]
                for c, n, d, la, m, lo, hi, pu in zip(self.flops, self.n_params, self.n_tokens, self.loss_a,
                                                     self.multiplier, self.low, self.high,
                                                     self.prob_unreachable)]

    def header(self) -> list[str]:
        a, b = self.names
        return ["flops", "N", "D", f"L_{a}(N, D)", f"tokens of {b} per token of {a}", "P(unreachable)"]

    def to_dict(self) -> dict[str, Any]:
        arr = {k: [float(v) for v in np.asarray(getattr(self, k))] for k in (
            "n_params", "n_tokens", "flops", "loss_a", "multiplier", "low", "high", "prob_unreachable")}
        return {"names": list(self.names), "allocation": self.allocation, "level": self.level,
                "n_boot": self.n_boot, **arr}


def _fmt_m(m: float) -> str:
    """A multiplier: ``unreachable`` for inf, else 3 significant digits."""
    if not math.isfinite(m):
        return "unreachable" if m > 0 else "nan"
    return f"{m:.3g}"


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two arms' scaling laws compared at target compute values (all arrays follow ``flops``).

    Attributes
    ----------
    names : tuple of str
        Labels of arms A and B.
    flops : ndarray
        Target compute (FLOPs).
    loss_a, loss_b : ndarray
        Predicted target of each arm (on its compute-optimal frontier for L(N, D) laws).
    difference, difference_low, difference_high : ndarray
        ``loss_a - loss_b`` with its interval.
    prob_a_better : ndarray
        Fraction of paired draws in which A is better (lower, or higher with ``higher_is_better``).
    multiplier, multiplier_low, multiplier_high : ndarray
        Effective-compute multiplier k with ``L_B(C / k) = L_A(C)``: k > 1 means B reaches A's
        value at C with k times less compute; ``inf`` means B is ahead beyond the searched range
        (``1e6`` times less compute), ``0`` that B never reaches it in that range.
    exponent_tests : tuple of ExponentTest
    crossover : Crossover
    level : float
    n_boot : int
        Paired draws used.
    higher_is_better : bool
    mode : str
        ``"compute"`` (L(C) laws) or ``"compute-optimal frontier"`` (laws of N and D).
    notes : tuple of str
    data_multiplier : DataMultiplier or None
        For laws of N and D only: the effective-data multiplier at each target compute, with N
        the compute-optimal N of A there (point estimate) and D = C / (6 N) (see
        :func:`data_multiplier`).
    interval : str
        What the difference, ``prob_a_better`` and the multiplier carry (module notes):
        ``"calibrated, paired"`` (the difference's own calibration), ``"calibrated"`` (each arm's,
        independently), ``"bootstrap"``, ``"calibrated for NAME only"`` when the other arm's
        rolling backtests were too few to calibrate, or ``"bootstrap: ..."`` (why) when neither's were.
    outside_decades : ndarray, shape (2, len(flops))
        How far beyond arm A's and arm B's fitted data each target lies (0 inside).
    """

    names: tuple[str, str]
    flops: np.ndarray
    loss_a: np.ndarray
    loss_b: np.ndarray
    difference: np.ndarray
    difference_low: np.ndarray
    difference_high: np.ndarray
    prob_a_better: np.ndarray
    multiplier: np.ndarray
    multiplier_low: np.ndarray
    multiplier_high: np.ndarray
    exponent_tests: tuple[ExponentTest, ...]
    crossover: Crossover
    level: float
    n_boot: int
    higher_is_better: bool
    mode: str
    law: str
    notes: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    data_multiplier: DataMultiplier | None = None
    interval: str = "bootstrap"
    outside_decades: np.ndarray | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)

    def describe_interval(self) -> str:
        """Which intervals, and how far beyond each arm's data the farthest target is."""
        a, b = self.names
        if self.outside_decades is None:
            return "paired bootstrap"
        da, db = (float(np.max(x)) for x in self.outside_decades)
        far = f"{da:.2f} decades beyond {a}'s data, {db:.2f} beyond {b}'s"
        if not max(da, db) > 0:
            return "paired bootstrap, every target inside both arms' data"
        if self.interval == "calibrated, paired":
            return (f"paired bootstrap with the difference's calibrated extrapolation error (both arms' rolling "
                    f"backtests at common cutoffs, paired run by run) for the difference and P(better), each arm's "
                    f"own, added independently, for the compute multiplier (it reads B's curve at another compute, "
                    f"where the backtests pair nothing; exponent tests, crossover and effective data: bootstrap "
                    f"only); {far}")
        if self.interval == "calibrated":
            return (f"paired bootstrap with each arm's calibrated extrapolation error (rolling backtests, added "
                    f"independently) for the difference, P(better) and the compute multiplier (exponent tests, "
                    f"crossover and effective data: bootstrap only); {far}")
        if self.interval.startswith("calibrated for"):
            return (f"paired bootstrap, {self.interval} ({far}); the other arm's rolling backtests were too few to "
                    "calibrate, so beyond its data these intervals are too narrow (docs/coverage.md)")
        if self.interval.startswith("bootstrap:"):      # calibration asked for, and impossible
            return (f"paired bootstrap, NOT calibrated for extrapolation ({far}): "
                    f"{self.interval.split(':', 1)[1].strip()}, so beyond the data these intervals are too narrow "
                    "(docs/coverage.md)")
        return (f"paired bootstrap, NOT calibrated for extrapolation ({far}): beyond the data these intervals "
                "are too narrow (docs/coverage.md); compare(..., interval='calibrated')")

    def __repr__(self) -> str:
        a, b = self.names
        return (f"Comparison({a!r} vs {b!r}, law={self.law!r}, flops={[_fmt(c) for c in self.flops]}, "
                f"difference={[round(float(d), 4) for d in self.difference]}, "
                f"multiplier={[_fmt(k) for k in self.multiplier]}, crossover={self.crossover.state!r})")

    # -- the verdict ------------------------------------------------------------------------
    def verdict(self) -> str:
        """One paragraph: which arm is worth scaling, and why."""
        a, b = self.names
        hi = (1 + self.level) / 2
        i = int(np.argmax(self.flops))
        C = self.flops[i]
        p = float(self.prob_a_better[i])
        k, klo, khi = self.multiplier[i], self.multiplier_low[i], self.multiplier_high[i]
        pct = f"{100 * self.level:g}%"
        if p >= hi:
            win, lose = a, b
            kk, kl, kh = (1 / x if x > 0 else math.inf for x in (k, khi, klo))
        elif p <= 1 - hi:
            win, lose = b, a
            kk, kl, kh = k, klo, khi
        else:
            win = None
        parts = []
        if win is None:
            parts.append(f"At {_fmt(C)} FLOPs neither arm is clearly better (P({a} better) = {p:.2f}; the "
                         f"{pct} interval of the difference, "
                         f"[{self.difference_low[i]:.4g}, {self.difference_high[i]:.4g}], "
                         "contains 0). Scale either; more runs at the largest scale would separate them.")
        else:
            parts.append(f"Scale {win}: at {_fmt(C)} FLOPs it is better with probability "
                         f"{max(p, 1 - p):.2f} (difference {a} - {b} = {self.difference[i]:.4g}, "
                         f"{pct} interval [{self.difference_low[i]:.4g}, {self.difference_high[i]:.4g}]); "
                         f"{lose} would need {_fmt(kk)}x the compute to match it ({pct} interval "
                         f"[{_fmt(kl)}, {_fmt(kh)}]).")
        co = self.crossover
        if co.state == "crossover":
            parts.append(f"{co.after} overtakes {co.before} at about {_fmt(co.flops)} FLOPs "
                         f"({pct} interval [{_fmt(co.low)}, {_fmt(co.high)}]; {100 * co.fraction:.0f}% of draws cross "
                         f"between {_fmt(co.search_flops[0])} and {_fmt(co.search_flops[1])}): {co.before} is better "
                         "below it, so small-scale results favour the arm that loses at scale.")
        elif co.fraction > 0.2:
            parts.append(f"The point estimates do not cross in range, but {100 * co.fraction:.0f}% of draws do: "
                         "a reversal at scale cannot be ruled out.")
        # one conclusion about the gap from all exponent tests: it changes with compute as soon as
        # one exponent differs, and is a constant multiplier only when every exponent agrees
        differ = [t for t in self.exponent_tests if t.p_value < 1 - self.level]
        for t in differ:
            faster = a if (t.difference > 0) != self.higher_is_better else b
            parts.append(f"The exponents {t.param} differ ({t.value_a:.3f} vs {t.value_b:.3f}, bootstrap "
                         f"p = {t.p_value:.3g}): {faster} improves faster with scale.")
        same = [t for t in self.exponent_tests if t not in differ]
        if same:
            parts.append(f"The exponent{'s' if len(same) > 1 else ''} "
                         + "; ".join(f"{t.param} ({t.value_a:.3f} vs {t.value_b:.3f}, p = {t.p_value:.2g})"
                                     for t in same)
                         + (" are" if len(same) > 1 else " is") + " consistent with equal between the arms.")
        if differ:
            parts.append("So the gap changes with compute rather than being a constant compute multiplier.")
        elif same:
            parts.append("So the arms differ by a roughly constant compute multiplier.")
        if self.outside_decades is not None and self.interval not in ("calibrated", "calibrated, paired"):
            d = float(np.max(np.asarray(self.outside_decades)[:, i]))
            if d > 0 and self.interval.startswith("bootstrap"):
                why = (self.interval.split(":", 1)[1].strip() if ":" in self.interval
                       else "compare(..., interval='calibrated') adds it")
                parts.append(f"Caveat: {_fmt(C)} FLOPs lies {d:.2f} decades beyond the data and these intervals are "
                             f"the bootstrap's alone, not calibrated for extrapolation: too narrow there ({why}).")
            elif d > 0:
                parts.append(f"Caveat: {_fmt(C)} FLOPs lies {d:.2f} decades beyond the data and these intervals are "
                             f"{self.interval}: too narrow beyond the other arm's data.")
        return " ".join(parts)

    def summary(self) -> Any:
        """Table of differences and multipliers per target compute, exponent tests, verdict."""
        a, b = self.names
        pct = f"{100 * self.level:g}%"
        rows = [[_fmt(c), f"{la:.4g}", f"{lb:.4g}", f"{d:.4g} [{dl:.4g}, {dh:.4g}]", f"{p:.3f}",
                 f"{_fmt(k)} [{_fmt(kl)}, {_fmt(kh)}]"]
                for c, la, lb, d, dl, dh, p, k, kl, kh in zip(
                    self.flops, self.loss_a, self.loss_b, self.difference, self.difference_low,
                    self.difference_high, self.prob_a_better, self.multiplier, self.multiplier_low,
                    self.multiplier_high)]
        tables = {f"predictions ({pct} intervals)": (
            ["flops", a, b, f"{a} - {b}", f"P({a} better)", "multiplier k"], rows)}
        if self.exponent_tests:
            tables["equal exponents"] = (
                ["param", a, b, "difference", "p (bootstrap)", "p (normal)"],
                [[t.param, f"{t.value_a:.4f}", f"{t.value_b:.4f}", f"{t.difference:.4f} [{t.low:.4f}, {t.high:.4f}]",
                  f"{t.p_value:.3g}", f"{t.p_value_normal:.3g}"] for t in self.exponent_tests])
        dm = self.data_multiplier
        if dm is not None:
            tables[f"effective data ({pct} intervals; {dm.allocation})"] = (dm.header(), dm.rows())
        co = self.crossover
        info = {"law": self.law, "compared along": self.mode, "arms": f"A = {a}, B = {b}",
                "paired bootstrap draws": self.n_boot, "intervals": self.describe_interval(),
                "multiplier k": f"L_{b}(C / k) = L_{a}(C); k > 1: {b} needs k times less compute",
                "crossover": (f"{_fmt(co.flops)} [{_fmt(co.low)}, {_fmt(co.high)}] ({co.after} overtakes {co.before})"
                              if co.state == "crossover" else
                              f"none in [{_fmt(co.search_flops[0])}, {_fmt(co.search_flops[1])}] "
                              f"({100 * co.fraction:.0f}% of draws cross)")}
        return _summary(f"Comparison of {a} and {b}", info, tables, [self.verdict(), *self.notes])

    def to_dict(self) -> dict[str, Any]:
        arr = {k: np.asarray(getattr(self, k)).tolist() for k in (
            "flops", "loss_a", "loss_b", "difference", "difference_low", "difference_high",
            "prob_a_better", "multiplier", "multiplier_low", "multiplier_high")}
        return {"names": list(self.names), "law": self.law, "mode": self.mode, "level": self.level,
                "n_boot": self.n_boot, **arr, "interval": self.interval,
                "outside_decades": None if self.outside_decades is None else np.asarray(self.outside_decades).tolist(), "crossover": dict(self.crossover.__dict__),
                "exponent_tests": [dict(t.__dict__) for t in self.exponent_tests],
                "data_multiplier": None if self.data_multiplier is None else self.data_multiplier.to_dict(),
                "verdict": self.verdict(), "notes": list(self.notes)}

    def _repr_html_(self) -> str:
        return self.summary().as_html()


# ---------------------------------------------------------------------------------------------
# curves
# ---------------------------------------------------------------------------------------------

def _mode(law) -> str:
    if set(law.inputs) == {"flops"}:
        return "compute"
    if law.of_n_and_d:
        return "compute-optimal frontier"
    raise ConfigError(f"law {law.name!r} has inputs {law.inputs}; compare needs a law of compute (flops) "
                      "or of parameters and tokens")


def _draws(res: Any, n_boot: int, seed: int, which: str) -> tuple[Any, np.ndarray]:
    boot = getattr(res, "bootstrap", None)
    if boot is None and n_boot > 0:
        res = res.with_bootstrap(n_boot=n_boot, seed=seed)
        boot = res.bootstrap
    if boot is None:
        raise ConfigError(f"fit {which} has no bootstrap draws; fit it with a bootstrap or pass n_boot > 0")
    P = np.asarray(boot.params, dtype=float)
    P = P[np.all(np.isfinite(P), axis=1)]
    if P.shape[0] < 2:
        raise DataError(f"fit {which} has fewer than two usable bootstrap draws")
    return res, P


def _quantiles(x: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval that tolerates inf (no interpolation across infinite values)."""
    q = np.quantile(x, [(1 - level) / 2, (1 + level) / 2], axis=axis, method="inverted_cdf")
    return q[0], q[1]


def _solve_multiplier(logC: np.ndarray, gB: np.ndarray, target: np.ndarray, C: np.ndarray) -> np.ndarray:
    """k = C / C' with g_B(C') = target on a tabulated, decreasing g_B (rows: draws)."""
    S, K = target.shape
    k = np.empty((S, K))
    for s in range(S):
        g = gB[s]
        for j in range(K):
            t = target[s, j]
            hit = np.flatnonzero(g <= t)
            if not np.isfinite(t) or not np.all(np.isfinite(g)):
                k[s, j] = math.nan
            elif hit.size == 0:
                k[s, j] = 0.0          # B never reaches A's value in the searched range
            elif hit[0] == 0:
                k[s, j] = math.inf     # B is already better at the cheapest compute searched
            else:
                i = hit[0]
                x0, x1, y0, y1 = logC[i - 1], logC[i], g[i - 1], g[i]
                x = x0 + (t - y0) * (x1 - x0) / (y1 - y0) if y1 != y0 else x1
                k[s, j] = C[j] / math.exp(x)
    return k


def _first_crossing(logC: np.ndarray, d: np.ndarray) -> tuple[float, int]:
    """log C of the first sign change of d along the grid (NaN if none), and the number of changes."""
    sgn = np.sign(d)
    nz = np.flatnonzero(sgn != 0)
    if nz.size < 2:
        return math.nan, 0
    s = sgn[nz]
    change = np.flatnonzero(s[1:] != s[:-1])
    if change.size == 0:
        return math.nan, 0
    i0, i1 = nz[change[0]], nz[change[0] + 1]
    x = logC[i0] + (0 - d[i0]) * (logC[i1] - logC[i0]) / (d[i1] - d[i0])
    return float(x), int(change.size)


def _flops_range(res: Any, mode: str) -> tuple[float, float] | None:
    rng = getattr(res, "input_range", None)
    if not rng:
        return None
    rng = dict(rng)
    if "flops" in rng:
        lo, hi = rng["flops"]
        return float(lo), float(hi)
    if "n_params" in rng and "n_tokens" in rng:   # artifacts saved before input_range had C: the
        (n0, n1), (d0, d1) = rng["n_params"], rng["n_tokens"]   # bounding box, wider than the runs
        return 6.0 * float(n0) * float(d0), 6.0 * float(n1) * float(d1)
    return None


# ---------------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------------

def _target_inputs(law: Any, params: np.ndarray, C: np.ndarray, mode: str) -> dict[str, np.ndarray]:
    """The law's inputs at each target compute: C itself, or the compute-optimal (N, C / 6N)."""
    if mode == "compute":
        return {"flops": C}
    N = np.asarray(law.optimal_loss(params, C)[0], dtype=float).reshape(-1)
    return {"n_params": N, "n_tokens": C / (6.0 * N)}


def _outside(res: Any, x: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Decades beyond the fitted data of each target (0 inside, or when the fit has no data range)."""
    try:
        return np.asarray(res.outside_decades(**x), dtype=float).reshape(-1)
    except (AttributeError, ConfigError, DataError):
        return np.zeros(size)


def _extrapolation_var(res: Any, x: dict[str, np.ndarray], level: float, outside: np.ndarray) -> np.ndarray:
    """Calibrated extrapolation variance (log units) at each target; 0 inside, nan uncalibrated."""
    return np.array([extrapolation_variance(res, {k: float(v[j]) for k, v in x.items()}, level=level)
                     if outside[j] > 0 else 0.0 for j in range(outside.size)])


def compare(res_a: FitResult, res_b: FitResult, *, flops: Sequence[float] | float, level: float = 0.95,
            n_boot: int = 200, seed: int = 0, names: tuple[str, str] = ("A", "B"),
            exponents: Sequence[str] | None = None, higher_is_better: bool = False,
            search_flops: tuple[float, float] | None = None, interval: str | None = None) -> Comparison:
    """Compare two fits of the same law: differences, effective compute, exponents, crossover.

    Parameters
    ----------
    res_a, res_b : FitResult
        Fits of the same law, one per arm (procedure, dataset ...), on independent runs.
    flops : float or sequence of float
        Target compute values in FLOPs (human units accepted, e.g. ``"1e21"``).
    level : float
        Level of all intervals.
    n_boot : int
        Bootstrap draws made for a fit that has none (``fit.with_bootstrap(n_boot=, seed=)``); a
        fit's existing draws are used as they are. The paired draws are the first
        ``min(n_a, n_b)`` of each.
    seed : int
        Seed for bootstraps made here (B uses ``seed + 1``).
    names : (str, str)
        Labels of the arms in tables and the verdict.
    exponents : sequence of str, optional
        Parameters to test for equality (default: those of ``alpha``, ``beta``, ``eta``, ``c``
        the law has).
    higher_is_better : bool
        The target is an accuracy-like score.
    search_flops : (float, float), optional
        Compute range searched for a crossover (default: from the smaller of the two fits' lowest
        compute to the largest of their highest compute and the target values).
    interval : {"calibrated", "calibrated-independent", "bootstrap"}, optional
        ``"calibrated"``: beyond the data, add the calibrated extrapolation error to every paired
        draw of the difference, P(better) and the multiplier: the difference's own, from both
        arms' rolling backtests paired run by run, where they share at least 10 held-out runs
        beyond their folds, else each arm's independently (module notes; a fit without a
        calibration gets one, ``with_calibration(n_boot=n_boot, seed=seed)``, which refits rolling
        folds: seconds). ``"calibrated-independent"``: each arm's, always.
        Default: calibrated when both fits carry a calibration, else the bootstrap alone, with
        the summary saying how far beyond the data the targets are.

    Returns
    -------
    Comparison

    Notes
    -----
    The multiplier assumes each curve improves monotonically with compute, as fitted power laws
    with positive exponents do. The exponent test is a bootstrap test of the difference of two
    independent estimates: its p-value is valid when each bootstrap resampled independent units and
    the draws are not piled at a parameter bound; with fewer than about 10 units per arm it is
    too optimistic. The crossover is searched only inside ``search_flops``: outside the fitted
    range it is an extrapolation of both laws.

    Examples
    --------
    Arm "new" is the baseline shifted by a factor 4 in compute:

    >>> import numpy as np
    >>> from scalinglab.laws import fit
    >>> from scalinglab.laws import Runs
    >>> rng = np.random.default_rng(0)
    >>> C = np.logspace(17, 20, 12)
    >>> def arm(A):  # L(C) = A C^-0.15 + 2 with 0.2 % noise
    ...     y = (2 + A * C ** -0.15) * np.exp(rng.normal(0, 0.002, C.size))
    ...     res = fit("saturating_power_law", Runs.from_arrays(flops=C, target=y), loss="ls")
    ...     return res.with_bootstrap(n_boot=50)
    >>> cmp = compare(arm(300.0), arm(300.0 * 4 ** -0.15), flops=[1e20], names=("baseline", "new"))
    >>> round(float(cmp.multiplier[0]), 1), cmp.crossover.state
    (3.6, 'none in range')
    >>> cmp.verdict()[:14]
    'Scale new: at '
    """
    for which, r in (("A", res_a), ("B", res_b)):
        if not (hasattr(r, "law") and hasattr(r, "param_vector")):
            raise ConfigError(f"compare needs two FitResults; {which} is a {type(r).__name__}")
    law_a, law_b = res_a.law, res_b.law
    if law_a.name != law_b.name:
        raise ConfigError(f"compare needs fits of the same law; got {law_a.name!r} and {law_b.name!r}. "
                          "Refit both arms with one law")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if len(names) != 2 or names[0] == names[1]:
        raise ConfigError(f"names must be two different labels; got {names!r}")
    if interval not in (None, "calibrated", "calibrated-independent", "bootstrap"):
        raise ConfigError(f"interval must be 'calibrated', 'calibrated-independent' or 'bootstrap' (or None: "
                          f"calibrated when both fits carry a calibration); got {interval!r}")
    mode = _mode(law_a)
    C = np.array([parse_quantity(c, name="flops") for c in np.atleast_1d(np.asarray(flops, dtype=object))])
    if C.size == 0 or np.any(~np.isfinite(C) | (C <= 0)):
        raise ConfigError(f"flops must be positive FLOP values; got {flops!r}")
    if exponents is None:
        exponents = [p for p in EXPONENT_NAMES if p in law_a.param_names]
    else:
        exponents = [exponents] if isinstance(exponents, str) else list(exponents)
        for p in exponents:
            if p not in law_a.param_names:

                raise ConfigError(f"law {law_a.name!r} has no parameter {p!r}.{suggest(p, law_a.param_names)} "
                                  f"Parameters: {', '.join(law_a.param_names)}")

    res_a, Pa = _draws(res_a, n_boot, seed, "A")
    res_b, Pb = _draws(res_b, n_boot, seed + 1, "B")
    S = min(Pa.shape[0], Pb.shape[0])
    Pa, Pb = Pa[:S], Pb[:S]
    ea = np.asarray(res_a.param_vector, dtype=float)[None, :]
    eb = np.asarray(res_b.param_vector, dtype=float)[None, :]
    sign = -1.0 if higher_is_better else 1.0   # g = sign * L decreases with compute
    notes: list[str] = []

    # 1. predictions at the target compute
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        La, Lb = law_a.optimal_loss(np.vstack([ea, Pa]), C)[1], law_b.optimal_loss(np.vstack([eb, Pb]), C)[1]
    finite = np.all(np.isfinite(La[1:]), axis=1) & np.all(np.isfinite(Lb[1:]), axis=1)
    if not finite.all():
        # a degenerate refit (an exponent at 0 makes the compute-optimal split divide by zero) has no
        # prediction: leave the pair out and say so, rather than let it turn every interval into NaN
        if finite.sum() < 2:
            raise DataError(f"only {int(finite.sum())} of {S} paired bootstrap draws give finite predictions at "
                            "the compared compute (degenerate refits: an exponent at 0); more runs or a wider "
                            "span of N and D")
        notes.append(f"{int((~finite).sum())} of {S} paired bootstrap draws give no finite prediction (a "
                     "degenerate refit, e.g. an exponent at 0) and are left out of every interval")
        Pa, Pb = Pa[finite], Pb[finite]
        S = int(finite.sum())
        La, Lb = La[np.r_[True, finite]], Lb[np.r_[True, finite]]
    # beyond the data: each arm's calibrated extrapolation error, a log-normal factor per draw
    xs = [_target_inputs(r.law, e[0], C, mode) for r, e in ((res_a, ea), (res_b, eb))]
    outside = np.vstack([_outside(r, x, C.size) for r, x in zip((res_a, res_b), xs)])
    if interval is None:
        interval = "calibrated" if all(getattr(r, "calibration", None) is not None for r in (res_a, res_b)) \
            else "bootstrap"
    # an added factor is drawn R times per bootstrap draw: its percentiles then rest on S R samples
    # (the bootstrap's own Monte Carlo error stays that of S draws)
    R = 1
    fa = fb = np.ones((S, R, C.size))
    f_ratio = None
    if interval in ("calibrated", "calibrated-independent") and np.any(outside > 0):
        rng = np.random.default_rng([int(seed), 1729])
        R = max(1, math.ceil(_FACTOR_SAMPLES / S))
        cals: list[Any] = []
        for row, r in enumerate((res_a, res_b)):
            if getattr(r, "calibration", None) is None and np.any(outside[row] > 0):
                try:        # the rolling folds bootstrapped as this comparison's draws are
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ScalingLabWarning)
                        r = r.with_calibration(n_boot=max(int(n_boot), 2), seed=seed)
                except NotFittedError as exc:
                    notes.append(f"{names[row]}: no calibration ({exc}); its extrapolation error is not added")
                    r = None
            cals.append(r)
        factors, missing = [], []
        for row, r in enumerate(cals):
            if r is None:
                factors.append(np.ones((S, R, C.size)))
                missing.append(names[row])
                continue
            v = _extrapolation_var(r, xs[row], level, outside[row])
            if np.any(~np.isfinite(v)):
                notes.append(f"{names[row]}'s rolling backtests have too few runs beyond their folds to "
                             f"calibrate ({MIN_CALIBRATION_POINTS} needed): its extrapolation error is not "
                             "added, so the intervals are too narrow beyond its data")
                v = np.where(np.isfinite(v), v, 0.0)
                missing.append(names[row])
            factors.append(np.exp(rng.standard_normal((S, R, C.size)) * np.sqrt(v)))
        fa, fb = factors
        asked, interval = interval, "calibrated"
        if missing:
            kept = [n for n in names if n not in missing]
            interval = (f"calibrated for {kept[0]} only" if kept else
                        "bootstrap: neither arm's rolling backtests had enough runs beyond their folds to calibrate")
        elif asked == "calibrated":
            paired, why = paired_calibration(cals[0].calibration, cals[1].calibration)
            if paired is not None and not paired.usable:
                why = (f"only {paired.n_points} of the held-out runs the arms share lie beyond their folds "
                       f"({MIN_CALIBRATION_POINTS} needed)")
                paired = None
            if paired is None:
                notes.append(f"the difference could not be calibrated as a pair ({why}): each arm's calibrated "
                             "error is added independently, which is too narrow where the arms' law errors pull "
                             "in opposite directions (docs/coverage.md)")
            else:
                # the difference's own calibration: one log-normal factor on the ratio L_A / L_B at C
                # (the multiplier reads B's curve at another compute, C / k, where the backtests pair
                # nothing: it keeps each arm's factor)
                v = paired.variance(np.max(outside, axis=0), level)
                f_ratio = np.exp(rng.standard_normal((S, R, C.size)) * np.sqrt(v))
                interval = "calibrated, paired"
    elif interval == "calibrated-independent":
        interval = "calibrated"
    a_, b_ = La[1:, None, :], Lb[1:, None, :]
    samples = (a_ * fa - b_ * fb if f_ratio is None else a_ * f_ratio - b_).reshape(S * R, C.size)
    diff0 = La[0] - Lb[0]
    d_lo, d_hi = _quantiles(samples, level)
    prob = ((sign * samples) < 0).mean(axis=0)

    # 2. search range and the tabulated curves of both arms
    ranges = [r for r in (_flops_range(res_a, mode), _flops_range(res_b, mode)) if r]
    if search_flops is None:
        lo = min([r[0] for r in ranges] + [C.min()])
        hi = max([r[1] for r in ranges] + [C.max()])
        search_flops = (lo, hi)
    lo, hi = (float(parse_quantity(x, name="search_flops")) for x in search_flops)
    if not (0 < lo < hi):
        raise ConfigError(f"search_flops must be (low, high) with 0 < low < high; got {search_flops!r}")
    l10 = (math.log10(min(lo, C.min())) - _GRID_MARGIN_DECADES, math.log10(max(hi, C.max())) + _GRID_MARGIN_DECADES)
    grid = np.logspace(*l10, int(math.ceil((l10[1] - l10[0]) / _GRID_STEP_DECADES)) + 1)
    logG = np.log(grid)
    Ga = sign * law_a.optimal_loss(np.vstack([ea, Pa]), grid)[1]
    Gb = sign * law_b.optimal_loss(np.vstack([eb, Pb]), grid)[1]
    if np.any(np.diff(Gb[0]) > 1e-12 * np.abs(Gb[0][:-1]).max()):
        notes.append(f"{names[1]}'s fitted curve is not monotone in compute over the searched range; "
                     "the compute multiplier takes its first crossing")

    # 3. effective-compute multiplier
    # B's curve off by the factor fb is the same as A's value off by 1 / fb
    k0 = _solve_multiplier(logG, Gb[:1], sign * La[:1], C)[0]
    ks = _solve_multiplier(logG, np.repeat(Gb[1:], R, axis=0), sign * (a_ * fa / fb).reshape(S * R, C.size), C)
    k_lo, k_hi = _quantiles(ks, level)
    unreached = float(np.mean(ks == 0.0))
    if unreached > 0:
        notes.append(f"in {100 * unreached:.0f}% of draws {names[1]} never reaches {names[0]}'s value within "
                     f"{10 ** _GRID_MARGIN_DECADES:.0e} times the compute (multiplier 0)")

    # 4. crossover inside the search range
    inside = (grid >= lo) & (grid <= hi)
    dgrid = (Ga - Gb)[:, inside]
    lg = logG[inside]
    x0, ncross = _first_crossing(lg, dgrid[0])
    xs = np.array([_first_crossing(lg, dgrid[s])[0] for s in range(1, S + 1)])
    crossing = np.isfinite(xs)
    frac = float(crossing.mean())
    if crossing.sum() >= 2:
        c_lo, c_hi = (float(np.exp(v)) for v in np.quantile(xs[crossing], [(1 - level) / 2, (1 + level) / 2]))
    else:
        c_lo = c_hi = math.nan
    a_first = dgrid[0][0] < 0   # A better at the low end of the range
    if math.isfinite(x0):
        before, after = (names[0], names[1]) if a_first else (names[1], names[0])
        co = Crossover("crossover", float(np.exp(x0)), c_lo, c_hi, frac, before, after, (lo, hi), ncross)
        if ncross > 1:
            notes.append(f"the curves cross {ncross} times in the search range; the first crossing is reported")
    else:
        w = names[0] if a_first else names[1]
        co = Crossover("none in range", math.nan, c_lo, c_hi, frac, w, w, (lo, hi), 0)

    # 5. equal exponents
    tests = []
    for p in exponents:
        j = law_a.param_names.index(p)
        d = Pa[:, j] - Pb[:, j]
        dl, dh = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
        p_boot = float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
        p_boot = max(p_boot, 2.0 / S) if p_boot == 0 else p_boot
        est = float(ea[0, j] - eb[0, j])
        sd = math.sqrt(float(np.var(Pa[:, j], ddof=1) + np.var(Pb[:, j], ddof=1)))
        p_norm = math.erfc(abs(est) / (sd * math.sqrt(2))) if sd > 0 else (0.0 if est else 1.0)
        tests.append(ExponentTest(p, float(ea[0, j]), float(eb[0, j]), est, float(dl), float(dh), p_boot, p_norm))
    if S < 100:
        notes.append(f"only {S} paired draws: p-values below {2 / S:.2g} cannot be resolved")
    for which, r in (("A", res_a), ("B", res_b)):
        fr = _flops_range(r, mode)
        if fr and C.max() > 10 * fr[1]:
            notes.append(f"target compute {_fmt(C.max())} is more than 10x beyond fit {which}'s data "
                         f"(up to {_fmt(fr[1])}): the comparison extrapolates both laws")
            break

    # 6. effective data at A's compute-optimal allocation (laws of N and D only)
    dm = None
    if tuple(sorted(law_a.inputs)) == ("n_params", "n_tokens"):
        N = np.asarray(law_a.optimal_loss(ea, C)[0], dtype=float).reshape(-1)
        dm = _data_multiplier(law_a, ea, Pa, eb, Pb, N, C / (6.0 * N), level=level, names=tuple(names),
                              allocation=f"N = compute-optimal N of {names[0]} at each budget, D = C / (6N)")
        if np.any(dm.prob_unreachable > 0):
            notes.append(f"in some draws {names[0]}'s loss at (N, D) is below {names[1]}'s floor at N "
                         "(effective data unreachable); see P(unreachable)")

    return Comparison(
        names=tuple(names), flops=C, loss_a=La[0], loss_b=Lb[0], difference=diff0,
        difference_low=d_lo, difference_high=d_hi, prob_a_better=prob, multiplier=k0,
        multiplier_low=k_lo, multiplier_high=k_hi, exponent_tests=tuple(tests), crossover=co,
        level=level, n_boot=S, higher_is_better=higher_is_better, mode=mode, law=law_a.name,
        notes=tuple(notes), options={"seed": seed, "search_flops": (lo, hi)}, data_multiplier=dm,
        interval=interval, outside_decades=outside)


# ---------------------------------------------------------------------------------------------
# the effective-data multiplier
# ---------------------------------------------------------------------------------------------

def _check_nd(law: Any) -> None:
    if tuple(sorted(law.inputs)) != ("n_params", "n_tokens"):
        raise ConfigError(f"the effective-data multiplier needs a law of n_params and n_tokens only "
                          f"(e.g. 'chinchilla'); {law.name!r} has inputs {law.inputs}")


def _solve_tokens(law: Any, PB: np.ndarray, N: np.ndarray, D: np.ndarray, target: np.ndarray) -> np.ndarray:
    """m with L_B(N, m D) = target, per row of ``PB`` (draws) and point (columns).

    Bisection in log D' on [1e-6 D, 1e300] for a law that decreases in D; ``inf`` where the
    target is at or below B's floor (``L_B(N, 1e300)``), ``0`` where B reaches it with under
    1e-6 D, NaN where the target or B's curve is not finite.
    """
    S, K = target.shape
    lo0 = np.log(D) + _DATA_SEARCH_DECADES[0] * math.log(10)
    hi0 = np.full(K, math.log(1e300))
    m = np.empty((S, K))
    for s in range(S):
        t = target[s]

        def f(logd: np.ndarray, p: np.ndarray = PB[s]) -> np.ndarray:
            with np.errstate(all="ignore"):
                return np.asarray(law(p, n_params=N, n_tokens=np.exp(logd)), dtype=float)

        f_lo, f_hi = f(lo0), f(hi0)
        lo, hi = lo0.copy(), hi0.copy()
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            above = f(mid) > t          # still worse than the target: need more data
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
        row = np.exp(0.5 * (lo + hi) - np.log(D))
        row = np.where(f_hi >= t, math.inf, row)        # below B's floor at N: unreachable
        row = np.where(f_lo <= t, 0.0, row)             # B is there with (almost) no data
        bad = ~(np.isfinite(t) & np.isfinite(f_lo) & np.isfinite(f_hi) & np.isfinite(N) & np.isfinite(D))
        m[s] = np.where(bad, math.nan, row)
    return m


def _data_multiplier(law: Any, ea: np.ndarray, Pa: np.ndarray, eb: np.ndarray, Pb: np.ndarray,
                     N: np.ndarray, D: np.ndarray, *, level: float, names: tuple[str, str],
                     allocation: str) -> DataMultiplier:
    """The multiplier from point estimates (``ea``, ``eb``: 1 x P) and paired draws (S x P)."""
    PA, PB = np.vstack([ea, Pa]), np.vstack([eb, Pb])
    with np.errstate(all="ignore"):
        LA = np.vstack([np.asarray(law(p, n_params=N, n_tokens=D), dtype=float) for p in PA])
    m = _solve_tokens(law, PB, N, D, LA)
    lo, hi = _quantiles(m[1:], level)
    return DataMultiplier(names=tuple(names), n_params=N, n_tokens=D, flops=6.0 * N * D, loss_a=LA[0],
                          multiplier=m[0], low=lo, high=hi, prob_unreachable=np.mean(np.isinf(m[1:]), axis=0),
                          level=level, n_boot=int(Pa.shape[0]), allocation=allocation)


def data_multiplier(res_a: FitResult, res_b: FitResult, *, n_params: Sequence[float] | float,
                    n_tokens: Sequence[float] | float, level: float = 0.95, n_boot: int = 200, seed: int = 0,
                    names: tuple[str, str] = ("A", "B")) -> DataMultiplier:
    """How many tokens of B match the loss A reaches with ``n_tokens`` tokens, at ``n_params``.

    Solves ``L_B(N, m D) = L_A(N, D)`` for m at each (N, D) pair, for every paired bootstrap draw
    (draw i of A with draw i of B, as :func:`compare` pairs them).

    Parameters
    ----------
    res_a, res_b : FitResult
        Fits of one law of ``n_params`` and ``n_tokens`` (e.g. ``"chinchilla"``), one per dataset.
    n_params, n_tokens : float or sequence of float
        The model size N and A's token budget D of each point (broadcast against each other).
    level, n_boot, seed, names
        As for :func:`compare`.

    Returns
    -------
    DataMultiplier

    Notes
    -----
    Valid when both laws describe the *same model family* trained the same way on the two
    datasets, and are evaluated on the *same* held-out set: a loss on each dataset's own
    validation split measures how predictable that dataset is, and a dataset that is easier to
    predict is not a better one. In general m depends on N and D; when the laws differ only in
    the data coefficient (same E, A, alpha, beta) it is the constant ``(B_B / B_A)^(1 / beta)``,
    the clean case of "B's data is worth 1/m of A's". Beyond the fitted range of D (``m D`` far
    outside the data of B) m extrapolates B's law. Unreachable (``inf``) means A's loss at (N, D)
    is below ``E_B + A_B / N^alpha_B``: a property of the fitted floors, sensitive to E.

    Examples
    --------
    B is A with its data worth a quarter (D scaled by 1/4, so B needs 4x the tokens):

    >>> import numpy as np
    >>> from scalinglab.laws import Runs, fit
    >>> N, D = (g.ravel() for g in np.meshgrid(np.logspace(6, 8, 5), np.logspace(8, 10, 5)))
    >>> def arm(k, seed):
    ...     y = 1.8 + 400 / N ** 0.34 + 2000 / (D / k) ** 0.28
    ...     y = y * np.exp(np.random.default_rng(seed).normal(0, 0.001, N.size))
    ...     res = fit("chinchilla", Runs.from_arrays(n_params=N, n_tokens=D, target=y), n_starts=32)
    ...     return res.with_bootstrap(n_boot=30, seed=seed)
    >>> dm = data_multiplier(arm(1, 0), arm(4, 1), n_params=1e7, n_tokens=1e9)
    >>> 3 < float(dm.multiplier[0]) < 5
    True
    """
    law = res_a.law
    if res_b.law.name != law.name:
        raise ConfigError(f"data_multiplier needs fits of the same law; got {law.name!r} and {res_b.law.name!r}")
    _check_nd(law)
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    N, D = np.broadcast_arrays(
        np.atleast_1d(np.asarray([parse_quantity(v, name="n_params") for v in np.atleast_1d(n_params)], dtype=float)),
        np.atleast_1d(np.asarray([parse_quantity(v, name="n_tokens") for v in np.atleast_1d(n_tokens)], dtype=float)))
    if N.size == 0 or np.any(~np.isfinite(N) | (N <= 0) | ~np.isfinite(D) | (D <= 0)):
        raise ConfigError(f"n_params and n_tokens must be positive; got {n_params!r} and {n_tokens!r}")
    res_a, Pa = _draws(res_a, n_boot, seed, "A")
    res_b, Pb = _draws(res_b, n_boot, seed + 1, "B")
    S = min(Pa.shape[0], Pb.shape[0])
    return _data_multiplier(law, np.asarray(res_a.param_vector, dtype=float)[None, :], Pa[:S],
                            np.asarray(res_b.param_vector, dtype=float)[None, :], Pb[:S],
                            np.array(N, dtype=float), np.array(D, dtype=float), level=level,
                            names=tuple(names), allocation="given (N, D)")
