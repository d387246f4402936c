"""The AIW page and its figures: :mod:`scalinglab.evals` results in, a :class:`Report` out.

``evals`` computes the rates (:func:`scalinglab.evals.summarize_rates`); this module draws them and
assembles the page with the one report builder (:class:`~scalinglab.report.html.Report`), so the
AIW page looks, embeds figures and records provenance like every other scalinglab report.

What to use when
----------------
* :func:`build_aiw_report`: results (a results JSONL, upstream AIW JSON, a ``*.summary.json``,
  records or a :class:`~scalinglab.evals.RateSummary`) -> ``out_dir/report.html`` plus one PNG
  per figure (what ``scalinglab aiw report`` does).
* :func:`report_from_aiw`: the same page as a :class:`Report`, to add sections or write elsewhere.
* :func:`plot_aiw_variations`: correct-response rate per variation, one bar per model, with the
  per-prompt intervals: the paper's per-variation bars (Nezhurina et al. 2024, Fig. 1-3 style).
* :func:`plot_aiw_controls`: pooled rate of a family next to its AIW Light controls, per model.

Figures are ``matplotlib.figure.Figure`` objects (no pyplot, no global state, no window),
matplotlib imported inside each function (``pip install 'scalinglab[plot]'``).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .._optional import require
from ..errors import DataError
from ..evals import RateSummary, get_family, read_responses, summarize_rates
from .html import FIGURE_DPI, Report, collect_provenance

__all__ = ["build_aiw_report", "plot_aiw_controls", "plot_aiw_variations", "report_from_aiw"]

CITATION = "Nezhurina, Cipolina-Kun, Cherti, Jitsev 2024, arXiv:2406.02061"

#: What the functions of this module read: a RateSummary, a ``*.summary.json``, a results JSONL or
#: upstream AIW JSON file (or a folder of them), or response records.
Source = RateSummary | str | Path | Iterable[dict[str, Any]]


def _as_rates(source: Source) -> RateSummary:
    """A RateSummary from itself, a ``*.summary.json``, a results file / folder, or records."""
    if isinstance(source, RateSummary):
        return source
    if isinstance(source, (str, Path)):
        p = Path(source)
        if p.name.endswith(".summary.json"):
            return RateSummary.load(p)
        return summarize_rates(read_responses(p, mode=None))
    return summarize_rates(source)


def _figure(width: float, height: float):
    require("matplotlib", extra="plot", purpose="AIW figures")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _var_key(v: str) -> tuple:
    return (0, int(v), "") if v.isdigit() else (1, 0, v)


def _has_controls(family: str) -> bool:
    try:
        return bool(get_family(family).controls)
    except KeyError:  # a family this installation does not know (results from elsewhere)
        return False


def plot_aiw_variations(source: Source, family: str, *, prompt_type: str | None = None,
                        models: list[str] | None = None):
    """Bars of the correct-response rate per variation of ``family``, grouped by model.

    ``source`` is a :class:`~scalinglab.evals.RateSummary` or anything :func:`build_aiw_report`
    reads. Error bars are the per-prompt intervals of the summary (Wilson 95% by default). With no
    ``prompt_type``, one panel per prompt type present.
    """
    s = _as_rates(source)
    ps = [p for p in s.prompts if p.family == family and (models is None or p.model in models)]
    if prompt_type is not None:
        ps = [p for p in ps if p.prompt_type == prompt_type]
    if not ps:
        raise DataError(f"no results for family {family!r}"
                        + (f" and prompt type {prompt_type!r}" if prompt_type else ""))
    ptypes = sorted({p.prompt_type for p in ps})
    model_names = models or sorted({p.model for p in ps})
    variations = sorted({p.variation for p in ps}, key=_var_key)
    panel_in = max(4.0, 1.2 + 0.55 * len(variations) * max(1, len(model_names)) ** 0.5)
    fig = _figure(panel_in * len(ptypes), 3.6)
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
    _legend(fig, axes[0], len(model_names))
    return fig


def plot_aiw_controls(source: Source, family: str, *, prompt_type: str | None = None,
                      models: list[str] | None = None):
    """Pooled rate of ``family`` and of each of its controls, per model, with intervals.

    Only prompt types present for both the family and a control are shown (the Light controls
    of the paper use THINKING v2).
    """
    s = _as_rates(source)
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
    _legend(fig, ax, len(names))
    ax.grid(axis="y", alpha=0.3)
    return fig


def _legend(fig, ax, n: int) -> None:
    """One legend under the panels (inside an axes it hides bars near 1; beside it, long model
    names squeeze the panels)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(n, 3), fontsize=7, frameon=False)


def _bars(ax, points, *, slot: int, width: float, label: str) -> None:
    """One series of a grouped bar chart: ``points`` are (group index, rate, low, high)."""
    if not points:
        return
    idx, rate, low, high = (list(c) for c in zip(*points))
    xs = [i - 0.4 + width * (slot + 0.5) for i in idx]
    yerr = [[r - lo for r, lo in zip(rate, low)], [hi - r for r, hi in zip(rate, high)]]
    ax.bar(xs, rate, width=width * 0.95, yerr=yerr, capsize=2, label=label)


