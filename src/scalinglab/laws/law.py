"""The :class:`Law` abstraction and the law registry (the catalogue is :mod:`scalinglab.laws.specs`).


What to use when
----------------
* ``"saturating_power_law"`` ``L(C) = A C^-alpha + E``: one input (usually ``flops``) and a floor;
  the default for loss against compute on a compute-optimal frontier.
* ``"power_law"`` ``L(C) = A C^-alpha``: no floor. Fit it nonlinearly, or as a straight line in
  log-log space with ``loss="loglinear"`` (ordinary least squares on log L vs log C).
* ``"chinchilla"`` ``L(N, D) = E + A/N^alpha + B/D^beta`` (Hoffmann et al. 2022, Approach 3):
  loss against parameters and tokens, with the 4500-point start grid of the paper.
* ``"overtraining"`` ``L(C, M) = E + (a M^eta + b M^-eta) C^-eta`` (Gadre et al. 2024): loss
  against compute and the token multiplier M = D/N, for ladders trained past compute-optimal.
* ``"saturating_error"`` ``err(C) = a (C + b)^c + d``: error rates that flatten at small compute
  and saturate at large compute (language-vision comparisons).
* ``"downstream_link"`` ``err(L) = eps - k exp(-gamma L)`` (Gadre et al. 2024): top-1 error from
  loss, to chain a loss law into a downstream prediction.
* ``"data_constrained"`` ``L(N, D, U)`` (Muennighoff et al. 2023): Chinchilla with repeated tokens
  and excess parameters discounted, for runs that record their unique tokens U.

A law is evaluated with natural parameters (``params`` dict or vector in ``param_names`` order)::

    law = get_law("chinchilla")
    law({"E": 1.82, "A": 482.0, "B": 2085.4, "alpha": 0.348, "beta": 0.366},
        n_params=7e10, n_tokens=1.4e12)

Adding a law
------------
Subclass :class:`Law`, set the class attributes, implement :meth:`Law._evaluate` (values and
analytic derivatives with respect to the natural parameters) and register it::

    @register_law
    class Exponential(Law):
        name = "exponential"
        formula = "L(C) = E + A exp(-k C / 1e20)"
        citation = "my notes"
        inputs = ("flops",)
        param_names = ("E", "A", "k")
        default_bounds = {"E": (0, 10), "A": (0, 100), "k": (1e-3, 100)}
        linear_params = ("E", "A")          # filled by linear least squares at each start
        log_params = ("k",)                 # optimized as log k
        start_grid = {"k": (0.1, 1.0, 10.0)}

        def _evaluate(self, p, x, grad):
            E, A, k = p                     # scalars or (S, 1) columns
            c = x["flops"] / 1e20
            ex = np.exp(-k * c)
            f = E + A * ex
            if not grad:
                return f, None
            return f, [np.ones_like(f), ex + 0 * f, -A * c * ex]   # df/dE, df/dA, df/dk

``fit("exponential", runs)`` then works with every estimator, the bootstrap and summaries;
``coverage_check("exponential", inputs=..., params=...)`` checks its intervals, and a design in
``scalinglab.laws.coverage.default_design`` adds it to the contract battery
(``tests/laws/test_laws_contract.py``).
"""

from __future__ import annotations

import abc
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from .._registry import Registry
from ..errors import ConfigError, DataError, MissingColumnError, suggest

__all__ = ["INPUT_NAMES", "LAWS", "Law", "derive_inputs", "get_law", "list_laws", "register_law"]

LAWS: Registry[type[Law]] = Registry("law")

# Logical inputs a law may ask for, and how each is derived from the others (C = 6ND, the
# default convention of scalinglab.units; M = D/N is the token multiplier of Gadre et al.).
INPUT_NAMES = ("flops", "n_params", "n_tokens", "tokens_per_param", "loss", "n_unique_tokens")


