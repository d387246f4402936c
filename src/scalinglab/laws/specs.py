"""Scaling laws as specs: formula, parameters, bounds and starting grid; no data (STYLE P2).

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

__all__ = [
    "LAWS",
    "Chinchilla",
    "DataConstrained",
    "DownstreamLink",
    "Law",
    "Overtraining",
    "PowerLaw",
    "SaturatingError",
    "SaturatingPowerLaw",
    "derive_inputs",
    "get_law",
    "list_laws",
    "register_law",
]

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
        """The law's inputs taken (or derived) from a :class:`~scalinglab.laws.data.Runs`."""
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


def _lse_terms(*terms: np.ndarray) -> np.ndarray:
    """Sum of exp(terms) computed without overflow (log-sum-exp, then exp)."""
    m = terms[0]
    for t in terms[1:]:
        m = np.maximum(m, t)
    return np.exp(m) * sum(np.exp(t - m) for t in terms)


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


@register_law
class SaturatingPowerLaw(Law):
    """L(C) = A * C**-alpha + E: a power law in compute with an irreducible floor E.

    The form of Kaplan et al. (2020, Eq. 1.1-1.3 with an added constant) and of the compute
    frontier of Hoffmann et al. (2022); ``A`` and ``E`` are linear, ``alpha`` is the exponent.
    """

    name = "saturating_power_law"
    formula = "L(C) = A * C^-alpha + E"
    citation = "Kaplan et al. 2020 (arXiv:2001.08361), Eq. 1.3 with a floor; Hoffmann et al. 2022"
    inputs = ("flops",)
    param_names = ("A", "alpha", "E")
    default_bounds = {"A": (1e-12, 1e300), "alpha": (0.0, 5.0), "E": (1e-12, 1e6)}
    log_params = ("A", "E")
    linear_params = ("A", "E")
    start_grid = {"alpha": (0.02, 0.05, 0.1, 0.2, 0.35, 0.6, 1.0)}

    def _evaluate(self, p, x, grad):
        A, alpha, E = p
        lc = np.log(x["flops"])
        t = np.exp(-alpha * lc)
        f = A * t + E
        if not grad:
            return f, None
        return f, [t, -A * t * lc, np.ones_like(f)]


@register_law
class PowerLaw(Law):
    """L(C) = A * C**-alpha: a pure power law (a straight line in log-log space).

    Fit it nonlinearly with any estimator, or with ``loss="loglinear"`` as ordinary least squares
    of log L on log C (Kaplan et al. 2020, Sec. 3).
    """

    name = "power_law"
    formula = "L(C) = A * C^-alpha"
    citation = "Kaplan et al. 2020 (arXiv:2001.08361), Eq. 1.1-1.3"
    inputs = ("flops",)
    param_names = ("A", "alpha")
    default_bounds = {"A": (1e-300, 1e300), "alpha": (-5.0, 5.0)}
    log_params = ("A",)
    linear_params = ("A",)
    start_grid = {"alpha": (-0.5, -0.1, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8)}

    def loglinear_design(self, x: Mapping[str, np.ndarray]) -> np.ndarray:
        """log f = log A - alpha log C: the (n, 2) design for (log A, alpha), used by ``loss="loglinear"``."""
        lc = np.log(x["flops"])
        return np.column_stack([np.ones_like(lc), -lc])

    def _evaluate(self, p, x, grad):
        A, alpha = p
        lc = np.log(x["flops"])
        t = np.exp(-alpha * lc)
        f = A * t
        if not grad:
            return f, None
        return f, [t + 0.0 * f, -f * lc]


def _chinchilla_G(params: Mapping[str, float]) -> float:
    a, b = params["alpha"], params["beta"]
    return float((a * params["A"] / (b * params["B"])) ** (1.0 / (a + b)))


def _n_opt(params: Mapping[str, float], flops: Any) -> Any:
    """N*(C) = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4)."""
    a, b = params["alpha"], params["beta"]
    return _chinchilla_G(params) * (np.asarray(flops, dtype=float) / 6.0) ** (b / (a + b))


def _d_opt(params: Mapping[str, float], flops: Any) -> Any:
    """D*(C) = G^-1 (C/6)^(alpha/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4)."""
    a, b = params["alpha"], params["beta"]
    return (np.asarray(flops, dtype=float) / 6.0) ** (a / (a + b)) / _chinchilla_G(params)


