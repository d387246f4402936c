"""Backtests: fit a law on the small runs, predict the large ones, and score the predictions.

What to use when
----------------
``backtest(law, runs, ...)`` answers "would this law, fitted on what we had, have predicted what we
then measured?", the check that separates a law that extrapolates from one that only interpolates
(Hoffmann et al. 2022, App. D.4 held out the largest runs; Besiroglu et al. 2024 and Porian et al.
2024 report extrapolation errors; Gadre et al. 2024, Sec. 4, fit on small runs and report the
relative error at 1.4B-6.9B).

* ``split="cutoff"`` (default): fit the runs with compute ``<= cutoff_flops`` (or all but the
  ``holdout="largest k"`` runs by compute), predict the rest. One fold.
* ``split="rolling"``: the same at ``n_cutoffs`` cutoffs spread over the compute span, so one sees
  how the error shrinks as the fitted range grows.
* ``split="leave_one_size_out"``: each model size (``n_params``) in turn is left out and
  predicted from the others (interpolation and extrapolation in N).
* ``split="leave_one_budget_out"``: each iso-FLOP budget in turn (runs grouped as in
  :func:`~scalinglab.laws.frontier.isoflop_slices`).
* ``test=`` (``split="explicit"``): a published split. Fit exactly ``runs``, predict exactly
  ``test`` (two tables; :meth:`Runs.concat <scalinglab.laws.runs.Runs.concat>` stacks tables
  when a split needs several).

``frontier=`` (a function ``Runs -> Runs`` such as
:func:`~scalinglab.laws.frontier.compute_envelope`, or its name) is applied to each fold's
training runs and, separately, to its held-out runs, so no held-out run shapes what the law is
fitted to (a frontier binned over all runs first would put held-out runs into the bins).

Every held-out run gets a prediction interval from ``FitResult.predict(level=...)`` with the
library's recommended interval by default (``interval=None``: the calibrated interval of
:mod:`scalinglab.laws.intervals` for anything beyond the fitted data, which is every held-out run
of a compute split); ``interval="bootstrap"`` or ``"wald"`` measure the others. The backtest
reports ``coverage`` (the fraction inside), the median relative width and the mean interval score
of Gneiting & Raftery (2007, Eq. 43), which rewards narrow intervals and penalizes each miss by
how far it misses: an interval that only widens improves coverage but not the score. Held-out
points of one fold share the fitted parameters, so their errors are correlated: judge coverage
over many points or folds, not one.

For laws of N and D the backtest also reports the **allocation error**: the compute-optimal
exponent a (N* ~ C^a, Hoffmann et al. 2022, Approach 3) fitted on each fold's training runs
against the one fitted on all runs.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._optional import require
from ..config import freeze_fields
from ..errors import ConfigError, DataError, ScalingLabError, ScalingLabWarning, suggest
from ..units import parse_quantity
from . import frontier as fr
from .allocation import allocate
from .fitting import fit as fit_fn
from .frontier import isoflop_slices
from .intervals import INTERVALS, interval_score
from .law import Law, get_law
from .runs import Runs
from .summary import fmt_compact as _fmt
from .summary import tables_summary as _summary

__all__ = ["Backtest", "BacktestFold", "backtest"]

SPLITS = ("cutoff", "rolling", "leave_one_size_out", "leave_one_budget_out", "explicit")
COLUMNS = ("fold", "run_id", "flops", "n_params", "n_tokens", "actual", "predicted", "low", "high",
           "inside", "error", "rel_error", "outside_decades", "interval_score", "method")
FRONTIERS = ("best_per_size", "compute_envelope", "binned_minimum")


@dataclass(frozen=True)
class BacktestFold:
    """One train/test split.

    Attributes
    ----------
    name : str
        ``"C <= 1e+20"``, ``"N = 1e+08 left out"`` ...
    n_train, n_test : int
    params : dict
        Parameters fitted on the training runs.
    rmse, mae, coverage : float
        Over this fold's held-out runs.
    exponent_n : float
        Allocation exponent of the training fit (NaN for laws of compute only).
    ok : bool
        The training fit's one-glance flag.
    """

    name: str
    n_train: int
    n_test: int
    params: Mapping[str, float]
    rmse: float
    mae: float
    coverage: float
    exponent_n: float = math.nan
    ok: bool = True

    def __post_init__(self) -> None:
        freeze_fields(self)


@dataclass(frozen=True, eq=False)
class Backtest:
    """Predictions for held-out runs from fits on the others.

    Attributes
    ----------
    law : str
    split : str
    level : float
        Level of the prediction intervals.
    points : dict of ndarray
        One row per (fold, held-out run): ``fold``, ``run_id``, ``flops``, ``n_params``,
        ``n_tokens``, ``actual``, ``predicted``, ``low``, ``high``, ``inside``, ``error``
        (predicted - actual), ``rel_error`` (error / actual), ``outside_decades`` (how far
        outside the fold's fitted data), ``interval_score`` (Gneiting & Raftery 2007) and
        ``method`` (the interval used).
    folds : tuple of BacktestFold
    exponent_n_all : float
        Allocation exponent a fitted on all runs (laws of N and D; NaN otherwise).
    notes : tuple of str
    options : dict
    """

    law: str
    split: str
    level: float
    points: Mapping[str, np.ndarray]
    folds: tuple[BacktestFold, ...]
    exponent_n_all: float = math.nan
    notes: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    # -- scores -----------------------------------------------------------------------------
    def __post_init__(self) -> None:
        freeze_fields(self)

    @property
    def n_points(self) -> int:
        return int(np.asarray(self.points["actual"]).size)

    @property
    def rmse(self) -> float:
        """Root mean squared error of the predictions (target units), over all held-out rows."""
        e = np.asarray(self.points["error"], dtype=float)
        return float(np.sqrt(np.mean(e ** 2))) if e.size else math.nan

    @property
    def mae(self) -> float:
        """Mean absolute error (target units)."""
        e = np.asarray(self.points["error"], dtype=float)
        return float(np.mean(np.abs(e))) if e.size else math.nan

    @property
    def rmse_rel(self) -> float:
        """Root mean squared relative error ``(predicted - actual) / actual``."""
        e = np.asarray(self.points["rel_error"], dtype=float)
        return float(np.sqrt(np.mean(e ** 2))) if e.size else math.nan

    @property
    def mae_rel(self) -> float:
        """Mean absolute relative error."""
        e = np.asarray(self.points["rel_error"], dtype=float)
        return float(np.mean(np.abs(e))) if e.size else math.nan

    @property
    def coverage(self) -> float:
        """Fraction of held-out runs inside their prediction interval (compare with ``level``)."""
        v = np.asarray(self.points["inside"], dtype=bool)
        return float(v.mean()) if v.size else math.nan

    @property
    def interval_score(self) -> float:
        """Mean interval score of the held-out runs (Gneiting & Raftery 2007, Eq. 43; target units).

        Width plus ``2 / (1 - level)`` times the distance by which a run misses its interval:
        lower is better, and neither widening nor narrowing beyond the true quantiles pays.
        """
        v = np.asarray(self.points["interval_score"], dtype=float)
        return float(np.mean(v)) if v.size else math.nan

    @property
    def interval_score_rel(self) -> float:
        """Mean interval score relative to the actual value (comparable across targets)."""
        v = np.asarray(self.points["interval_score"], dtype=float) / np.asarray(self.points["actual"], dtype=float)
        return float(np.mean(v)) if v.size else math.nan

    @property
    def width_rel(self) -> float:
        """Median interval width relative to the prediction."""
        P = self.points
        v = (np.asarray(P["high"], dtype=float) - np.asarray(P["low"], dtype=float)) / np.asarray(P["predicted"], dtype=float)
        return float(np.median(v)) if v.size else math.nan

    @property
    def interval(self) -> str:
        """The interval method(s) used, e.g. ``"calibrated"``."""
        return ", ".join(dict.fromkeys(str(m) for m in self.points["method"])) or "-"

    @property
    def coverage_interval(self) -> tuple[float, float]:
        """95 % Wilson interval of the coverage, treating held-out runs as independent.

        They are not (runs of one fold share the fitted parameters), so the interval is too narrow;
        use it to spot gross under-coverage, not as a test.
        """
        n = self.n_points
        if n == 0:
            return (math.nan, math.nan)
        p, z = self.coverage, 1.959963984540054
        den = 1 + z * z / n
        mid = (p + z * z / (2 * n)) / den
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        return (max(0.0, mid - half), min(1.0, mid + half))

    @property
    def allocation_error(self) -> np.ndarray:
        """Per fold, exponent a of the training fit minus a of the fit on all runs."""
        return np.array([f.exponent_n - self.exponent_n_all for f in self.folds])

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return (f"Backtest(law={self.law!r}, split={self.split!r}, folds={len(self.folds)}, "
                f"points={self.n_points}, rmse={self.rmse:.4g}, mae_rel={self.mae_rel:.3%}, "
                f"coverage={self.coverage:.2f} at level {self.level}, interval={self.interval!r}, "
                f"interval_score_rel={self.interval_score_rel:.4g})")

    def to_frame(self):
        """The points as a pandas DataFrame (needs pandas)."""

        pd = require("pandas", extra="pandas", purpose="Backtest.to_frame()")
        return pd.DataFrame({k: np.asarray(v) for k, v in self.points.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "split": self.split, "level": self.level, "interval": self.interval,
                "rmse": self.rmse, "mae": self.mae, "rmse_rel": self.rmse_rel, "mae_rel": self.mae_rel,
                "coverage": self.coverage, "width_rel": self.width_rel, "interval_score": self.interval_score,
                "interval_score_rel": self.interval_score_rel, "exponent_n_all": self.exponent_n_all,
                "points": {k: np.asarray(v).tolist() for k, v in self.points.items()},
                "folds": [dict(f.__dict__, params=dict(f.params)) for f in self.folds],
                "notes": list(self.notes)}

    def summary(self) -> Any:
        """Scores, a per-fold table, the held-out points and notes."""
        lo, hi = self.coverage_interval
        info = {"law": self.law, "split": self.split, "folds": len(self.folds),
                "held-out points": self.n_points,
                "RMSE": f"{self.rmse:.4g}  (relative {self.rmse_rel:.2%})",
                "MAE": f"{self.mae:.4g}  (relative {self.mae_rel:.2%})",
                f"coverage of {100 * self.level:g}% intervals": f"{self.coverage:.2f} [{lo:.2f}, {hi:.2f}]",
                "interval": self.interval,
                "median width": f"{self.width_rel:.2%} of the prediction",
                "interval score": f"{self.interval_score:.4g}  (relative {self.interval_score_rel:.4g}; "
                                  "Gneiting & Raftery 2007, lower is better)",
                "outside the fitted data": f"up to {np.max(self.points['outside_decades'], initial=0.0):.2f} decades"}
        if math.isfinite(self.exponent_n_all):
            info["allocation exponent a (all runs)"] = f"{self.exponent_n_all:.4f}"
        fold_rows = [[f.name, str(f.n_train), str(f.n_test), f"{f.rmse:.4g}", f"{f.mae:.4g}", f"{f.coverage:.2f}",
                      f"{f.exponent_n:.4f}" if math.isfinite(f.exponent_n) else "-", "yes" if f.ok else "no"]
                     for f in self.folds]
        P = self.points
        pt_rows = [[str(P["fold"][i]), str(P["run_id"][i]), _fmt(P["flops"][i]), f"{P['outside_decades'][i]:.2f}",
                    f"{P['actual'][i]:.4g}", f"{P['predicted'][i]:.4g}", f"[{P['low'][i]:.4g}, {P['high'][i]:.4g}]",
                    "yes" if P["inside"][i] else "NO", f"{P['rel_error'][i]:+.2%}", f"{P['interval_score'][i]:.3g}"]
                   for i in range(self.n_points)]
        tables = {"folds": (["fold", "train", "test", "rmse", "mae", "coverage", "exponent a", "fit ok"], fold_rows),
                  "held-out runs": (["fold", "run_id", "flops", "decades out", "actual", "predicted",
                                     f"{self.interval} interval", "inside", "rel. error", "interval score"],
                                    pt_rows)}
        notes = list(self.notes)
        if self.n_points and hi < self.level:
            notes.append(f"coverage {self.coverage:.2f} is well below the nominal {self.level:g}: the "
                         "prediction intervals are too narrow for extrapolation (or the law's form is wrong)")
        return _summary(f"Backtest of {self.law} ({self.split})", info, tables, notes)

    def _repr_html_(self) -> str:
        return self.summary().as_html()


# ---------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------

def _largest(runs: Runs, holdout: Any) -> tuple[str, np.ndarray]:
    """Mask of the runs held out by ``holdout`` ("largest k", "largest 20%", or an int k)."""
    C = runs.column("flops")
    n = len(runs)
    if isinstance(holdout, (int, np.integer)) and not isinstance(holdout, bool):
        k = int(holdout)
    elif isinstance(holdout, str):
        m = re.fullmatch(r"\s*largest\s+(\d+(?:\.\d+)?)\s*(%?)\s*", holdout)
        if not m:
            raise ConfigError(f"holdout must look like 'largest 3' or 'largest 20%' (or be an int); got {holdout!r}")
        k = int(math.ceil(n * float(m.group(1)) / 100)) if m.group(2) else int(float(m.group(1)))
    else:
        raise ConfigError(f"holdout must be an int or a string like 'largest 3'; got {holdout!r}")
    if not 1 <= k < n:
        raise ConfigError(f"holdout={holdout!r} holds out {k} of {n} runs; it must leave some to fit and some to test")
    order = np.argsort(C, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[n - k:]] = True
    return f"largest {k} by compute", mask


def _folds(runs: Runs, split: str, cutoff_flops, holdout, n_cutoffs, rel_tol) -> list[tuple[str, np.ndarray]]:
    """``[(name, test_mask)]``; the training set is the complement."""
    if split == "cutoff":
        if cutoff_flops is not None and holdout is not None:
            raise ConfigError("pass either cutoff_flops= or holdout=, not both")
        if cutoff_flops is not None:
            c = parse_quantity(cutoff_flops, name="cutoff_flops")
            return [(f"C <= {c:.3g}", runs.column("flops") > c)]
        return [_largest(runs, "largest 25%" if holdout is None else holdout)]
    if split == "rolling":
        C = runs.column("flops")
        if not isinstance(n_cutoffs, (int, np.integer)) or n_cutoffs < 1:
            raise ConfigError(f"n_cutoffs must be a positive integer; got {n_cutoffs!r}")
        lo, hi = np.log(np.quantile(C, 0.3)), np.log(np.sort(C)[-2]) if len(C) > 1 else np.log(C.max())
        cuts = np.exp(np.linspace(lo, hi, n_cutoffs)) if n_cutoffs > 1 else np.exp([0.5 * (lo + hi)])
        return [(f"C <= {c:.3g}", C > c) for c in cuts]
    if split == "leave_one_size_out":
        N = runs.column("n_params")
        keys = np.array([f"{v:.6g}" for v in N])
        return [(f"N = {float(k):.3g} left out", keys == k) for k in dict.fromkeys(keys[np.argsort(N, kind="stable")])]
    if split == "leave_one_budget_out":
        sl = isoflop_slices(runs, rel_tol=rel_tol, min_points=1)
        ids = np.asarray(runs.run_id)
        return [(f"C ~ {b:.3g} left out", np.isin(ids, list(r))) for b, r in zip(sl.budgets, sl.run_ids)]
    raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")


def _exponent(res: Any) -> float:
    """Approach-3 allocation exponent of a fit of a law of N and D (NaN for other laws)."""

    try:
        return float(allocate(res, approach=3, n_boot=0).exponent_n)
    except ScalingLabError:
        return math.nan


# ---------------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------------

def _frontier_fn(frontier: Any) -> Any:
    """``frontier=`` as a function ``Runs -> Runs`` (None: no frontier)."""
    if frontier is None or callable(frontier):
        return frontier
    if isinstance(frontier, str) and frontier in FRONTIERS:

        return getattr(fr, frontier)

    raise ConfigError(f"frontier must be a function Runs -> Runs or one of {', '.join(FRONTIERS)}; got "
                      f"{frontier!r}.{suggest(str(frontier), FRONTIERS)}")


def backtest(law: str | Law, runs: Runs, *, test: Runs | None = None, cutoff_flops: float | str | None = None,
             holdout: int | str | None = None, split: str = "cutoff", n_cutoffs: int = 4,
             rel_tol: float = 0.1, level: float = 0.95, interval: str | None = None, frontier: Any = None,
             min_train: int | None = None, fit_kwargs: Mapping[str, Any] | None = None, n_boot: int = 200,
             boot_by: str | None = "auto", seed: int = 0) -> Backtest:
    """Fit ``law`` on part of ``runs`` and score its predictions for the rest.

    Parameters
    ----------
    law : str or Law
        The law to fit (name from :data:`~scalinglab.laws.specs.LAWS` or an instance).
    runs : Runs
        The runs to split; with ``test=``, exactly the runs to fit.
    test : Runs, optional
        An explicit test set (a published split): fit all of ``runs``, predict all of ``test``.
        Use :meth:`Runs.concat <scalinglab.laws.runs.Runs.concat>` to build either side from
        several tables.
    cutoff_flops : float or str, optional
        ``split="cutoff"``: fit runs with compute ``<= cutoff_flops``, predict those above.
    holdout : int or str, optional
        ``split="cutoff"``: hold out the ``"largest k"`` (or ``"largest 20%"``) runs by compute
        instead. Default when neither is given: ``"largest 25%"``.
    split : {"cutoff", "rolling", "leave_one_size_out", "leave_one_budget_out", "explicit"}
        ``"explicit"`` is implied by ``test=``.
    n_cutoffs : int
        ``split="rolling"``: number of cutoffs, log-spaced from the 30th percentile of compute to
        the second-largest run.
    rel_tol : float
        ``split="leave_one_budget_out"``: relative tolerance grouping runs into budgets.
    level : float
        Level of the prediction intervals.
    interval : {"calibrated", "bootstrap", "wald"}, optional
        Default: the library's recommended interval, ``FitResult.predict``'s default (calibrated
        beyond the fitted data, bootstrap inside it).
    frontier : callable or str, optional
        A frontier (``"best_per_size"``, ``"compute_envelope"``, ``"binned_minimum"`` or any
        function ``Runs -> Runs``, e.g. ``functools.partial(binned_minimum, bins_per_decade=2)``)
        computed on each fold's training runs and, separately, on its held-out runs.
    min_train : int, optional
        Fewest training runs a fold may have (default: the law's number of free parameters). A
        fold with fewer raises :class:`~scalinglab.errors.DataError`; it is never skipped silently.
    fit_kwargs : dict, optional
        Passed to :func:`~scalinglab.laws.fit` for every fold (``loss=``, ``n_starts=`` ...).
    n_boot : int
        Bootstrap refits per fold for the bootstrap and calibrated intervals (and per
        rolling-origin fold of the calibration).
    boot_by : str or None
        The bootstrap's resampled unit (``"auto"``: whole model sizes where the design allows;
        see ``FitResult.with_bootstrap``).
    seed : int

    Returns
    -------
    Backtest

    Raises
    ------
    ConfigError
        Bad split options.
    DataError
        A fold with fewer than ``min_train`` training runs, or no fold at all.

    Examples
    --------
    >>> import numpy as np
    >>> from scalinglab.laws import Runs
    >>> C = np.logspace(17, 20, 12)
    >>> y = (2 + 300 * C ** -0.15) * np.exp(np.random.default_rng(1).normal(0, 0.002, C.size))
    >>> bt = backtest("saturating_power_law", Runs.from_arrays(flops=C, target=y),
    ...               holdout="largest 3", fit_kwargs={"loss": "ls"}, n_boot=50)
    >>> bt.n_points, bool(bt.mae_rel < 0.01), list(bt.points["run_id"]), bt.interval
    (3, True, ['row9', 'row10', 'row11'], 'calibrated')

    Notes
    -----
    Fits that raise are skipped and named in the notes; warnings of the fold fits (convergence,
    bounds) are collected into the notes, not re-emitted. The prediction interval is the fit's own
    (see ``FitResult.predict``): its coverage here measures how honest it is when extrapolating.
    """

    law_obj = get_law(law) if isinstance(law, str) else law
    if not isinstance(runs, Runs):
        raise DataError(f"backtest needs Runs (from load_runs); got {type(runs).__name__}")
    if test is not None:
        if not isinstance(test, Runs):
            raise DataError(f"test= must be Runs (from load_runs); got {type(test).__name__}")
        if split not in ("cutoff", "explicit") or cutoff_flops is not None or holdout is not None:
            raise ConfigError("test= is an explicit split: do not combine it with split=, cutoff_flops= or holdout=")
        split = "explicit"
    elif split == "explicit":
        raise ConfigError("split='explicit' needs test=<the held-out Runs>")
    if split not in SPLITS:

        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.{suggest(str(split), SPLITS)}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if interval is not None and interval not in INTERVALS:

        raise ConfigError(f"interval must be one of {', '.join(INTERVALS)}; got {interval!r}."
                          f"{suggest(str(interval), INTERVALS)}")
    if split not in ("cutoff", "explicit") and (cutoff_flops is not None or holdout is not None):
        raise ConfigError(f"cutoff_flops= and holdout= apply to split='cutoff', not {split!r}")
    fit_kwargs = dict(fit_kwargs or {})
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ConfigError(f"n_boot must be an integer >= 2 (bootstrap refits per fold); got {n_boot!r}")
    make_frontier = _frontier_fn(frontier)
    n_free = len(law_obj.param_names) - len(fit_kwargs.get("fixed") or {})
    min_train = n_free if min_train is None else int(min_train)
    if split == "explicit":
        folds = [("explicit", runs, test)]
    else:
        folds = [(name, runs.subset(~mask), runs.subset(mask))
                 for name, mask in _folds(runs, split, cutoff_flops, holdout, n_cutoffs, rel_tol)]
    by_nd = law_obj.of_n_and_d

    notes: list[str] = []
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    done: list[BacktestFold] = []
    for name, tr, te in folds:
        if make_frontier is not None:
            tr, te = make_frontier(tr), make_frontier(te)
        if len(te) == 0:
            notes.append(f"fold {name!r}: nothing to predict; skipped")
            continue
        if len(tr) < min_train:
            raise DataError(f"fold {name!r} has {len(tr)} training runs, fewer than min_train={min_train}"
                            f"{' (after the frontier)' if make_frontier is not None else ''}; hold out fewer runs, "
                            f"use fewer cutoffs, or pass min_train={len(tr)} to fit it anyway")
        if len(tr) < n_free + 2:
            notes.append(f"fold {name!r}: {len(tr)} training runs for {n_free} free parameters: the fit has "
                         "almost no residual degrees of freedom; its intervals rest on very little")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScalingLabWarning)
            try:
                res = fit_fn(law_obj, tr, **fit_kwargs)
                if interval in (None, "calibrated"):
                    res = res.with_calibration(n_boot=n_boot, seed=seed, by=boot_by)
                elif interval == "bootstrap":
                    res = res.with_bootstrap(n_boot=n_boot, seed=seed, by=boot_by)
                pred = res.predict(level=level, interval=interval, **law_obj.inputs_from(te))
            except ScalingLabError as exc:
                notes.append(f"fold {name!r}: the fit failed ({exc}); skipped")
                continue
        for w in caught:
            if issubclass(w.category, ScalingLabWarning):
                notes.append(f"fold {name!r}: {w.category.__name__}: {w.message}")
        if pred.method == "calibrated" and getattr(res, "calibration", None) is not None:
            if not res.calibration.usable:
                notes.append(f"fold {name!r}: {res.calibration.describe(level)}")
        mean, low, high = (np.asarray(x, dtype=float).reshape(-1) for x in (pred.mean, pred.low, pred.high))
        outside = np.broadcast_to(np.asarray(pred.outside_decades, dtype=float), pred.mean.shape).reshape(-1)
        actual = te.target
        err = mean - actual
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = err / actual
        inside = (actual >= low) & (actual <= high)
        cols["fold"] += [name] * len(te)
        cols["run_id"] += [str(r) for r in te.run_id]
        for c in ("flops", "n_params", "n_tokens"):
            v = getattr(te, c)
            cols[c] += (v.tolist() if v is not None else [math.nan] * len(te))
        cols["actual"] += actual.tolist()
        cols["predicted"] += mean.tolist()
        cols["low"] += low.tolist()
        cols["high"] += high.tolist()
        cols["inside"] += inside.tolist()
        cols["error"] += err.tolist()
        cols["rel_error"] += rel.tolist()
        cols["outside_decades"] += outside.tolist()
        cols["interval_score"] += interval_score(low, high, actual, level).tolist()
        cols["method"] += [pred.method] * len(te)
        done.append(BacktestFold(
            name=name, n_train=len(tr), n_test=len(te), params=dict(res.params),
            rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))),
            coverage=float(inside.mean()), exponent_n=_exponent(res) if by_nd else math.nan,
            ok=bool(getattr(res, "ok", True))))
    if not done:
        raise DataError(f"no fold could be fitted and scored ({'; '.join(notes) or 'no folds'}); "
                        "hold out fewer runs or check the fit options")

    exponent_all = math.nan
    if by_nd:
        everything = runs if test is None else Runs.concat([runs, test], keys=["fit", "test"])
        if make_frontier is not None and test is None:
            everything = make_frontier(everything)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingLabWarning)
                exponent_all = _exponent(fit_fn(law_obj, everything, **fit_kwargs))
        except ScalingLabError as exc:
            notes.append(f"the fit on all runs failed ({exc}); no allocation error")
    text = ("fold", "run_id", "method")
    points = {k: np.asarray(v, dtype=object if k in text else (bool if k == "inside" else float))
              for k, v in cols.items()}
    return Backtest(law=law_obj.name, split=split, level=level, points=points, folds=tuple(done),
                    exponent_n_all=exponent_all, notes=tuple(dict.fromkeys(notes)),
                    options={"cutoff_flops": cutoff_flops, "holdout": holdout, "n_cutoffs": n_cutoffs,
                             "rel_tol": rel_tol, "min_train": min_train, "fit_kwargs": fit_kwargs,
                             "interval": interval, "frontier": getattr(frontier, "__name__", frontier),
                             "n_boot": n_boot, "boot_by": boot_by, "seed": seed})
