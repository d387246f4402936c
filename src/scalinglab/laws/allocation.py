"""Compute-optimal allocation: N*(C) and D*(C) by the three approaches of Hoffmann et al. (2022).

What to use when
----------------
``allocate(data, approach=...)`` returns an :class:`Allocation` with the exponents of
``N*(C) = G_N C^a`` and ``D*(C) = G_D C^b``, bootstrap intervals, and
``predict(flops=...)`` for N*, D* and the tokens-per-parameter ratio D*/N* at a budget.

* ``approach=1`` (envelope; Hoffmann et al. 2022, Sec. 3.1): for each compute value, the run
  with the lowest loss on the lower envelope (or, with ``curve_by=``, the training curve that is
  lowest at that compute, interpolated between checkpoints); then a power law through those
  minima. Needs many sizes trained to many token counts; coarse when sizes are few.
* ``approach=2`` (iso-FLOP profiles; Sec. 3.2): runs grouped by compute budget
  (:func:`~scalinglab.laws.frontier.isoflop_slices`), a parabola in log N per budget whose vertex
  is N*, then a power law through the vertices over budgets. The most direct measurement when
  the sweep was designed as iso-FLOP profiles (at least 3 sizes per budget, bracketing the optimum).
* ``approach=3`` (parametric; Sec. 3.3): from a fitted L(N, D). For the Chinchilla form
  ``E + A/N^alpha + B/D^beta`` with C = 6ND the optimum is closed form (Eq. 4):
  ``a = beta/(alpha+beta)``, ``G = (alpha A / (beta B))^(1/(alpha+beta))``,
  ``N*(C) = G (C/6)^a``, ``D*(C) = (C/6) / N*(C)``. Other laws with inputs derivable from (N, D)
  are minimized numerically along each iso-FLOP line. Intervals come from the fit's bootstrap
  draws. Only as good as the functional form: Besiroglu et al. (2024) show the published
  Approach-3 fit was inconsistent with Approaches 1-2 until refitted.

The parabola of approach 2 is an approximation: L(N) at fixed C is asymmetric in log N, so the
vertex of a parabola fitted over sizes 10x either side of the optimum sits a few per cent off N*
(about +4 % for alpha = 0.34, beta = 0.28). For a Chinchilla-form loss the offset is the same at
every budget, so the exponent is unbiased and only the coefficient G is; sizes within about 3x of
the optimum make the offset negligible. Approach 1 leaves out minima at the smallest or largest
size (or token count) tried: they are censored, the optimum may lie beyond them.

Intervals for approaches 1-2 are percentile intervals of a nonparametric bootstrap: approach 1
resamples runs (or whole training curves); approach 2 resamples budgets and, within each budget,
runs (``by="both"``, default). They express sampling noise of the measured losses, not
misspecification of the power law, and are too narrow when few budgets (< 4) are available.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, DataError
from ..units import parse_quantity
from .frontier import (
    IsoFlopSlices,
    binned_minimum,
    compute_envelope,
    isoflop_slices,
)
from .law import get_law
from .runs import Runs
from .summary import fmt_compact as _fmt
from .summary import tables_summary as _summary

if TYPE_CHECKING:
    from .result import FitResult

__all__ = ["Allocation", "AllocationPrediction", "allocate"]

APPROACHES = {1: 1, 2: 2, 3: 3, "envelope": 1, "isoflop": 2, "iso_flop": 2, "parametric": 3}


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AllocationPrediction:
    """Compute-optimal N*, D* and D*/N* at given budgets, with intervals.

    Arrays have the shape of ``flops`` (floats for a scalar budget). ``*_low``/``*_high`` are the
    ``level`` percentile interval over bootstrap draws (NaN when the allocation has no draws).
    """

    flops: Any
    n_params: Any
    n_tokens: Any
    tokens_per_param: Any
    level: float
    n_params_low: Any
    n_params_high: Any
    n_tokens_low: Any
    n_tokens_high: Any
    tokens_per_param_low: Any
    tokens_per_param_high: Any

    def __post_init__(self) -> None:
        freeze_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}

    def __repr__(self) -> str:
        def one(name):
            v, lo, hi = (np.atleast_1d(getattr(self, name + s)) for s in ("", "_low", "_high"))
            return ", ".join(f"{_fmt(a)} [{_fmt(b)}, {_fmt(c)}]" for a, b, c in zip(v, lo, hi))

        flops = _fmt(self.flops) if np.ndim(self.flops) == 0 else [_fmt(c) for c in np.atleast_1d(self.flops)]
        return (f"AllocationPrediction(flops={flops}, "
                f"n_params={one('n_params')}, n_tokens={one('n_tokens')}, "
                f"tokens_per_param={one('tokens_per_param')}, level={self.level})")


@dataclass(frozen=True, eq=False)
class Allocation:
    """Compute-optimal allocation ``N*(C) = coef_n C^exponent_n``, ``D*(C) = coef_d C^exponent_d``.

    Attributes
    ----------
    approach : int
        1 (envelope), 2 (iso-FLOP profiles) or 3 (parametric), Hoffmann et al. (2022), Sec. 3.
    exponent_n, exponent_d : float
        a and b (C in FLOPs). Under C = 6ND, a + b = 1 for approach 3 and approximately so for
        approaches 1-2, whose a and b are measured separately.
    coef_n, coef_d : float
        G_N and G_D.
    level : float
        Level of the intervals.
    draws : ndarray, shape (n_boot, 4)
        Bootstrap draws of ``(a, log G_N, b, log G_D)``; rows with NaN are failed draws.
    points : dict of ndarray
        Approaches 1-2: the measured optima ``flops``, ``n_params``, ``n_tokens`` and ``run_id``
        (the run defining the envelope minimum, or the best run of the iso-FLOP slice), with
        ``n_points`` per budget. Approach 3: empty.
    flops_range : tuple of float
        Compute range the allocation was measured on; predictions outside it extrapolate.
    params : dict
        Approach 3: the law's parameters. Approaches 1-2: the per-budget parabola coefficients.
    notes : tuple of str
        Problems found (parabolas without a minimum, vertices outside the slice, few budgets...).
    options : dict
    """

    approach: int
    exponent_n: float
    exponent_d: float
    coef_n: float
    coef_d: float
    level: float
    draws: np.ndarray
    points: Mapping[str, np.ndarray] = field(default_factory=dict)
    flops_range: tuple[float, float] = (math.nan, math.nan)
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    # -- intervals ------------------------------------------------------------------------
    def __post_init__(self) -> None:
        freeze_fields(self)

    def _ok_draws(self) -> np.ndarray:
        d = np.asarray(self.draws, dtype=float).reshape(-1, 4)
        return d[np.all(np.isfinite(d), axis=1)]

    def _interval(self, values: np.ndarray, level: float | None = None) -> tuple[float, float]:
        level = self.level if level is None else level
        v = values[np.isfinite(values)]
        if v.size < 2:
            return (math.nan, math.nan)
        q = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
        return float(q[0]), float(q[1])

    @property
    def n_boot(self) -> int:
        """Number of successful bootstrap draws."""
        return int(self._ok_draws().shape[0])

    @property
    def exponent_n_interval(self) -> tuple[float, float]:
        """Percentile interval of a at ``level`` (NaN without draws)."""
        return self._interval(self._ok_draws()[:, 0])

    @property
    def exponent_d_interval(self) -> tuple[float, float]:
        """Percentile interval of b at ``level`` (NaN without draws)."""
        return self._interval(self._ok_draws()[:, 2])

    # -- prediction -----------------------------------------------------------------------
    def predict(self, *, flops: Any, level: float | None = None) -> AllocationPrediction:
        """N*(C), D*(C) and D*/N* at ``flops`` (FLOPs; human units accepted) with intervals.

        The interval at ``level`` (default: the allocation's) is the percentile interval of the
        bootstrap draws of the power laws; it does not include the error of extrapolating the
        power law beyond :attr:`flops_range`.
        """

        arr = np.asarray(flops, dtype=object)
        C = (np.vectorize(lambda v: parse_quantity(v, name="flops"), otypes=[float])(arr) if arr.size
             else arr.astype(float))
        if np.any(~np.isfinite(C) | (C <= 0)):
            raise ConfigError(f"flops must be positive FLOP values; got {flops!r}")
        level = self.level if level is None else float(level)
        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        lc = np.log(C)
        n = self.coef_n * C ** self.exponent_n
        d = self.coef_d * C ** self.exponent_d
        dr = self._ok_draws()
        if dr.shape[0] >= 2:
            ln_n = dr[:, 1, None] + dr[:, 0, None] * lc.reshape(1, -1)
            ln_d = dr[:, 3, None] + dr[:, 2, None] * lc.reshape(1, -1)
            qs = [(1 - level) / 2, (1 + level) / 2]
            qn = np.exp(np.quantile(ln_n, qs, axis=0)).reshape(2, *C.shape)
            qd = np.exp(np.quantile(ln_d, qs, axis=0)).reshape(2, *C.shape)
            qr = np.exp(np.quantile(ln_d - ln_n, qs, axis=0)).reshape(2, *C.shape)
        else:
            qn = qd = qr = np.full((2, *C.shape), np.nan)

        def out(x):
            return float(x) if np.ndim(x) == 0 else x

        return AllocationPrediction(
            flops=out(C), n_params=out(n), n_tokens=out(d), tokens_per_param=out(d / n), level=level,
            n_params_low=out(qn[0]), n_params_high=out(qn[1]), n_tokens_low=out(qd[0]),
            n_tokens_high=out(qd[1]), tokens_per_param_low=out(qr[0]), tokens_per_param_high=out(qr[1]))

    def tokens_per_param(self, flops: Any, level: float | None = None) -> tuple[float, float, float]:
        """``(D*/N*, low, high)`` at one budget ``flops``."""
        p = self.predict(flops=float(np.asarray(flops, dtype=float)), level=level)
        return p.tokens_per_param, p.tokens_per_param_low, p.tokens_per_param_high

    # -- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        lo, hi = self.exponent_n_interval
        ci = f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else ""
        return (f"Allocation(approach={self.approach}, exponent_n={self.exponent_n:.3f}{ci}, "
                f"exponent_d={self.exponent_d:.3f}, n_boot={self.n_boot})")

    def summary(self, *, flops: Sequence[float] | None = None) -> Any:
        """Exponents with intervals, N*/D*/ratio at a few budgets, the measured optima and notes."""
        name = {1: "envelope minima", 2: "iso-FLOP profiles", 3: "parametric L(N, D)"}[self.approach]
        lo_n, hi_n = self.exponent_n_interval
        lo_d, hi_d = self.exponent_d_interval
        pct = f"{100 * self.level:g}%"
        info = {"approach": f"{self.approach} ({name}; Hoffmann et al. 2022, Sec. 3.{self.approach})",
                "N*(C)": f"{self.coef_n:.4g} * C^{self.exponent_n:.4f}",
                "D*(C)": f"{self.coef_d:.4g} * C^{self.exponent_d:.4f}",
                f"exponent_n (a) {pct}": f"{self.exponent_n:.4f} [{lo_n:.4f}, {hi_n:.4f}]",
                f"exponent_d (b) {pct}": f"{self.exponent_d:.4f} [{lo_d:.4f}, {hi_d:.4f}]",
                "bootstrap draws": self.n_boot,
                "compute range (FLOPs)": f"{self.flops_range[0]:.3g} .. {self.flops_range[1]:.3g}"}
        if flops is None:
            lo, hi = self.flops_range
            flops = ([lo, math.sqrt(lo * hi), hi] if math.isfinite(lo) else []) + [1e21, 1e23, 1e25]
            flops = sorted({float(f"{c:.3g}") for c in flops})
        p = self.predict(flops=np.asarray(flops, dtype=float))
        rows = [[_fmt(c), f"{_fmt(n)} [{_fmt(nl)}, {_fmt(nh)}]", f"{_fmt(d)} [{_fmt(dl)}, {_fmt(dh)}]",
                 f"{_fmt(r)} [{_fmt(rl)}, {_fmt(rh)}]"]
                for c, n, nl, nh, d, dl, dh, r, rl, rh in zip(
                    p.flops, p.n_params, p.n_params_low, p.n_params_high, p.n_tokens, p.n_tokens_low,
                    p.n_tokens_high, p.tokens_per_param, p.tokens_per_param_low, p.tokens_per_param_high)]
        tables = {f"compute-optimal allocation ({pct} intervals)":
                  (["flops", "n_params", "n_tokens", "tokens_per_param"], rows)}
        if self.points:
            pts = self.points
            tables["measured optima"] = (
                ["flops", "n_params", "n_tokens", "run_id", "n_points"],
                [[_fmt(c), _fmt(n), _fmt(d), str(r), str(int(k))] for c, n, d, r, k in zip(
                    pts["flops"], pts["n_params"], pts["n_tokens"], pts["run_id"], pts["n_points"])])
        notes = list(self.notes)
        if self.approach != 3 and self.n_boot and self.points and len(self.points["flops"]) < 4:
            notes.append(f"only {len(self.points['flops'])} budgets: the bootstrap interval understates "
                         "the uncertainty of the exponent")
        return _summary(f"Compute-optimal allocation, approach {self.approach} ({name})", info, tables, notes)

    def to_dict(self) -> dict[str, Any]:
        return {"approach": self.approach, "exponent_n": self.exponent_n, "exponent_d": self.exponent_d,
                "exponent_n_interval": list(self.exponent_n_interval),
                "exponent_d_interval": list(self.exponent_d_interval), "coef_n": self.coef_n,
                "coef_d": self.coef_d, "level": self.level, "n_boot": self.n_boot,
                "flops_range": list(self.flops_range), "notes": list(self.notes),
                "points": {k: np.asarray(v).tolist() for k, v in self.points.items()},
                "params": {k: (np.asarray(v).tolist() if isinstance(v, np.ndarray) else v)
                           for k, v in self.params.items()}}

    def _repr_html_(self) -> str:
        return self.summary().as_html()


# ---------------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------------

def allocate(data: FitResult | Runs | IsoFlopSlices | Mapping[str, float], *, approach: int | str | None = None, level: float = 0.95,
             n_boot: int = 200, seed: int = 0, by: str | None = None,
             budgets: Sequence[float] | None = None, rel_tol: float = 0.1, min_points: int = 3,
             bins_per_decade: float = 4.0, curve_by: str | None = None,
             law: Any = None, flops_range: tuple[float, float] | None = None) -> Allocation:
    """Compute-optimal N*(C) and D*(C) (Hoffmann et al. 2022, Sec. 3, Approaches 1-3).

    Parameters
    ----------
    data : Runs, IsoFlopSlices, FitResult or dict of parameters
        Runs for approaches 1-2 (``IsoFlopSlices`` for approach 2); a ``FitResult`` of an
        L(N, D) law for approach 3, or a dict of its parameters with ``law=``.
    approach : {1, 2, 3, "envelope", "isoflop", "parametric"}, optional
        Default: 3 for a fit or parameters, 2 for runs.
    level : float
        Level of the percentile intervals.
    n_boot : int
        Bootstrap draws (0: no intervals). For approach 3 the fit's own draws are used when it has
        them; otherwise ``fit_result.with_bootstrap(n_boot=n_boot, seed=seed)`` is run.
    seed : int
        Seed of the resampling.
    by : {"runs", "budgets", "both"}, optional
        What the bootstrap resamples. Approach 1: ``"runs"`` (whole training curves with
        ``curve_by``). Approach 2: ``"both"`` (default): budgets, then runs within each budget.
    budgets, rel_tol, min_points
        Approach 2: how runs are grouped into iso-FLOP slices (see
        :func:`~scalinglab.laws.frontier.isoflop_slices`).
    bins_per_decade : float
        Approach 1 without ``curve_by``: compute bins per decade on the envelope (default 4).
    curve_by : str, optional
        Approach 1: a group column naming the training run each row (checkpoint) belongs to; the
        envelope is then taken over interpolated training curves at 25 points per decade of compute.
    law : str or Law, optional
        Approach 3 from a dict of parameters (default ``"chinchilla"``).
    flops_range : (float, float), optional
        Approach 3 with a non-closed-form law: the compute range over which the optimum is traced
        (default: from the fit's input range).

    Returns
    -------
    Allocation

    Raises
    ------
    ConfigError
        Unknown approach or an approach that does not fit the data given.
    DataError
        Too few budgets / bins to fit a power law.

    Examples
    --------
    >>> a = allocate({"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    >>> round(a.exponent_n, 4), round(a.predict(flops=5.76e23).tokens_per_param, 1)
    (0.5126, 18.4)
    """
    if approach is None:
        approach = 2 if isinstance(data, (Runs, IsoFlopSlices)) else 3
    if approach not in APPROACHES:
        raise ConfigError(f"approach must be one of 1, 2, 3 (or 'envelope', 'isoflop', 'parametric'); "
                          f"got {approach!r}")
    approach = APPROACHES[approach]
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ConfigError(f"n_boot must be a non-negative integer; got {n_boot!r}")
    rng = np.random.default_rng(seed)
    if approach == 1:
        if not isinstance(data, Runs):
            raise ConfigError(f"approach 1 needs Runs (training runs or checkpoints); got {type(data).__name__}")
        return _approach1(data, level=level, n_boot=n_boot, rng=rng, by=by or "runs",
                          bins_per_decade=bins_per_decade, curve_by=curve_by, seed=seed)
    if approach == 2:
        if isinstance(data, Runs):
            data = isoflop_slices(data, budgets=budgets, rel_tol=rel_tol, min_points=min_points)
        if not isinstance(data, IsoFlopSlices):
            raise ConfigError(f"approach 2 needs Runs or IsoFlopSlices; got {type(data).__name__}")
        return _approach2(data, level=level, n_boot=n_boot, rng=rng, by=by or "both", seed=seed)
    return _approach3(data, level=level, n_boot=n_boot, seed=seed, law=law, flops_range=flops_range)


# ---------------------------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------------------------

def _powerlaw(log_c: np.ndarray, log_y: np.ndarray) -> tuple[float, float]:
    """OLS of log y on log C: returns (exponent, log coefficient); NaN when degenerate."""
    ok = np.isfinite(log_c) & np.isfinite(log_y)
    x, y = log_c[ok], log_y[ok]
    if x.size < 2 or np.ptp(x) == 0:
        return math.nan, math.nan
    slope, icept = np.polyfit(x, y, 1)
    return float(slope), float(icept)


def _fit_both(log_c, log_n, log_d) -> np.ndarray:
    a, gn = _powerlaw(log_c, log_n)
    b, gd = _powerlaw(log_c, log_d)
    return np.array([a, gn, b, gd])


def _make(approach, est, draws, *, level, points, flops_range, params, notes, options) -> Allocation:
    if not np.all(np.isfinite(est)):
        raise DataError("the compute-optimal points do not determine a power law (fewer than two "
                        "distinct budgets with a minimum); add budgets or sizes")
    draws = np.asarray(draws, dtype=float).reshape(-1, 4)
    failed = int((~np.all(np.isfinite(draws), axis=1)).sum())
    notes = list(notes)
    if draws.shape[0] and failed:
        notes.append(f"{failed} of {draws.shape[0]} bootstrap draws gave no power law and were dropped")
    return Allocation(approach=approach, exponent_n=float(est[0]), exponent_d=float(est[2]),
                      coef_n=float(math.exp(est[1])), coef_d=float(math.exp(est[3])), level=level,
                      draws=draws, points=points, flops_range=flops_range, params=params,
                      notes=tuple(notes), options=options)


def _tokens(runs: Runs) -> np.ndarray:
    if runs.n_tokens is not None:
        return runs.n_tokens
    return runs.column("flops") / (6.0 * runs.column("n_params"))


# ---------------------------------------------------------------------------------------------
# approach 1: envelope minima
# ---------------------------------------------------------------------------------------------

def _envelope_points(runs: Runs, bins_per_decade: float, curve_by: str | None):
    """(flops, n_params, n_tokens, run_id, n_points) of the per-compute minima."""
    if curve_by is None:
        env = compute_envelope(runs)
        front = binned_minimum(env, bins_per_decade=bins_per_decade) if len(env) > 1 else env
        # a minimum at the smallest or largest size (or token count) tried is censored: the true
        # optimum may lie beyond it, so it is left out
        D, Dall = _tokens(front), _tokens(runs)
        inner = ((front.n_params > runs.n_params.min()) & (front.n_params < runs.n_params.max())
                 & (D > Dall.min()) & (D < Dall.max()))
        return (front.flops[inner], front.n_params[inner], D[inner],
                np.asarray(front.run_ids, dtype=object)[inner], np.asarray(front.n_candidates)[inner])
    curves = runs.split(curve_by)
    C = runs.flops
    lo, hi = math.log10(C.min()), math.log10(C.max())
    grid = np.logspace(lo, hi, max(2, int(math.ceil((hi - lo) * 25)) + 1))
    lg = np.log(grid)
    best = np.full(grid.size, np.inf)
    who = np.full(grid.size, -1)
    curve_rows = []
    for j, sub in enumerate(curves.values()):
        o = np.argsort(sub.flops)
        lc = np.log(sub.flops[o])
        inside = (lg >= lc[0]) & (lg <= lc[-1])
        if not inside.any():
            curve_rows.append(None)
            continue
        yi = np.interp(lg[inside], lc, sub.target[o])
        curve_rows.append((sub, o, lc))
        idx = np.flatnonzero(inside)
        better = yi < best[idx]
        best[idx[better]] = yi[better]
        who[idx[better]] = j
    # the smallest or largest model winning is a censored minimum (the optimum may lie beyond it)
    sizes = [np.median(c[0].n_params) if c is not None else math.nan for c in curve_rows]
    edge = {j for j, n in enumerate(sizes) if n in (np.nanmin(sizes), np.nanmax(sizes))}
    keep = (who >= 0) & ~np.isin(who, list(edge))
    n_out, d_out, id_out = [], [], []
    for g, j in zip(lg[keep], who[keep]):
        sub, o, lc = curve_rows[j]
        n_out.append(float(np.exp(np.interp(g, lc, np.log(sub.n_params[o])))))
        d_out.append(float(np.exp(np.interp(g, lc, np.log(_tokens(sub)[o])))))
        k = int(np.argmin(np.abs(lc - g)))
        id_out.append(str(sub.run_id[o][k]))
    return grid[keep], np.array(n_out), np.array(d_out), np.array(id_out, dtype=object), np.ones(int(keep.sum()), int)


def _approach1(runs: Runs, *, level, n_boot, rng, by, bins_per_decade, curve_by, seed) -> Allocation:
    runs.column("flops")
    runs.column("n_params")
    if by != "runs":
        raise ConfigError(f"approach 1 resamples runs (or whole curves with curve_by); by={by!r} is not supported")
    if curve_by is not None:
        runs.column(curve_by)
    C, N, D, ids, counts = _envelope_points(runs, bins_per_decade, curve_by)
    est = _fit_both(np.log(C), np.log(N), np.log(D))
    draws = np.full((n_boot, 4), np.nan)
    if curve_by is None:
        units = [np.array([i]) for i in range(len(runs))]
    else:
        col = runs.column(curve_by)
        labels = list(dict.fromkeys(map(str, col)))
        units = [np.flatnonzero(np.array([str(v) == lab for v in col])) for lab in labels]
    for k in range(n_boot):
        pick = rng.integers(0, len(units), len(units))
        if curve_by is not None:  # relabel duplicated curves so they stay distinct curves
            rows = np.concatenate([units[p] for p in pick])
            sub = runs.subset(rows)
            lab = np.concatenate([np.full(units[p].size, f"b{i}", dtype=object) for i, p in enumerate(pick)])
            sub = Runs(target=sub.target, run_id=sub.run_id, n_params=sub.n_params, n_tokens=sub.n_tokens,
                       flops=sub.flops, groups={**sub.groups, curve_by: lab})
        else:
            sub = runs.subset(np.concatenate([units[p] for p in pick]))
        try:
            c, n, d, _, _ = _envelope_points(sub, bins_per_decade, curve_by)
        except DataError:
            continue
        draws[k] = _fit_both(np.log(c), np.log(n), np.log(d))
    points = {"flops": C, "n_params": N, "n_tokens": D, "run_id": ids, "n_points": counts}
    notes = []
    if len(np.unique(N)) < 3:
        notes.append(f"the envelope minima use only {len(np.unique(N))} distinct model sizes; "
                     "approach 1 needs many sizes to resolve N*(C)")
    return _make(1, est, draws, level=level, points=points,
                 flops_range=(float(runs.flops.min()), float(runs.flops.max())), params={}, notes=notes,
                 options={"n_boot": n_boot, "seed": seed, "by": by, "bins_per_decade": bins_per_decade,
                          "curve_by": curve_by})


# ---------------------------------------------------------------------------------------------
# approach 2: iso-FLOP profiles
# ---------------------------------------------------------------------------------------------

def _vertex(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """Parabola y = c2 x^2 + c1 x + c0 through (x, y): returns (vertex, c2, c1, c0); NaN vertex if c2 <= 0."""
    if np.unique(x).size < 3:
        return math.nan, math.nan, math.nan, math.nan
    c2, c1, c0 = np.polyfit(x, y, 2)
    if not c2 > 0:
        return math.nan, float(c2), float(c1), float(c0)
    return float(-c1 / (2 * c2)), float(c2), float(c1), float(c0)


def _slice_optimum(s: Runs) -> tuple[float, float, tuple]:
    """log N* and log D* of one iso-FLOP slice, and the two parabolas."""
    ln, ld = np.log(s.n_params), np.log(_tokens(s))
    vn = _vertex(ln, s.target)
    vd = _vertex(ld, s.target)
    return vn[0], vd[0], (vn, vd)


def _approach2(sl: IsoFlopSlices, *, level, n_boot, rng, by, seed) -> Allocation:
    if by not in ("runs", "budgets", "both"):
        raise ConfigError(f"by must be 'runs', 'budgets' or 'both' for approach 2; got {by!r}")
    for s in sl.slices:
        s.column("n_params")
    B = np.log(sl.budgets)
    opt = [_slice_optimum(s) for s in sl.slices]
    ln = np.array([o[0] for o in opt])
    ld = np.array([o[1] for o in opt])
    notes = []
    for b, s, (vn_, _, _) in zip(sl.budgets, sl.slices, opt):
        if not math.isfinite(vn_):
            notes.append(f"budget {b:.3g} FLOPs: the loss against log N has no minimum (parabola opens "
                         "down or < 3 sizes); it is left out. Add sizes on both sides of the optimum")
        elif not (np.log(s.n_params.min()) <= vn_ <= np.log(s.n_params.max())):
            notes.append(f"budget {b:.3g} FLOPs: the parabola's minimum N*={math.exp(vn_):.3g} lies outside the "
                         f"sizes tried [{s.n_params.min():.3g}, {s.n_params.max():.3g}] (extrapolated)")
    est = _fit_both(B, ln, ld)
    draws = np.full((n_boot, 4), np.nan)
    nb = len(sl.slices)
    for k in range(n_boot):
        pick = rng.integers(0, nb, nb) if by in ("budgets", "both") else np.arange(nb)
        bn, bd, bb = [], [], []
        for j in pick:
            s = sl.slices[j]
            if by in ("runs", "both"):
                s = s.subset(rng.integers(0, len(s), len(s)))
            vn_, vd_, _ = _slice_optimum(s)
            bn.append(vn_)
            bd.append(vd_)
            bb.append(B[j])
        draws[k] = _fit_both(np.array(bb), np.array(bn), np.array(bd))
    best_ids = [str(s.run_id[int(np.argmin(s.target))]) for s in sl.slices]
    points = {"flops": sl.budgets, "n_params": np.exp(ln), "n_tokens": np.exp(ld),
              "run_id": np.array(best_ids, dtype=object),
              "n_points": np.array([len(s) for s in sl.slices])}
    params = {"parabola_log_n": np.array([o[2][0][1:] for o in opt]),
              "parabola_log_d": np.array([o[2][1][1:] for o in opt])}
    return _make(2, est, draws, level=level, points=points,
                 flops_range=(float(sl.budgets.min()), float(sl.budgets.max())), params=params,
                 notes=notes, options={"n_boot": n_boot, "seed": seed, "by": by, "rel_tol": sl.rel_tol})


# ---------------------------------------------------------------------------------------------
# approach 3: from a fitted L(N, D)
# ---------------------------------------------------------------------------------------------

def _closed_form(P: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(a, log G_N, b, log G_D) per row of parameter draws for the Chinchilla form (Eq. 4)."""
    ix = {k: names.index(k) for k in ("A", "B", "alpha", "beta")}
    A, B, al, be = (P[:, ix[k]] for k in ("A", "B", "alpha", "beta"))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = al + be
        a = be / s
        log_g = (np.log(al * A) - np.log(be * B)) / s
        log_gn = log_g - a * math.log(6.0)           # N* = G (C/6)^a
        log_gd = -math.log(6.0) - log_gn             # D* = (C/6) / N*
    return np.column_stack([a, log_gn, 1.0 - a, log_gd])


def _approach3(data: Any, *, level, n_boot, seed, law, flops_range) -> Allocation:
    notes: list[str] = []
    fit_result = None
    if isinstance(data, Mapping):
        law_obj = get_law(law if law is not None else "chinchilla")
        est_vec = law_obj.vector(data)
        draws_p = np.empty((0, est_vec.size))
        range_src = None
    elif hasattr(data, "param_vector") and hasattr(data, "law"):
        fit_result = data
        law_obj = data.law
        if law is not None and get_law(law).name != law_obj.name:
            raise ConfigError(f"law={law!r} does not match the fitted law {law_obj.name!r}")
        est_vec = np.asarray(data.param_vector, dtype=float)
        boot = getattr(data, "bootstrap", None)
        if boot is None and n_boot > 0:
            data = data.with_bootstrap(n_boot=n_boot, seed=seed)
            boot = data.bootstrap
        draws_p = np.empty((0, est_vec.size)) if boot is None else np.asarray(boot.params, dtype=float)
        range_src = getattr(data, "input_range", None)
    else:
        raise ConfigError(f"approach 3 needs a FitResult of an L(N, D) law or a dict of its parameters; "
                          f"got {type(data).__name__}")
    names = list(law_obj.param_names)
    if not law_obj.of_n_and_d:
        raise ConfigError(f"law {law_obj.name!r} has inputs {law_obj.inputs}; compute-optimal allocation needs "
                          "a law of N and D (e.g. 'chinchilla')")

    # compute range of the data
    if flops_range is None and range_src:
        rng_ = dict(range_src)
        if "flops" in rng_:
            flops_range = tuple(map(float, rng_["flops"]))
        elif "n_params" in rng_ and "n_tokens" in rng_:   # artifacts saved before input_range had C:
            (n0, n1), (d0, d1) = rng_["n_params"], rng_["n_tokens"]   # the bounding box, wider than the runs
            flops_range = (6.0 * float(n0) * float(d0), 6.0 * float(n1) * float(d1))
    closed = law_obj.name == "chinchilla" or (hasattr(law_obj, "n_params_opt")
                                              and {"A", "B", "alpha", "beta"} <= set(names))
    if closed:
        est = _closed_form(est_vec[None, :], names)[0]
        draws = _closed_form(draws_p, names) if draws_p.size else np.empty((0, 4))
        method = "closed form (Hoffmann et al. 2022, Eq. 4)"
    else:
        if flops_range is None:
            raise ConfigError("pass flops_range=(lo, hi): the optimum of this law is traced numerically "
                              "over a compute range")
        grid = np.logspace(math.log10(flops_range[0]), math.log10(flops_range[1]), 9)
        allp = np.vstack([est_vec[None, :], draws_p]) if draws_p.size else est_vec[None, :]
        lnN, lc = law_obj.numeric_optimum(allp, grid)
        lnD = lc[None, :] - math.log(6.0) - lnN
        fits = np.array([_fit_both(lc, lnN[i], lnD[i]) for i in range(allp.shape[0])])
        est, draws = fits[0], fits[1:]
        method = "numerical minimum of L(N, C/(6N)) per budget, power law over the fitted compute range"
        if np.any(~np.isfinite(lnN[0])):
            notes.append("the law has no interior optimum along some iso-FLOP lines")
    params = dict(zip(names, map(float, est_vec)))
    if closed:
        al, be = params["alpha"], params["beta"]
        params["G"] = float((al * params["A"] / (be * params["B"])) ** (1 / (al + be)))
    if draws.shape[0] == 0:
        notes.append("no bootstrap draws: intervals are not available (fit with bootstrap or pass n_boot > 0)")
    return _make(3, est, draws, level=level, points={},
                 flops_range=tuple(map(float, flops_range)) if flops_range else (math.nan, math.nan),
                 params=params, notes=notes,
                 options={"law": law_obj.name, "method": method, "n_boot": int(draws.shape[0]), "seed": seed,
                          "from_fit": fit_result is not None})

