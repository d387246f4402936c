"""Nonparametric bootstrap of a fit: resample runs (or whole groups of runs) and refit.

What the interval means
-----------------------
A percentile interval from :class:`BootstrapResult` is the range of estimates one would get by
repeating the study with a new set of runs drawn like the old ones (Efron & Tibshirani 1993,
Ch. 13). It is valid when the resampled units are independent draws from a common design:

* ``by=None`` resamples single runs (rows). Right when every run is an independent experiment.
* ``by="n_params"`` resamples whole model sizes; ``by="flops"`` whole iso-FLOP budgets; any group
  column works (``by="seed"``, ``by="procedure"``). Use it when runs share something that makes
  their errors move together: several seeds or checkpoints of one model size are *not*
  independent evidence about scale, and row resampling would make the interval too narrow.
* It is **invalid** (too narrow, or meaningless) with very few units (fewer than ~10 groups: the
  resamples cannot vary enough), when a parameter sits at a bound, or for extrapolation far beyond
  the design: it measures sampling noise given the law, never the error of the law's form.

Float group columns are grouped after rounding to 6 significant digits (digitised data carry
float noise); pass a dedicated group column for coarser groups. Resampling is deterministic given
``seed`` (numpy ``default_rng``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, DataError
from ._hexfloat import hex_floats, unhex_floats

__all__ = ["BootstrapResult", "group_labels", "percentile_interval", "resample_weights"]


def group_labels(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Integer group ids for a column (floats rounded to 6 significant digits first)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "fc":
        keys = [f"{float(v):.6g}" for v in arr]
    else:
        keys = [str(v) for v in arr]
    _, ids = np.unique(np.array(keys, dtype=object).astype(str), return_inverse=True)
    return ids.reshape(-1)


def resample_weights(n: int, n_boot: int, *, seed: int = 0,
                     groups: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap resamples as multinomial count vectors, shape (n_boot, n).

    Row ``b`` says how many times each point appears in resample ``b``. With ``groups`` (integer
    ids per point) whole groups are drawn with replacement and each point gets its group's count.
    """
    if n_boot < 1:
        raise ConfigError(f"n_boot must be >= 1; got {n_boot}")
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)
    ids = np.asarray(groups).reshape(-1)
    if ids.shape[0] != n:
        raise DataError(f"groups has {ids.shape[0]} labels for {n} points")
    G = int(ids.max()) + 1
    if G < 2:
        raise DataError("bootstrap by group needs at least 2 groups; all points share one group")
    counts = rng.multinomial(G, np.full(G, 1.0 / G), size=n_boot).astype(float)
    return counts[:, ids]


def percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of ``draws`` along axis 0 (ignoring non-finite draws)."""
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), e.g. 0.95; got {level!r}")
    a = (1 - level) / 2
    d = np.asarray(draws, dtype=float)
    with np.errstate(invalid="ignore"):
        d = np.where(np.isfinite(d), d, np.nan)
        return np.nanquantile(d, a, axis=0), np.nanquantile(d, 1 - a, axis=0)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Refits of one law on bootstrap resamples.

    Attributes
    ----------
    params : ndarray, shape (n_boot, P)
        Natural parameters per resample, in ``param_names`` order.
    param_names : tuple of str
    objectives : ndarray, shape (n_boot,)
        Objective of each refit (on its own resample).
    converged : ndarray of bool, shape (n_boot,)
    seed : int
        The seed of the resampling (deterministic).
    by : str or None
        Resampled unit: None for single runs, else the group column.
    n_groups : int
        Number of resampled units (runs or groups).
    """

    params: np.ndarray
    param_names: tuple[str, ...]
    objectives: np.ndarray
    converged: np.ndarray
    seed: int
    by: str | None
    n_groups: int

    def __post_init__(self) -> None:
        freeze_fields(self)

    @property
    def n_boot(self) -> int:
        return int(self.params.shape[0])

    @property
    def stderr(self) -> dict[str, float]:
        """Standard deviation of each parameter over resamples."""
        sd = np.nanstd(self.params, axis=0, ddof=1) if self.n_boot > 1 else np.full(len(self.param_names), np.nan)
        return {k: float(v) for k, v in zip(self.param_names, sd)}

    def ci(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Percentile intervals per parameter (see the module notes for what they mean)."""
        lo, hi = percentile_interval(self.params, level)
        return {k: (float(a), float(b)) for k, a, b in zip(self.param_names, lo, hi)}

    def __repr__(self) -> str:
        unit = "runs" if self.by is None else f"groups of {self.by!r}"
        return (f"BootstrapResult(n_boot={self.n_boot}, resampling {self.n_groups} {unit}, seed={self.seed}, "
                f"converged={int(np.sum(self.converged))}/{self.n_boot})")

    def to_dict(self) -> dict[str, Any]:
        return {"params": hex_floats(self.params), "param_names": list(self.param_names),
                "objectives": hex_floats(self.objectives), "converged": [bool(v) for v in self.converged],
                "seed": int(self.seed), "by": self.by, "n_groups": int(self.n_groups)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BootstrapResult:
        return cls(params=unhex_floats(d["params"]), param_names=tuple(d["param_names"]),
                   objectives=unhex_floats(d["objectives"]), converged=np.array(d["converged"], dtype=bool),
                   seed=int(d["seed"]), by=d["by"], n_groups=int(d["n_groups"]))
