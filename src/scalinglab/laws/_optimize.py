"""The multi-start optimizer: the only module of scalinglab that calls ``scipy.optimize``.

Design (why it is fast and why it stops where it should)
--------------------------------------------------------
* **Internal coordinates.** Parameters in ``Law.log_params`` move as their logarithm (``a = log A``,
  as in Hoffmann et al. 2022); box bounds are mapped accordingly and enforced by projection with
  an active set.
* **All starts at once.** The objective, its analytic gradient and a Gauss-Newton / IRLS curvature
  matrix are evaluated for every start in one numpy pass (arrays of shape (S, P, n)). A batched
  Levenberg-Marquardt iteration (one damping factor per start) runs on all starts for a screening
  phase, after which only the best few distinct starts continue: most of a 4500-point grid lands
  in the same basin, and a start whose objective is far behind after screening never wins.
  The IRLS curvature (``psi(r)/r``) makes each step minimize a quadratic majorizer of Huber-type
  losses, so steps are accepted monotonically.
* **Scale-free stopping.** A start stops when its relative objective decrease and its relative
  step are below tolerances (``ftol``, ``xtol``) measured against the objective's own size
  (:meth:`Objective.scale`), never against absolute constants. SciPy's L-BFGS-B defaults
  (absolute ``pgtol=1e-5``, ``ftol`` relative to ``max(|f|, 1)``) stop almost at once on a Huber
  objective of size 1e-3 and made warm-started bootstrap refits barely move (standard errors 5-90x
  too small); the polish step below therefore rescales the objective before calling SciPy.
* **Polish.** The best few candidates are refined with ``scipy.optimize.minimize`` (L-BFGS-B,
  analytic gradient) on the objective divided by its size, with tight tolerances.
* **Bootstrap in one batch.** Resamples are multinomial weight vectors; all of them are optimized
  together, warm-started from the full-data optimum and from the other distinct optima the
  multi-start found (the best per resample wins). Warm-started rows use the Huber loss's exact
  Gauss-Newton curvature instead of the IRLS majorizer (``Problem._huber_newton``): a median of
  12 iterations per Chinchilla resample instead of 54, reaching the same or a lower objective.
* **BLAS threads** are pinned to one during batched work (threadpoolctl when installed): small
  batched matrix products gain nothing from threads, and on a busy machine oversubscription made a
  grid fit 13x slower.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError, FitError, suggest
from .law import Law
from .objectives import Objective

__all__ = [
    "Problem",
    "Solution",
    "distinct_rows",
    "lm_continue",
    "pin_blas_threads",
    "solve_batch",
    "solve_loglinear",
    "solve_resamples",
    "solve_resamples_scipy",
    "solve_scipy_loop",
]

FTOL = 1e-13        # relative objective decrease that counts as "no progress"
XTOL = 1e-10        # relative step that counts as "no progress"
MAX_ITER = 2000     # batched LM iterations per phase (only unconverged rows keep iterating)
RESAMPLE_MAX_ITER = 200   # per warm-started refit: a median of 12-30 are needed; rows still moving after
                          # 200 are resamples that do not identify the law (a parameter drifting along a
                          # flat valley) and are reported as not converged. Measured on a 16-point
                          # saturating power law: 95% bootstrap bounds within 6e-4 (relative) of 2000
SCREEN_ITER = 25    # iterations every start gets before pruning
KEEP = 24           # distinct starts kept after screening
POLISH = 3          # candidates polished with scipy
CHUNK_ELEMENTS = 50_000    # rows x (k + 1) x n elements per numpy pass (cache-sized)


@contextlib.contextmanager
def pin_blas_threads(n: int = 1) -> Iterator[None]:
    """Limit BLAS/OpenMP threads to ``n`` inside the block.

    Uses ``threadpoolctl`` when installed. Otherwise sets ``OMP_NUM_THREADS`` and friends, which
    only takes effect if numpy's BLAS has not started its thread pool yet (set them in the
    environment before starting Python to be sure).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        old = {k: os.environ.get(k) for k in keys}
        os.environ.update({k: str(n) for k in keys})
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return
    with threadpool_limits(limits=n):
        yield


