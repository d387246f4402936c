"""Diagnostics of a fit: is the reported optimum trustworthy? (iminuit's FMin, for scaling laws)

:func:`diagnose` inspects an optimizer :class:`~scalinglab.laws._optimize.Solution`: agreement
between starts, parameters at bounds, conditioning, and an independent optimality check (more
Levenberg-Marquardt iterations from the reported optimum). :meth:`FitDiagnostics.problems`
turns each finding into a warning class and a message; ``fit`` emits them and the summary
numbers them as notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConvergenceWarning, FitAtBoundWarning, UnreliableErrorsWarning
from . import _optimize as opt

__all__ = ["FitDiagnostics", "diagnose"]

AGREE_RTOL = 1e-6          # starts within this relative objective of the best "agree"
BOUND_RTOL = 1e-6          # internal distance to a bound that counts as "at the bound"
MOVED_RTOL = 1e-6          # an optimum closer than this to its start "never moved"
GAP_RTOL = 1e-6            # an optimality check that still improves more than this: not converged
COND_LIMIT = 1e12          # condition number above which parameters are poorly determined


@dataclass(frozen=True)
class FitDiagnostics:
    """How trustworthy the optimum is (iminuit's FMin, for scaling laws).

    Attributes
    ----------
    converged : bool
        The optimizer met its (scale-free) stopping rule at the best start.
    n_starts : int
        Starts tried.
    n_starts_run : int
        Starts run to convergence (the best distinct ones after screening).
    n_starts_agreeing : int
        Of those, how many reached the best objective within a relative 1e-6.
    optimum_spread : float
        Largest relative parameter difference among the agreeing starts: large values mean the
        data do not pin the parameters down (a flat valley).
    at_bound : tuple of str
        Parameters sitting at one of their bounds.
    never_moved : bool
        The best optimum equals its starting point. A problem only when the optimality check
        (``objective_gap``) shows the start was not already the optimum: then the optimizer
        stopped at once.
    cond_number : float
        Condition number of the column-scaled Gauss-Newton matrix J^T J at the optimum.
    n_points : int
    objective : float
    n_iter : int
        Iterations of the best start.
    objective_gap : float
        Relative objective decrease that further Levenberg-Marquardt iterations from the reported
        optimum still found (an independent optimality check; 0 at a true optimum). Above 1e-6
        the fit is marked not converged.
    """

    converged: bool
    n_starts: int
    n_starts_run: int
    n_starts_agreeing: int
    optimum_spread: float
    at_bound: tuple[str, ...]
    never_moved: bool
    cond_number: float
    n_points: int
    objective: float
    n_iter: int
    n_params: int = 0
    robust_loss: bool = False
    objective_gap: float = 0.0


    def __post_init__(self) -> None:
        freeze_fields(self)

    def problems(self) -> list[tuple[type[Warning], str]]:
        """``(warning class, message)`` for every problem found (also the summary's notes)."""
        out: list[tuple[type[Warning], str]] = []
        if self.never_moved and self.objective_gap > GAP_RTOL:
            out.append((ConvergenceWarning, f"the best fit never moved from its starting point although "
                        f"further iterations lower the objective by {self.objective_gap:.2g} (relative): the "
                        "optimizer stopped at once (absolute tolerances on a tiny objective?). Do not trust "
                        "these parameters."))
        elif self.objective_gap > GAP_RTOL:
            out.append((ConvergenceWarning, f"the optimizer stopped before the optimum: further iterations "
                        f"lower the objective by {self.objective_gap:.2g} (relative). The parameters are not "
                        "at the minimum (absolute tolerances on a small objective stop SciPy early)."))
        elif not self.converged:
            out.append((ConvergenceWarning, "the optimizer did not meet its stopping rule at the best "
                        "start; the optimum may be inexact. Check the data or pass starts= near the optimum."))
        if self.n_starts_run > 1 and self.n_starts_agreeing < 2:
            out.append((ConvergenceWarning, f"only {self.n_starts_agreeing} of {self.n_starts_run} starts "
                        "run to convergence reached the best objective; the optimum may be hard to find. "
                        "Try more starts (n_starts=) or a different grid."))
        if self.optimum_spread > 1e-3:
            out.append((ConvergenceWarning, f"starts reaching the same objective disagree on the "
                        f"parameters by up to {self.optimum_spread:.2g} (relative): the optimum is not "
                        "unique; some parameters are not identified by these data."))
        for name in self.at_bound:
            out.append((FitAtBoundWarning, f"{name} is at its bound. Widen the bound (Law(bounds=...)) "
                        "or fix the parameter (fixed=); intervals for it are not valid."))
        if self.cond_number > COND_LIMIT:
            out.append((ConvergenceWarning, f"the fit is ill-conditioned (condition number "
                        f"{self.cond_number:.2g}); parameters trade off against each other."))
        if self.n_points <= self.n_params:
            out.append((UnreliableErrorsWarning, f"{self.n_points} points for {self.n_params} parameters: fewer "
                        "points than parameters (no residual degrees of freedom), so the law is not identified: "
                        "other parameter values fit these points as well, and these estimates are arbitrary. "
                        "Fit more runs or fix parameters (fixed=); no interval can be formed."))
        elif self.n_points == self.n_params + 1:
            out.append((UnreliableErrorsWarning, f"{self.n_points} points for {self.n_params} parameters: "
                        "too few for standard errors or intervals to mean anything."))
        return out

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems()

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["at_bound"] = list(self.at_bound)
        return d


def diagnose(problem: opt.Problem, sol: opt.Solution) -> tuple[FitDiagnostics, np.ndarray | None]:
    """Diagnostics of ``sol`` and the Wald covariance in the optimizer's coordinates (or None).

    The covariance is ``s^2 (J^T J)^-1`` with ``s^2 = sum r^2 / (n - k)`` (least-squares form;
    approximate under robust losses, which :class:`FitResult` flags).
    """
    law = problem.law
    th = problem.to_internal(sol.params[None, :])[0]
    wt = np.ones(problem.n)
    _, g, H, _ = problem.evaluate(th[None, :], wt)
    # Gauss-Newton matrix of the residuals (least-squares form) for conditioning and Wald errors
    p = problem.to_natural(th[None, :])
    cols = tuple(p[:, j:j + 1] for j in range(p.shape[1]))
    with np.errstate(all="ignore"):
        f, grads = law._evaluate(cols, problem.x, True)
        f = np.broadcast_to(f, (1, problem.n))
        r, drdf = problem.objective.residuals(f, problem.y)
        J = np.stack([np.broadcast_to(grads[j], (1, problem.n))[0] * drdf[0] *
                      (p[0, j] if problem.is_log[i] else 1.0) for i, j in enumerate(problem.free)], axis=1)
    JtJ = J.T @ J
    d = np.sqrt(np.diag(JtJ))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = JtJ / np.outer(d, d)
    try:
        cond = float(np.linalg.cond(scaled)) if np.all(np.isfinite(scaled)) else float("inf")
    except np.linalg.LinAlgError:
        cond = float("inf")
    n, k = problem.n, problem.k
    cov = None
    if n > k and np.all(np.isfinite(JtJ)):
        s2 = float(np.sum(r[0] ** 2) / (n - k))
        try:
            cov = s2 * np.linalg.pinv(JtJ, rcond=1e-15)
            cov = 0.5 * (cov + cov.T)
        except np.linalg.LinAlgError:
            cov = None
    # bounds
    names = [law.param_names[j] for j in problem.free]
    tol = BOUND_RTOL * (1.0 + np.abs(th))
    at_lo = np.isfinite(problem.lo) & (th - problem.lo <= tol)
    at_hi = np.isfinite(problem.hi) & (problem.hi - th <= tol)
    at_bound = tuple(nm for nm, a, b in zip(names, at_lo, at_hi) if a or b)
    # agreement among starts run to convergence
    F = np.asarray(sol.final_objectives, dtype=float)
    scale = float(max(problem.objective.scale(np.array([sol.objective]), wt)[0], problem.F_floor, 1e-300))
    agree = np.isfinite(F) & (F - sol.objective <= AGREE_RTOL * scale)
    n_agree = int(agree.sum()) if F.size else 1
    spread = 0.0
    if n_agree > 1:
        fin = problem.to_internal(sol.finals[agree])
        spread = float(np.max((fin.max(axis=0) - fin.min(axis=0)) / (1.0 + np.abs(th))))
    # independent optimality check: can more LM iterations still lower the objective?
    gap = 0.0
    if sol.method != "closed form":
        further = opt.lm_continue(problem, th, wt, max_iter=300)
        if np.isfinite(further) and np.isfinite(sol.objective):
            gap = float(max(sol.objective - further, 0.0) / scale)
    start = sol.start_of_best
    never_moved = False
    if start is not None and np.all(np.isfinite(start)) and sol.method != "closed form":
        st = problem.to_internal(np.asarray(start)[None, :])[0]
        never_moved = bool(np.max(np.abs(st - th) / (1.0 + np.abs(th))) < MOVED_RTOL)
    diag = FitDiagnostics(converged=bool(sol.converged) and gap <= GAP_RTOL, n_starts=int(sol.n_starts),
                          n_starts_run=int(sol.n_run), n_starts_agreeing=n_agree, optimum_spread=spread,
                          at_bound=at_bound, never_moved=never_moved, cond_number=cond, n_points=n,
                          objective=float(sol.objective), n_iter=int(sol.n_iter), n_params=k,
                          robust_loss=problem.objective.robust, objective_gap=gap)
    return diag, cov
