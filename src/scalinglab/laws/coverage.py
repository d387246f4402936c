"""Coverage self-check: do the intervals cover the truth as often as they claim?

:func:`coverage_check` simulates many data sets from known parameters on a realistic design
(for Chinchilla a grid of model sizes x tokens per parameter), with multiplicative log-normal
noise of a realistic size (1% by default; the Chinchilla replication's residual scale is about
2-3%), fits each one with the same estimator and optimizer as :func:`~scalinglab.laws.fit`,
builds the nominal ``level`` intervals (bootstrap percentile and Wald) and reports, per parameter,
the fraction of replications whose interval contains the true value. A correct 95% interval
covers about 95% of the time; the binomial standard error with ``n_reps`` replications is
``sqrt(0.95 * 0.05 / n_reps)`` (0.022 at 100).

All replications are fitted in one batch (each from the true parameters: the check measures the
intervals, not the search for the optimum; :mod:`_optimize` handles the search), and all their
bootstrap refits in another. Measured results for every law are in docs/coverage.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError
from . import _optimize as opt
from .bootstrap import group_labels, percentile_interval, resample_weights
from .intervals import (
    Calibration,
    calibration_min_train,
    interval_score,
    outside_decades,
    rolling_folds,
    scale_coordinate,
)
from .law import Law, derive_inputs, get_law
from .objectives import Objective

__all__ = ["CoverageReport", "ExtrapolationCoverage", "coverage_check", "default_design", "extrapolation_coverage",
           "extrapolation_targets"]


def default_design(law: Law) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """A realistic design and true parameters for the built-in laws: ``(inputs, truth)``.

    * chinchilla: 12 model sizes from 5e7 to 5e9 x 10 tokens per parameter (3 to 120), 120 runs
      (Hoffmann et al. 2022 fitted 240 such runs); truth = the Besiroglu et al. (2024) estimates.
    * overtraining: 6 compute budgets x 5 token multipliers (5 to 160).
    * laws in compute: 16 budgets log-spaced over 4 decades.
    * downstream_link: 16 losses from 2.2 to 4.5.
    * data_constrained: 6 sizes x 3 unique-token budgets x 7 epoch counts (1 to 64), 126 runs.
    """
    name = law.name
    if name == "chinchilla":
        M = np.array([3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 60.0, 80.0, 120.0])
        N = np.repeat(np.logspace(np.log10(5e7), np.log10(5e9), 12), M.size)
        M = np.tile(M, 12)
        return ({"n_params": N, "n_tokens": N * M},
                {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658})
    if name == "overtraining":
        C = np.repeat(np.logspace(18, 21, 6), 5)
        M = np.tile([5.0, 10.0, 20.0, 40.0, 160.0], 6)
        return {"flops": C, "tokens_per_param": M}, {"E": 1.8, "a": 650.0, "b": 2830.0, "eta": 0.17}
    if name == "saturating_power_law":
        return {"flops": np.logspace(17, 21, 16)}, {"A": 1062.0, "alpha": 0.15, "E": 1.8}
    if name == "power_law":
        return {"flops": np.logspace(17, 21, 16)}, {"A": 27.0, "alpha": 0.05}
    if name == "saturating_error":
        return {"flops": np.logspace(16, 22, 16)}, {"a": 2.0e5, "b": 1e18, "c": -0.3, "d": 0.1}
    if name == "data_constrained":
        # Muennighoff et al. 2023-style grid: 6 sizes x unique tokens U = 2, 6, 30 tokens per
        # parameter (the first two leave excess parameters) x 1 to 64 epochs; truth = Chinchilla
        # terms of Besiroglu et al. (2024) with the paper's R*_D = 15.4, R*_N = 5.3.
        N = np.logspace(np.log10(8e7), np.log10(2e9), 6)
        N, Um, ep = (a.ravel() for a in np.meshgrid(N, [2.0, 6.0, 30.0], [1, 2, 4, 8, 16, 32, 64], indexing="ij"))
        return ({"n_params": N, "n_tokens": N * Um * ep, "n_unique_tokens": N * Um},
                {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658,
                 "RD_star": 15.4, "RN_star": 5.3})
    if name == "downstream_link":
        return {"loss": np.linspace(2.2, 4.5, 16)}, {"eps": 0.9, "k": 3.6, "gamma": 1.0}
    raise ConfigError(f"no default design for law {name!r}; pass inputs= and params= to coverage_check")


@dataclass(frozen=True)
class CoverageReport:
    """Empirical coverage of nominal intervals on simulated data.

    Attributes
    ----------
    law : str
    truth : dict
        True parameters.
    level : float
        Nominal coverage.
    coverage : dict of method -> dict of param -> float
        Fraction of replications whose interval contains the truth.
    width : dict of method -> dict of param -> float
        Median interval width relative to the true value.
    n_reps, n_boot, n_points : int
    noise : float
    options : dict
        The fit options used.
    n_failed : int
        Replications whose fit did not converge (excluded).
    """

    law: str
    truth: Mapping[str, float]
    level: float
    coverage: Mapping[str, Mapping[str, float]]
    width: Mapping[str, Mapping[str, float]]
    n_reps: int
    n_boot: int
    n_points: int
    noise: float
    options: Mapping[str, Any] = field(default_factory=dict)
    n_failed: int = 0

    def __post_init__(self) -> None:
        freeze_fields(self)

    @property
    def binomial_se(self) -> float:
        """Standard error of a coverage fraction at the nominal level."""
        return math.sqrt(self.level * (1 - self.level) / max(self.n_reps - self.n_failed, 1))

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "truth": dict(self.truth), "level": self.level,
                "coverage": {m: dict(v) for m, v in self.coverage.items()},
                "width": {m: dict(v) for m, v in self.width.items()},
                "n_reps": self.n_reps, "n_boot": self.n_boot, "n_points": self.n_points,
                "noise": self.noise, "options": dict(self.options), "n_failed": self.n_failed}

    def as_text(self) -> str:
        params = list(self.truth)
        lines = [f"Coverage of nominal {self.level:.0%} intervals: {self.law} "
                 f"({self.n_reps} replications, {self.n_points} points, noise {self.noise:g}, "
                 f"loss {self.options.get('loss')}; binomial se {self.binomial_se:.3f})",
                 f"{'method':<10}" + "".join(f"{p:>10}" for p in params)]
        for m, cov in self.coverage.items():
            lines.append(f"{m:<10}" + "".join(f"{cov[p]:>10.3f}" for p in params))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        from html import escape

        params = list(self.truth)
        head = "".join(f"<th>{escape(p)}</th>" for p in params)
        rows = "".join(f"<tr><td>{escape(m)}</td>" + "".join(f"<td>{c[p]:.3f}</td>" for p in params) + "</tr>"
                       for m, c in self.coverage.items())
        return (f"<table><caption>{escape(self.law)}: coverage of {self.level:.0%} intervals</caption>"
                f"<tr><th>method</th>{head}</tr>{rows}</table>")


def coverage_check(law: str | Law, *, params: Mapping[str, float] | None = None,
                   inputs: Mapping[str, Sequence[float]] | None = None, n_reps: int = 200,
                   n_boot: int = 200, level: float = 0.95, noise: float = 0.01,
                   methods: Sequence[str] = ("bootstrap", "wald"), seed: int = 0,
                   loss: str = "huber", delta: float = 1e-3, space: str = "log",
                   reduce: str = "sum", tau: float = 0.1) -> CoverageReport:
    """Measure how often nominal intervals cover the true parameters.

    Parameters
    ----------
    law : str or Law
    params, inputs : optional
        True parameters and the design (law inputs). Default: :func:`default_design`.
    n_reps : int
        Simulated data sets.
    n_boot : int
        Bootstrap refits per data set (for ``"bootstrap"``).
    level : float
        Nominal interval level.
    noise : float
        Standard deviation of the multiplicative log-normal noise: ``y = f exp(noise * z)``.
    methods : sequence of {"bootstrap", "wald"}
    seed : int
        Makes the whole check deterministic.
    loss, delta, space, reduce, tau
        Estimator options, as in :func:`~scalinglab.laws.fit`.

    Returns
    -------
    CoverageReport
    """
    law = get_law(law)
    if inputs is None or params is None:
        d_in, d_truth = default_design(law)
        inputs = inputs if inputs is not None else d_in
        params = params if params is not None else d_truth
    for m in methods:
        if m not in ("bootstrap", "wald"):
            raise ConfigError(f"methods must be 'bootstrap' and/or 'wald'; got {m!r}")
    if n_reps < 2:
        raise ConfigError(f"n_reps must be >= 2; got {n_reps}")
    x = derive_inputs(law.inputs, inputs)
    truth = law.vector(params)
    f_true = law(truth, **x).reshape(-1)
    n = f_true.shape[0]
    rng = np.random.default_rng(seed)
    Y = f_true[None, :] * np.exp(noise * rng.standard_normal((n_reps, n)))
    objective = Objective(loss=loss, space=space, reduce=reduce, delta=delta, tau=tau,
                          lad_scale=float(np.median(np.abs(f_true))) if space == "linear" else 1.0)
    problem = opt.Problem(law, x, f_true, objective)
    ones = np.ones((n_reps, n))
    P_hat, _, ok = opt.solve_resamples(problem, ones, np.repeat(truth[None, :], n_reps, axis=0),
                                       y=Y, per_row_warm=True)
    th_hat = problem.to_internal(P_hat)
    th_true = problem.to_internal(truth[None, :])[0]
    names = law.param_names
    coverage: dict[str, dict[str, float]] = {}
    width: dict[str, dict[str, float]] = {}
    good = ok & np.all(np.isfinite(P_hat), axis=1)
    if "bootstrap" in methods:
        W = np.concatenate([resample_weights(n, n_boot, seed=seed * 100003 + r + 1) for r in range(n_reps)])
        Yb = np.repeat(Y, n_boot, axis=0)
        warm = np.repeat(P_hat, n_boot, axis=0)
        Pb, _, _ = opt.solve_resamples(problem, W, warm, y=Yb, per_row_warm=True)
        Pb = Pb.reshape(n_reps, n_boot, -1)
        lo, hi = percentile_interval(np.moveaxis(Pb, 1, 0), level)         # (n_reps, P)
        cover = (lo <= truth) & (truth <= hi)
        coverage["bootstrap"] = {k: float(np.mean(cover[good, j])) for j, k in enumerate(names)}
        width["bootstrap"] = {k: float(np.median((hi - lo)[good, j]) / max(abs(truth[j]), 1e-300))
                              for j, k in enumerate(names)}
    if "wald" in methods:
        from scipy.stats import t as student_t

        z = float(student_t.ppf(0.5 + level / 2, max(n - len(names), 1)))   # as FitResult.ci
        p = P_hat
        cols = tuple(p[:, j:j + 1] for j in range(p.shape[1]))
        with np.errstate(all="ignore"):
            f, grads = law._evaluate(cols, problem.x, True)
            f = np.broadcast_to(f, (n_reps, n))
            r, drdf = objective.residuals(f, Y)
            J = np.stack([np.broadcast_to(grads[j], (n_reps, n)) * drdf * (p[:, j:j + 1] if problem.is_log[j] else 1.0)
                          for j in range(len(names))], axis=1)           # (R, P, n)
            JtJ = np.einsum("rpn,rqn->rpq", J, J)
            s2 = np.sum(r * r, axis=1) / max(n - len(names), 1)
            cov = s2[:, None, None] * np.linalg.pinv(JtJ, rcond=1e-15)
            se = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0, None))
        lo, hi = th_hat - z * se, th_hat + z * se
        cover = (lo <= th_true) & (th_true <= hi)
        coverage["wald"] = {k: float(np.mean(cover[good, j])) for j, k in enumerate(names)}
        nat_lo, nat_hi = problem.to_natural(lo), problem.to_natural(hi)
        width["wald"] = {k: float(np.median((nat_hi - nat_lo)[good, j]) / max(abs(truth[j]), 1e-300))
                         for j, k in enumerate(names)}
    return CoverageReport(law=law.name, truth=law.as_dict(truth), level=level, coverage=coverage, width=width,
                          n_reps=n_reps, n_boot=n_boot if "bootstrap" in methods else 0, n_points=n,
                          noise=noise, options={"loss": loss, "delta": delta, "space": space, "reduce": reduce,
                                                "tau": tau, "seed": seed},
                          n_failed=int(n_reps - good.sum()))


# ---------------------------------------------------------------------------------------------
# prediction intervals beyond the data
# ---------------------------------------------------------------------------------------------

def extrapolation_targets(law: Law, inputs: Mapping[str, np.ndarray], factor: float) -> dict[str, np.ndarray]:
    """The design's largest-compute point moved ``factor`` x further in compute (shape kept).

    Laws of compute: ``flops * factor`` (other inputs, e.g. tokens per parameter, unchanged).
    Laws of N and D: ``N * sqrt(factor)`` and ``D * sqrt(factor)`` (same tokens per parameter).
    """
    x = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in inputs.items()}
    if "flops" in law.inputs:
        i = int(np.argmax(x["flops"]))
        out = {k: v[i:i + 1].copy() for k, v in x.items()}
        out["flops"] = out["flops"] * factor
        return out
    if law.of_n_and_d:
        i = int(np.argmax(x["n_params"] * x["n_tokens"]))
        s = math.sqrt(factor)
        return {"n_params": x["n_params"][i:i + 1] * s, "n_tokens": x["n_tokens"][i:i + 1] * s}
    raise ConfigError(f"{law.name!r} is not a law of compute or of N and D: there is no 'beyond the data' "
                      "in compute to simulate")


@dataclass(frozen=True)
class ExtrapolationCoverage:
    """Coverage of prediction intervals for new runs beyond simulated data.

    Attributes
    ----------
    law : str
    level : float
    factors : tuple of float
        Targets at these multiples of the design's largest compute (1 = inside the data).
    coverage, width, score : dict of method -> dict of factor -> float
        Fraction of replications whose interval held the new run; median width relative to the
        true value; mean interval score (Gneiting & Raftery 2007) relative to the true value.
    n_reps, n_boot, n_folds, n_points : int
    noise : float
    by : str or None
        Resampled unit of the bootstraps.
    shapes : dict of str -> int
        How often each growth shape was chosen.
    options : dict
    """

    law: str
    level: float
    factors: tuple[float, ...]
    coverage: Mapping[str, Mapping[float, float]]
    width: Mapping[str, Mapping[float, float]]
    score: Mapping[str, Mapping[float, float]]
    n_reps: int
    n_boot: int
    n_folds: int
    n_points: int
    noise: float
    by: str | None
    shapes: Mapping[str, int]
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def binomial_se(self) -> float:
        return math.sqrt(self.level * (1 - self.level) / max(self.n_reps, 1))

    def to_dict(self) -> dict[str, Any]:
        def keyed(d):
            return {m: {f"{f:g}": v for f, v in row.items()} for m, row in d.items()}

        return {"law": self.law, "level": self.level, "factors": list(self.factors),
                "coverage": keyed(self.coverage), "width": keyed(self.width), "score": keyed(self.score),
                "n_reps": self.n_reps, "n_boot": self.n_boot, "n_folds": self.n_folds,
                "n_points": self.n_points, "noise": self.noise, "by": self.by, "shapes": dict(self.shapes),
                "options": dict(self.options)}

    def as_text(self) -> str:
        lines = [f"Coverage of {self.level:.0%} prediction intervals for a new run beyond the data: {self.law} "
                 f"({self.n_reps} replications, {self.n_points} points, noise {self.noise:g}, bootstrap by "
                 f"{self.by or 'run'}; binomial se {self.binomial_se:.3f})",
                 f"{'method':<11}{'x data max':>11}{'coverage':>10}{'width':>9}{'score':>9}"]
        for m in self.coverage:
            for f in self.factors:
                lines.append(f"{m:<11}{f:>11g}{self.coverage[m][f]:>10.3f}{self.width[m][f]:>9.4f}"
                             f"{self.score[m][f]:>9.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()


def extrapolation_coverage(law: str | Law, *, params: Mapping[str, float] | None = None,
                           inputs: Mapping[str, Sequence[float]] | None = None,
                           factors: Sequence[float] = (1.0, 10.0, 100.0), n_reps: int = 200, n_boot: int = 200,
                           n_folds: int = 6, level: float = 0.95, noise: float = 0.01, by: str | None = "auto",
                           seed: int = 0, loss: str = "huber", delta: float = 1e-3, space: str = "log",
                           reduce: str = "sum", tau: float = 0.1,
                           data_law: str | Law | None = None, weighting: str = "fold") -> ExtrapolationCoverage:
    """How often prediction intervals hold a new run at ``factors`` x the data's largest compute.

    Simulates ``n_reps`` data sets from known parameters on a design (default
    :func:`default_design`; multiplicative log-normal ``noise``), fits each, and builds for a new
    run at :func:`extrapolation_targets` (with its own noise) the ``"bootstrap"`` and the
    ``"calibrated"`` interval exactly as ``FitResult.predict`` does: the same bootstrap with
    residual draws, the same rolling-origin folds (:func:`~scalinglab.laws.intervals.rolling_folds`)
    refitted and bootstrapped per replication, the same :class:`~scalinglab.laws.intervals.Calibration`.
    All replications are fitted in one batch per step (each from the true parameters). ``by``
    is the bootstrap unit (``"auto"``: model sizes when the design has >= 10 with repeats, as
    ``FitResult.with_calibration``). With ``data_law`` the data come from another law (``params``
    and the default design are then that law's): a misspecified fit, the case calibration is for.

    Returns
    -------
    ExtrapolationCoverage
    """
    law = get_law(law)
    gen = law if data_law is None else get_law(data_law)
    if inputs is None or params is None:
        d_in, d_truth = default_design(gen)
        inputs = inputs if inputs is not None else d_in
        params = params if params is not None else d_truth
    if n_reps < 2:
        raise ConfigError(f"n_reps must be >= 2; got {n_reps}")
    x_gen = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in derive_inputs(gen.inputs, inputs).items()}
    x = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in derive_inputs(law.inputs, inputs).items()}
    gen_truth = gen.vector(params)
    f_true = gen(gen_truth, **x_gen).reshape(-1)
    n = f_true.shape[0]
    rng = np.random.default_rng(seed)
    Y = f_true[None, :] * np.exp(noise * rng.standard_normal((n_reps, n)))
    objective = Objective(loss=loss, space=space, reduce=reduce, delta=delta, tau=tau,
                          lad_scale=float(np.median(np.abs(f_true))) if space == "linear" else 1.0)
    log = space == "log"
    groups = None
    if by == "auto":
        by = None
        if "n_params" in x:
            ids = group_labels(x["n_params"])
            if 10 <= int(ids.max()) + 1 < n:
                by, groups = "n_params", ids
    elif by is not None:
        if by not in x:
            raise ConfigError(f"by must be None, 'auto' or an input of the design ({', '.join(x)}); got {by!r}")
        groups = group_labels(x[by])

    def space_of(v):
        with np.errstate(all="ignore"):
            return np.log(v) if log else v

    def fit_all(idx: np.ndarray, warm: np.ndarray, boot_seed: int):
        """Fit every replication on the points ``idx``, then bootstrap each: (P (R, k), Pb (R, B, k), resid)."""
        xs = {k: v[idx] for k, v in x.items()}
        pb = opt.Problem(law, xs, f_true[idx], objective)
        Ys = Y[:, idx]
        P, _, _ = opt.solve_resamples(pb, np.ones((n_reps, idx.size)), warm, y=Ys, per_row_warm=True)
        g = None if groups is None else group_labels(groups[idx])
        if g is not None and int(g.max()) + 1 < 2:
            g = None
        W = np.concatenate([resample_weights(idx.size, n_boot, seed=boot_seed * 100003 + r + 1, groups=g)
                            for r in range(n_reps)])
        Pb, _, _ = opt.solve_resamples(pb, W, np.repeat(P, n_boot, axis=0), y=np.repeat(Ys, n_boot, axis=0),
                                       per_row_warm=True)
        resid = space_of(law(P, **xs).reshape(n_reps, -1)) - space_of(Ys)
        return P, Pb.reshape(n_reps, n_boot, -1), resid, xs

    def rel_draws(P, Pb, resid, xt, r, rseed):
        mean = law(P[r], **xt).reshape(-1)
        draws = law(Pb[r], **xt).reshape(n_boot, -1)
        e = np.random.default_rng(rseed).choice(resid[r][np.isfinite(resid[r])], size=n_boot)[:, None]
        return space_of(draws) - e - space_of(mean), mean

    if gen is law:
        truth = gen_truth
    else:     # the fitted law's best approximation of the noiseless data: the warm start
        truth = opt.solve_batch(opt.Problem(law, x, f_true, objective), law.default_starts(inputs=x, target=f_true)).params
    all_idx = np.arange(n)
    P, Pb, resid, _ = fit_all(all_idx, np.repeat(truth[None, :], n_reps, axis=0), seed + 1)
    k = law.n_params
    order = scale_coordinate(law, x)
    masks = rolling_folds(order, n_folds=int(n_folds), min_train=calibration_min_train(k))
    fold_out = []
    for j, m in enumerate(masks):
        tr, te = np.flatnonzero(m), np.flatnonzero(~m)
        Pf, Pbf, rf, xs = fit_all(tr, P, seed + 2 + j)
        xte = {kk: v[te] for kk, v in x.items()}
        dist = outside_decades(law, xs, xte)
        fold_out.append((j, tr, te, Pf, Pbf, rf, xte, dist, float(order[tr].max())))

    methods = ("bootstrap", "calibrated")
    cov = {m: {} for m in methods}
    wid = {m: {} for m in methods}
    sco = {m: {} for m in methods}
    shapes: dict[str, int] = {}
    cals = []
    for r in range(n_reps):
        errs, draws, dists, folds_id, folds = [], [], [], [], []
        for j, tr, te, Pf, Pbf, rf, xte, dist, cut in fold_out:
            rd, mean = rel_draws(Pf, Pbf, rf, xte, r, seed * 7919 + 31 * j + r)
            errs.append(space_of(Y[r, te]) - space_of(mean))
            draws.append(rd)
            dists.append(dist)
            folds_id.append(np.full(te.size, j))
            folds.append({"cutoff": cut, "n_train": int(tr.size), "n_test": int(te.size)})
        if folds:
            cal = Calibration.from_folds(np.concatenate(errs), np.concatenate(draws, axis=1),
                                         np.concatenate(dists), np.concatenate(folds_id), folds, space=space,
                                         by=by, n_boot=n_boot, seed=seed, weighting=weighting)
        else:
            cal = Calibration(errors=np.zeros(0), draws=np.zeros((n_boot, 0)), distance=np.zeros(0),
                              fold=np.zeros(0, dtype=int), folds=(), shape="brownian", tau=0.0, space=space)
        shapes[cal.shape] = shapes.get(cal.shape, 0) + 1
        cals.append(cal)
    rng_new = np.random.default_rng(seed + 999)
    for fct in factors:
        target = extrapolation_targets(law, x, float(fct))
        xt = derive_inputs(law.inputs, target)
        ft = float(gen(gen_truth, **derive_inputs(gen.inputs, target)).reshape(-1)[0])
        y_new = ft * np.exp(noise * rng_new.standard_normal(n_reps))
        d = outside_decades(law, x, xt)
        res = {m: [] for m in methods}
        for r in range(n_reps):
            rd, mean = rel_draws(P, Pb, resid, xt, r, seed * 104729 + r)
            lo, hi = percentile_interval(rd, level)
            for m in methods:
                if m == "calibrated":
                    L, H = cals[r].halfwidths(-lo, hi, d, level)
                else:
                    L, H = -lo, hi
                if log:
                    low, high = mean * np.exp(-L), mean * np.exp(H)
                else:
                    low, high = mean - L, mean + H
                res[m].append((float(low[0]), float(high[0])))
        for m in methods:
            b = np.array(res[m])
            inside = (b[:, 0] <= y_new) & (y_new <= b[:, 1])
            cov[m][float(fct)] = float(np.mean(inside))
            wid[m][float(fct)] = float(np.median((b[:, 1] - b[:, 0]) / ft))
            sco[m][float(fct)] = float(np.mean(interval_score(b[:, 0], b[:, 1], y_new, level)) / ft)
    return ExtrapolationCoverage(law=law.name if gen is law else f"{law.name} fitted to {gen.name} data", level=level, factors=tuple(float(f) for f in factors), coverage=cov,
                                 width=wid, score=sco, n_reps=n_reps, n_boot=n_boot, n_folds=len(masks), n_points=n,
                                 noise=noise, by=by, shapes=shapes,
                                 options={"loss": loss, "delta": delta, "space": space, "reduce": reduce,
                                          "tau": tau, "seed": seed})
