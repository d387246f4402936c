"""Frontiers: the best run per configuration, the compute envelope, binned minima, iso-FLOP slices.

What to use when
----------------
* :func:`best_per_size`: a sweep that tried several learning rates / batch sizes / seeds for each
  (N, D). Keeps the best configuration per (N, D), optionally after averaging seeds, and flags
  points whose best hyper-parameter sits at the edge of its searched grid (Porian et al. 2024,
  "Resolving discrepancies in compute-optimal scaling of language models", arXiv:2406.19146,
  show that under-tuned small models bias fitted exponents).
* :func:`compute_envelope`: the lower envelope of loss against compute, i.e. the runs that no other
  run beats with less or equal compute (the "efficient frontier" of Kaplan et al. 2020, Fig. 1 and
  the envelope of Hoffmann et al. 2022, Approach 1).
* :func:`binned_minimum`: the best run in each log-spaced compute bin (a coarser envelope that keeps
  one point per bin, so a power-law fit is not dominated by dense regions).
* :func:`pareto_bins`: the monotone compute frontier of Nezhurina et al. (2025) by their binning
  rule, what their saturating error laws E(C) = a (C + b)^c + d are fitted on.
* :func:`isoflop_slices`: runs grouped by approximately equal compute, the input of iso-FLOP
  profiles (Hoffmann et al. 2022, Approach 2; see :mod:`scalinglab.laws.allocate`).

Every frontier is a :class:`Frontier`, which *is* a :class:`~scalinglab.laws.runs.Runs` (so it can be
passed to ``fit``) and keeps, for each point, the id of the run that defines it (``run_ids``) and
the ids of every run that entered it (``members``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..config import freeze_fields
from ..errors import ConfigError, DataError, TuningEdgeWarning
from ..units import parse_quantity
from .runs import Runs
from .seeds import SeedSpread, seed_spread
from .summary import fmt_compact as _fmt
from .summary import tables_summary as _summary

__all__ = [
    "Frontier",
    "IsoFlopSlices",
    "TuningEdge",
    "best_per_size",
    "binned_minimum",
    "compute_envelope",
    "isoflop_slices",
    "pareto_bins",
]


@dataclass(frozen=True)
class TuningEdge:
    """A tuned point whose best hyper-parameter is the smallest or largest value searched.

    Attributes
    ----------
    run_id : str
        The run that defines the frontier point.
    column : str
        The tuned hyper-parameter (e.g. ``"lr"``).
    value : float
        Its best value.
    side : str
        ``"low"``, ``"high"`` or ``"only"`` (a single value was tried).
    grid : tuple of float
        The values searched for this point.
    """

    run_id: str
    column: str
    value: float
    side: str
    grid: tuple[float, ...]

    def __post_init__(self) -> None:
        freeze_fields(self)

    def __str__(self) -> str:
        if self.side == "only":
            return f"{self.run_id}: only {self.column}={self.value:g} was tried"
        which = "smallest" if self.side == "low" else "largest"
        return (f"{self.run_id}: best {self.column}={self.value:g} is the {which}"
                f" of {len(self.grid)} values searched [{min(self.grid):g}, {max(self.grid):g}]")


@dataclass(frozen=True, eq=False, repr=False)
class Frontier(Runs):
    """A subset of runs that forms a frontier; a :class:`~scalinglab.laws.runs.Runs` itself.

    Attributes
    ----------
    kind : str
        ``"best_per_size"``, ``"envelope"`` or ``"binned"``.
    members : tuple of tuple of str
        Per point, the ids of every run that entered it (several seeds when averaged).
    n_candidates : ndarray of int
        Per point, how many configurations it was chosen among.
    tuning_edge : tuple of TuningEdge
        Points whose best hyper-parameter sits at the edge of its searched grid.
    parent_fingerprint : str
        Fingerprint of the runs the frontier was taken from.
    options : dict
        The options that built it.
    bin_edges : ndarray or None
        Compute bin edges (``kind="binned"``).
    spread : SeedSpread or None
        With ``best_per_size(mean_over=...)``: the spread across the averaged replicates,
        measured on every configuration that has two or more (:mod:`scalinglab.laws.seeds`).
        ``fit`` uses it as the noise of one new run, and knows each point is a mean of
        ``len(members[i])`` replicates.
    """

    kind: str = "envelope"
    members: tuple[tuple[str, ...], ...] = ()
    n_candidates: np.ndarray | None = None
    tuning_edge: tuple[TuningEdge, ...] = ()
    parent_fingerprint: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    bin_edges: np.ndarray | None = None
    spread: SeedSpread | None = None

    @property
    def run_ids(self) -> tuple[str, ...]:
        """The id of the run that defines each point."""
        return tuple(str(r) for r in self.run_id)

    @property
    def runs(self) -> Runs:
        """The points as plain :class:`Runs` (without the frontier metadata)."""
        return Runs(target=self.target, run_id=self.run_id, n_params=self.n_params,
                    n_tokens=self.n_tokens, flops=self.flops, groups=self.groups,
                    target_name=self.target_name, flops_convention=self.flops_convention,
                    n_tokens_derived=self.n_tokens_derived, source=self.source, excluded=self.excluded)

    def subset(self, index) -> Frontier:
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx) if idx.shape == (len(self),) else idx
        sub = Runs.subset(self, idx)
        ids = set(map(str, sub.run_id))
        members = tuple(self.members[int(i)] for i in np.atleast_1d(idx)) if self.members else ()
        ncand = None if self.n_candidates is None else self.n_candidates[idx]
        return replace(sub, members=members, n_candidates=ncand,
                       tuning_edge=tuple(e for e in self.tuning_edge if e.run_id in ids))

    def __repr__(self) -> str:
        edge = f", tuning_edge={len(self.tuning_edge)}" if self.tuning_edge else ""
        return f"Frontier(kind={self.kind!r}, n={len(self)}{edge}, target={self.target_name!r})"

    def summary(self) -> Any:
        """A :class:`~scalinglab.laws.summary.Summary` listing the points and any tuning-edge flags."""
        rows = []
        for i in range(len(self)):
            rows.append([self.run_ids[i], *(_fmt(getattr(self, c)[i]) if getattr(self, c) is not None else "-"
                                            for c in ("n_params", "n_tokens", "flops")),
                         _fmt(self.target[i], 4), str(len(self.members[i]) if self.members else 1),
                         str(int(self.n_candidates[i]) if self.n_candidates is not None else 1)])
        notes = [f"best hyper-parameter at the edge of its grid: {e}" for e in self.tuning_edge]
        return _summary(
            f"Frontier ({self.kind}): {len(self)} points",
            {"kind": self.kind, "points": len(self), "target": self.target_name,
             "options": dict(self.options)},
            {"points": (["run_id", "n_params", "n_tokens", "flops", self.target_name,
                         "members", "candidates"], rows)},
            notes)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------

def _key(value: Any) -> Any:
    """A hashable key that treats floats equal to 6 significant digits as equal."""
    if isinstance(value, (float, np.floating)):
        return float(f"{float(value):.6g}")
    return str(value)


def _column_keys(runs: Runs, names: Sequence[str]) -> list[tuple]:
    cols = [runs.column(n) for n in names]
    return [tuple(_key(c[i]) for c in cols) for i in range(len(runs))]


def _as_float(values: np.ndarray, column: str) -> np.ndarray:
    try:
        return np.array([parse_quantity(v, name=f"column {column!r}") for v in values], dtype=float)
    except DataError:
        raise DataError(f"tuned column {column!r} must be numeric to locate the edge of its grid; "
                        f"got values like {values[0]!r}") from None


def _frontier(runs: Runs, idx: Sequence[int], *, kind: str, members, n_candidates=None,
              target=None, groups=None, tuning_edge=(), options=None, bin_edges=None,
              spread=None) -> Frontier:
    idx = np.asarray(idx, dtype=int)
    sub = Runs.subset(runs, idx)
    return Frontier(
        target=sub.target if target is None else np.asarray(target, dtype=float),
        run_id=sub.run_id, n_params=sub.n_params, n_tokens=sub.n_tokens, flops=sub.flops,
        groups=sub.groups if groups is None else groups, target_name=runs.target_name,
        flops_convention=runs.flops_convention, n_tokens_derived=runs.n_tokens_derived,
        source=runs.source, excluded=runs.excluded, kind=kind, members=tuple(members),
        n_candidates=None if n_candidates is None else np.asarray(n_candidates, dtype=int),
        tuning_edge=tuple(tuning_edge), parent_fingerprint=runs.fingerprint,
        options=dict(options or {}), bin_edges=bin_edges, spread=spread)


def _check_runs(runs: Any, need: Sequence[str] = ()) -> Runs:
    if not isinstance(runs, Runs):
        raise DataError(f"expected Runs (from load_runs); got {type(runs).__name__}")
    for c in need:
        runs.column(c)  # raises MissingColumnError with a hint
    return runs


# ---------------------------------------------------------------------------------------------
# best configuration per (N, D)
# ---------------------------------------------------------------------------------------------

def best_per_size(runs: Runs, *, by: str | Sequence[str] | None = None,
                  mean_over: str | Sequence[str] | None = None,
                  tuned: str | Sequence[str] | None = None,
                  higher_is_better: bool = False) -> Frontier:
    """The best configuration for each (N, D): the minimum over hyper-parameters.

    Runs that share the ``by`` values are one point of the frontier and differ only in
    hyper-parameters (learning rate, batch size, warm-up, seed ...). With ``mean_over="seed"``
    runs identical except for their seed are averaged first, so the minimum is taken over
    configurations, not over lucky seeds.

    Parameters
    ----------
    runs : Runs
    by : str or sequence of str, optional
        Columns that identify a point (default ``("n_params", "n_tokens")``, or ``("n_params",)``
        when the runs have no token counts). Floats equal to 6 significant digits are equal.
    mean_over : str or sequence of str, optional
        Group columns to average over before taking the minimum (usually ``"seed"``).
    tuned : str or sequence of str, optional
        Numeric hyper-parameter columns (e.g. ``"lr"``) whose searched grid is checked: when the
        best value is the smallest or largest one tried, the point is listed on
        ``Frontier.tuning_edge`` and a :class:`~scalinglab.errors.TuningEdgeWarning` is emitted.
    higher_is_better : bool
        Take the maximum instead (accuracy-like targets).

    Returns
    -------
    Frontier
        One row per point (kind ``"best_per_size"``); ``run_ids`` are the best configuration's
        run (its first seed when averaged), ``members`` all runs averaged into it and
        ``n_candidates`` how many configurations were compared.

    Notes
    -----
    A best learning rate at the edge of the grid means the true optimum was not searched; the
    point is then an upper bound on the tuned loss, and since small models are the ones usually
    searched too coarsely, fitted exponents are biased (Porian et al. 2024, Sec. 3.3; Wortsman et
    al. 2023 on learning-rate sensitivity). Widen the grid for flagged points.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(n_params=[1e6] * 3 + [1e7] * 3, n_tokens=[1e8] * 3 + [1e9] * 3,
    ...                         target=[3.2, 3.0, 3.1, 2.6, 2.7, 2.8],
    ...                         groups={"lr": [1e-3, 3e-3, 1e-2] * 2})
    >>> front = best_per_size(runs, tuned="lr")
    >>> front.run_ids, [str(e) for e in front.tuning_edge]
    (('row1', 'row3'), ['row3: best lr=0.001 is the smallest of 3 values searched [0.001, 0.01]'])
    """
    _check_runs(runs)
    if by is None:
        by = ("n_params", "n_tokens") if runs.n_tokens is not None else ("n_params",)
    by = (by,) if isinstance(by, str) else tuple(by)
    mean_over = () if mean_over is None else ((mean_over,) if isinstance(mean_over, str) else tuple(mean_over))
    tuned = () if tuned is None else ((tuned,) if isinstance(tuned, str) else tuple(tuned))
    for c in (*by, *mean_over, *tuned):
        runs.column(c)
    overlap = set(by) & (set(mean_over) | set(tuned))
    if overlap:
        raise ConfigError(f"column(s) {sorted(overlap)} cannot both identify a point (by=) and be "
                          "averaged or tuned over")
    sign = -1.0 if higher_is_better else 1.0

    # 1. configurations: identical in every column except mean_over (and the target)
    hyper = [g for g in runs.groups if g not in by and g not in mean_over]
    point_keys = _column_keys(runs, by)
    conf_keys = _column_keys(runs, [*by, *hyper]) if hyper else point_keys
    configs: dict[tuple, list[int]] = {}
    for i, k in enumerate(conf_keys):  # without averaging each run is its own configuration
        configs.setdefault(k if mean_over else (k, i), []).append(i)

    # 2. the best configuration per point
    best: dict[tuple, tuple[float, list[int]]] = {}
    n_conf: dict[tuple, int] = {}
    conf_of_point: dict[tuple, list[list[int]]] = {}
    for rows in configs.values():
        value = float(np.mean(runs.target[rows]))
        pk = point_keys[rows[0]]
        n_conf[pk] = n_conf.get(pk, 0) + 1
        conf_of_point.setdefault(pk, []).append(rows)
        if pk not in best or sign * value < sign * best[pk][0]:
            best[pk] = (value, rows)

    order = sorted(best, key=lambda pk: min(best[pk][1]))
    lead = [best[pk][1][0] for pk in order]
    groups = {g: np.array(runs.groups[g], dtype=object)[lead] for g in runs.groups}
    for g in mean_over:
        groups[g] = np.array([f"mean of {len(best[pk][1])}" for pk in order], dtype=object)

    # 3. tuning-grid edges
    edges: list[TuningEdge] = []
    for col in tuned:
        values = _as_float(runs.column(col), col)
        for pk in order:
            grid = sorted({float(values[rows[0]]) for rows in conf_of_point[pk]})
            rid = str(runs.run_id[best[pk][1][0]])
            v = float(values[best[pk][1][0]])
            if len(grid) == 1:
                edges.append(TuningEdge(rid, col, v, "only", tuple(grid)))
            elif v <= grid[0]:
                edges.append(TuningEdge(rid, col, v, "low", tuple(grid)))
            elif v >= grid[-1]:
                edges.append(TuningEdge(rid, col, v, "high", tuple(grid)))
    if edges:
        warnings.warn(
            f"{len(edges)} of {len(order)} tuned points have their best {', '.join(tuned)} at the edge "
            f"of the searched grid ({'; '.join(str(e) for e in edges[:3])}{' ...' if len(edges) > 3 else ''}). "
            "Their loss is an upper bound on the tuned loss and biases fitted exponents; widen the grid.",
            TuningEdgeWarning, stacklevel=2)

    # 4. replicates are noise: their spread, measured over every configuration averaged
    spread = None
    if mean_over and np.all(runs.target > 0):
        spread = seed_spread(runs, seed=mean_over, by=[*by, *hyper])

    return _frontier(
        runs, lead, kind="best_per_size",
        members=[tuple(str(runs.run_id[i]) for i in best[pk][1]) for pk in order],
        n_candidates=[n_conf[pk] for pk in order], target=[best[pk][0] for pk in order],
        groups=groups, tuning_edge=edges, spread=spread,
        options={"by": list(by), "mean_over": list(mean_over), "tuned": list(tuned),
                 "higher_is_better": higher_is_better})


# ---------------------------------------------------------------------------------------------
# compute envelope and binned minima
# ---------------------------------------------------------------------------------------------

def compute_envelope(runs: Runs, *, higher_is_better: bool = False) -> Frontier:
    """The lower envelope of the target against compute: the non-dominated runs.

    A run is kept when no other run has less or equal compute and a lower target (for equal
    compute and equal target the first run in the table is kept). This is the efficient frontier
    of Kaplan et al. (2020, Fig. 1) and the envelope used by Hoffmann et al. (2022, Approach 1).

    Parameters
    ----------
    runs : Runs
        Must have ``flops``.
    higher_is_better : bool
        Keep the upper envelope instead (accuracy-like targets).

    Returns
    -------
    Frontier
        Kind ``"envelope"``, sorted by compute; the target decreases strictly along it.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(flops=[1e18, 2e18, 3e18, 4e18], target=[3.0, 3.1, 2.8, 2.9])
    >>> compute_envelope(runs).run_ids
    ('row0', 'row2')
    """
    _check_runs(runs, ("flops",))
    sign = -1.0 if higher_is_better else 1.0
    y = sign * runs.target
    order = np.lexsort((np.arange(len(runs)), y, runs.flops))  # by C, then target, then position
    keep, best = [], math.inf
    for i in order:
        if y[i] < best:
            keep.append(int(i))
            best = y[i]
    return _frontier(runs, keep, kind="envelope", members=[(str(runs.run_id[i]),) for i in keep],
                     n_candidates=[int((runs.flops <= runs.flops[i]).sum()) for i in keep],
                     options={"higher_is_better": higher_is_better})


def _log_edges(flops: np.ndarray, *, n_bins: int | None, bins_per_decade: float | None,
               edges: Sequence[float] | None) -> np.ndarray:
    if edges is not None:
        e = np.sort(np.asarray(edges, dtype=float))
        if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(e <= 0):
            raise ConfigError(f"edges must be at least two positive, finite FLOP values; got {edges!r}")
        return e
    lo, hi = math.log10(float(flops.min())), math.log10(float(flops.max()))
    if n_bins is None:
        bins_per_decade = 4.0 if bins_per_decade is None else float(bins_per_decade)
        if not bins_per_decade > 0:
            raise ConfigError(f"bins_per_decade must be > 0; got {bins_per_decade!r}")
        n_bins = max(1, math.ceil((hi - lo) * bins_per_decade))
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive integer; got {n_bins!r}")
    pad = 1e-9 * max(1.0, abs(hi))
    return np.logspace(lo - pad, hi + pad, int(n_bins) + 1)


def binned_minimum(runs: Runs, *, n_bins: int | None = None, bins_per_decade: float | None = None,
                   edges: Sequence[float] | None = None, higher_is_better: bool = False) -> Frontier:
    """The best run in each log-spaced compute bin.

    Parameters
    ----------
    runs : Runs
        Must have ``flops``.
    n_bins, bins_per_decade, edges
        Bins spanning the compute range: ``n_bins`` equal bins in log C, or ``bins_per_decade``
        (default 4), or explicit ``edges`` in FLOPs. Empty bins are skipped.
    higher_is_better : bool
        Take the maximum instead.

    Returns
    -------
    Frontier
        Kind ``"binned"``: one point per non-empty bin, sorted by compute, with ``bin_edges`` and
        ``n_candidates`` (runs in the bin). Unlike :func:`compute_envelope`, a bin's best run can
        be beaten by a cheaper run in an earlier bin.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(flops=[1e18, 1.5e18, 1e20, 2e20], target=[3.0, 2.9, 2.5, 2.6])
    >>> binned_minimum(runs, n_bins=2).run_ids
    ('row1', 'row2')
    """
    _check_runs(runs, ("flops",))
    e = _log_edges(runs.flops, n_bins=n_bins, bins_per_decade=bins_per_decade, edges=edges)
    sign = -1.0 if higher_is_better else 1.0
    which = np.searchsorted(e, runs.flops, side="right") - 1
    which[runs.flops == e[-1]] = len(e) - 2  # the last edge belongs to the last bin
    keep, counts = [], []
    for b in range(len(e) - 1):
        rows = np.flatnonzero(which == b)
        if rows.size:
            keep.append(int(rows[np.argmin(sign * runs.target[rows])]))
            counts.append(int(rows.size))
    if not keep:
        raise DataError("no run falls inside the given compute bins; widen edges=")
    return _frontier(runs, keep, kind="binned", members=[(str(runs.run_id[i]),) for i in keep],
                     n_candidates=counts, bin_edges=e,
                     options={"n_bins": len(e) - 1, "higher_is_better": higher_is_better})


#: The reference compute of Nezhurina et al.'s binning rule: 1500 GFLOPs, in FLOPs.
PARETO_BINS_REFERENCE_FLOPS = 1.5e12


def pareto_bins(runs: Runs, *, reference_flops: float = PARETO_BINS_REFERENCE_FLOPS,
                n_edges: int | None = None, higher_is_better: bool = False) -> Frontier:
    """The compute Pareto frontier by Nezhurina et al.'s binning rule.

    Nezhurina et al. 2025 ("Scaling laws for robust comparison of open foundation language-vision
    models and datasets", arXiv:2506.04598) fit E(C) = a (C + b)^c + d to the points this rule
    keeps (their code: ``LAION-AI/scaling-laws-for-comparison``, ``scaling_laws/utils.py``,
    ``pareto_frontier_bins`` with ``n_to_keep=1``, the ``pareto_bin`` method of every figure):

    1. ``n_edges = floor(log2(C_max / reference_flops))`` edges, log-spaced from the smallest to
       the largest compute of the runs (``n_edges - 1`` bins, each ``[low, high)``);
    2. the best run of each bin;
    3. walking up in compute, a bin's best is kept only if it beats every point kept so far (the
       first bin's best is always kept), so the frontier is monotone;
    4. the largest-compute run is added if it beats every kept point (no bin holds it, the last
       bin being open at the top).

    Parameters
    ----------
    runs : Runs
        Must have ``flops``.
    reference_flops : float
        The rule's reference compute, in the unit of ``runs.flops``. The paper's is 1500 GFLOPs
        (the default, in FLOPs): with its runs from ~4e6 to ~2e12 GFLOPs (forward FLOPs per
        sample, as OpenCLIP's profiler counts them, times samples seen) that makes ~30 edges, about
        five bins per decade. Runs far below that scale need a smaller reference (a CPU ladder
        whose largest run is under 1500 GFLOPs gets no bin at all): ``C_max / 2**k`` gives
        ``k`` edges.
    n_edges : int, optional
        The number of edges directly (at least 2), instead of the reference.
    higher_is_better : bool
        Take maxima (accuracies) instead of minima.

    Returns
    -------
    Frontier
        Kind ``"pareto_bins"``, sorted by compute, with ``bin_edges``, ``n_candidates`` (runs in
        each point's bin; 1 for the added top run) and the rule's inputs in ``options``.

    Raises
    ------
    DataError
        The rule leaves fewer than two edges (the message gives the reference that would give
        some).

    Notes
    -----
    Unlike :func:`compute_envelope` the bins thin out dense regions, and unlike
    :func:`binned_minimum` the result never rises with compute. Taking the minimum of noisy
    evaluations selects lucky runs: each point is biased low by up to its evaluation noise, more
    so in bins with many candidates.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(flops=[1e3, 1.5e3, 3e3, 4e3, 9e3, 1.6e4],
    ...                         target=[0.9, 0.8, 0.85, 0.7, 0.75, 0.6])
    >>> pareto_bins(runs, reference_flops=1e3).run_ids
    ('row1', 'row3', 'row5')
    """
    _check_runs(runs, ("flops",))
    x, y = np.asarray(runs.flops, dtype=float), np.asarray(runs.target, dtype=float)
    sign = -1.0 if higher_is_better else 1.0
    if n_edges is None:
        ref = float(parse_quantity(reference_flops, name="reference_flops"))
        if not (ref > 0 and math.isfinite(ref)):
            raise ConfigError(f"reference_flops must be a positive number of FLOPs; got {reference_flops!r}")
        n_edges = int(math.floor(math.log2(float(x.max()) / ref)))
        if n_edges < 2:
            raise DataError(f"the Pareto binning rule gives {max(n_edges, 0)} edges: the largest run's "
                            f"compute ({_fmt(float(x.max()))}) is less than 4x reference_flops ({_fmt(ref)}); "
                            f"pass a smaller reference (e.g. reference_flops={_fmt(float(x.max()) / 2 ** 8)} "
                            "for 8 edges) or n_edges=")
    elif not isinstance(n_edges, (int, np.integer)) or n_edges < 2:
        raise ConfigError(f"n_edges must be an integer >= 2; got {n_edges!r}")
    edges = np.geomspace(float(x.min()), float(x.max()), int(n_edges))
    best, counts = [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero((x >= lo) & (x < hi))
        if rows.size:
            # ties: the cheaper run, then the first in the table (the paper sorts by compute, then error)
            order = np.lexsort((rows, x[rows], sign * y[rows]))
            best.append(int(rows[order[0]]))
            counts.append(int(rows.size))
    keep, kept_counts = [], []
    for i, n in zip(best, counts):
        if not keep or sign * y[i] < sign * y[keep[-1]]:
            keep.append(i)
            kept_counts.append(n)
    top = int(np.flatnonzero(x == x.max())[np.argmin(sign * y[x == x.max()])])
    if top not in keep and (not keep or sign * y[top] < sign * y[keep[-1]]):
        keep.append(top)
        kept_counts.append(1)
    if not keep:
        raise DataError("no run falls inside the Pareto bins")
    return _frontier(runs, keep, kind="pareto_bins", members=[(str(runs.run_id[i]),) for i in keep],
                     n_candidates=kept_counts, bin_edges=edges,
                     options={"n_edges": int(n_edges), "reference_flops": None if reference_flops is None
                              else float(reference_flops), "higher_is_better": higher_is_better,
                              "rule": "Nezhurina et al. 2025, pareto_frontier_bins"})


# ---------------------------------------------------------------------------------------------
# iso-FLOP slices
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class IsoFlopSlices:
    """Runs grouped by approximately equal training compute (one group per budget).

    Attributes
    ----------
    budgets : ndarray
        Compute of each slice in FLOPs (the given budget, or the geometric mean of its runs).
    slices : tuple of Runs
        The runs of each slice, sorted by ``n_params``.
    rel_tol : float
        Relative tolerance used to group runs.
    dropped : tuple of str
        Ids of runs in no kept slice (too far from every budget, or in a slice with fewer than
        ``min_points`` runs).
    parent_fingerprint : str
    """

    budgets: np.ndarray
    slices: tuple[Runs, ...]
    rel_tol: float
    dropped: tuple[str, ...] = ()
    parent_fingerprint: str = ""

    def __post_init__(self) -> None:
        freeze_fields(self)

    def __len__(self) -> int:
        return len(self.slices)

    def __iter__(self) -> Iterator[tuple[float, Runs]]:
        return iter(zip(self.budgets.tolist(), self.slices))

    def __getitem__(self, i: int) -> Runs:
        return self.slices[i]

    @property
    def run_ids(self) -> tuple[tuple[str, ...], ...]:
        """Per slice, the ids of its runs."""
        return tuple(tuple(map(str, s.run_id)) for s in self.slices)

    @property
    def runs(self) -> Runs:
        """All runs in kept slices as one :class:`Runs` (e.g. to fit L(N, D) on them)."""
        first = self.slices[0]
        cat = {c: np.concatenate([getattr(s, c) for s in self.slices])
               for c in ("target", "run_id", "n_params", "n_tokens", "flops") if getattr(first, c) is not None}
        groups = {g: np.concatenate([s.groups[g] for s in self.slices]) for g in first.groups}
        return Runs(groups=groups, target_name=first.target_name, flops_convention=first.flops_convention,
                    n_tokens_derived=first.n_tokens_derived, source=first.source, excluded=first.excluded, **cat)

    def __repr__(self) -> str:
        b = ", ".join(f"{x:.3g}" for x in self.budgets)
        return f"IsoFlopSlices(n={len(self)}, budgets=[{b}], rel_tol={self.rel_tol:g})"


def isoflop_slices(runs: Runs, *, budgets: Sequence[float] | None = None, rel_tol: float = 0.1,
                   min_points: int = 3) -> IsoFlopSlices:
    """Group runs whose compute agrees within a relative tolerance (iso-FLOP profiles).

    Parameters
    ----------
    runs : Runs
        Must have ``flops`` and ``n_params``.
    budgets : sequence of float, optional
        The designed compute budgets (FLOPs, human units accepted). Each run joins the nearest
        budget (in log C) when ``|C / budget - 1| <= rel_tol``. Without budgets runs are sorted by
        compute and a slice starts at its cheapest run and takes every run up to
        ``(1 + rel_tol)`` times that compute.
    rel_tol : float
        Relative tolerance (default 0.1: runs within 10 %).
    min_points : int
        Slices with fewer runs are dropped (a parabola needs 3 points).

    Returns
    -------
    IsoFlopSlices

    Raises
    ------
    DataError
        When no slice has ``min_points`` runs.

    Examples
    --------
    >>> from scalinglab.laws import Runs
    >>> runs = Runs.from_arrays(flops=[1e18, 1.02e18, 0.99e18, 1e19, 1.01e19, 1e19],
    ...                         n_params=[1e6, 1e7, 1e8] * 2, target=[3, 2.9, 3.1, 2.6, 2.5, 2.7])
    >>> isoflop_slices(runs).run_ids
    (('row0', 'row1', 'row2'), ('row3', 'row4', 'row5'))
    """
    _check_runs(runs, ("flops", "n_params"))
    if not (isinstance(rel_tol, (int, float)) and 0 < rel_tol < 10):
        raise ConfigError(f"rel_tol must be a relative tolerance in (0, 10), e.g. 0.1; got {rel_tol!r}")
    if not isinstance(min_points, (int, np.integer)) or min_points < 1:
        raise ConfigError(f"min_points must be a positive integer; got {min_points!r}")
    C = runs.flops
    groups: list[tuple[float, np.ndarray]] = []
    if budgets is not None:
        b = np.array([parse_quantity(x, name="budgets") for x in np.atleast_1d(np.asarray(budgets, dtype=object))])
        if b.size == 0 or np.any(~np.isfinite(b) | (b <= 0)):
            raise ConfigError(f"budgets must be positive FLOP values; got {budgets!r}")
        b = np.sort(b)
        nearest = np.argmin(np.abs(np.log(C)[:, None] - np.log(b)[None, :]), axis=1)
        ok = np.abs(C / b[nearest] - 1.0) <= rel_tol
        for j, bj in enumerate(b):
            groups.append((float(bj), np.flatnonzero(ok & (nearest == j))))
    else:
        order = np.argsort(C, kind="stable")
        start = 0
        while start < len(order):
            stop = start
            while stop < len(order) and C[order[stop]] <= C[order[start]] * (1.0 + rel_tol):
                stop += 1
            rows = order[start:stop]
            groups.append((float(np.exp(np.mean(np.log(C[rows])))), rows))
            start = stop
    kept_b, kept = [], []
    used = np.zeros(len(runs), dtype=bool)
    for bj, rows in groups:
        if rows.size >= min_points:
            rows = rows[np.argsort(runs.n_params[rows], kind="stable")]
            kept_b.append(bj)
            kept.append(runs.subset(rows))
            used[rows] = True
    if not kept:
        raise DataError(
            f"no iso-FLOP slice has {min_points} or more runs within rel_tol={rel_tol:g}; "
            "pass the designed budgets= or a larger rel_tol")
    return IsoFlopSlices(budgets=np.array(kept_b), slices=tuple(kept), rel_tol=float(rel_tol),
                         dropped=tuple(str(r) for r in runs.run_id[~used]),
                         parent_fingerprint=runs.fingerprint)
