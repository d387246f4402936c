"""The catalogue of scaling laws that ship with scalinglab, each a :class:`~scalinglab.laws.law.Law`.

``saturating_power_law`` and ``power_law`` (loss vs compute), ``chinchilla`` (L(N, D)),
``overtraining`` (L(C, M = D/N)), ``saturating_error`` (an error rate with a floor, the form used
to compare language-vision models), ``downstream_link`` (error as a function of loss) and
``data_constrained`` (repeated data). How to write and register your own: :mod:`scalinglab.laws.law`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .law import Law, register_law

__all__ = [
    "Chinchilla",
    "DataConstrained",
    "DownstreamLink",
    "Overtraining",
    "PowerLaw",
    "SaturatingError",
    "SaturatingPowerLaw",
]


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
    """G = (alpha A / (beta B))^(1/(alpha+beta)); inf or NaN (not an exception) for a degenerate
    parameter set (an exponent at 0), which callers treat as "no prediction"."""
    a, b = np.float64(params["alpha"]), np.float64(params["beta"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return float((a * params["A"] / (b * params["B"])) ** (1.0 / (a + b)))


def _n_opt(params: Mapping[str, float], flops: Any) -> Any:
    """N*(C) = G (C/6)^(beta/(alpha+beta)), G = (alpha A / (beta B))^(1/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4).
    Non-finite (not an exception) when the exponents are degenerate."""
    a, b = np.float64(params["alpha"]), np.float64(params["beta"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _chinchilla_G(params) * (np.asarray(flops, dtype=float) / 6.0) ** (b / (a + b))


def _d_opt(params: Mapping[str, float], flops: Any) -> Any:
    """D*(C) = G^-1 (C/6)^(alpha/(alpha+beta)) (Hoffmann et al. 2022, Eq. 4); non-finite when degenerate."""
    a, b = np.float64(params["alpha"]), np.float64(params["beta"])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return (np.asarray(flops, dtype=float) / 6.0) ** (a / (a + b)) / np.float64(_chinchilla_G(params))


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