class Problem:
    """A law, data, an objective and fixed parameters, in the optimizer's internal coordinates.

    ``theta`` holds the free parameters, log-transformed where the law says so.
    """

    def __init__(self, law: Law, inputs: Mapping[str, np.ndarray], target: np.ndarray,
                 objective: Objective, fixed: Mapping[str, float] | None = None) -> None:
        self.law = law
        self.x = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in inputs.items()}
        self.y = np.asarray(target, dtype=float).reshape(-1)
        self.n = self.y.shape[0]
        self.objective = objective
        fixed = dict(fixed or {})
        for k in fixed:
            if k not in law.param_names:

                raise ConfigError(f"fixed parameter {k!r} is not a parameter of {law.name!r}."
                                  f"{suggest(k, law.param_names)} Parameters: {', '.join(law.param_names)}")
        self.fixed = {k: float(v) for k, v in fixed.items()}
        self.free = [j for j, k in enumerate(law.param_names) if k not in self.fixed]
        if not self.free:
            raise ConfigError("every parameter is fixed; nothing to fit")
        self.k = len(self.free)
        names = law.param_names
        self.is_log = np.array([names[j] in law.log_params for j in self.free])
        b = law.bounds
        lo = np.array([b[names[j]][0] for j in self.free], dtype=float)
        hi = np.array([b[names[j]][1] for j in self.free], dtype=float)
        with np.errstate(divide="ignore"):
            self.lo = np.where(self.is_log, np.log(np.maximum(lo, 1e-300)), lo)
            self.hi = np.where(self.is_log, np.log(hi), hi)
        if objective.space == "log" and np.any(self.y <= 0):
            raise ConfigError("space='log' needs positive targets; some are <= 0. Use space='linear'.")
        self.F_floor = objective.floor(self.y)
        self.base = np.zeros(law.n_params)
        for k, v in self.fixed.items():
            self.base[names.index(k)] = v

    # -- coordinates -------------------------------------------------------------------------
    def to_natural(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        p = np.broadcast_to(self.base, (theta.shape[0], self.base.shape[0])).copy()
        with np.errstate(over="ignore"):   # an exploratory step may overflow: the objective is inf there
            p[:, self.free] = np.where(self.is_log, np.exp(theta), theta)
        return p

    def to_internal(self, params: np.ndarray) -> np.ndarray:
        params = np.atleast_2d(np.asarray(params, dtype=float))
        v = params[:, self.free]
        with np.errstate(divide="ignore", invalid="ignore"):
            th = np.where(self.is_log, np.log(np.maximum(v, 1e-300)), v)
        return np.clip(th, self.lo, self.hi)

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, theta: np.ndarray, wt: np.ndarray, grad: bool = True, y: np.ndarray | None = None,
                 curvature: bool = True, newton: bool = False):
        """Objective ``F`` (S,), gradient ``g`` (S, k), curvature ``H`` (S, k, k), sigma (S,)|None.

        ``wt`` (n,) or (S, n) are point weights; ``y`` (S, n) optionally gives each row its own
        targets (simulation studies fit many data sets at once); ``curvature=False`` skips ``H``
        (gradient-only callers such as SciPy). ``newton=True`` uses the exact Gauss-Newton
        curvature of the Huber loss (see :meth:`_huber_newton`) on rows where it is safe. Rows are
        processed in chunks of about ``CHUNK_ELEMENTS`` array elements, which keeps the
        (rows, k, n) temporaries in cache: several times faster than one huge pass.
        """
        theta = np.atleast_2d(theta)
        S = theta.shape[0]
        rows = max(1, CHUNK_ELEMENTS // max(1, self.n * (self.k + 1)))
        if S <= rows:
            return self._evaluate_rows(theta, wt, grad, y, curvature, newton)
        per_row_wt = np.ndim(wt) == 2
        parts = [self._evaluate_rows(theta[i:i + rows], wt[i:i + rows] if per_row_wt else wt, grad,
                                     None if y is None else y[i:i + rows], curvature, newton)
                 for i in range(0, S, rows)]
        F = np.concatenate([q[0] for q in parts])
        g = None if not grad else np.concatenate([q[1] for q in parts])
        H = None if not (grad and curvature) else np.concatenate([q[2] for q in parts])
        sig = None if parts[0][3] is None else np.concatenate([q[3] for q in parts])
        return F, g, H, sig

    def _evaluate_rows(self, theta: np.ndarray, wt: np.ndarray, grad: bool = True,
                       y: np.ndarray | None = None, curvature: bool = True, newton: bool = False):
        S = theta.shape[0]
        p = self.to_natural(theta)
        cols = tuple(p[:, j:j + 1] for j in range(p.shape[1]))
        with np.errstate(all="ignore"):
            f, grads = self.law._evaluate(cols, self.x, grad)
            f = np.broadcast_to(f, (S, self.n))
            r, drdf = self.objective.residuals(f, self.y if y is None else y)
            bad = ~np.all(np.isfinite(r), axis=1)
            if bad.any():
                r = np.where(bad[:, None], 0.0, r)
            F, psi, curv, sigma = self.objective.terms(r, wt)
        F = np.where(bad | ~np.isfinite(F), np.inf, F)
        if not grad:
            return F, None, None, sigma
        J = np.empty((S, self.k, self.n))
        with np.errstate(all="ignore"):
            for i, j in enumerate(self.free):
                np.multiply(grads[j], drdf, out=J[:, i, :])
                if self.is_log[i]:
                    J[:, i, :] *= p[:, j:j + 1]
        if bad.any():
            J[bad] = 0.0
        with np.errstate(all="ignore"):
            g = np.matmul(J, psi[:, :, None])[:, :, 0]
        if not np.isfinite(g).all():
            # a derivative overflowed where the objective did not: count it as zero (one full
            # scan of J only in this rare case)
            J[~np.isfinite(J)] = 0.0
            g = np.matmul(J, psi[:, :, None])[:, :, 0]
        g[bad] = 0.0
        if not curvature:
            return F, g, None, sigma
        if newton and self.objective.loss == "huber":
            curv = self._huber_newton(r, wt, curv)
        # batched matmul with one BLAS thread: measured 1.5-2.5x faster than the equivalent einsum
        with np.errstate(all="ignore"):      # an overflowing curvature only makes LM damp harder
            H = np.matmul(J * curv[:, None, :], J.transpose(0, 2, 1))
        H[bad] = np.eye(self.k)
        return F, g, H, sigma

    def _huber_newton(self, r: np.ndarray, wt: np.ndarray, curv: np.ndarray) -> np.ndarray:
        """The exact Gauss-Newton curvature of a Huber loss, on rows where it determines every parameter.

        The IRLS curvature ``psi(r)/r`` (``delta/|r|`` beyond the threshold) majorizes the loss, so
        every step descends, but on a nearly-L1 loss (delta = 1e-3, residuals of a few percent) it
        converges only linearly: a warm-started bootstrap refit of the Chinchilla fit needed a
        median of 54 iterations. The loss's own second derivative is 1 inside the threshold and 0
        beyond; with it the Levenberg-Marquardt step is a Gauss-Newton step on the quadratic part,
        which converges in a few steps once the set of points inside the threshold settles (median
        20 iterations on the same refits, reaching the same or a lower objective on all of them).
        It needs at least as many points inside the threshold as free parameters (an L1-type
        optimum interpolates about ``k`` points): rows with fewer (a start far from the optimum,
        where every residual is large) keep the IRLS curvature. Acceptance is still by the objective, so steps stay monotone.
        """
        inside = np.abs(r) <= self.objective.threshold
        w = np.broadcast_to(wt, r.shape)
        enough = np.count_nonzero(inside & (w > 0), axis=1) >= self.k
        return np.where(enough[:, None] & ~inside, 0.0, curv)

    # -- variable projection -------------------------------------------------------------------
    @property
    def projects(self) -> bool:
        """Linear parameters are re-solved exactly each iteration (least squares in linear space)."""
        return (self.objective.loss == "ls" and self.objective.space == "linear"
                and any(self.law.param_names[j] in self.law.linear_params for j in self.free))

    def project(self, theta: np.ndarray, wt: np.ndarray) -> np.ndarray:
        """Replace the free linear parameters of each row by their weighted least-squares optimum.

        Given the nonlinear parameters, f = f0 + Phi c is linear in the linear parameters c;
        c solves the (S, m, m) normal equations in one batch and is clipped into its bounds.
        """
        names = self.law.param_names
        lin = [i for i, j in enumerate(self.free) if names[j] in self.law.linear_params]
        p = self.to_natural(theta)
        cols = tuple(p[:, j:j + 1] for j in range(p.shape[1]))
        with np.errstate(all="ignore"):
            f, grads = self.law._evaluate(cols, self.x, True)
            S = theta.shape[0]
            Phi = np.stack([np.broadcast_to(grads[self.free[i]], (S, self.n)) for i in lin], axis=1)  # (S, m, n)
            c_old = p[:, [self.free[i] for i in lin]]
            f0 = np.broadcast_to(f, (S, self.n)) - np.einsum("smn,sm->sn", Phi, c_old)
            w = np.broadcast_to(wt, (S, self.n))
            A = np.einsum("san,sbn->sab", Phi * w[:, None, :], Phi)
            b = np.einsum("san,sn->sa", Phi * w[:, None, :], self.y - f0)
            m = len(lin)
            # equilibrate columns first: the normal equations of (C^-alpha, 1) are badly scaled
            dsc = 1.0 / np.sqrt(np.maximum(np.diagonal(A, axis1=1, axis2=2), 1e-300))
            A = A * dsc[:, :, None] * dsc[:, None, :] + 1e-15 * np.eye(m)
            try:
                c = np.linalg.solve(A, (b * dsc)[..., None])[..., 0] * dsc
            except np.linalg.LinAlgError:
                return theta
        out = np.array(theta, dtype=float, copy=True)
        ok = np.all(np.isfinite(c), axis=1)
        for col, i in enumerate(lin):
            v = c[:, col]
            if self.is_log[i]:
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = np.log(np.where(v > 0, v, np.exp(self.lo[i])))
            out[ok, i] = np.clip(v[ok], self.lo[i], self.hi[i])
        return out

    def objective_value(self, theta: np.ndarray, wt: np.ndarray) -> float:
        return float(self.evaluate(np.atleast_2d(theta), wt, grad=False)[0][0])


@dataclass
class Solution:
    """Raw optimizer output (internal coordinates; :mod:`result` turns it into a FitResult)."""

    theta: np.ndarray                  # (k,) best free internal parameters
    params: np.ndarray                 # (P,) natural parameters incl. fixed
    objective: float
    converged: bool
    n_starts: int
    n_run: int                         # starts run to convergence after screening
    finals: np.ndarray                 # (m, P) natural optima of the starts run to convergence
    final_objectives: np.ndarray       # (m,)
    start_of_best: np.ndarray          # (P,) the start the best solution came from
    n_iter: int
    sigma: float | None = None
    method: str = "batched"
    info: dict[str, Any] = field(default_factory=dict)




# ---------------------------------------------------------------------------------------------
# Batched Levenberg-Marquardt
# ---------------------------------------------------------------------------------------------

@dataclass
class _State:
    """Per-start optimizer state of the batched LM (rows = starts or resamples)."""

    theta: np.ndarray
    F: np.ndarray
    g: np.ndarray
    H: np.ndarray
    lam: np.ndarray
    conv: np.ndarray
    nit: np.ndarray
    small: np.ndarray
    sigma: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> _State:
        return _State(*(None if v is None else v[idx] for v in (
            self.theta, self.F, self.g, self.H, self.lam, self.conv, self.nit, self.small, self.sigma)))


def _init_state(problem: Problem, theta0: np.ndarray, wt: np.ndarray, y: np.ndarray | None = None,
                newton: bool = False) -> _State:
    theta = np.clip(np.array(theta0, dtype=float, copy=True), problem.lo, problem.hi)
    if problem.projects and y is None:
        theta = _project_if_better(problem, theta, wt)
    F, g, H, sig = problem.evaluate(theta, wt, y=y, newton=newton)
    S = theta.shape[0]
    return _State(theta, F, g, H, np.full(S, 1e-3), ~np.isfinite(F), np.zeros(S, dtype=int),
                  np.zeros(S, dtype=int), sig)


def _project_if_better(problem: Problem, theta: np.ndarray, wt: np.ndarray) -> np.ndarray:
    new = problem.project(theta, wt)
    F_old = problem.evaluate(theta, wt, grad=False)[0]
    F_new = problem.evaluate(new, wt, grad=False)[0]
    better = F_new <= F_old
    return np.where(better[:, None], new, theta)


def _lm(problem: Problem, st: _State, wt: np.ndarray, *, max_iter: int,
        ftol: float = FTOL, xtol: float = XTOL, y: np.ndarray | None = None, newton: bool = False) -> _State:
    """Batched Levenberg-Marquardt iterations on every unconverged row of ``st`` (in place).

    ``wt`` is (n,) or (S, n) (one weight vector per row, for the bootstrap) and ``y`` optionally
    (S, n) targets per row (variable projection is then skipped). A row stops after
    three consecutive iterations without relative progress: objective decrease below
    ``ftol * scale`` (scale = :meth:`Objective.scale`, so sums and means behave alike) or a step
    below ``xtol`` relative to the parameters (rejected steps in between do not reset the count),
    or when its damping has grown past 1e14 (no descent direction left at machine precision).
    """
    per_row_wt = np.ndim(wt) == 2
    k = st.theta.shape[1]
    eye = np.eye(k)
    for _ in range(max_iter):
        act = np.flatnonzero(~st.conv)
        if act.size == 0:
            break
        th, Fa, ga, Ha, la = st.theta[act], st.F[act], st.g[act], st.H[act], st.lam[act]
        # active set: a parameter at a bound with the gradient pushing outwards stays put
        fix = ((th <= problem.lo) & (ga > 0)) | ((th >= problem.hi) & (ga < 0))
        d = np.diagonal(Ha, axis1=1, axis2=2)
        dmax = np.maximum(d.max(axis=1, keepdims=True), 1e-300)
        D = np.maximum(d, 1e-9 * dmax)
        A = Ha + la[:, None, None] * (D[:, :, None] * eye)
        gg = np.where(fix, 0.0, ga)
        if fix.any():
            m = fix[:, :, None] | fix[:, None, :]
            A = np.where(m, 0.0, A) + fix[:, :, None] * eye
        try:
            step = -np.linalg.solve(A, gg[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.stack([np.linalg.lstsq(a, b, rcond=None)[0] for a, b in zip(A, gg)])
        step = np.where(np.isfinite(step), step, 0.0)
        tn = np.clip(th + step, problem.lo, problem.hi)
        wa = wt[act] if per_row_wt else wt
        if problem.projects and y is None:
            tn = _project_if_better(problem, tn, wa)
        Fn, gn, Hn, sn = problem.evaluate(tn, wa, y=None if y is None else y[act], newton=newton)
        scale = np.maximum(problem.objective.scale(Fa, wa), max(problem.F_floor, 1e-300))
        dec = Fa - Fn
        same = np.all(tn == th, axis=1)
        ok = (dec > 0) | ((dec == 0) & same)
        rel_step = np.max(np.abs(tn - th) / (1.0 + np.abs(th)), axis=1)
        acc = act[ok]
        st.theta[acc], st.F[acc], st.g[acc], st.H[acc] = tn[ok], Fn[ok], gn[ok], Hn[ok]
        if st.sigma is not None and sn is not None:
            st.sigma[acc] = sn[ok]
        st.lam[acc] = np.maximum(la[ok] * 0.3, 1e-12)
        st.lam[act[~ok]] = la[~ok] * 8.0
        st.nit[act] += 1
        # accepted steps with real progress reset the count; rejected steps leave it alone, so an
        # accept/reject cycle on a loss kink still ends
        stalled = (dec <= ftol * scale) | (rel_step <= xtol)
        idle = st.small[act]
        if newton:
            # a rejected, nearly undamped Newton step that the quadratic model says would gain less
            # than ftol is a stationary point too: without this, rows at their optimum kept
            # rejecting round-off steps until the damping passed 1e14 (about 10 extra iterations)
            predicted = -0.5 * np.einsum("sk,sk->s", gg, step)
            idle = np.where((la <= 1e-3) & (predicted <= ftol * scale), idle + 1, idle)
        st.small[act] = np.where(ok, np.where(stalled, st.small[act] + 1, 0), idle)
        st.conv[act] = (st.small[act] >= 3) | (st.lam[act] > 1e14)
    return st


def lm_continue(problem: Problem, theta: np.ndarray, wt: np.ndarray, *, max_iter: int = 300) -> float:
    """The objective reached by ``max_iter`` more Levenberg-Marquardt iterations from ``theta``.

    An optimality check independent of how the optimum was found (the fit's diagnostics use it:
    an optimum that more iterations still lower was not one).
    """
    st = _init_state(problem, np.asarray(theta, dtype=float)[None, :], wt)
    st = _lm(problem, st, wt, max_iter=max_iter)
    return float(st.F[0])


def distinct_rows(theta: np.ndarray, F: np.ndarray, n: int, rtol: float = 1e-6) -> np.ndarray:
    """Indices of up to ``n`` best rows, dropping near-duplicates of better rows."""
    order = np.argsort(F, kind="stable")
    keep: list[int] = []
    for i in order:
        if not np.isfinite(F[i]):
            break
        if all(np.max(np.abs(theta[i] - theta[j]) / (1.0 + np.abs(theta[j]))) > rtol for j in keep):
            keep.append(int(i))
            if len(keep) >= n:
                break
    return np.array(keep, dtype=int)


def _scipy_bounds(problem: Problem) -> list[tuple[float | None, float | None]]:
    return [(None if not np.isfinite(a) else float(a), None if not np.isfinite(b) else float(b))
            for a, b in zip(problem.lo, problem.hi)]


def _polish(problem: Problem, theta0: np.ndarray, wt: np.ndarray,
            max_iter: int = 3000) -> tuple[np.ndarray, float, bool]:
    """Refine one point with L-BFGS-B on the shifted, rescaled objective (scale-free tolerances)."""
    from scipy.optimize import minimize

    F0 = problem.objective_value(theta0, wt)
    if not np.isfinite(F0):
        return theta0, F0, False
    scale = float(max(problem.objective.scale(np.array([F0]), wt)[0], problem.F_floor, 1e-300))

    def fun(th):
        F, g, _, _ = problem.evaluate(th[None, :], wt, curvature=False)
        if not np.isfinite(F[0]):
            return 1e30, np.zeros_like(th)
        # shifted by F0 and divided by the objective's size: ftol/gtol become relative
        return (F[0] - F0) / scale, g[0] / scale

    res = minimize(fun, theta0, jac=True, method="L-BFGS-B", bounds=_scipy_bounds(problem),
                   options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": max_iter, "maxcor": 20})
    th = np.clip(res.x, problem.lo, problem.hi)
    F = problem.objective_value(th, wt)
    if F <= F0:
        return th, F, bool(res.success) or res.nit < max_iter
    return theta0, F0, True


def solve_batch(problem: Problem, starts: np.ndarray, *, wt: np.ndarray | None = None,
                keep: int = KEEP, polish: int = POLISH, max_iter: int = MAX_ITER,
                halving_iter: int = 6) -> Solution:
    """Multi-start fit of every row of ``starts`` (natural units, shape (S, P)).

    1. Successive halving: all starts take ``halving_iter`` batched LM iterations, then the
       worse half (by objective) is dropped, until ``keep`` remain.
    2. The survivors run to convergence.
    3. The best ``polish`` distinct optima are refined with SciPy (scale-free tolerances).
    """
    if wt is None:
        wt = np.ones(problem.n)
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    theta0 = problem.to_internal(starts)
    S = theta0.shape[0]
    with pin_blas_threads(1):
        st = _init_state(problem, theta0, wt)
        origin = np.arange(S)
        while st.theta.shape[0] > keep:
            st = _lm(problem, st, wt, max_iter=halving_iter)
            n_next = max(keep, st.theta.shape[0] // 2)
            order = np.argsort(st.F, kind="stable")[:n_next]
            st, origin = st.take(order), origin[order]
        st = _lm(problem, st, wt, max_iter=max_iter)
        F2 = st.F.copy()
        th2 = st.theta.copy()
        if not np.isfinite(F2).any():
            raise FitError(f"no start gave a finite objective for {problem.law.name!r}; check that the "
                           "data suit the law (positive targets for space='log') or pass starts=")
        best = (np.inf, -1, None, False)
        for i in distinct_rows(th2, F2, polish):
            t, f, ok = _polish(problem, th2[i], wt)
            th2[i], F2[i] = t, f
            if f < best[0]:
                best = (f, int(i), t, ok)
        f_best, i_best, t_best, pol_ok = best
        _, _, _, sig = problem.evaluate(t_best[None, :], wt)
    lm_ok = bool(st.conv[i_best])
    return Solution(theta=t_best, params=problem.to_natural(t_best)[0], objective=float(f_best),
                    converged=bool(pol_ok), n_starts=S, n_run=int(th2.shape[0]),
                    finals=problem.to_natural(th2), final_objectives=F2,
                    start_of_best=starts[origin[i_best]], n_iter=int(st.nit[i_best]),
                    sigma=None if sig is None else float(sig[0]), method="batched",
                    info={"lm_converged": lm_ok})


def solve_resamples(problem: Problem, weights: np.ndarray, warm: np.ndarray, *,
                    max_iter: int = RESAMPLE_MAX_ITER, y: np.ndarray | None = None,
                    per_row_warm: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refit every resample (rows of ``weights``, shape (B, n)) from each warm start (rows of ``warm``).

    All B resamples run in one batch per warm start; the best objective per resample wins.
    ``y`` (B, n) gives each row its own targets and ``per_row_warm=True`` reads ``warm`` as one
    start per row (simulation studies). Returns natural parameters (B, P), objectives (B,) and a
    converged flag (B,).
    """
    weights = np.atleast_2d(weights)
    B = weights.shape[0]
    warm_th = np.atleast_2d(problem.to_internal(warm))
    best_th = np.empty((B, problem.k))
    best_F = np.full(B, np.inf)
    best_ok = np.zeros(B, dtype=bool)
    starts = [warm_th] if per_row_warm else [np.repeat(w0[None, :], B, axis=0) for w0 in warm_th]
    with pin_blas_threads(1):
        for th0 in starts:
            st = _init_state(problem, th0, weights, y=y, newton=True)
            st = _lm(problem, st, weights, max_iter=max_iter, y=y, newton=True)
            better = st.F < best_F
            best_th[better], best_F[better], best_ok[better] = st.theta[better], st.F[better], st.conv[better]
    return problem.to_natural(best_th), best_F, best_ok


def solve_loglinear(problem: Problem, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted ordinary least squares of log y on the law's log-linear design (closed form).

    Returns internal parameters, shape (B, k), one row per weight vector.
    """
    design = getattr(problem.law, "loglinear_design", None)
    if design is None or problem.fixed:
        raise ConfigError(f"loss='loglinear' needs a law that is linear in its parameters after "
                          f"taking logs (e.g. 'power_law') and no fixed parameters; "
                          f"{problem.law.name!r} is not")
    X = design(problem.x)                          # (n, k) in internal coordinates
    ly = np.log(problem.y)
    w = np.atleast_2d(np.ones(problem.n) if weights is None else weights)
    A = np.einsum("ni,bn,nj->bij", X, w, X)
    b = np.einsum("ni,bn,n->bi", X, w, ly)
    return np.linalg.solve(A, b[..., None])[..., 0]


def solve_scipy_loop(problem: Problem, starts: np.ndarray, *, wt: np.ndarray | None = None,
                     default_tolerances: bool = False, max_iter: int = 15000,
                     ftol: float = 1e-15, gtol: float = 1e-13) -> Solution:
    """One ``scipy.optimize.minimize`` (L-BFGS-B, analytic gradient) per start: the plain baseline.

    With ``default_tolerances=True`` SciPy's defaults run on the raw objective: this reproduces
    the early-stopping trap (see the module notes) and is offered to reproduce published fits
    that used it. Otherwise the objective is divided by its size at the start and tolerances are
    tight (``ftol``, ``gtol`` apply to the rescaled objective), which reaches the same optimum as
    :func:`solve_batch`, slowly.
    """
    from scipy.optimize import minimize

    if wt is None:
        wt = np.ones(problem.n)
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    theta0 = problem.to_internal(starts)
    bounds = _scipy_bounds(problem)
    finals, Fs, nits, oks = [], [], [], []
    opts = {} if default_tolerances else {"ftol": ftol, "gtol": gtol, "maxiter": max_iter, "maxcor": 20}
    with pin_blas_threads(1):   # L-BFGS-B's tiny BLAS calls crawl under a busy thread pool
        for t0 in theta0:
            F0 = problem.objective_value(t0, wt)
            if not np.isfinite(F0):
                finals.append(t0)
                Fs.append(np.inf)
                nits.append(0)
                oks.append(False)
                continue
            scale = 1.0 if default_tolerances else float(max(problem.objective.scale(np.array([F0]), wt)[0],
                                                              problem.F_floor, 1e-300))

            def fun(th, scale=scale):
                F, g, _, _ = problem.evaluate(th[None, :], wt, curvature=False)
                if not np.isfinite(F[0]):
                    return 1e30, np.zeros_like(th)
                return F[0] / scale, g[0] / scale

            res = minimize(fun, t0, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
            th = np.clip(res.x, problem.lo, problem.hi)
            finals.append(th)
            Fs.append(problem.objective_value(th, wt))
            nits.append(int(res.nit))
            # with tight tolerances L-BFGS-B often ends in an "abnormal" line search at machine
            # precision; only hitting maxiter counts as not converged (the fit's optimality
            # check verifies the rest)
            oks.append(bool(res.success) if default_tolerances else res.status != 1)
    finals_a, Fs_a = np.array(finals), np.array(Fs)
    i = int(np.argmin(Fs_a))
    _, _, _, sig = problem.evaluate(finals_a[i][None, :], wt)
    return Solution(theta=finals_a[i], params=problem.to_natural(finals_a[i])[0], objective=float(Fs_a[i]),
                    converged=oks[i], n_starts=len(theta0), n_run=len(theta0),
                    finals=problem.to_natural(finals_a), final_objectives=Fs_a,
                    start_of_best=starts[i], n_iter=int(nits[i]),
                    sigma=None if sig is None else float(sig[0]),
                    method="scipy-default" if default_tolerances else "scipy")


def solve_resamples_scipy(problem: Problem, weights: np.ndarray, warm: np.ndarray, *,
                          default_tolerances: bool = False, ftol: float = 1e-15,
                          gtol: float = 1e-13) -> tuple[np.ndarray, np.ndarray]:
    """The plain baseline for the bootstrap: one SciPy minimize per resample from ``warm``."""
    out, Fs = [], []
    for w in np.atleast_2d(weights):
        sol = solve_scipy_loop(problem, np.atleast_2d(warm)[:1], wt=w, default_tolerances=default_tolerances,
                               ftol=ftol, gtol=gtol)
        out.append(sol.params)
        Fs.append(sol.objective)
    return np.array(out), np.array(Fs)
