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

Every held-out run gets a prediction interval from ``FitResult.predict(level=...)`` (parameter
uncertainty + residual scatter); ``coverage`` is the fraction inside. Coverage near the nominal
level says the intervals are honest; well below it says the law's form or its interval is wrong
for extrapolation. Held-out points of one fold share the fitted parameters, so their errors are
correlated: judge coverage over many points or folds, not one.

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

from ..config import freeze_fields
from ..errors import ConfigError, DataError, ScalingLabError, ScalingLabWarning
from ..units import parse_quantity
from .data import Runs
from .frontier import isoflop_slices
from .summary import fmt_compact as _fmt
from .summary import tables_summary as _summary

__all__ = ["Backtest", "BacktestFold", "backtest"]

SPLITS = ("cutoff", "rolling", "leave_one_size_out", "leave_one_budget_out")
COLUMNS = ("fold", "run_id", "flops", "n_params", "n_tokens", "actual", "predicted", "low", "high",
           "inside", "error", "rel_error")


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
        (predicted - actual) and ``rel_error`` (error / actual).
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
                f"coverage={self.coverage:.2f} at level {self.level})")

    def to_frame(self):
        """The points as a pandas DataFrame (needs pandas)."""
        from .._optional import require

        pd = require("pandas", extra="pandas", purpose="Backtest.to_frame()")
        return pd.DataFrame({k: np.asarray(v) for k, v in self.points.items()})

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "split": self.split, "level": self.level,
                "rmse": self.rmse, "mae": self.mae, "rmse_rel": self.rmse_rel, "mae_rel": self.mae_rel,
                "coverage": self.coverage, "exponent_n_all": self.exponent_n_all,
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
                f"coverage of {100 * self.level:g}% intervals": f"{self.coverage:.2f} [{lo:.2f}, {hi:.2f}]"}
        if math.isfinite(self.exponent_n_all):
            info["allocation exponent a (all runs)"] = f"{self.exponent_n_all:.4f}"
        fold_rows = [[f.name, str(f.n_train), str(f.n_test), f"{f.rmse:.4g}", f"{f.mae:.4g}", f"{f.coverage:.2f}",
                      f"{f.exponent_n:.4f}" if math.isfinite(f.exponent_n) else "-", "yes" if f.ok else "no"]
                     for f in self.folds]
        P = self.points
        pt_rows = [[str(P["fold"][i]), str(P["run_id"][i]), _fmt(P["flops"][i]), f"{P['actual'][i]:.4g}",
                    f"{P['predicted'][i]:.4g}", f"[{P['low'][i]:.4g}, {P['high'][i]:.4g}]",
                    "yes" if P["inside"][i] else "NO", f"{P['rel_error'][i]:+.2%}"] for i in range(self.n_points)]
        tables = {"folds": (["fold", "train", "test", "rmse", "mae", "coverage", "exponent a", "fit ok"], fold_rows),
                  "held-out runs": (["fold", "run_id", "flops", "actual", "predicted", "interval", "inside",
                                     "rel. error"], pt_rows)}
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
    from .allocate import allocate

    try:
        return float(allocate(res, approach=3, n_boot=0).exponent_n)
    except ScalingLabError:
        return math.nan


# ---------------------------------------------------------------------------------------------
# the verb
# ---------------------------------------------------------------------------------------------