def derive_inputs(names: Sequence[str], given: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Return the arrays named in ``names`` from ``given``, deriving what is missing.

    Derivations use C = 6 N D and M = D / N: ``flops`` from ``n_params`` and ``n_tokens``;
    ``n_tokens`` from ``flops`` and ``n_params`` (or ``tokens_per_param`` and ``n_params``);
    ``tokens_per_param`` from any two of N, D, C. Arrays are broadcast against each other.

    Raises
    ------
    MissingColumnError
        When an input can be neither found nor derived.
    """
    have = {k: np.asarray(v, dtype=float) for k, v in given.items() if v is not None}
    for _ in range(3):  # at most three derivation rounds are ever needed
        N, D, C, M = (have.get(k) for k in ("n_params", "n_tokens", "flops", "tokens_per_param"))
        if D is None and N is not None and C is not None:
            have["n_tokens"] = D = C / (6.0 * N)
        if D is None and N is not None and M is not None:
            have["n_tokens"] = D = M * N
        if N is None and D is not None and C is not None:
            have["n_params"] = N = C / (6.0 * D)
        if N is None and D is not None and M is not None:
            have["n_params"] = N = D / M
        if N is None and C is not None and M is not None:
            have["n_params"] = N = np.sqrt(C / (6.0 * M))
        if C is None and N is not None and D is not None:
            have["flops"] = 6.0 * N * D
        if M is None and N is not None and D is not None:
            have["tokens_per_param"] = D / N
    out = {}
    for n in names:
        if n not in have:
            raise MissingColumnError(
                f"input {n!r} is needed but was not given and cannot be derived from "
                f"{sorted(have) or 'nothing'}; pass {n}=... (or two of n_params, n_tokens, flops)")
        out[n] = have[n]
    arrays = np.broadcast_arrays(*out.values()) if out else []
    return {k: np.asarray(a, dtype=float) for k, a in zip(out, arrays)}


class Law(abc.ABC):
    """A scaling law: formula, parameter names, bounds and starting grid, with no data.

    Subclasses set the class attributes below and implement :meth:`_evaluate`.

    Attributes
    ----------
    name : str
        Registry name.
    formula : str
        The law in plain text, with the symbols of ``param_names``.
    citation : str
        Paper and equation the form comes from.
    inputs : tuple of str
        Logical inputs (``"flops"``, ``"n_params"``, ``"n_tokens"``, ``"tokens_per_param"``,
        ``"loss"``); see :func:`derive_inputs`.
    param_names : tuple of str
        Natural parameters, the order of every parameter vector.
    bounds : dict of str -> (float, float)
        Box constraints in natural units (``-inf``/``inf`` for none).
    log_params : tuple of str
        Positive parameters the optimizer moves on a log scale (as ``a = log A`` in Hoffmann et al.
        2022); the reported values stay natural.
    linear_params : tuple of str
        Parameters entering linearly given the others; least squares in linear space projects
        them out (variable projection) and starting values are filled by linear least squares.
    start_grid : dict of str -> tuple of float
        Starting values for the nonlinear parameters; their product is the start grid. Linear
        parameters absent from it are filled from data by :meth:`default_starts`.
    positive : bool
        The law's values are positive (needed to fit in log space).
    """

    name: ClassVar[str] = ""
    formula: ClassVar[str] = ""
    citation: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    param_names: ClassVar[tuple[str, ...]] = ()
    default_bounds: ClassVar[Mapping[str, tuple[float, float]]] = {}
    log_params: ClassVar[tuple[str, ...]] = ()
    linear_params: ClassVar[tuple[str, ...]] = ()
    start_grid: ClassVar[Mapping[str, Sequence[float]]] = {}
    positive: ClassVar[bool] = True
    # named functions of the parameters: name -> (fn(params, **kw), description)
    derived_quantities: ClassVar[Mapping[str, tuple[Callable[..., Any], str]]] = {}

    def __init__(self, *, bounds: Mapping[str, tuple[float, float]] | None = None) -> None:
        merged = {k: (-math.inf, math.inf) for k in self.param_names}
        merged.update({k: (float(lo), float(hi)) for k, (lo, hi) in self.default_bounds.items()})
        for k, v in (bounds or {}).items():
            if k not in self.param_names:
                raise ConfigError(f"{self.name}: no parameter {k!r} to bound.{suggest(k, self.param_names)} "
                                  f"Parameters: {', '.join(self.param_names)}")
            lo, hi = (float(x) for x in v)
            if not lo < hi:
                raise ConfigError(f"{self.name}: bounds for {k!r} must satisfy low < high; got {v!r}")
            merged[k] = (lo, hi)
        for k in self.log_params:
            if merged[k][0] <= 0:
                raise ConfigError(f"{self.name}: {k!r} is optimized on a log scale, so its lower bound "
                                  f"must be > 0; got {merged[k][0]!r}")
        self._bounds = merged
        self._bound_overrides = {k: merged[k] for k in (bounds or {})}

    # -- spec ---------------------------------------------------------------------------
    @property
    def bounds(self) -> dict[str, tuple[float, float]]:
        """Box constraints per parameter, in natural units."""
        return dict(self._bounds)

    @property
    def n_params(self) -> int:
        """Number of free parameters P."""
        return len(self.param_names)

    @property
    def of_n_and_d(self) -> bool:
        """A law of model size and data (N, D, tokens per parameter, possibly C = 6ND), not of
        compute alone: it has a compute-optimal frontier along C = 6ND."""
        inputs = set(self.inputs)
        return inputs <= {"n_params", "n_tokens", "flops", "tokens_per_param"} and bool(
            inputs & {"n_params", "n_tokens", "tokens_per_param"})

    def config(self) -> dict[str, Any]:
        """What reconstructs this law: its registry name and any bound overrides."""
        return {"name": self.name, "bounds": {k: list(v) for k, v in self._bound_overrides.items()}}

    def __repr__(self) -> str:
        extra = f", bounds={self._bound_overrides}" if self._bound_overrides else ""
        return f"{type(self).__name__}({self.formula!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.config() == self.config()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self.config())))

    # -- parameters ---------------------------------------------------------------------------
    def vector(self, params: Mapping[str, float] | Sequence[float] | np.ndarray) -> np.ndarray:
        """Parameters as an array whose last axis follows ``param_names``."""
        if isinstance(params, Mapping):
            missing = [k for k in self.param_names if k not in params]
            extra = [k for k in params if k not in self.param_names]
            if missing or extra:
                bad = (missing or extra)[0]
                raise ConfigError(
                    f"{self.name}: parameters must be exactly {', '.join(self.param_names)}; "
                    f"{'missing' if missing else 'unknown'} {bad!r}.{suggest(bad, self.param_names)}")
            return np.array([float(params[k]) for k in self.param_names])
        arr = np.asarray(params, dtype=float)
        if arr.ndim == 0 or arr.shape[-1] != self.n_params:
            raise ConfigError(f"{self.name}: expected {self.n_params} parameters "
                              f"({', '.join(self.param_names)}); got shape {arr.shape}")
        return arr

    def as_dict(self, vector: Sequence[float]) -> dict[str, float]:
        """``{name: value}`` from a vector in ``param_names`` order."""
        return {k: float(v) for k, v in zip(self.param_names, np.asarray(vector, dtype=float))}

    def default_starts(self, *, inputs: Mapping[str, np.ndarray] | None = None,
                       target: np.ndarray | None = None) -> np.ndarray:
        """Starting points, shape (S, P), natural units.

        The product of :attr:`start_grid`. Linear parameters not in the grid are set, for each
        start, by nonnegative linear least squares of the target on the law's linear terms when
        data are given (otherwise to 1).
        """
        grid_names = [k for k in self.param_names if k in self.start_grid]
        values = [tuple(float(v) for v in self.start_grid[k]) for k in grid_names]
        combos = np.array(list(itertools.product(*values)), dtype=float).reshape(-1, len(grid_names))
        starts = np.ones((combos.shape[0], self.n_params))
        for j, k in enumerate(self.param_names):
            if k in grid_names:
                starts[:, j] = combos[:, grid_names.index(k)]
        fill = [k for k in self.param_names if k not in grid_names]
        if fill and inputs is not None and target is not None:
            starts = self.fill_linear(starts, inputs, np.asarray(target, dtype=float), fill)
        return self.clip(starts)

    def fill_linear(self, starts: np.ndarray, inputs: Mapping[str, np.ndarray], target: np.ndarray,
                    names: Sequence[str] | None = None) -> np.ndarray:
        """Set the linear parameters ``names`` of each start by bounded linear least squares."""
        names = [k for k in (names or self.linear_params) if k in self.linear_params]
        if not names:
            return starts
        from scipy.optimize import lsq_linear

        idx = [self.param_names.index(k) for k in names]
        out = np.array(starts, dtype=float, copy=True)
        x = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
        for s in range(out.shape[0]):
            p = out[s].copy()
            p[idx] = 0.0
            f0, _ = self._evaluate(tuple(p), x, False)
            p[idx] = 1.0
            _, grads = self._evaluate(tuple(p), x, True)
            design = np.column_stack([np.broadcast_to(grads[j], target.shape) for j in idx])
            lo = np.array([max(self._bounds[k][0], 1e-12 if k in self.log_params else -np.inf) for k in names])
            hi = np.array([self._bounds[k][1] for k in names])
            try:
                sol = lsq_linear(design, target - f0, bounds=(lo, hi), method="bvls")
                if np.all(np.isfinite(sol.x)):
                    out[s, idx] = sol.x
            except (ValueError, np.linalg.LinAlgError):  # degenerate design: keep the grid value
                pass
        return out

    def clip(self, params: np.ndarray) -> np.ndarray:
        """Clip a (..., P) array into the bounds."""
        lo = np.array([self._bounds[k][0] for k in self.param_names])
        hi = np.array([self._bounds[k][1] for k in self.param_names])
        return np.clip(params, lo, hi)

    # -- evaluation -------------------------------------------------------------------------------
    @abc.abstractmethod
    def _evaluate(self, p: tuple[Any, ...], x: Mapping[str, np.ndarray],
                  grad: bool) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """Values and derivatives with respect to the natural parameters.

        ``p`` holds one entry per parameter, each a scalar or an array of shape (S, 1) that
        broadcasts against the inputs in ``x`` (shape (n,)). Return ``(f, grads)`` with ``f`` of
        the broadcast shape and ``grads`` a list of P arrays (df/dp_j), or None when ``grad`` is
        false. Subclasses implement this.
        """

    def _columns(self, params: Any) -> tuple[tuple[Any, ...], tuple[int, ...]]:
        vec = self.vector(params)
        if vec.ndim == 1:
            return tuple(float(v) for v in vec), ()
        lead = vec.shape[:-1]
        flat = vec.reshape(-1, self.n_params)
        return tuple(flat[:, j:j + 1] for j in range(self.n_params)), lead

    def __call__(self, params: Any, **inputs: Any) -> np.ndarray:
        """Evaluate the law.

        Parameters
        ----------
        params : dict or array
            Natural parameters; a (S, P) array evaluates S parameter sets at once (shape (S, n)).
        **inputs : array_like
            The law's :attr:`inputs` (or quantities they derive from, see :func:`derive_inputs`).
        """
        x = derive_inputs(self.inputs, inputs)
        p, lead = self._columns(params)
        shape = next(iter(x.values())).shape if x else ()
        flat = {k: v.reshape(-1) for k, v in x.items()}
        f, _ = self._evaluate(p, flat, False)
        f = np.asarray(f, dtype=float)
        if lead:
            return np.broadcast_to(f, (f.shape[0], int(np.prod(shape)))).reshape(*lead, *shape)
        return np.broadcast_to(f, (int(np.prod(shape)),)).reshape(shape)

    def jac(self, params: Any, **inputs: Any) -> np.ndarray:
        """Analytic derivatives df/dp, shape (n, P) (or (S, n, P) for S parameter sets)."""
        x = derive_inputs(self.inputs, inputs)
        p, lead = self._columns(params)
        flat = {k: v.reshape(-1) for k, v in x.items()}
        n = next(iter(flat.values())).shape[0] if flat else 1
        f, grads = self._evaluate(p, flat, True)
        assert grads is not None
        target_shape = (int(np.prod(lead)), n) if lead else (n,)
        J = np.stack([np.broadcast_to(g, target_shape) for g in grads], axis=-1)
        return J.reshape(*lead, n, self.n_params) if lead else J

    def inputs_from(self, runs: Any) -> dict[str, np.ndarray]:
        """The law's inputs taken (or derived) from a :class:`~scalinglab.laws.runs.Runs`."""
        given: dict[str, Any] = {}
        for k in ("n_params", "n_tokens", "flops"):
            v = getattr(runs, k, None)
            if v is not None:
                given[k] = v
        for k in self.inputs:
            if k not in given and k in getattr(runs, "groups", {}):
                try:
                    given[k] = np.asarray(runs.groups[k], dtype=float)
                except (TypeError, ValueError):
                    raise DataError(f"column {k!r} must be numeric to be the input of {self.name!r}") from None
        return derive_inputs(self.inputs, given)

    # -- the law's optimum -------------------------------------------------------------------
    def optimal_loss(self, params: Any, flops: Any, *, n_grid: int = 161) -> tuple[np.ndarray | None, np.ndarray]:
        """The loss this law reaches at compute C, and with which model size.

        Parameters
        ----------
        params : mapping, vector or (S, P) matrix
            One parameter set, or S of them (e.g. bootstrap draws) as rows.
        flops : array-like
            Compute values C.
        n_grid : int
            Points of the log N search grid for laws without a closed-form N*(C).

        Returns
        -------
        (n_params_opt, loss) : tuple of arrays
            For a law of compute alone, ``(None, L(C))``. For a law of N and D, the compute-optimal
            N*(C) and L*(C) = min over N of L(N, C / (6N)) along C = 6ND: closed form where the law
            has one (:meth:`n_params_opt`, e.g. Chinchilla, Hoffmann et al. 2022, Eq. 4), otherwise
            a grid search over +-8 decades of N around sqrt(C/6) refined by a parabola (NaN where
            the minimum is at the edge of that range). Shape ``(K,)`` for one parameter set,
            ``(S, K)`` for S rows.
        """
        C = np.asarray(flops, dtype=float).reshape(-1)
        single = isinstance(params, Mapping) or np.ndim(params) == 1
        P = np.atleast_2d(self.vector(params) if isinstance(params, Mapping) else np.asarray(params, dtype=float))
        if set(self.inputs) == {"flops"}:
            with np.errstate(all="ignore"):
                L = np.asarray(self(P, flops=C), dtype=float).reshape(P.shape[0], C.size)
            return None, (L[0] if single else L)
        if not self.of_n_and_d:
            raise ConfigError(f"law {self.name!r} has inputs {self.inputs}; optimal_loss needs a law of "
                              "compute (flops) or of parameters and tokens")
        N, L = np.empty((P.shape[0], C.size)), np.empty((P.shape[0], C.size))
        closed = getattr(self, "n_params_opt", None)
        for i in range(P.shape[0]):   # one row at a time keeps the (K x grid) table small
            with np.errstate(all="ignore"):
                if closed is not None:
                    N[i] = np.asarray(closed(self.as_dict(P[i]), C), dtype=float)
                    L[i] = self(P[i], n_params=N[i], n_tokens=C / (6.0 * N[i]))
                else:
                    log_n, _, v = self.numeric_optimum(P[i:i + 1], C, n_grid=n_grid, with_value=True)
                    N[i], L[i] = np.exp(log_n[0]), v[0]
        return (N[0], L[0]) if single else (N, L)

    def numeric_optimum(self, P: np.ndarray, flops: np.ndarray, n_grid: int = 241,
                            with_value: bool = False) -> tuple[np.ndarray, ...]:
        """log N* per (draw, budget) by a grid search in log N along C = 6ND, refined by a parabola.

        Returns ``(log N*, log C)``, and the minimum loss L*(C) as a third item with ``with_value``;
        NaN where the minimum is at the edge of the +-8-decade search grid (no interior optimum).
        """
        C = np.asarray(flops, dtype=float)
        mid = 0.5 * np.log(C / 6.0)
        t = np.linspace(-8.0 * math.log(10), 8.0 * math.log(10), n_grid)
        lnN = mid[:, None] + t[None, :]                              # (K, G)
        N = np.exp(lnN)
        D = C[:, None] / (6.0 * N)
        with np.errstate(all="ignore"):
            L = np.asarray(self(P, n_params=N.ravel(), n_tokens=D.ravel()), dtype=float)
        L = L.reshape(P.shape[0], C.size, n_grid)
        L = np.where(np.isfinite(L), L, np.inf)
        j = np.argmin(L, axis=2)                                     # (S, K)
        inner = (j > 0) & (j < n_grid - 1)
        jc = np.clip(j, 1, n_grid - 2)
        take = np.take_along_axis
        y0, y1, y2 = (take(L, (jc + o)[..., None], axis=2)[..., 0] for o in (-1, 0, 1))
        h = t[1] - t[0]
        with np.errstate(all="ignore"):
            shift = 0.5 * h * (y0 - y2) / (y0 - 2 * y1 + y2)
        shift = np.where(np.isfinite(shift) & (np.abs(shift) <= h), shift, 0.0)
        out = mid[None, :] + t[jc] + shift
        log_n = np.where(inner, out, np.nan)
        if not with_value:
            return log_n, np.log(C)
        with np.errstate(all="ignore"):  # the parabola's value at its vertex
            curv = y0 - 2 * y1 + y2
            vmin = y1 - (y0 - y2) ** 2 / (8 * curv)
        vmin = np.where(np.isfinite(vmin) & (curv > 0) & (vmin <= y1), vmin, y1)
        return log_n, np.log(C), np.where(inner, vmin, np.nan)


# ---------------------------------------------------------------------------------------------
# The laws
# ---------------------------------------------------------------------------------------------

def register_law(cls: type[Law] | None = None, *, name: str | None = None,
                 overwrite: bool = False) -> Any:
    """Register a :class:`Law` subclass under ``name`` (default ``cls.name``).

    Usable as ``@register_law`` or ``register_law(MyLaw)``; raises ConfigError on a name clash
    unless ``overwrite=True``.
    """
    def _add(c: type[Law]) -> type[Law]:
        if not (isinstance(c, type) and issubclass(c, Law)):
            raise ConfigError(f"register_law expects a Law subclass; got {c!r}")
        key = name or c.name
        if not key:
            raise ConfigError(f"{c.__name__} has no name; set the class attribute `name`")
        for attr in ("formula", "param_names", "inputs"):
            if not getattr(c, attr):
                raise ConfigError(f"law {key!r} must set the class attribute {attr!r}")
        LAWS.register(key, c, overwrite=overwrite)
        return c

    return _add if cls is None else _add(cls)


def get_law(name: str | Law, **kwargs: Any) -> Law:
    """A law instance by registry name (``kwargs`` go to its constructor, e.g. ``bounds=``)."""
    if isinstance(name, Law):
        return name
    if isinstance(name, type) and issubclass(name, Law):
        return name(**kwargs)
    if not isinstance(name, str):
        raise ConfigError(f"law must be a registered name or a Law; got {type(name).__name__}")
    return LAWS.get(name)(**kwargs)


def list_laws() -> list[str]:
    """Names of the registered laws."""
    return LAWS.names()
