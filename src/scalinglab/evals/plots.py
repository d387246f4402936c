"""AIW figures: functions take a :class:`~scalinglab.evals.stats.Summary` and return a Figure.

matplotlib is imported inside each function (``pip install 'scalinglab[plot]'``); figures are
built with ``matplotlib.figure.Figure`` (no pyplot, no global state, no window), so callers save
them with ``fig.savefig(path)``.

* :func:`plot_variations` - correct-response rate per variation, one bar per model, with the
  per-prompt intervals: the paper's per-variation bars (Nezhurina et al. 2024, Fig. 1-3 style).
* :func:`plot_family_vs_control` - pooled rate of a family next to its Light controls, per model.
"""

from __future__ import annotations

from typing import Any

from .._optional import require
from ..errors import DataError
from .stats import Summary, summarize

__all__ = ["plot_family_vs_control", "plot_variations"]


def _as_summary(source: Summary | Any) -> Summary:
    return source if isinstance(source, Summary) else summarize(source)


def _figure(width: float, height: float):
    require("matplotlib", extra="plot", purpose="AIW figures")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _var_key(v: str) -> tuple:
    return (0, int(v), "") if v.isdigit() else (1, 0, v)


def plot_variations(source: Summary | Any, family: str, *, prompt_type: str | None = None,
                    models: list[str] | None = None):
    """Bars of the correct-response rate per variation of ``family``, grouped by model.

    Error bars are the per-prompt intervals of the summary (Wilson 95% by default). With no
    ``prompt_type``, one panel per prompt type present.
    """
    s = _as_summary(source)
    ps = [p for p in s.prompts if p.family == family and (models is None or p.model in models)]
    if prompt_type is not None:
        ps = [p for p in ps if p.prompt_type == prompt_type]
    if not ps:
        raise DataError(f"no results for family {family!r}"
                        + (f" and prompt type {prompt_type!r}" if prompt_type else ""))
    ptypes = sorted({p.prompt_type for p in ps})
    model_names = models or sorted({p.model for p in ps})
    variations = sorted({p.variation for p in ps}, key=_var_key)
    fig = _figure(max(4.0, 1.2 + 0.55 * len(variations) * max(1, len(model_names)) ** 0.5) * len(ptypes), 3.6)
    axes = fig.subplots(1, len(ptypes), squeeze=False)[0]
    width = 0.8 / len(model_names)
    for ax, pt in zip(axes, ptypes):
        cell = {(p.model, p.variation): p for p in ps if p.prompt_type == pt}
        for j, m in enumerate(model_names):
            points = [(i, p.rate, p.low, p.high) for i, v in enumerate(variations)
                      if (p := cell.get((m, v))) is not None]
            _bars(ax, points, slot=j, width=width, label=m)
        answers = {p.variation: p.right_answer for p in ps}
        ax.set_xticks(range(len(variations)),
                      [f"V{v}\n(ans {answers.get(v)})" for v in variations], fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("correct response rate")
        ax.set_title(f"{family} - {pt}", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")
    return fig


def plot_family_vs_control(source: Summary | Any, family: str, *, prompt_type: str | None = None,
                           models: list[str] | None = None):
    """Pooled rate of ``family`` and of each of its controls, per model, with intervals.

    Only prompt types present for both the family and a control are shown (the Light controls
    of the paper use THINKING v2).
    """
    from .task import get_family

    s = _as_summary(source)
    controls = list(get_family(family).controls)
    if not controls:
        raise DataError(f"family {family!r} declares no controls")
    fams = [f for f in s.families if f.family in [family, *controls]
            and (models is None or f.model in models)
            and (prompt_type is None or f.prompt_type == prompt_type)]
    key = {(f.model, f.family, f.prompt_type): f for f in fams}
    pts = sorted({f.prompt_type for f in fams if f.family == family
                  and any((f.model, c, f.prompt_type) in key for c in controls)})
    if not pts:
        raise DataError(f"no prompt type has results for both {family!r} and one of its controls "
                        f"({', '.join(controls)})")
    pt = pts[0] if prompt_type is None else prompt_type
    model_names = models or sorted({f.model for f in fams if f.prompt_type == pt})
    names = [family, *controls]
    fig = _figure(max(4.0, 1.5 + 1.1 * len(model_names)), 3.6)
    ax = fig.subplots()
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        points = [(i, f.pooled_rate, f.pooled_low, f.pooled_high) for i, m in enumerate(model_names)
                  if (f := key.get((m, name, pt))) is not None]
        _bars(ax, points, slot=j, width=width, label=name)
    ax.set_xticks(range(len(model_names)), model_names, fontsize=8, rotation=20, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("pooled correct response rate")
    ax.set_title(f"{family} vs controls - {pt}", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _bars(ax, points, *, slot: int, width: float, label: str) -> None:
    """One series of a grouped bar chart: ``points`` are (group index, rate, low, high)."""
    if not points:
        return
    idx, rate, low, high = (list(c) for c in zip(*points))
    xs = [i - 0.4 + width * (slot + 0.5) for i in idx]
    yerr = [[r - lo for r, lo in zip(rate, low)], [hi - r for r, hi in zip(rate, high)]]
    ax.bar(xs, rate, width=width * 0.95, yerr=yerr, capsize=2, label=label)