def backtest(law: Any, runs: Runs, *, cutoff_flops: float | str | None = None,
             holdout: int | str | None = None, split: str = "cutoff", n_cutoffs: int = 4,
             rel_tol: float = 0.1, level: float = 0.95, min_train: int | None = None,
             fit_kwargs: Mapping[str, Any] | None = None, n_boot: int = 0, seed: int = 0) -> Backtest:
    """Fit ``law`` on part of ``runs`` and score its predictions for the rest.

    Parameters
    ----------
    law : str or Law
        The law to fit (name from :data:`~scalinglab.laws.specs.LAWS` or an instance).
    runs : Runs
    cutoff_flops : float or str, optional
        ``split="cutoff"``: fit runs with compute ``<= cutoff_flops``, predict those above.
    holdout : int or str, optional
        ``split="cutoff"``: hold out the ``"largest k"`` (or ``"largest 20%"``) runs by compute
        instead. Default when neither is given: ``"largest 25%"``.
    split : {"cutoff", "rolling", "leave_one_size_out", "leave_one_budget_out"}
    n_cutoffs : int
        ``split="rolling"``: number of cutoffs, log-spaced from the 30th percentile of compute to
        the second-largest run.
    rel_tol : float
        ``split="leave_one_budget_out"``: relative tolerance grouping runs into budgets.
    level : float
        Level of the prediction intervals.
    min_train : int, optional
        Folds with fewer training runs are skipped (default: number of parameters + 2).
    fit_kwargs : dict, optional
        Passed to :func:`~scalinglab.laws.fit` for every fold (``loss=``, ``n_starts=`` ...).
    n_boot, seed : int
        With ``n_boot > 0`` every fold's fit is bootstrapped (``with_bootstrap(n_boot=, seed=)``)
        and the prediction intervals come from the draws; otherwise they are the fit's
        covariance-based (Wald) intervals, approximate under a robust ``loss``.

    Returns
    -------
    Backtest

    Raises
    ------
    ConfigError
        Bad split options.
    DataError
        No fold has enough training runs.

    Examples
    --------
    >>> import numpy as np
    >>> from scalinglab.laws.data import Runs
    >>> C = np.logspace(17, 20, 12)
    >>> y = (2 + 300 * C ** -0.15) * np.exp(np.random.default_rng(1).normal(0, 0.002, C.size))
    >>> bt = backtest("saturating_power_law", Runs.from_arrays(flops=C, target=y),
    ...               holdout="largest 3", fit_kwargs={"loss": "ls"})
    >>> bt.n_points, bool(bt.mae_rel < 0.01), list(bt.points["run_id"])
    (3, True, ['row9', 'row10', 'row11'])

    Notes
    -----
    Fits that raise are skipped and named in the notes; warnings of the fold fits (convergence,
    bounds) are collected into the notes, not re-emitted. The prediction interval is the fit's own
    (see ``FitResult.predict``): its coverage here measures how honest it is when extrapolating.
    """
    from . import fit as fit_fn
    from .specs import get_law

    law_obj = get_law(law) if isinstance(law, str) else law
    if not isinstance(runs, Runs):
        raise DataError(f"backtest needs Runs (from load_runs); got {type(runs).__name__}")
    if split not in SPLITS:
        from ..errors import suggest

        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}.{suggest(str(split), SPLITS)}")
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    if split != "cutoff" and (cutoff_flops is not None or holdout is not None):
        raise ConfigError(f"cutoff_flops= and holdout= apply to split='cutoff', not {split!r}")
    fit_kwargs = dict(fit_kwargs or {})
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 0 or n_boot == 1:
        raise ConfigError(f"n_boot must be 0 (no bootstrap) or an integer >= 2; got {n_boot!r}")
    min_train = len(law_obj.param_names) + 2 if min_train is None else int(min_train)
    folds = _folds(runs, split, cutoff_flops, holdout, n_cutoffs, rel_tol)
    by_nd = law_obj.of_n_and_d

    notes: list[str] = []
    cols: dict[str, list] = {c: [] for c in COLUMNS}
    done: list[BacktestFold] = []
    for name, test in folds:
        train = ~test
        if test.sum() == 0:
            notes.append(f"fold {name!r}: nothing to predict; skipped")
            continue
        if train.sum() < min_train:
            notes.append(f"fold {name!r}: only {int(train.sum())} training runs (< {min_train}); skipped")
            continue
        tr, te = runs.subset(train), runs.subset(test)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ScalingLabWarning)
            try:
                res = fit_fn(law_obj, tr, **fit_kwargs)
                if n_boot:
                    res = res.with_bootstrap(n_boot=n_boot, seed=seed)
                pred = res.predict(level=level, **law_obj.inputs_from(te))
            except ScalingLabError as exc:
                notes.append(f"fold {name!r}: the fit failed ({exc}); skipped")
                continue
        for w in caught:
            if issubclass(w.category, ScalingLabWarning):
                notes.append(f"fold {name!r}: {w.category.__name__}: {w.message}")
        mean, low, high = (np.asarray(x, dtype=float).reshape(-1) for x in (pred.mean, pred.low, pred.high))
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
        done.append(BacktestFold(
            name=name, n_train=len(tr), n_test=len(te), params=dict(res.params),
            rmse=float(np.sqrt(np.mean(err ** 2))), mae=float(np.mean(np.abs(err))),
            coverage=float(inside.mean()), exponent_n=_exponent(res) if by_nd else math.nan,
            ok=bool(getattr(res, "ok", True))))
    if not done:
        raise DataError(f"no fold could be fitted and scored ({'; '.join(notes) or 'no folds'}); "
                        "hold out fewer runs or pass min_train=")

    exponent_all = math.nan
    if by_nd:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ScalingLabWarning)
                exponent_all = _exponent(fit_fn(law_obj, runs, **fit_kwargs))
        except ScalingLabError as exc:
            notes.append(f"the fit on all runs failed ({exc}); no allocation error")
    points = {k: np.asarray(v, dtype=object if k in ("fold", "run_id") else (bool if k == "inside" else float))
              for k, v in cols.items()}
    return Backtest(law=law_obj.name, split=split, level=level, points=points, folds=tuple(done),
                    exponent_n_all=exponent_all, notes=tuple(dict.fromkeys(notes)),
                    options={"cutoff_flops": cutoff_flops, "holdout": holdout, "n_cutoffs": n_cutoffs,
                             "rel_tol": rel_tol, "min_train": min_train, "fit_kwargs": fit_kwargs,
                             "n_boot": n_boot, "seed": seed})