@register_law
class Chinchilla(Law):
    """L(N, D) = E + A / N**alpha + B / D**beta (Hoffmann et al. 2022, Eq. 2, Approach 3).

    Optimized as in the paper and in Besiroglu et al. (2024): ``a = log A``, ``b = log B``,
    ``e = log E`` and the exponents, with the start grid alpha, beta in {0, 0.5, ..., 2},
    e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25} (4500 starts). ``params`` report A, B, E.

    Derived quantities (use with :meth:`FitResult.derived`): ``allocation_exponent``
    a = beta / (alpha + beta) (N* grows as C^a), ``data_exponent`` alpha / (alpha + beta),
    ``n_params_opt(flops)`` N*(C), ``n_tokens_opt(flops)`` D*(C) and ``tokens_per_param_opt(flops)``
    D*/N* (Hoffmann et al. 2022, Eq. 4, with C = 6ND).
    """

    name = "chinchilla"
    formula = "L(N, D) = E + A / N^alpha + B / D^beta"
    citation = ("Hoffmann et al. 2022 (arXiv:2203.15556), Eq. 2 and Sec. 3.3; start grid and "
                "log parametrisation as in Besiroglu et al. 2024 (arXiv:2404.10102)")
    inputs = ("n_params", "n_tokens")
    param_names = ("E", "A", "B", "alpha", "beta")
    default_bounds = {"E": (1e-6, 1e4), "A": (1e-6, 1e30), "B": (1e-6, 1e30),
                      "alpha": (0.0, 10.0), "beta": (0.0, 10.0)}
    log_params = ("E", "A", "B")
    linear_params = ("E", "A", "B")
    start_grid = {
        "E": tuple(math.exp(e) for e in (-1.0, -0.5, 0.0, 0.5, 1.0)),
        "A": tuple(math.exp(a) for a in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)),
        "B": tuple(math.exp(b) for b in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)),
        "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
        "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    }
    derived_quantities = {
        "allocation_exponent": (lambda p: p["beta"] / (p["alpha"] + p["beta"]),
                                "a = beta/(alpha+beta): N*(C) grows as C^a"),
        "data_exponent": (lambda p: p["alpha"] / (p["alpha"] + p["beta"]),
                          "b = alpha/(alpha+beta): D*(C) grows as C^b"),
        "n_params_opt": (_n_opt, "compute-optimal parameters N*(C) (needs flops=)"),
        "n_tokens_opt": (_d_opt, "compute-optimal tokens D*(C) (needs flops=)"),
        "tokens_per_param_opt": (lambda p, flops: _d_opt(p, flops) / _n_opt(p, flops),
                                 "D*/N* at compute C (needs flops=)"),
    }

    def default_starts(self, *, inputs=None, target=None) -> np.ndarray:
        """The 4500-point grid of Hoffmann et al. (2022); data are not used."""
        return super().default_starts()

    def _evaluate(self, p, x, grad):
        E, A, B, alpha, beta = p
        lnN, lnD = np.log(x["n_params"]), np.log(x["n_tokens"])
        tn = np.exp(-alpha * lnN)
        td = np.exp(-beta * lnD)
        f = E + A * tn + B * td
        if not grad:
            return f, None
        one = np.ones_like(f)
        return f, [one, tn * one, td * one, -A * tn * lnN, -B * td * lnD]

    # named helpers (also reachable through FitResult.derived("n_params_opt", flops=...))
    @staticmethod
    def allocation_exponent(params: Mapping[str, float]) -> float:
        """a = beta / (alpha + beta): N*(C) is proportional to C^a (Hoffmann et al. 2022, Eq. 4)."""
        return float(params["beta"] / (params["alpha"] + params["beta"]))

    @staticmethod
    def n_params_opt(params: Mapping[str, float], flops: Any) -> Any:
        """Compute-optimal parameters N*(C) with C = 6ND (Hoffmann et al. 2022, Eq. 4)."""
        return _n_opt(params, flops)

    @staticmethod
    def n_tokens_opt(params: Mapping[str, float], flops: Any) -> Any:
        """Compute-optimal tokens D*(C) with C = 6ND (Hoffmann et al. 2022, Eq. 4)."""
        return _d_opt(params, flops)

    @staticmethod
    def tokens_per_param_opt(params: Mapping[str, float], flops: Any) -> Any:
        """D*(C) / N*(C), the compute-optimal tokens per parameter at compute C."""
        return _d_opt(params, flops) / _n_opt(params, flops)


