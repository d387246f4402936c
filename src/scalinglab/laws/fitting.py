"""The ``fit`` verb: a law, runs and an estimator in, a frozen :class:`FitResult` out.

``fit(law, runs, ...)`` picks the estimator (:mod:`~scalinglab.laws.objectives`), runs the
multi-start optimizer (:mod:`~scalinglab.laws._optimize`), checks the optimum
(:class:`~scalinglab.laws.diagnostics.FitDiagnostics`, one warning per problem) and returns a
:class:`~scalinglab.laws.result.FitResult` that records the law, the options and a fingerprint of
the data. What the result offers (intervals, predictions, save/load) is documented there.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DataError
from . import _optimize as opt
from .diagnostics import diagnose
from .law import Law, get_law
from .objectives import Objective
from .result import FitData, FitResult
from .seeds import NoiseModel, SeedSpread, noise_model, seed_spread, seed_study

if TYPE_CHECKING:
    from .runs import Runs

__all__ = ["fit"]


def _robust_scale(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def fit(law: str | Law, runs: Runs, *, loss: str = "huber", delta: float = 1e-3, space: str = "log",
        reduce: str = "sum", starts: Any = None, n_starts: int | None = None, seed: int = 0,
        n_boot: int = 0, boot_by: str | None = None, fixed: Mapping[str, float] | None = None,
        tau: float = 0.1, method: str = "batched", noise: Any = "auto") -> FitResult:
    """Fit a scaling law to runs.

    Parameters
    ----------
    law : str or Law
        A registered name (:func:`~scalinglab.laws.specs.list_laws`) or a Law instance.
    runs : Runs
        From :func:`~scalinglab.laws.tables.load_runs` (or ``Runs.from_arrays``).
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
        for i in opt.distinct_rows(fin_th, sol.final_objectives, 3)[1:]:
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
                    data=FitData(inputs=x, target=y, columns=columns), cov_internal=cov_int,
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


