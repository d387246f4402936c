"""Figures of scaling-law results: results in, :class:`matplotlib.figure.Figure` out.

Every function builds its own ``Figure`` with the Agg canvas (no pyplot, no global state, never
``show()``), so it works in scripts, servers and notebooks alike; save it with
``fig.savefig("x.png")``. matplotlib is imported when a function is called, never at import time
(``pip install 'scalinglab[plot]'``).

What to use when
----------------
* :func:`plot_fit`: the data and a fitted law over compute (log x) with its prediction band. For
  laws of N and D one curve per model size (or the compute-optimal frontier when there are many).
* :func:`plot_residuals`: residuals of a fit against compute; structure here means the law's form
  is wrong, whatever the intervals say.
* :func:`plot_frontier`: every run faded, the runs that define a frontier highlighted.
* :func:`plot_isoflop`: iso-FLOP profiles (loss against N per budget) with their minima
  (Hoffmann et al. 2022, Approach 2).
* :func:`plot_allocation`: N*(C) and D*(C) with intervals, one or several approaches overlaid.
* :func:`plot_comparison`: two procedures' fitted curves with bands and their crossover.
* :func:`plot_backtest`: the runs fitted on, the held-out runs, and the predictions for them
  with prediction intervals, plus the relative error of each prediction.
* :func:`plot_error_laws`: several procedures' laws of error against compute on their frontiers,
  held-out points and crossovers (the crossing-lines figure of ``scalinglab demo clip``).
* :func:`plot_metric_vs_compute`: any metric of every run against compute, one colour per procedure.

Bands are labelled with what they are: a *prediction* interval (parameter uncertainty plus the
residual scatter of a new run, :meth:`FitResult.predict`) or a *confidence* band of the mean
curve (bootstrap draws of the parameters only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require
from ..errors import MissingColumnError, ScalingLabWarning, UnknownNameError
from ..laws.law import derive_inputs, get_law
from ..units import format_quantity

if TYPE_CHECKING:      # domain types of the signatures (no import at run time)
    from ..laws import Backtest, Comparison, FitResult, Frontier, Runs
    from .procedures import ProcedureAnalysis

__all__ = [
    "plot_allocation",
    "plot_backtest",
    "plot_comparison",
    "plot_error_laws",
    "plot_fit",
    "plot_frontier",
    "plot_isoflop",
    "plot_metric_vs_compute",
    "plot_residuals",
    "save_figure",
]

# Colours: colour-blind-safe (Okabe & Ito 2008), in the order arms / series are drawn.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
FADED = "#9a9a9a"
MAX_SIZE_CURVES = 8        # laws of N and D: one curve per size up to this many sizes


# ---------------------------------------------------------------------------------------------
# figure plumbing
# ---------------------------------------------------------------------------------------------

def _figure(ncols: int = 1, *, width: float = 6.4, height: float = 4.2, sharex: bool = False,
            nrows: int = 1, height_ratios: Sequence[float] | None = None):
    """A new Figure on the Agg canvas and its axes (a list when there are several)."""
    require("matplotlib", extra="plot", purpose="figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    kw = {"height_ratios": height_ratios} if height_ratios else None
    axes = fig.subplots(nrows, ncols, sharex=sharex, squeeze=False, gridspec_kw=kw).ravel().tolist()
    for ax in axes:
        ax.grid(True, which="major", alpha=0.25, linewidth=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return fig, axes


def save_figure(fig: Any, path: Any, *, dpi: int = 150) -> Any:
    """Write ``fig`` to ``path`` (format from the suffix: .png, .svg, .pdf); returns the path."""
    from pathlib import Path

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=dpi)
    return p


def _target_name(res: Any, default: str = "loss") -> str:
    meta = getattr(res, "meta", None) or {}
    return str(meta.get("target_name") or default)


def _fit_data(res: Any, runs: Any = None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray | None]:
    """(inputs incl. derived flops, target, run ids) of the data to draw for a fit."""

    if runs is not None:
        given = {k: getattr(runs, k) for k in ("n_params", "n_tokens", "flops") if getattr(runs, k, None) is not None}
        y, ids = np.asarray(runs.target, dtype=float), np.asarray(runs.run_id)
    else:
        data = res.data
        if data is None:
            return {}, np.empty(0), None
        given = {**{k: v for k, v in data.columns.items() if k in ("n_params", "n_tokens", "flops")},
                 **dict(data.inputs)}
        y, ids = np.asarray(data.target, dtype=float), None
    names = list(dict.fromkeys([*res.law.inputs, "flops"]))
    try:
        x = derive_inputs(names, given)
    except MissingColumnError:  # the law's inputs are not derivable from N, D, C (e.g. err(loss))
        x = derive_inputs(res.law.inputs, given)
    if res.law.of_n_and_d:  # a law of N and D is drawn along C = 6ND, points and curves alike
        x["flops"] = 6.0 * x["n_params"] * x["n_tokens"] if "n_tokens" in x else x["flops"]
    return x, y, ids


def _compute_label(law: Any) -> str:
    return "training compute C = 6ND (FLOPs)" if law.of_n_and_d else "training compute C (FLOPs)"


def _grid(lo: float, hi: float, n: int = 200, *, extend_to: float | None = None) -> np.ndarray:
    hi = max(hi, extend_to or hi)
    return np.logspace(math.log10(lo), math.log10(hi), n)


def _sig(values: np.ndarray, digits: int = 4) -> np.ndarray:
    return np.array([float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=float)])


def _fmt_n(x: float) -> str:

    return format_quantity(float(x))


def _params_text(res: Any) -> str:
    ps = ", ".join(f"{k}={v:.4g}" for k, v in res.params.items())
    return f"{res.law.formula}\n{ps}"


# ---------------------------------------------------------------------------------------------
# fits
# ---------------------------------------------------------------------------------------------

def plot_fit(res: FitResult, runs: Runs | None = None, *, level: float = 0.95, extend_to: float | None = None,
             title: str | None = None, show_params: bool = True) -> Any:
    """The data and a fitted law against compute, with its prediction band.

    Parameters
    ----------
    res : FitResult
    runs : Runs, optional
        The points to draw (default: the data the fit was made on).
    level : float
        Level of the prediction band (``res.predict(level=...)``: parameter uncertainty from the
        bootstrap when the fit has one, else Wald, plus residual scatter). ``None``: no band.
    extend_to : float, optional
        Draw the law up to this compute (FLOPs), to show an extrapolation.
    title : str, optional
    show_params : bool
        Write the formula and fitted parameters in the corner.

    Returns
    -------
    matplotlib.figure.Figure
        Artists carry labels: ``"runs (n=...)"`` for the data, ``"fit"`` / ``"N=..."`` for curves
        and ``"95% prediction interval"`` for bands.

    Notes
    -----
    Laws of compute are drawn against C. Laws of N and D are drawn against C = 6ND: one curve
    per model size (up to 8 sizes; each over its own token range), else the points coloured by
    N with the compute-optimal frontier L*(C) = min_N L(N, C / 6N).
    """
    import warnings


    fig, (ax,) = _figure()
    x, y, _ = _fit_data(res, runs)
    law = res.law
    yname = _target_name(res, getattr(runs, "target_name", "loss") if runs is not None else "loss")
    band_label = f"{100 * level:g}% prediction interval" if level else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)   # a figure never warns twice
        if "flops" not in x:   # e.g. err(loss): draw against the law's own input
            key = law.inputs[0]
            xv = x[key]
            ax.scatter(xv, y, s=18, color=PALETTE[0], zorder=3, label=f"runs (n={y.size})")
            g = _grid(xv.min(), xv.max(), extend_to=extend_to)
            _band(ax, res, {key: g}, g, level, PALETTE[0], "fit", band_label)
            ax.set_xscale("log")
            ax.set_xlabel(key)
        elif not law.of_n_and_d:
            C = x["flops"]
            ax.scatter(C, y, s=18, color=PALETTE[0], zorder=3, label=f"runs (n={y.size})")
            g = _grid(C.min() / 1.5, C.max() * 1.5, extend_to=extend_to)
            _band(ax, res, {"flops": g}, g, level, PALETTE[1], "fit", band_label)
        else:
            _plot_nd(ax, res, x, y, level, extend_to, band_label)
    if "flops" in x:
        ax.set_xscale("log")
        ax.set_xlabel(_compute_label(law))
    ax.set_ylabel(yname)
    if extend_to:
        ax.axvline(max(x.get("flops", np.array([extend_to]))), color=FADED, linestyle=":", linewidth=1,
                   label="end of fitted data")
    ax.set_title(title or f"{law.name} fit ({res.options.get('loss', '')}, n={res.n_points})")
    if show_params:
        ax.text(0.99, 0.98, _params_text(res), transform=ax.transAxes, ha="right", va="top", fontsize=7,
                family="monospace", bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "#dddddd"})
    ax.legend(fontsize=7, loc="lower left", frameon=False)
    return fig


def _band(ax: Any, res: Any, inputs: Mapping[str, np.ndarray], xg: np.ndarray, level: float | None,
          color: str, label: str, band_label: str | None) -> None:
    if level:
        p = res.predict(level=level, **inputs)
        ax.fill_between(xg, np.asarray(p.low).ravel(), np.asarray(p.high).ravel(), color=color, alpha=0.18,
                        linewidth=0, label=band_label)
        mean = np.asarray(p.mean).ravel()
    else:
        mean = np.asarray(res.predict(**inputs)).ravel()
    ax.plot(xg, mean, color=color, linewidth=1.6, label=label)


def _plot_nd(ax: Any, res: Any, x: Mapping[str, np.ndarray], y: np.ndarray, level: float | None,
             extend_to: float | None, band_label: str | None) -> None:
    N, D, C = x["n_params"], x["n_tokens"], x["flops"]
    sizes = np.unique(_sig(N))
    if sizes.size <= MAX_SIZE_CURVES:
        for i, n in enumerate(sizes):
            color = PALETTE[i % len(PALETTE)]
            m = _sig(N) == n
            ax.scatter(C[m], y[m], s=22, color=color, zorder=3,
                       label=f"runs (n={y.size})" if i == 0 else None, edgecolor="white", linewidth=0.4)
            d = _grid(D[m].min() / 1.3, D[m].max() * 1.3)
            _band(ax, res, {"n_params": np.full_like(d, n), "n_tokens": d}, 6.0 * n * d, level, color,
                  f"N={_fmt_n(n)}", band_label if i == 0 else None)
        return
    require("matplotlib", extra="plot")
    from matplotlib.colors import LogNorm

    sc = ax.scatter(C, y, c=N, s=10, cmap="viridis", norm=LogNorm(), zorder=3, label=f"runs (n={y.size})")
    ax.figure.colorbar(sc, ax=ax, label="parameters N")
    g = _grid(C.min(), C.max(), extend_to=extend_to)
    n_opt, _ = res.law.optimal_loss(res.params, g)
    _band(ax, res, {"n_params": n_opt, "n_tokens": g / (6.0 * n_opt)}, g, level, "#000000",
          "compute-optimal frontier L*(C)", band_label)


def plot_residuals(res: FitResult, runs: Runs | None = None, *, title: str | None = None) -> Any:
    """Residuals of a fit against compute (or the law's first input), with +-1 and +-2 sigma.

    Residuals are in the fitted space: ``log f - log y`` for ``space="log"`` (so 0.01 is a 1 %
    over-prediction), ``f - y`` for ``space="linear"``. A trend or a curve means the law misses
    structure in the data, which no interval accounts for.
    """
    fig, (ax,) = _figure(height=3.4)
    x, _, _ = _fit_data(res, None)
    r = np.asarray(res.residuals, dtype=float)
    key = "flops" if "flops" in x else res.law.inputs[0]
    xv = np.asarray(x[key], dtype=float)
    if runs is not None and len(runs) == r.size:
        xv = np.asarray(_fit_data(res, runs)[0][key], dtype=float)
    ax.axhline(0.0, color="#333333", linewidth=1)
    s = float(res.sigma)
    if math.isfinite(s) and s > 0:
        for k, a in ((1, 0.15), (2, 0.07)):
            ax.axhspan(-k * s, k * s, color=PALETTE[0], alpha=a, linewidth=0,
                       label=f"±{k} residual scale" if k == 1 else None)
    ax.scatter(xv, r, s=16, color=PALETTE[1], zorder=3, label=f"residuals (n={r.size})")
    ax.set_xscale("log")
    ax.set_xlabel(_compute_label(res.law) if key == "flops" else key)
    space = res.options.get("space", "log")
    ax.set_ylabel("log fitted − log observed" if space == "log" else "fitted − observed")
    ax.set_title(title or f"Residuals of the {res.law.name} fit")
    ax.legend(fontsize=7, frameon=False, loc="best")
    return fig


# ---------------------------------------------------------------------------------------------
# frontiers and allocation
# ---------------------------------------------------------------------------------------------

def plot_frontier(runs: Runs, frontier: Frontier, *, title: str | None = None, label: str | None = None,
                  tuning_edge: Sequence[Any] | None = None) -> Any:
    """Every run faded, the runs that define ``frontier`` highlighted and joined.

    Parameters
    ----------
    runs : Runs
        All runs (must have ``flops``).
    frontier : Frontier
        From :func:`~scalinglab.laws.frontier.compute_envelope`, ``best_per_size`` or
        ``binned_minimum``. Its points are drawn at their own (C, target); points whose best
        hyper-parameter sat at the edge of its grid are ringed in red.
    tuning_edge : sequence of TuningEdge, optional
        The edge flags to ring (default ``frontier.tuning_edge``). The envelope of tuned points
        does not carry the flags of the tuned points: pass ``tuned.tuning_edge``.

    Returns
    -------
    matplotlib.figure.Figure
        Artists labelled ``"all runs (n=...)"``, ``"<kind> frontier (n=...)"`` and, when a
        frontier point is flagged, ``"best lr at grid edge (n=...)"`` (red rings, no face).
    """
    fig, (ax,) = _figure()
    ids = set(map(str, frontier.run_ids))
    rid = np.array([str(r) for r in runs.run_id])
    rest = ~np.isin(rid, list(ids))
    ax.scatter(runs.flops[rest], runs.target[rest], s=14, color=FADED, alpha=0.35, zorder=2,
               label=f"all runs (n={len(runs)})", linewidth=0)
    o = np.argsort(frontier.flops)
    name = label or f"{getattr(frontier, 'kind', 'frontier')} frontier"
    ax.plot(frontier.flops[o], frontier.target[o], color=PALETTE[0], linewidth=1.2, zorder=3)
    ax.scatter(frontier.flops[o], frontier.target[o], s=30, color=PALETTE[0], zorder=4,
               edgecolor="white", linewidth=0.6, label=f"{name} (n={len(frontier)})")
    edges = getattr(frontier, "tuning_edge", ()) if tuning_edge is None else tuning_edge
    edge = [e.run_id for e in edges if e.side != "only"]
    m = np.isin(np.array(frontier.run_ids), edge) if edge else np.zeros(len(frontier), dtype=bool)
    if m.any():
        ax.scatter(frontier.flops[m], frontier.target[m], s=90, facecolor="none", edgecolor="#c00000",
                   linewidth=1.2, zorder=5, label=f"best lr at grid edge (n={int(m.sum())})")
    ax.set_xscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel(getattr(runs, "target_name", "loss"))
    ax.set_title(title or f"Runs and the {name}")
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_isoflop(slices: Any, allocation: Any = None, *, title: str | None = None) -> Any:
    """Iso-FLOP profiles: the target against N for each compute budget, with each minimum.

    Parameters
    ----------
    slices : IsoFlopSlices
        From :func:`~scalinglab.laws.frontier.isoflop_slices`.
    allocation : Allocation, optional
        An approach-2 allocation of these slices: its parabolas (in log N) are drawn and its
        minima N*(C) marked. Without it, a parabola per slice is fitted here for display.

    Returns
    -------
    matplotlib.figure.Figure
        One scatter per budget (labelled ``"C=..."``) and one star per minimum (label
        ``"minima"``).
    """
    fig, (ax,) = _figure()
    coefs = None
    if allocation is not None and "parabola_log_n" in (allocation.params or {}):
        coefs = np.asarray(allocation.params["parabola_log_n"], dtype=float)
    xs, ys = [], []
    many = len(slices) > MAX_SIZE_CURVES      # many budgets: a colour scale instead of a legend
    if many:
        from matplotlib import colormaps
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import LogNorm

        norm = LogNorm(float(np.min(slices.budgets)), float(np.max(slices.budgets)))
        cmap = colormaps["viridis"]
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="compute budget C (FLOPs)")
    for i, (budget, s) in enumerate(slices):
        color = cmap(norm(budget)) if many else PALETTE[i % len(PALETTE)]
        ax.scatter(s.n_params, s.target, s=20, color=color, zorder=3,
                   label=None if many else f"C={budget:.2g}")
        ln = np.log(s.n_params)
        c = coefs[i] if coefs is not None and i < len(coefs) else (
            np.polyfit(ln, s.target, 2) if np.unique(ln).size >= 3 else np.full(3, np.nan))
        if np.all(np.isfinite(c)):
            g = np.linspace(ln.min() - 0.15, ln.max() + 0.15, 80)
            ax.plot(np.exp(g), np.polyval(c, g), color=color, linewidth=1.1, alpha=0.9)
            if c[0] > 0:
                v = -c[1] / (2 * c[0])
                xs.append(math.exp(v))
                ys.append(float(np.polyval(c, v)))
    if xs:
        ax.scatter(xs, ys, marker="*", s=120, color="#000000", zorder=5, label="minima")
    ax.set_xscale("log")
    ax.set_xlabel("parameters N")
    ax.set_ylabel(slices.slices[0].target_name if len(slices) else "loss")
    ax.set_title(title or "Iso-FLOP profiles (Hoffmann et al. 2022, Approach 2)")
    ax.legend(fontsize=7, frameon=False, ncol=1 if many else 2)
    return fig


def plot_allocation(allocation: Any, *, flops: Sequence[float] | None = None, level: float | None = None,
                    title: str | None = None, ahead: float = 10.0) -> Any:
    """Compute-optimal N*(C) and D*(C) with their intervals; several allocations overlay.

    Parameters
    ----------
    allocation : Allocation, or mapping of label -> Allocation
        One allocation, or several (e.g. approaches 2 and 3) to compare.
    flops : sequence of float, optional
        Compute range to draw (default: the allocations' measured range, extended ``ahead`` x up).
    level : float, optional
        Interval level (default: each allocation's own). Bands are percentile intervals of the
        bootstrap draws of the power laws; they omit the error of extrapolating them.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels (N*, D*); lines labelled with the allocation's label, measured optima of
        approaches 1-2 as points.
    """
    allocs = dict(allocation) if isinstance(allocation, Mapping) else {
        f"approach {allocation.approach}": allocation}
    fig, axes = _figure(2, width=9.0, height=3.8)
    if flops is None:
        lo = min(a.flops_range[0] for a in allocs.values() if math.isfinite(a.flops_range[0]))
        hi = max(a.flops_range[1] for a in allocs.values() if math.isfinite(a.flops_range[1]))
        g = np.logspace(math.log10(lo), math.log10(hi * ahead), 120)
    else:
        g = np.asarray(flops, dtype=float)
    for i, (name, a) in enumerate(allocs.items()):
        color = PALETTE[i % len(PALETTE)]
        p = a.predict(flops=g, level=level)
        for ax, mid, low, high in ((axes[0], p.n_params, p.n_params_low, p.n_params_high),
                                   (axes[1], p.n_tokens, p.n_tokens_low, p.n_tokens_high)):
            ax.plot(g, mid, color=color, linewidth=1.6, label=name)
            if np.all(np.isfinite(low)):
                ax.fill_between(g, low, high, color=color, alpha=0.18, linewidth=0)
        if a.points:
            axes[0].scatter(a.points["flops"], a.points["n_params"], s=22, color=color, zorder=3,
                            edgecolor="white", label=f"{name}: measured optima")
            axes[1].scatter(a.points["flops"], a.points["n_tokens"], s=22, color=color, zorder=3,
                            edgecolor="white")
    for ax, what in ((axes[0], "N*(C), parameters"), (axes[1], "D*(C), tokens")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training compute C (FLOPs)")
        ax.set_ylabel(what)
    first = next(iter(allocs.values()))
    pct = f"{100 * (level or first.level):g}%"
    axes[0].legend(fontsize=7, frameon=False)
    axes[0].set_title(f"N*(C) with {pct} intervals", fontsize=10)
    axes[1].set_title(f"D*(C) with {pct} intervals", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# comparison and backtest
# ---------------------------------------------------------------------------------------------

def plot_comparison(comparison: Comparison, res_a: FitResult, res_b: FitResult, *, runs_a: Runs | None = None,
                    runs_b: Runs | None = None,
                    title: str | None = None) -> Any:
    """Two arms' fitted curves with bootstrap bands, the target compute and the crossover.

    Parameters
    ----------
    comparison : Comparison
        From :func:`~scalinglab.laws.comparison.compare` (gives names, level, search range,
        crossover).
    res_a, res_b : FitResult
        The two fits compared (their bootstrap draws give the bands).
    runs_a, runs_b : Runs, optional
        The arms' points, drawn against compute.

    Returns
    -------
    matplotlib.figure.Figure
        Curves labelled with the arm names; the crossover is a vertical line labelled
        ``"crossover"`` at ``comparison.crossover.flops`` (with its interval shaded); target
        compute values are dotted lines.

    Notes
    -----
    For laws of N and D each arm is drawn along its compute-optimal frontier L*(C), as compared.
    The bands are confidence bands of each fitted curve (parameter draws only), at the
    comparison's level.
    """
    fig, (ax,) = _figure()
    lo, hi = comparison.options.get("search_flops", (float(np.min(comparison.flops)) / 10,
                                                      float(np.max(comparison.flops))))
    g = np.logspace(math.log10(lo), math.log10(max(hi, float(np.max(comparison.flops)))), 160)
    lvl = comparison.level
    for i, (res, runs, name) in enumerate(((res_a, runs_a, comparison.names[0]),
                                           (res_b, runs_b, comparison.names[1]))):
        color = PALETTE[i]
        mid = res.law.optimal_loss(np.asarray(res.param_vector, dtype=float), g)[1]
        ax.plot(g, mid, color=color, linewidth=1.7, label=name)
        boot = getattr(res, "bootstrap", None)
        if boot is not None:
            P = np.asarray(boot.params, dtype=float)
            P = P[np.all(np.isfinite(P), axis=1)][:200]
            if P.shape[0] >= 2:
                curves = res.law.optimal_loss(P, g)[1]
                q = np.nanquantile(curves, [(1 - lvl) / 2, (1 + lvl) / 2], axis=0)
                ax.fill_between(g, q[0], q[1], color=color, alpha=0.18, linewidth=0,
                                label=f"{name}: {100 * lvl:g}% band")
        if runs is not None and runs.flops is not None:
            ax.scatter(runs.flops, runs.target, s=14, color=color, alpha=0.6, zorder=3, linewidth=0)
    co = comparison.crossover
    if co.state == "crossover" and math.isfinite(co.flops):
        ax.axvline(co.flops, color="#000000", linestyle="--", linewidth=1.2,
                   label=f"crossover C={co.flops:.3g}")
        if math.isfinite(co.low) and math.isfinite(co.high):
            ax.axvspan(co.low, co.high, color="#000000", alpha=0.07, linewidth=0)
    for c in np.atleast_1d(comparison.flops):
        ax.axvline(float(c), color=FADED, linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel(_target_name(res_a))
    along = "" if comparison.mode == "compute" else " (compute-optimal frontiers)"
    ax.set_title(title or f"{comparison.names[0]} vs {comparison.names[1]}{along}")
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_backtest(backtest: Backtest, runs: Runs | None = None, *, title: str | None = None) -> Any:
    """Runs fitted on, held-out runs and their predictions with prediction intervals.

    Parameters
    ----------
    backtest : Backtest
        From :func:`~scalinglab.laws.backtesting.backtest`.
    runs : Runs, optional
        All runs; those not held out in any fold are drawn faded as the training data.

    Returns
    -------
    matplotlib.figure.Figure
        Top: held-out actual values (label ``"held out (n=...)"``), predictions with their
        interval as error bars (``"predicted, 95% interval"``), the training runs faded and, for
        a single fold, the fold's fitted law: its curve for a law of compute, for a law of N and
        D one curve per held-out model size (each prediction lies on its size's curve). Bottom:
        relative error of each prediction in percent, inside-interval points in green, outside
        red crosses; the panel's title is the key (no legend among the points).
    """

    fig, (ax, ax2) = _figure(nrows=2, height=5.6, sharex=True, height_ratios=(3, 1.3))
    P = backtest.points
    try:
        law = get_law(backtest.law)
    except UnknownNameError:  # a law registered in another session: draw points without a curve
        law = None
    nd = law is not None and law.of_n_and_d
    C = np.asarray(P["flops"], dtype=float)
    if nd and np.all(np.isfinite(np.asarray(P["n_tokens"], dtype=float))):
        C = 6.0 * np.asarray(P["n_params"], dtype=float) * np.asarray(P["n_tokens"], dtype=float)
    actual, pred = np.asarray(P["actual"], dtype=float), np.asarray(P["predicted"], dtype=float)
    low, high = np.asarray(P["low"], dtype=float), np.asarray(P["high"], dtype=float)
    inside = np.asarray(P["inside"], dtype=bool)
    held = set(map(str, P["run_id"]))
    lo_c = C.min() / 10 if C.size else 1.0
    if runs is not None and runs.flops is not None:
        rc = runs.flops
        if nd and runs.n_params is not None and runs.n_tokens is not None:
            rc = 6.0 * runs.n_params * runs.n_tokens
        m = ~np.isin(np.array([str(r) for r in runs.run_id]), list(held))
        ax.scatter(rc[m], runs.target[m], s=14, color=FADED, alpha=0.6, linewidth=0,
                   label=f"fitted on (n={int(m.sum())})", zorder=2)
        lo_c = float(np.min(rc))
    if law is not None and len(backtest.folds) == 1 and C.size:
        fold = backtest.folds[0]
        g = np.logspace(math.log10(lo_c), math.log10(C.max() * 1.3), 160)
        with np.errstate(all="ignore"):
            if tuple(law.inputs) == ("flops",):
                ax.plot(g, law(fold.params, flops=g), color=PALETTE[0], linewidth=1.3, label="fit on the rest")
            elif nd:
                # the law fitted on the rest, along the model size of each held-out run: the
                # prediction of a run is on its size's curve (L*(C), the optimum over N, would
                # sit below every run that is not compute-optimal)
                N, D = np.asarray(P["n_params"], dtype=float), np.asarray(P["n_tokens"], dtype=float)
                for i, n in enumerate(np.unique(_sig(N))):
                    dh = D[_sig(N) == n]        # from 4x fewer tokens than its held-out runs to just past them
                    d = np.logspace(math.log10(dh.min() / 4), math.log10(dh.max() * 1.3), 80)
                    ax.plot(6.0 * n * d, law(fold.params, n_params=np.full_like(d, n), n_tokens=d),
                            color=PALETTE[0], linewidth=1.1, alpha=0.8, zorder=3,
                            label="fit on the rest, at each held-out run's N" if i == 0 else None)
    ax.scatter(C, actual, s=34, color="#000000", zorder=5, marker="o", label=f"held out (n={C.size})")
    yerr = np.vstack([np.clip(pred - low, 0, None), np.clip(high - pred, 0, None)])
    ax.errorbar(C * 1.04, pred, yerr=yerr, fmt="D", markersize=4, color=PALETTE[1], ecolor=PALETTE[1],
                elinewidth=1.2, capsize=3, zorder=4,
                label=f"predicted, {100 * backtest.level:g}% interval")
    ax.set_xscale("log")
    ax.set_ylabel(runs.target_name if runs is not None else "loss")
    ax.legend(fontsize=7, frameon=True, framealpha=0.9, edgecolor="#dddddd", loc="upper right")
    ax.set_title(title or f"Backtest of {backtest.law}: coverage {backtest.coverage:.2f} at "
                          f"{100 * backtest.level:g}%, mean |error| {100 * backtest.mae_rel:.2f}%")
    rel = 100 * np.asarray(P["rel_error"], dtype=float)
    ax2.axhline(0, color="#333333", linewidth=1)
    ax2.scatter(C[inside], rel[inside], s=22, color=PALETTE[2], zorder=3,
                label=f"inside its interval (n={int(inside.sum())})")
    if (~inside).any():
        ax2.scatter(C[~inside], rel[~inside], s=30, color="#c00000", marker="x", zorder=3,
                    label=f"outside its interval (n={int((~inside).sum())})")
    # the key is the panel's title: a legend marker inside the panel reads as one more run
    key = "green dot: inside its interval" + (", red cross: outside" if (~inside).any() else "")
    ax2.set_title(f"Relative error of each prediction ({key})", fontsize=8)
    ax2.set_ylabel("rel. error (%)")
    ax2.set_xlabel(_compute_label(law) if law is not None else "training compute C (FLOPs)")
    ax2.set_xscale("log")
    return fig


# ---------------------------------------------------------------------------------------------
# procedures compared by laws of error against compute
# ---------------------------------------------------------------------------------------------

def plot_error_laws(analysis: ProcedureAnalysis, *, title: str | None = None) -> Any:
    """The crossing-lines figure of a :class:`~scalinglab.report.procedures.ProcedureAnalysis`.

    Per procedure: every run (small dots), its frontier points (circles), its held-out points
    (crosses, with their prediction intervals as error bars), its law on the whole frontier with a
    bootstrap confidence band, extended to the largest of ``analysis.options["ahead"]`` times the
    largest run; crossovers of the pairwise comparisons are dashed vertical lines.
    """
    fig, (ax,) = _figure(width=7.2, height=4.6)
    a = analysis
    lvl = a.options.get("level", 0.95)
    top = float(a.options.get("largest_flops", 1.0))
    reach = top * max(a.options.get("ahead", (1.0,)))
    lo = min(float(np.min(p.runs.flops)) for p in a.laws)
    g = np.logspace(math.log10(lo), math.log10(reach), 200)
    for i, p in enumerate(a.laws):
        color = PALETTE[i % len(PALETTE)]
        ax.scatter(p.runs.flops, p.runs.target, s=7, color=color, alpha=0.3, linewidth=0)
        if p.frontier is not None:
            ax.scatter(p.frontier.flops, p.frontier.target, s=26, facecolor="none", edgecolor=color,
                       linewidth=1.1, zorder=3)
        for h in p.heldout:
            ax.errorbar([h.flops], [h.predicted], yerr=[[h.predicted - h.low], [h.high - h.predicted]],
                        color=color, alpha=0.6, capsize=2, linewidth=0.9, zorder=3)
            ax.scatter([h.flops], [h.measured], marker="x", s=46, color=color, linewidth=1.6, zorder=4)
        if p.fit is None:
            continue
        res = p.fit
        mid = res.law.optimal_loss(np.asarray(res.param_vector, dtype=float), g)[1]
        c = res.params.get("c", math.nan)
        ax.plot(g, mid, color=color, linewidth=1.6, label=f"{p.name}: c = {c:.3f}")
        boot = getattr(res, "bootstrap", None)
        if boot is not None:
            P = np.asarray(boot.params, dtype=float)
            P = P[np.all(np.isfinite(P), axis=1)][:400]
            if P.shape[0] >= 2:
                q = np.nanquantile(res.law.optimal_loss(P, g)[1], [(1 - lvl) / 2, (1 + lvl) / 2], axis=0)
                ax.fill_between(g, q[0], q[1], color=color, alpha=0.14, linewidth=0)
    for cmp in a.comparisons:
        co = cmp.crossover
        if co.state == "crossover" and math.isfinite(co.flops):
            ax.axvline(co.flops, color="#000000", linestyle="--", linewidth=0.9, alpha=0.7)
            ax.annotate(f"{cmp.names[0]} = {cmp.names[1]}", (co.flops, 1.0), xycoords=("data", "axes fraction"),
                        fontsize=6.5, rotation=90, va="top", ha="right")
    ax.axvline(top, color=FADED, linestyle=":", linewidth=1)
    # the data set the y range: a band that explodes where a law is unconstrained is cut, not drawn to scale
    ys = np.concatenate([np.asarray(p.runs.target, dtype=float) for p in a.laws])
    lo_y, hi_y = float(np.nanmin(ys)), float(np.nanmax(ys))
    pad = 0.15 * max(hi_y - lo_y, 1e-3)
    ax.set_ylim(max(lo_y - 2 * pad, 0.0) if lo_y >= 0 else lo_y - 2 * pad, hi_y + pad)
    ax.set_xscale("log")
    ax.set_xlabel(f"training compute C ({a.flops_convention} FLOPs)".replace("( FLOPs)", "(FLOPs)"))
    ax.set_ylabel(a.metric)
    ax.set_title(title or f"{a.metric}: E(C) = a (C + b)^c + d per procedure ({100 * lvl:g}% bands)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, frameon=False)
    return fig


def plot_metric_vs_compute(runs: Runs, *, by: str = "procedure", ylabel: str | None = None,
                           title: str | None = None, frontier: bool = True) -> Any:
    """A metric of every run against compute, one colour per value of ``by``, each group's best-so-far line.

    ``runs`` is a :class:`~scalinglab.laws.runs.Runs` with ``flops`` and a ``by`` group column
    (e.g. ``store.to_runs("retrieval_error", flops_convention="forward")``). The step line is the
    running minimum along compute (the compute envelope) of each group.
    """
    fig, (ax,) = _figure()
    groups = runs.split(by) if by in (runs.groups or {}) else {"runs": runs}
    for i, (name, r) in enumerate(sorted(groups.items(), key=lambda kv: str(kv[0]))):
        color = PALETTE[i % len(PALETTE)]
        x, y = np.asarray(r.flops, dtype=float), np.asarray(r.target, dtype=float)
        ax.scatter(x, y, s=12, color=color, alpha=0.55, linewidth=0, label=str(name))
        if frontier and x.size:
            o = np.argsort(x)
            ax.step(x[o], np.minimum.accumulate(y[o]), where="post", color=color, linewidth=1.2)
    ax.set_xscale("log")
    ax.set_xlabel("training compute C (FLOPs)")
    ax.set_ylabel(ylabel or getattr(runs, "target_name", "") or "target")
    ax.set_title(title or f"{ylabel or runs.target_name} against compute")
    ax.legend(fontsize=7, frameon=False)
    return fig