@register_law
class Overtraining(Law):
    """L(C, M) = E + (a M**eta + b M**-eta) C**-eta (Gadre et al. 2024, Eq. 4).

    The Chinchilla form with equal exponents (alpha = beta), rewritten in compute C = 6ND and the
    token multiplier M = D / N: since N = sqrt(C / (6M)) and D = sqrt(C M / 6),
    A N^-alpha + B D^-alpha = (A 6^eta M^eta + B 6^eta M^-eta) C^-eta with eta = alpha / 2.
    Hence a = 6^eta A and b = 6^eta B. Fitting across several M values lets one law predict
    over-trained runs (Gadre et al. 2024, "Language models scale reliably with over-training and
    on downstream tasks", arXiv:2403.08540, Sec. 2.1).
    """

    name = "overtraining"
    formula = "L(C, M) = E + (a * M^eta + b * M^-eta) * C^-eta,  M = D/N"
    citation = "Gadre et al. 2024 (arXiv:2403.08540), Sec. 2.1, Eq. 4"
    inputs = ("flops", "tokens_per_param")
    param_names = ("E", "a", "b", "eta")
    default_bounds = {"E": (1e-6, 1e4), "a": (1e-12, 1e300), "b": (1e-12, 1e300), "eta": (1e-4, 3.0)}
    log_params = ("E", "a", "b")
    linear_params = ("E", "a", "b")
    start_grid = {"eta": (0.03, 0.06, 0.1, 0.15, 0.2, 0.3, 0.5)}

    def _evaluate(self, p, x, grad):
        E, a, b, eta = p
        lc, lm = np.log(x["flops"]), np.log(x["tokens_per_param"])
        tc = np.exp(-eta * lc)
        up, dn = np.exp(eta * lm), np.exp(-eta * lm)
        f = E + (a * up + b * dn) * tc
        if not grad:
            return f, None
        one = np.ones_like(f)
        deta = (a * up * (lm - lc) + b * dn * (-lm - lc)) * tc
        return f, [one, up * tc * one, dn * tc * one, deta]


@register_law
class SaturatingError(Law):
    """err(C) = a * (C + b)**c + d: an error rate with a flat start and a floor.

    With c < 0 the error is near a b^c + d at C << b, falls as a power law for C >> b and
    saturates at d. The form used to compare language-vision models (e.g. Cherti et al. 2023,
    "Reproducible scaling laws for contrastive language-image learning", arXiv:2212.07143;
    the offset-in-compute variant of Henighan et al. 2020, arXiv:2010.14701).
    """

    name = "saturating_error"
    formula = "err(C) = a * (C + b)^c + d"
    citation = "Cherti et al. 2023 (arXiv:2212.07143); Henighan et al. 2020 (arXiv:2010.14701)"
    inputs = ("flops",)
    param_names = ("a", "b", "c", "d")
    default_bounds = {"a": (1e-12, 1e300), "b": (1e-300, 1e300), "c": (-5.0, 0.0), "d": (0.0, 1e6)}
    log_params = ("a", "b")
    linear_params = ("a", "d")
    start_grid = {"c": (-0.05, -0.1, -0.2, -0.4, -0.8)}

    def default_starts(self, *, inputs=None, target=None) -> np.ndarray:
        """Exponents from :attr:`start_grid`, b relative to the smallest input (1e-3, 0.1, 1, 10)."""
        cmin = float(np.min(inputs["flops"])) if inputs is not None else 1e18
        cs = self.start_grid["c"]
        bs = tuple(cmin * r for r in (1e-3, 0.1, 1.0, 10.0))
        combos = np.array(list(itertools.product(bs, cs)))
        starts = np.ones((combos.shape[0], 4))
        starts[:, 1], starts[:, 2], starts[:, 3] = combos[:, 0], combos[:, 1], 0.0
        if inputs is not None and target is not None:
            starts = self.fill_linear(starts, inputs, np.asarray(target, dtype=float), ("a", "d"))
        return self.clip(starts)

    def _evaluate(self, p, x, grad):
        a, b, c, d = p
        cb = x["flops"] + b
        lcb = np.log(cb)
        t = np.exp(c * lcb)
        f = a * t + d
        if not grad:
            return f, None
        one = np.ones_like(f)
        return f, [t * one, a * c * t / cb, a * t * lcb, one]


