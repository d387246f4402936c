"""The seed-spread figure and report section: how far apart runs that differ only in their seed land.

* :func:`plot_seed_spread`: each point's spread across seeds (SD of log loss, in %) against D, one
  series per model size, with the pooled spread and its interval.
* :func:`add_seed_section`: a report section with that figure, the per-point table and what the
  fits used as the noise of a new run (measured replicates, or the ladder's seed study when the
  runs have one seed).

Both take a :class:`~scalinglab.laws.seeds.SeedSpread` (``Frontier.spread`` of
``best_per_size(runs, mean_over="seed")``, :func:`~scalinglab.laws.seeds.seed_spread`, or
:func:`~scalinglab.laws.seeds.seed_study`). matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require
from ..laws.seeds import seed_study
from ..units import format_quantity
from .plots import PALETTE

if TYPE_CHECKING:      # domain types of the signatures (no import at run time)
    from ..laws import FitResult
    from ..laws.seeds import SeedSpread
    from .analysis import Analysis
    from .html import Report, Section

__all__ = ["add_seed_section", "plot_seed_spread", "seed_spread_of"]


def plot_seed_spread(spread: Any, *, level: float = 0.95, title: str | None = None) -> Any:
    """Per-point seed spread against D (log x), one series per N; pooled spread as a band."""

    require("matplotlib", extra="plot", purpose="figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.grid(True, which="major", alpha=0.25, linewidth=0.6)
    n = np.asarray(spread.n_params, dtype=float)
    d = np.asarray(spread.n_tokens, dtype=float)
    sd = 100 * np.asarray(spread.sd_log, dtype=float)
    sizes = sorted({float(f"{v:.6g}") for v in n if np.isfinite(v)}) or [float("nan")]
    x = d if np.all(np.isfinite(d)) else np.arange(len(sd), dtype=float)
    for i, size in enumerate(sizes):
        m = np.isclose(n, size, rtol=1e-5) if np.isfinite(size) else np.ones(len(sd), dtype=bool)
        o = np.argsort(x[m])
        ax.plot(x[m][o], sd[m][o], "o-", color=PALETTE[i % len(PALETTE)], ms=4, lw=1,
                label=f"N = {format_quantity(size)}" if np.isfinite(size) else "points")
    lo, hi = spread.interval(level)
    ax.axhline(100 * spread.sigma_log, color="black", lw=1.2,
               label=f"pooled {100 * spread.sigma_log:.2f}% (df={spread.df})")
    ax.axhspan(100 * lo, 100 * hi, color="black", alpha=0.08, lw=0,
               label=f"{100 * level:g}% interval of the pooled spread")
    if np.all(np.isfinite(d)):
        ax.set_xscale("log")
        ax.set_xlabel("D (tokens)")
    else:
        ax.set_xlabel("point")
    ax.set_ylabel("seed spread: SD of log loss (%)")
    ax.set_ylim(bottom=0)
    ax.set_title(title or f"Seed-to-seed spread ({spread.source})", fontsize=10)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    return fig


def seed_spread_of(analysis: Analysis) -> SeedSpread | None:
    """The spread a report shows for an analysis: measured replicates, else the ladder's study, else None."""

    tuned = getattr(analysis, "tuned", None)
    if tuned is not None and getattr(tuned, "spread", None) is not None:
        return tuned.spread
    groups = getattr(getattr(analysis, "runs", None), "groups", None) or {}
    ladders = {str(v) for v in groups.get("ladder", ())}
    return seed_study(ladders.pop()) if len(ladders) == 1 else None


def add_seed_section(report: Report, spread: SeedSpread, *, fit: FitResult | None = None,
                     level: float = 0.95) -> Section:
    """Append a "Seed-to-seed spread" section (id ``seeds``) to ``report``; returns the section.

    ``fit`` (a :class:`~scalinglab.laws.FitResult`), when given, adds what its prediction
    intervals used as the noise of a new run.
    """
    measured = spread.source == "measured"
    intro = ("Runs that differ only in their seed (initialisation and data order) land this far apart. "
             "Seeds are noise, not evidence about the law: the fits average them, the bootstrap "
             "resamples each point with all its seeds, and prediction intervals add this spread as "
             "the noise of one new run.")
    if not measured:
        intro += (" These runs have one seed per point, so the spread shown is the ladder's seed study "
                  "(docs/seeds.md), used as the floor of the noise of a new run.")
    sec = report.section("Seed-to-seed spread", id="seeds", intro=intro)
    lo, hi = spread.interval(level)
    rows = [("pooled spread (SD of log loss)", f"{100 * spread.sigma_log:.2f}%"),
            (f"{100 * level:g}% interval", f"[{100 * lo:.2f}%, {100 * hi:.2f}%]"),
            ("points with two or more seeds", str(spread.n_points)),
            ("degrees of freedom", str(spread.df)),
            ("source", spread.source + (f" ({spread.reference})" if spread.reference else ""))]
    noise = getattr(fit, "noise", None)
    if noise is not None:
        rows.append(("noise of a new run in the L(N, D) intervals", noise.describe()))
    sec.add_key_values(rows)
    sec.add_figure(plot_seed_spread(spread, level=level),
                   "<b>Seed spread per point.</b> Each point's standard deviation of log loss across its "
                   "seeds (with three seeds a single point's value is rough: 2 degrees of freedom); the "
                   "line and band are the pooled spread and its chi-square interval.")
    sec.add_table(["point", "seeds", "mean loss", "SD of log loss"],
                  [[lab, int(k), f"{m:.4f}", f"{100 * s:.2f}%"]
                   for lab, k, m, s in zip(spread.labels, spread.n_seeds, spread.mean, spread.sd_log)])
    return sec
