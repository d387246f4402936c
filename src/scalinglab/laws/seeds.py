"""Seed replicates are noise: their spread, and the noise model of a new run.

What to use when
----------------
* :func:`seed_spread` measures how far runs that differ *only* in their seed land apart: per
  point (rung, budget, learning rate ...) and pooled over points. That is the noise a single new
  run carries around the law; it says nothing about the law itself.
* ``best_per_size(runs, mean_over="seed")`` averages the seeds of each configuration first; its
  :class:`~scalinglab.laws.frontier.Frontier` keeps the measured spread (``Frontier.spread``), so
  a fit on it knows its points are means of ``k`` seeds.
* ``fit(..., noise="auto")`` (the default) builds a :class:`NoiseModel` for prediction intervals
  of a new run: from the replicates in the data when there are any, else from a registered seed
  study of the runs' ladder (:func:`seed_study`; gpt-tiny's is docs/seeds.md), else from the fit's
  residuals alone. The summary says which.

What the numbers mean
---------------------
Spreads are standard deviations of ``log(target)`` (relative spreads: 0.01 is about 1 %). The
pooled spread is ``sqrt(sum_i (k_i - 1) s_i^2 / sum_i (k_i - 1))`` over points with ``k_i >= 2``
seeds, with ``df = sum_i (k_i - 1)`` degrees of freedom; its interval is the chi-square interval
for a normal variance (e.g. Casella & Berger 2002, Example 9.2.10), valid when seed effects are
close to normal and have one variance across the points pooled. With three seeds a single point's
``s_i`` has 2 degrees of freedom and is unreliable on its own (its 95 % interval spans a factor of
about 6): pool, or model the spread, before reading it per point.

Seed spreads shrink as models grow and runs get longer (docs/seeds.md: from about 5 % for the
smallest gpt-tiny rung at short budgets to 0.2 % for the largest at 2M tokens), so a
:class:`SeedSpread` also fits a trend, ``log sd = a + b log D + c log N``: the slopes by weighted
least squares on the per-point ``log s_i^2`` with the bias of a log chi-square variable removed
(``E log s^2 = log sigma^2 + psi(df/2) - log(df/2)``, Bartlett & Kendall 1946), the level ``a`` so
that the trend's mean variance over the points equals the pooled variance (the trend shares the
pooled variance out; it does not re-estimate it). :meth:`SeedSpread.sigma_at` evaluates it,
clamped to the measured range of N and D (a spread is never extrapolated to be smaller than
measured). With fewer than 4 points or 8 degrees of freedom the pooled spread is used everywhere.

A new run's noise around the law (``NoiseModel.sigma``) is ``sqrt(sigma_seed^2 + lack^2)`` where
``lack^2 = max(0, residual_scale^2 - sigma_seed^2 / k)`` is the scatter of the fitted points
(means of ``k`` seeds) that the seeds do not explain: the law's misfit, data-order effects shared
by every seed, learning-rate tuning noise. With one seed per point (``k = 1``) this is
``max(residual_scale, sigma_seed)``: the seed study is a floor under residuals that a flexible
law fitted to few points makes too small.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, DataError

__all__ = [
    "NoiseModel",
    "SeedSpread",
    "list_seed_studies",
    "noise_model",
    "register_seed_study",
    "seed_spread",
    "seed_study",
]


@dataclass(frozen=True, eq=False)
class SeedSpread:
    """Seed-to-seed spread of a target: per point and pooled (standard deviations of log target).

    Attributes
    ----------
    n_params, n_tokens : ndarray
        N and D of each point with at least two seeds (NaN where the runs have no such column).
    n_seeds : ndarray of int
        Seeds at each point.
    mean : ndarray
        Mean target per point (arithmetic, in the target's units).
    sd_log : ndarray
        Standard deviation of ``log(target)`` across the point's seeds (ddof = 1).
    labels : tuple of str
        A readable name per point (``"gpt-tiny-3 D=524k lr=0.006"``).
    sigma_log : float
        Pooled spread over the points (see the module notes).
    df : int
        Its degrees of freedom, ``sum(k_i - 1)``.
    source : str
        Where it comes from: ``"measured"`` (replicates in these runs) or ``"study:<name>"``.
    """

    n_params: np.ndarray
    n_tokens: np.ndarray
    n_seeds: np.ndarray
    mean: np.ndarray
    sd_log: np.ndarray
    labels: tuple[str, ...]
    sigma_log: float
    df: int
    source: str = "measured"
    reference: str = ""
    trend: tuple[float, float, float] | None = None   # (a, b, c): log sd = a + b log D + c log N

    def __post_init__(self) -> None:
        if self.trend is None:
            object.__setattr__(self, "trend", _fit_trend(self.n_params, self.n_tokens, self.n_seeds, self.sd_log))
        freeze_fields(self)

    @property
    def n_points(self) -> int:
        return int(self.n_seeds.shape[0])

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Chi-square interval of the pooled spread (normal seed effects, one variance)."""
        from scipy.stats import chi2

        if not 0 < level < 1:
            raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
        if self.df < 1:
            return (math.nan, math.nan)
        a = (1 - level) / 2
        v = self.df * self.sigma_log ** 2
        return (math.sqrt(v / chi2.ppf(1 - a, self.df)), math.sqrt(v / chi2.ppf(a, self.df)))

    def sigma_at(self, n_params: Any = None, n_tokens: Any = None, **_: Any) -> np.ndarray:
        """The spread of one run at (N, D): the trend (module notes) clamped to the measured range,
        or the pooled spread where no trend was fitted or an input is missing."""
        if self.trend is None or n_params is None or n_tokens is None:
            shape = np.broadcast_shapes(*(np.shape(v) for v in (n_params, n_tokens) if v is not None))
            return np.full(shape, self.sigma_log)
        a, b, c = self.trend
        d = np.clip(np.asarray(n_tokens, dtype=float), np.nanmin(self.n_tokens), np.nanmax(self.n_tokens))
        n = np.clip(np.asarray(n_params, dtype=float), np.nanmin(self.n_params), np.nanmax(self.n_params))
        return np.exp(a + b * np.log(d) + c * np.log(n))

    def by(self, column: str) -> dict[float, tuple[float, int]]:
        """Pooled spread per value of ``"n_params"`` or ``"n_tokens"``: ``{value: (sigma, df)}``."""
        if column not in ("n_params", "n_tokens"):
            raise ConfigError(f"column must be 'n_params' or 'n_tokens'; got {column!r}")
        v = getattr(self, column)
        out = {}
        for key in sorted({float(f"{x:.6g}") for x in v if np.isfinite(x)}):
            m = np.isclose(v, key, rtol=1e-5)
            df = int(np.sum(self.n_seeds[m] - 1))
            out[key] = (math.sqrt(float(np.sum((self.n_seeds[m] - 1) * self.sd_log[m] ** 2)) / df), df)
        return out

    def as_text(self, level: float = 0.95) -> str:
        lo, hi = self.interval(level)
        head = (f"Seed spread ({self.source}): {100 * self.sigma_log:.2f}% per run (SD of log target), "
                f"{100 * level:g}% interval [{100 * lo:.2f}%, {100 * hi:.2f}%], {self.n_points} points, "
                f"df={self.df}")
        rows = [f"  {lab:<36} seeds={int(k)}  mean={m:.4f}  sd={100 * s:.2f}%"
                for lab, k, m, s in zip(self.labels, self.n_seeds, self.mean, self.sd_log)]
        return "\n".join([head, *rows])

    def __repr__(self) -> str:
        return (f"SeedSpread(sigma_log={self.sigma_log:.4g}, df={self.df}, points={self.n_points}, "
                f"source={self.source!r})")

    def to_dict(self) -> dict[str, Any]:
        return {"n_params": self.n_params.tolist(), "n_tokens": self.n_tokens.tolist(),
                "n_seeds": [int(k) for k in self.n_seeds], "mean": self.mean.tolist(),
                "sd_log": self.sd_log.tolist(), "labels": list(self.labels),
                "sigma_log": float(self.sigma_log), "df": int(self.df), "source": self.source,
                "reference": self.reference, "trend": None if self.trend is None else list(self.trend)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SeedSpread:
        return cls(n_params=np.asarray(d["n_params"], dtype=float),
                   n_tokens=np.asarray(d["n_tokens"], dtype=float),
                   n_seeds=np.asarray(d["n_seeds"], dtype=int), mean=np.asarray(d["mean"], dtype=float),
                   sd_log=np.asarray(d["sd_log"], dtype=float), labels=tuple(d["labels"]),
                   sigma_log=float(d["sigma_log"]), df=int(d["df"]), source=str(d.get("source", "measured")),
                   reference=str(d.get("reference", "")),
                   trend=None if d.get("trend") is None else tuple(float(v) for v in d["trend"]))

    @classmethod
    def from_table(cls, rows: Sequence[Mapping[str, Any]], *, source: str, reference: str = "") -> SeedSpread:
        """Build from per-point rows ``{label, n_params, n_tokens, n_seeds, mean, sd_log}`` (a study)."""
        k = np.array([int(r["n_seeds"]) for r in rows])
        sd = np.array([float(r["sd_log"]) for r in rows])
        df = int(np.sum(k - 1))
        if df < 1:
            raise DataError("a seed spread needs at least one point with two or more seeds")
        return cls(n_params=np.array([float(r["n_params"]) for r in rows]),
                   n_tokens=np.array([float(r["n_tokens"]) for r in rows]), n_seeds=k,
                   mean=np.array([float(r["mean"]) for r in rows]), sd_log=sd,
                   labels=tuple(str(r["label"]) for r in rows),
                   sigma_log=math.sqrt(float(np.sum((k - 1) * sd ** 2)) / df), df=df, source=source,
                   reference=reference)


MIN_TREND_POINTS, MIN_TREND_DF = 4, 8


def _fit_trend(n: np.ndarray, d: np.ndarray, k: np.ndarray, sd: np.ndarray) -> tuple[float, float, float] | None:
    """``(a, b, c)`` of ``log sd = a + b log D + c log N`` (module notes), or None when too little data."""
    from scipy.special import digamma

    ok = np.isfinite(n) & np.isfinite(d) & (sd > 0) & (k >= 2)
    if ok.sum() < MIN_TREND_POINTS or int(np.sum(k[ok] - 1)) < MIN_TREND_DF:
        return None
    df = (k[ok] - 1).astype(float)
    # E[log s^2] = log sigma^2 + psi(df/2) - log(df/2): remove the bias before fitting log sigma
    y = 0.5 * (np.log(sd[ok] ** 2) - (digamma(df / 2) - np.log(df / 2)))
    cols = [np.ones(ok.sum()), np.log(d[ok])]
    if len({f"{v:.6g}" for v in n[ok]}) > 1:
        cols.append(np.log(n[ok]))
    X = np.stack(cols, axis=1)
    w = np.sqrt(df)                                   # var(log s^2) ~ 2 / df
    coef, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    c = float(coef[2]) if len(coef) > 2 else 0.0
    # the trend only shares out the pooled variance (an unbiased estimate of the mean sigma^2):
    # its df-weighted mean of sigma(x_i)^2 over the points equals the pooled sd^2
    pred2 = np.exp(2 * (a + b * np.log(d[ok]) + c * np.log(n[ok])))
    pooled2 = float(np.sum(df * sd[ok] ** 2) / np.sum(df))
    a += 0.5 * math.log(pooled2 / float(np.sum(df * pred2) / np.sum(df)))
    return (a, b, c)


def _key(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.6g}")
    return str(v)


def seed_spread(runs: Any, *, seed: str | Sequence[str] = "seed",
                by: Sequence[str] | None = None) -> SeedSpread | None:
    """Measure the spread across seeds of otherwise identical runs; None when no point has two.

    Parameters
    ----------
    runs : Runs
        With a ``seed`` group column (``ResultsStore.to_runs()`` has one).
    seed : str or sequence of str
        The column(s) whose values are replicates (default ``"seed"``).
    by : sequence of str, optional
        Columns that identify a point (default: ``n_params`` and ``n_tokens`` where present, and
        every other group column, e.g. ``lr``, ``dataset``). Runs equal in all of them and
        different in ``seed`` are replicates.

    Returns
    -------
    SeedSpread or None
        Spreads of ``log(target)``; None when no point has two or more seeds.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(n_params=[1e6] * 3, n_tokens=[1e8] * 3, target=[3.0, 3.03, 2.97],
    ...                         groups={"seed": [0, 1, 2]})
    >>> round(seed_spread(runs).sigma_log, 4)
    0.01
    """
    seeds = (seed,) if isinstance(seed, str) else tuple(seed)
    for s in seeds:
        runs.column(s)  # MissingColumnError with a hint
    if by is None:
        by = [c for c in ("n_params", "n_tokens") if getattr(runs, c, None) is not None]
        by += [g for g in runs.groups if g not in seeds]
    by = list(by)
    cols = [runs.column(c) for c in by]
    y = np.asarray(runs.target, dtype=float)
    if np.any(y <= 0):
        raise DataError("seed spreads are measured on log(target); the target has values <= 0")
    points: dict[tuple, list[int]] = {}
    for i in range(len(runs)):
        points.setdefault(tuple(_key(c[i]) for c in cols), []).append(i)
    rows = []
    for key, idx in points.items():
        distinct = {tuple(_key(runs.column(s)[i]) for s in seeds) for i in idx}
        if len(idx) < 2 or len(distinct) < 2:
            continue
        ly = np.log(y[idx])
        label = " ".join(f"{c}={v:.4g}" if isinstance(v, float) else f"{c}={v}"
                         for c, v in zip(by, key) if c not in ("procedure", "variant", "schedule", "ladder"))
        rows.append({"label": label, "n_seeds": len(idx), "mean": float(np.mean(y[idx])),
                     "sd_log": float(np.std(ly, ddof=1)),
                     "n_params": float(runs.n_params[idx[0]]) if runs.n_params is not None else math.nan,
                     "n_tokens": float(runs.n_tokens[idx[0]]) if runs.n_tokens is not None else math.nan})
    if not rows:
        return None
    return SeedSpread.from_table(rows, source="measured")


# ---------------------------------------------------------------------------------------------
# the noise of a new run
# ---------------------------------------------------------------------------------------------

NOISE_SOURCES = ("replicates", "study", "residuals", "given")


@dataclass(frozen=True, eq=False)
class NoiseModel:
    """How far a new single run lands from the law: what a prediction interval adds for noise.

    Attributes
    ----------
    sigma : float
        Standard deviation of a new run around the fitted law, in the fit's space (log residuals
        for ``space="log"``), at the median fitted point: ``sqrt(sigma_seed^2 + lack^2)``
        (module notes). :meth:`sigma_at` gives it at any (N, D).
    sigma_seed : float
        Seed-to-seed spread at the median fitted point (NaN when none is known).
    sigma_residual : float
        The fit's residual scale.
    lack : float
        SD of the misfit the seeds do not explain (0 when the seeds explain all residual scatter).
    seeds_per_point : float
        Mean number of seeds averaged into each fitted point (1 for single runs).
    source : str
        ``"replicates"`` (seeds in these runs), ``"study"`` (a registered seed study of the runs'
        ladder; used when the runs have one seed), ``"residuals"`` (neither: residuals only) or
        ``"given"`` (passed to ``fit``).
    detail : str
        The study's name or what was measured.
    spread : SeedSpread or None
        The spread whose trend in N and D sets the seed part at each point (None: constant).
    scale : float
        Factor from a spread of log target to the fit's space (1 in log space; the median target
        for a linear-space fit).
    """

    sigma: float
    sigma_seed: float
    sigma_residual: float
    lack: float = 0.0
    seeds_per_point: float = 1.0
    source: str = "residuals"
    detail: str = ""
    spread: SeedSpread | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.source not in NOISE_SOURCES:
            raise ConfigError(f"NoiseModel.source must be one of {', '.join(NOISE_SOURCES)}; got {self.source!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NoiseModel) and self.to_dict() == other.to_dict()

    @property
    def uses_seeds(self) -> bool:
        """True when the seed spread (measured or from a study) sets the noise, not residuals alone."""
        return self.source != "residuals"

    def seed_sigma_at(self, **inputs: Any) -> np.ndarray:
        """The seed part of a new run's noise at the given inputs (fit's space)."""
        if self.spread is not None and "n_params" in inputs and "n_tokens" in inputs:
            return self.scale * self.spread.sigma_at(inputs["n_params"], inputs["n_tokens"])
        shape = np.broadcast_shapes(*(np.shape(v) for v in inputs.values())) if inputs else ()
        return np.full(shape, self.sigma_seed if math.isfinite(self.sigma_seed) else 0.0)

    def sigma_at(self, **inputs: Any) -> np.ndarray:
        """SD of one new run around the law at the given inputs (fit's space)."""
        if not self.uses_seeds:
            shape = np.broadcast_shapes(*(np.shape(v) for v in inputs.values())) if inputs else ()
            return np.full(shape, self.sigma)
        return np.sqrt(self.seed_sigma_at(**inputs) ** 2 + self.lack ** 2)

    def describe(self) -> str:
        """One line for summaries: which noise a new run's interval carries, and from where."""
        trend = ""
        if self.spread is not None and self.spread.trend is not None:
            trend = f" (its trend in D and N applied at each point; {100 * self.sigma_seed:.2f}% at the median fitted point)"
        if self.source == "residuals":
            return (f"new-run noise {100 * self.sigma:.2f}% from the residuals only (no seed replicates and "
                    "no seed study for these runs)")
        if self.source == "replicates":
            return (f"new-run noise {100 * self.sigma:.2f}%: seed spread {100 * self.sigma_seed:.2f}% measured "
                    f"from the replicates ({self.detail}){trend}, {self.seeds_per_point:.3g} seeds per fitted point, "
                    f"misfit {100 * self.lack:.2f}%")
        if self.source == "study":
            return (f"new-run noise {100 * self.sigma:.2f}%: one seed per point, so the seed spread "
                    f"{100 * self.sigma_seed:.2f}% is taken from the {self.detail}{trend} (a floor under the "
                    f"residual scale {100 * self.sigma_residual:.2f}%)")
        return f"new-run noise {100 * self.sigma:.2f}% (seed spread {100 * self.sigma_seed:.2f}% given)"

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": float(self.sigma), "sigma_seed": float(self.sigma_seed),
                "sigma_residual": float(self.sigma_residual), "lack": float(self.lack),
                "seeds_per_point": float(self.seeds_per_point), "source": self.source, "detail": self.detail,
                "spread": None if self.spread is None else self.spread.to_dict(), "scale": float(self.scale)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> NoiseModel:
        return cls(sigma=float(d["sigma"]), sigma_seed=float(d["sigma_seed"]),
                   sigma_residual=float(d["sigma_residual"]), lack=float(d.get("lack", 0.0)),
                   seeds_per_point=float(d["seeds_per_point"]), source=str(d["source"]),
                   detail=str(d.get("detail", "")),
                   spread=None if d.get("spread") is None else SeedSpread.from_dict(d["spread"]),
                   scale=float(d.get("scale", 1.0)))


def noise_model(sigma_residual: float, *, sigma_seed: float | SeedSpread | None = None,
                seeds_per_point: float = 1.0, source: str = "residuals", detail: str = "",
                fitted: Mapping[str, Any] | None = None, scale: float = 1.0) -> NoiseModel:
    """Combine a residual scale and a seed spread into the noise of one new run (module notes).

    ``sigma_seed`` is a spread of log target (a float, or a :class:`SeedSpread` whose trend
    gives it per point); ``fitted`` holds the fitted points' ``n_params``/``n_tokens``, where the
    misfit ``lack^2 = max(0, residual^2 - mean_i sigma_seed(x_i)^2 / k)`` is measured; ``scale``
    converts a log spread to the fit's space.
    """
    r = float(sigma_residual)
    if sigma_seed is None or (not isinstance(sigma_seed, SeedSpread) and not math.isfinite(sigma_seed)):
        return NoiseModel(sigma=r, sigma_seed=math.nan, sigma_residual=r, lack=r, source="residuals",
                          detail=detail)
    k = max(float(seeds_per_point), 1.0)
    spread = sigma_seed if isinstance(sigma_seed, SeedSpread) else None
    if spread is not None and fitted and "n_params" in fitted and "n_tokens" in fitted:
        at = scale * spread.sigma_at(np.asarray(fitted["n_params"], dtype=float),
                                     np.asarray(fitted["n_tokens"], dtype=float))
    else:
        at = np.array([scale * (spread.sigma_log if spread is not None else float(sigma_seed))])
    lack2 = max(0.0, (r * r if math.isfinite(r) else 0.0) - float(np.mean(at ** 2)) / k)
    s_mid = float(np.median(at))
    return NoiseModel(sigma=math.sqrt(s_mid ** 2 + lack2), sigma_seed=s_mid, sigma_residual=r,
                      lack=math.sqrt(lack2), seeds_per_point=k, source=source, detail=detail,
                      spread=spread, scale=scale)


# ---------------------------------------------------------------------------------------------
# registered seed studies (the default noise of single-seed runs of a ladder)
# ---------------------------------------------------------------------------------------------

_STUDIES: dict[str, SeedSpread] = {}


def register_seed_study(ladder: str, spread: SeedSpread | Sequence[Mapping[str, Any]], *,
                        reference: str = "") -> SeedSpread:
    """Make ``spread`` the default seed noise of single-seed runs whose ``ladder`` column is ``ladder``.

    ``spread`` is a :class:`SeedSpread` or its per-point rows (see :meth:`SeedSpread.from_table`).
    """
    if not isinstance(spread, SeedSpread):
        spread = SeedSpread.from_table(list(spread), source=f"study:{ladder}", reference=reference)
    _STUDIES[str(ladder)] = spread
    return spread


def seed_study(ladder: str) -> SeedSpread | None:
    """The registered seed study of a ladder, or None."""
    return _STUDIES.get(str(ladder))


def list_seed_studies() -> list[str]:
    """Ladders with a registered seed study."""
    return sorted(_STUDIES)


#: gpt-tiny at context 32: the ``seeds`` sweep preset (rungs 1-4 x 131k..2.1M tokens x the tuned
#: learning rate, seeds 0, 1, 2; branched WSD), measured 2026-12-06 (docs/seeds.md). Per point:
#: (rung, N, D, seeds, mean val_loss, SD of log val_loss).
GPT_TINY_STUDY: tuple[tuple[str, int, int, int, float, float], ...] = (
    ("gpt-tiny-1", 24896, 131072, 3, 2.832987, 0.051422),
    ("gpt-tiny-1", 24896, 262144, 3, 2.537602, 0.046853),
    ("gpt-tiny-1", 24896, 524288, 3, 2.231169, 0.050642),
    ("gpt-tiny-1", 24896, 1048576, 3, 1.938044, 0.033491),
    ("gpt-tiny-1", 24896, 2097152, 3, 1.692439, 0.018632),
    ("gpt-tiny-2", 55776, 131072, 3, 2.741596, 0.014127),
    ("gpt-tiny-2", 55776, 262144, 3, 2.528819, 0.040329),
    ("gpt-tiny-2", 55776, 524288, 3, 2.224521, 0.051926),
    ("gpt-tiny-2", 55776, 1048576, 3, 1.891264, 0.034482),
    ("gpt-tiny-2", 55776, 2097152, 3, 1.610138, 0.018228),
    ("gpt-tiny-3", 148352, 131072, 3, 2.628764, 0.011910),
    ("gpt-tiny-3", 148352, 262144, 3, 2.339850, 0.027781),
    ("gpt-tiny-3", 148352, 524288, 3, 2.030604, 0.017918),
    ("gpt-tiny-3", 148352, 1048576, 3, 1.740503, 0.012163),
    ("gpt-tiny-3", 148352, 2097152, 3, 1.508419, 0.006051),
    ("gpt-tiny-4", 333120, 131072, 3, 2.509913, 0.019810),
    ("gpt-tiny-4", 333120, 262144, 3, 2.227559, 0.014482),
    ("gpt-tiny-4", 333120, 524288, 3, 1.936280, 0.007936),
    ("gpt-tiny-4", 333120, 1048576, 3, 1.662179, 0.003862),
    ("gpt-tiny-4", 333120, 2097152, 3, 1.449212, 0.002003),
)

register_seed_study("gpt-tiny", [
    {"label": f"{r} D={d}", "n_params": n, "n_tokens": d, "n_seeds": k, "mean": m, "sd_log": sd}
    for r, n, d, k, m, sd in GPT_TINY_STUDY], reference="docs/seeds.md")