@register_law
class DownstreamLink(Law):
    """err(L) = eps - k * exp(-gamma * L): downstream top-1 error from loss (Gadre et al. 2024, Eq. 5).

    Error falls exponentially towards ``eps - k`` as loss L decreases and approaches the
    chance-level ceiling ``eps`` as loss grows. The input is the loss of each run (a ``loss``
    column of the runs; the target is the error).
    """

    name = "downstream_link"
    formula = "err(L) = eps - k * exp(-gamma * L)"
    citation = "Gadre et al. 2024 (arXiv:2403.08540), Sec. 2.2, Eq. 5"
    inputs = ("loss",)
    param_names = ("eps", "k", "gamma")
    default_bounds = {"eps": (0.0, 1e6), "k": (1e-12, 1e300), "gamma": (1e-6, 50.0)}
    log_params = ("k",)
    linear_params = ("eps", "k")
    start_grid = {"gamma": (0.1, 0.3, 0.6, 1.0, 2.0, 4.0)}

    def _evaluate(self, p, x, grad):
        eps, k, gamma = p
        L = x["loss"]
        ex = np.exp(-gamma * L)
        f = eps - k * ex
        if not grad:
            return f, None
        one = np.ones_like(f)
        return f, [one, -ex * one, k * L * ex]


def _dc_n_opt_log(A: Any, B: Any, alpha: Any, beta: Any, lnU: np.ndarray) -> Any:
    """ln N_opt(U): the compute-optimal parameters for U tokens under the Chinchilla terms.

    From D*(C) = G^-1 (C/6)^(alpha/(alpha+beta)) and N*(C) = G (C/6)^(beta/(alpha+beta)) (Hoffmann
    et al. 2022, Eq. 4): N_opt(U) = G (G U)^(beta/alpha), so
    ln N_opt = (ln(alpha A) - ln(beta B) + beta ln U) / alpha.
    """
    return (np.log(alpha * A) - np.log(beta * B) + beta * lnU) / alpha


def _dc_effective_tokens(params: Mapping[str, float], n_tokens: Any, n_unique_tokens: Any) -> Any:
    """D' = U + U R*_D (1 - exp(-R_D / R*_D)), R_D = D/U - 1 (Muennighoff et al. 2023, Eq. 5)."""
    D = np.asarray(n_tokens, dtype=float)
    U = np.minimum(np.asarray(n_unique_tokens, dtype=float), D)
    rd = params["RD_star"]
    return U * (1.0 + rd * (1.0 - np.exp(-np.maximum(D / U - 1.0, 0.0) / rd)))


def _dc_effective_params(params: Mapping[str, float], n_params: Any, n_unique_tokens: Any) -> Any:
    """N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)), U_N = min(N, N_opt(U)) (Muennighoff et al. 2023)."""
    N = np.asarray(n_params, dtype=float)
    p = params
    UN = np.minimum(N, np.exp(_dc_n_opt_log(p["A"], p["B"], p["alpha"], p["beta"],
                                            np.log(np.asarray(n_unique_tokens, dtype=float)))))
    rn = p["RN_star"]
    return UN * (1.0 + rn * (1.0 - np.exp(-np.maximum(N / UN - 1.0, 0.0) / rn)))