def report_from_aiw(source: Source, *, title: str = "AIW evaluation",
                    provenance: Mapping[str, Any] | None = None) -> Report:
    """Assemble the AIW page: rate tables, figures and provenance, as a :class:`Report`.

    Sections (ids in parentheses): families (``families``: pooled rate per family, model and
    prompt type, spread over variations, homogeneity test), family minus control (``controls``,
    when controls were run), figures (``figures``: rate per variation for every family and prompt
    type; each family next to its controls), prompts (``prompts``: k/n of every prompt) and
    provenance. Every figure carries its file stem as its label (``fig.get_label()``:
    ``variations_<family>_<prompt type>`` or ``controls_<family>``).

    Raises
    ------
    DataError
        When the results hold no prompts.
    """
    s = _as_rates(source)
    if not s.prompts:
        raise DataError("nothing to report: the results hold no prompts")
    esc = html.escape
    pct = f"{100 * s.level:g}%"
    models = list(s.meta.get("models", [])) or sorted({p.model for p in s.prompts})
    rep = Report(title, subtitle=f"Models: {', '.join(models)}. AIW: {CITATION}.")

    sec = rep.section("Families", intro=(
        f"Correct-response rate of each family, model and prompt type, pooled over the family's "
        f"variations, with its {pct} {esc(s.interval)} interval; the macro mean, SD and range of the "
        "per-variation rates; and a test that every variation has the same rate (chi-square, or an "
        "exact Monte Carlo test when an expected count is below 5). Variations must not matter to a "
        "model that reasons: a small p-value says they do. The pooled interval assumes one common "
        "rate; when the test rejects, read the per-variation rates."))
    if s.families:
        sec.add_table(*s.table("families"), css_class="nowrap")
    else:
        sec.add_text("No family has results (only prompts without a scalinglab template).")

    if s.gaps:
        sec = rep.section("Family minus control", id="controls", intro=(
            "Pooled rate of a family minus that of each of its AIW Light controls (same model and "
            f"prompt type), with Newcombe's hybrid score {pct} interval (Newcombe 1998, method 10). The "
            "controls ask the same question in an easier form: a large negative gap is the paper's "
            "reasoning breakdown."))
        sec.add_table(*s.table("gaps"), css_class="nowrap")

    sec = rep.section("Figures", intro=(
        f"Bars are correct-response rates; error bars are the {pct} {esc(s.interval)} intervals of "
        "each prompt (per variation) or of the pooled rate (family and controls)."))
    for fam in sorted({p.family for p in s.prompts if p.family != "upstream"}):
        for pt in sorted({p.prompt_type for p in s.prompts if p.family == fam}):
            fig = plot_aiw_variations(s, fam, prompt_type=pt)
            fig.set_label(f"variations_{fam}_{pt}")
            sec.add_figure(fig, f"<b>{esc(fam)}, {esc(pt)}.</b> Correct-response rate per variation "
                                "(the right answer under each), one bar per model.",
                           alt=f"{fam} - {pt}: rate per variation")
        if _has_controls(fam):
            try:
                fig = plot_aiw_controls(s, fam)
            except DataError:
                continue  # no control results for this family
            fig.set_label(f"controls_{fam}")
            sec.add_figure(fig, f"<b>{esc(fam)} vs its controls.</b> Pooled rate of the family and of "
                                "each AIW Light control, per model.", alt=f"{fam} vs its controls")
    if not sec.figures:
        sec.add_text("No figure: every prompt is an upstream prompt without a scalinglab family.")

    sec = rep.section("Prompts", intro=(
        f"k correct of n trials for every prompt (<code>family/variation/prompt type</code>; "
        f"<code>upstream/&lt;id&gt;</code> for upstream prompts without a template), the rate and its "
        f"{pct} interval. Unparsed answers count as incorrect."))
    sec.add_table(*s.table("prompts"), css_class="nowrap")

    prov = collect_provenance(extra={
        "models": ", ".join(models),
        "response records": s.meta.get("n_records", sum(p.n for p in s.prompts)),
        "intervals": f"{pct} {s.interval}",
        "AIW": CITATION,
        **(provenance or {}),
    })
    rep.add_provenance(prov)
    return rep


def build_aiw_report(source: Source, out_dir: str | Path, *, title: str = "AIW evaluation",
                     provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/report.html`` (figures embedded) and one PNG per figure beside it.

    Parameters
    ----------
    source : RateSummary, path, or records
        A :class:`~scalinglab.evals.RateSummary`; a results JSONL, an upstream AIW JSON file or a
        folder of them (stored scoring kept; re-score first with
        :func:`scalinglab.evals.read_responses` and ``mode=``); a ``*.summary.json``; or response
        records.
    out_dir : path
        Created if needed; ``report.html`` and ``<figure label>.png`` are written into it.
    title : str
    provenance : dict, optional
        Extra provenance entries (e.g. the results file).

    Returns
    -------
    Path
        The HTML page.
    """
    if isinstance(source, (str, Path)):
        provenance = {"results": str(source), **(provenance or {})}
    rep = report_from_aiw(source, title=title, provenance=provenance)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for _, fig, _ in rep.figures():
        fig.savefig(out / f"{fig.get_label()}.png", dpi=FIGURE_DPI)
    return rep.write(out / "report.html")