@register_law
class DataConstrained(Law):
    """L(N, D, U) = E + A / N'**alpha + B / D'**beta with repeated data and excess parameters discounted.

    The data-constrained law of Muennighoff et al. (2023, "Scaling Data-Constrained Language
    Models", arXiv:2305.16264, Sec. 3.1, Eq. 5), with U the unique tokens (``n_unique_tokens``):

    * effective data  D' = U + U R*_D (1 - exp(-R_D / R*_D)),  R_D = D/U - 1 (repetitions beyond the
      first pass); repeated tokens are worth less and less, and D' saturates at U (1 + R*_D);
    * effective parameters  N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)),  U_N = min(N_opt(U), N),
      R_N = N/U_N - 1, where N_opt(U) = G (G U)^(beta/alpha) is the compute-optimal size for U tokens
      under the same terms (G as in Hoffmann et al. 2022, Eq. 4); parameters beyond N_opt(U) are
      "excess" and are discounted the same way.

    With no repetition (D = U) and no excess parameters (N <= N_opt(U)) it is the Chinchilla law.
    The paper's fitted half-lives are R*_D ~ 15.4 (repeating data stops paying after about 16
    epochs) and R*_N ~ 5.3. The paper fits in two steps: E, A, B, alpha, beta on single-epoch runs,
    then R*_D and R*_N with those held (``fit(..., fixed={...})``); a joint fit of all seven needs
    runs with repetition *and* runs with excess parameters, or R*_N is not identified.

    Inputs: ``n_params`` (N), ``n_tokens`` (D, tokens processed) and ``n_unique_tokens`` (U: the
    distinct tokens the run saw, e.g. from :func:`scalinglab.train.data.repetition_stats`; U > D is
    clipped to D). Parameters ``RD_star`` and ``RN_star`` are R*_D and R*_N.
    """

    name = "data_constrained"
    formula = ("L(N, D, U) = E + A / N'^alpha + B / D'^beta;  D' = U (1 + RD_star (1 - exp(-(D/U - 1)/RD_star))), "
               "N' = U_N (1 + RN_star (1 - exp(-(N/U_N - 1)/RN_star))), U_N = min(N, N_opt(U))")
    citation = "Muennighoff et al. 2023 (arXiv:2305.16264), Sec. 3.1, Eq. 5; N_opt from Hoffmann et al. 2022, Eq. 4"
    inputs = ("n_params", "n_tokens", "n_unique_tokens")
    param_names = ("E", "A", "B", "alpha", "beta", "RD_star", "RN_star")
    default_bounds = {"E": (1e-6, 1e4), "A": (1e-6, 1e30), "B": (1e-6, 1e30), "alpha": (1e-3, 10.0),
                      "beta": (1e-3, 10.0), "RD_star": (1e-3, 1e6), "RN_star": (1e-3, 1e6)}
    log_params = ("E", "A", "B", "RD_star", "RN_star")
    linear_params = ("E",)
    start_grid = {
        "A": tuple(math.exp(a) for a in (0.0, 5.0, 10.0, 15.0)),
        "B": tuple(math.exp(b) for b in (0.0, 5.0, 10.0, 15.0)),
        "alpha": (0.2, 0.5, 1.0),
        "beta": (0.2, 0.5, 1.0),
        "RD_star": (3.0, 15.0, 60.0),
        "RN_star": (1.0, 5.0, 25.0),
    }
    derived_quantities = {
        "effective_tokens": (_dc_effective_tokens, "D', the unique-token equivalent of D tokens drawn from U "
                                                   "(needs n_tokens=, n_unique_tokens=)"),
        "effective_params": (_dc_effective_params, "N', parameters discounted for excess over N_opt(U) "
                                                   "(needs n_params=, n_unique_tokens=)"),
        "n_params_opt_for_unique": (lambda p, n_unique_tokens: np.exp(_dc_n_opt_log(
            p["A"], p["B"], p["alpha"], p["beta"], np.log(np.asarray(n_unique_tokens, dtype=float)))),
            "N_opt(U): the compute-optimal size for U tokens seen once (needs n_unique_tokens=)"),
    }

    def _evaluate(self, p, x, grad):
        E, A, B, alpha, beta, rd, rn = p
        N, D = x["n_params"], x["n_tokens"]
        U = np.minimum(x["n_unique_tokens"], D)
        lnU = np.log(U)
        # data: D' = U (1 + rd (1 - e^-xd)), xd = R_D / rd
        R_D = np.maximum(D / U - 1.0, 0.0)
        ed = np.exp(-R_D / rd)
        Dp = U * (1.0 + rd * (1.0 - ed))
        # parameters: U_N = min(N, N_opt(U)), N' = U_N (1 + rn (1 - e^-xn)), xn = R_N / rn
        ln_nopt = _dc_n_opt_log(A, B, alpha, beta, lnU)
        excess = np.log(N) > ln_nopt                   # the model is larger than U tokens can feed
        UN = np.where(excess, np.exp(np.minimum(ln_nopt, np.log(N))), N)
        R_N = np.maximum(N / UN - 1.0, 0.0)
        en = np.exp(-R_N / rn)
        Np = UN * (1.0 + rn * (1.0 - en))
        tn = np.exp(-alpha * np.log(Np))
        td = np.exp(-beta * np.log(Dp))
        f = E + A * tn + B * td
        if not grad:
            return f, None
        one = np.ones_like(f)
        dL_dNp = -alpha * A * tn / Np
        dL_dDp = -beta * B * td / Dp
        # dN'/dU_N at fixed N (through U_N and R_N = N/U_N - 1), only where U_N = N_opt(U) < N
        dNp_dUN = 1.0 + rn * (1.0 - en) - en * (1.0 + R_N)
        k = np.where(excess, dL_dNp * dNp_dUN * UN, 0.0)     # dL/d ln U_N
        lnS = np.log(alpha * A) - np.log(beta * B)          # d ln N_opt / d theta below
        dA = tn + k / (alpha * A)
        dB = td - k / (alpha * B)
        dalpha = -A * tn * np.log(Np) + k * (1.0 - lnS - beta * lnU) / alpha ** 2
        dbeta = -B * td * np.log(Dp) + k * (lnU - 1.0 / beta) / alpha
        xd, xn = R_D / rd, R_N / rn
        drd = dL_dDp * U * ((1.0 - ed) - xd * ed)
        drn = dL_dNp * UN * ((1.0 - en) - xn * en)
        return f, [one, dA * one, dB * one, dalpha * one, dbeta * one, drd * one, drn * one]
