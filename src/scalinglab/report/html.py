"""The self-contained HTML report: one file, figures embedded, no network, fit for an appendix.

Two levels:

* :class:`Report` assembles sections from anything with a ``summary()`` / ``as_html()`` (fits,
  frontiers, allocations, comparisons, backtests), matplotlib figures (embedded as base64 PNG),
  tables, text and a provenance block, and writes one ``.html`` file::

      rep = Report("Optimizer ablation")
      sec = rep.section("Fits")
      sec.add_summary(res)
      sec.add_figure(plot_fit(res), "Loss against compute with the 95% prediction interval.")
      rep.add_provenance(collect_provenance(runs=runs))
      rep.write("report.html")

* :func:`build_report` runs the standard analysis (:func:`~scalinglab.report.analysis.analyze`)
  on a results store or a table of runs and writes the whole report (what ``scalinglab report``
  and ``scalinglab demo`` call).

The file references no external URL (CSS inline, images as ``data:`` URIs), so it opens offline,
can be attached to a paper's supplementary material, and prints cleanly.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html as _html
import io
import math
import platform
import re
import string
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..errors import ConfigError, DataError, ScalingLabError
from ..laws.runs import Runs
from ..store.store import DB_NAME, ResultsStore
from ..units import format_quantity
from . import plots
from .analysis import AHEAD, analyze, holdout_for

if TYPE_CHECKING:      # domain types of the signatures (no import at run time)
    from ..laws import Runs
    from .analysis import Analysis

__all__ = ["Report", "Section", "build_report", "collect_provenance", "figure_to_data_uri", "open_runs",
           "report_from_analysis"]

#: The L(C) figure draws the fitted law this many times beyond the largest run.
EXTRAPOLATE = 10.0

#: Packages whose versions go into the provenance block (read from metadata: nothing is imported).
PROVENANCE_PACKAGES = ("scalinglab", "numpy", "scipy", "matplotlib", "pyyaml", "torch", "pandas")
FIGURE_DPI = 120


def _esc(x: Any) -> str:
    return _html.escape(str(x), quote=True)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "section"


def figure_to_data_uri(fig: Any, *, dpi: int = FIGURE_DPI) -> str:
    """A matplotlib figure as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _summary_html(obj: Any) -> str:
    """HTML of a result: its ``summary().as_html()``, else ``as_html()``, else ``_repr_html_()``."""
    if hasattr(obj, "summary") and callable(obj.summary):
        obj = obj.summary()
    for name in ("as_html", "_repr_html_"):
        fn = getattr(obj, name, None)
        if callable(fn):
            return str(fn())
    raise ConfigError(f"cannot render a {type(obj).__name__} as a summary; pass an object with "
                      "summary(), as_html() or _repr_html_(), or use add_html()")


@dataclass
class Section:
    """One numbered section of a :class:`Report`: a title and a list of HTML blocks."""

    title: str
    id: str
    intro: str = ""
    blocks: list[str] = field(default_factory=list)
    n_figures: int = 0
    figures: list[tuple[Any, str]] = field(default_factory=list, repr=False)   # (Figure, caption HTML)

    def add_text(self, text: str) -> Section:
        """A paragraph (escaped)."""
        self.blocks.append(f"<p>{_esc(text)}</p>")
        return self

    def add_html(self, html: str) -> Section:
        """Raw HTML (trusted: it is inserted as is)."""
        self.blocks.append(str(html))
        return self

    def add_summary(self, obj: Any) -> Section:
        """A result's summary table (fits, frontiers, allocations, comparisons, backtests)."""
        self.blocks.append(_summary_html(obj))
        return self

    def add_figure(self, fig: Any, caption: str = "", *, alt: str | None = None, dpi: int = FIGURE_DPI) -> Section:
        """A matplotlib figure, embedded as a base64 PNG, with a caption."""
        self.n_figures += 1
        self.figures.append((fig, caption))
        uri = figure_to_data_uri(fig, dpi=dpi)
        alt = alt or caption or self.title
        self.blocks.append(f'<figure><img src="{uri}" alt="{_esc(alt)}">'
                           + (f"<figcaption>{caption}</figcaption>" if caption else "") + "</figure>")
        return self

    def add_table(self, header: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str = "",
                  css_class: str = "") -> Section:
        """A table of escaped cells."""
        cls = f' class="{_esc(css_class)}"' if css_class else ""
        h = [f"<table{cls}>"]
        if caption:
            h.append(f"<caption>{_esc(caption)}</caption>")
        if header:
            h.append("<tr>" + "".join(f"<th>{_esc(c)}</th>" for c in header) + "</tr>")
        for r in rows:
            h.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>")
        h.append("</table>")
        self.blocks.append("".join(h))
        return self

    def add_key_values(self, items: Iterable[tuple[str, Any]], *, caption: str = "") -> Section:
        """A two-column table of labels and values."""
        rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in items)
        cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
        self.blocks.append(f'<table class="kv">{cap}{rows}</table>')
        return self

    def add_preformatted(self, text: str) -> Section:
        """A block of text shown as is (a summary table, a verdict), HTML-escaped."""
        self.blocks.append(f"<pre>{_esc(text)}</pre>")
        return self

    def render(self, number: int) -> str:
        intro = f'<p class="intro">{self.intro}</p>' if self.intro else ""
        return (f'<section id="{_esc(self.id)}"><h2><span class="num">{number}.</span>{_esc(self.title)}</h2>'
                f"{intro}{''.join(self.blocks)}</section>")


class Report:
    """A self-contained HTML report assembled from sections.

    Parameters
    ----------
    title : str
    subtitle : str, optional
        A line under the title (escaped).

    Examples
    --------
    >>> rep = Report("Demo")
    >>> rep.section("Notes").add_text("Nothing to report.")        # doctest: +ELLIPSIS
    Section(title='Notes', ...)
    >>> "<section id=\\"notes\\">" in rep.render()
    True
    """

    def __init__(self, title: str, *, subtitle: str = "") -> None:
        self.title = str(title)
        self.subtitle = str(subtitle)
        self.sections: list[Section] = []

    def section(self, title: str, *, id: str | None = None, intro: str = "") -> Section:
        """Add a section (``intro`` is trusted HTML) and return it."""
        sid = _slug(id or title)
        taken = {s.id for s in self.sections}
        base, k = sid, 2
        while sid in taken:
            sid, k = f"{base}-{k}", k + 1
        sec = Section(title=str(title), id=sid, intro=intro)
        self.sections.append(sec)
        return sec

    def add_provenance(self, info: Mapping[str, Any], *, title: str = "Provenance") -> Section:
        """A section listing where the results came from (see :func:`collect_provenance`)."""
        sec = self.section(title, id="provenance",
                           intro="Everything needed to trace these results back to their data and code.")
        flat = []
        for k, v in info.items():
            if isinstance(v, Mapping):
                v = ", ".join(f"{a} {b}" for a, b in v.items())
            elif isinstance(v, (list, tuple)):
                v = " ".join(map(str, v))
            flat.append((k, v))
        return sec.add_key_values(flat)

    def render(self) -> str:
        """The complete HTML document."""
        tmpl = string.Template(resources.files(__package__).joinpath("templates/report.html").read_text("utf-8"))
        toc = ""
        if len(self.sections) > 1:
            toc = ('<nav class="toc"><ol>' + "".join(f'<li><a href="#{_esc(s.id)}">{_esc(s.title)}</a></li>'
                                                  for s in self.sections) + "</ol></nav>")
        body = "\n".join(s.render(i) for i, s in enumerate(self.sections, 1))
        return tmpl.substitute(title=_esc(self.title), version=_esc(__version__),
                               subtitle=f"<p>{_esc(self.subtitle)}</p>" if self.subtitle else "",
                               toc=toc, body=body,
                               date=_esc(_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")))

    def write(self, path: str | Path) -> Path:
        """Write the report (atomically) and return its path."""
        p = Path(path)
        if p.exists() and p.is_dir():
            p = p / "report.html"
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(p)
        return p

    def figures(self) -> list[tuple[str, Any, str]]:
        """Every figure added, as ``(section id, Figure, caption HTML)``: what tests check captions against."""
        return [(s.id, fig, cap) for s in self.sections for fig, cap in s.figures]

    def _repr_html_(self) -> str:
        return "\n".join(s.render(i) for i, s in enumerate(self.sections, 1))

    def __repr__(self) -> str:
        return f"Report({self.title!r}, sections={[s.title for s in self.sections]})"


#: What each compute convention means, for the provenance block.
COMPUTE_CONVENTIONS = {
    "6ND": "C = 6ND (N non-embedding parameters, D tokens; Kaplan et al. 2020)",
    "exact": "C counted per token with attention and the output layer (Hoffmann et al. 2022, App. F)",
    "6N": "C = 6ND with N non-embedding parameters",
    "6N_with_last_layer": "C = 6ND with N including the output layer",
    "explicit": "C read from the table's compute column",
}


def collect_provenance(*, runs: Runs | None = None, store: Any = None, sweep: Any = None,
                       extra: Mapping[str, Any] | None = None, flops_convention: str | None = None) -> dict[str, Any]:
    """Where results came from: versions, data fingerprint, store, sweep file, date, code commit.

    Package versions are read from installed metadata (nothing is imported, so asking for the
    torch version does not load torch). The git commit is the one recorded by the runs in the
    store (their ``provenance.git_commit``), when there is one. ``flops_convention`` is how the
    runs' compute was obtained (runs read from a store carry C per row, so they only know it as
    "explicit"); without it the runs' own convention is named.
    """
    versions = {}
    for pkg in PROVENANCE_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    versions["scalinglab"] = __version__
    info: dict[str, Any] = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "package versions": versions,
        "python": f"{platform.python_version()} ({platform.platform(terse=True)})",
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "",
    }
    if runs is not None:
        info["runs"] = f"{len(runs)} rows from {getattr(runs, 'source', '')}"
        info["data fingerprint (SHA-256)"] = runs.fingerprint
        conv = flops_convention or getattr(runs, "flops_convention", None)
        if conv:
            info["compute convention"] = f"{conv}: {COMPUTE_CONVENTIONS[conv]}" if conv in COMPUTE_CONVENTIONS else conv
        excluded = (getattr(runs, "excluded", None) or {}).get("run_id") or []
        if excluded:
            info["runs excluded"] = f"{len(excluded)} (diverged or without a finite target): " + ", ".join(excluded[:10])
    if store is not None:
        root = getattr(store, "root", store)
        info["results store"] = str(Path(root).resolve())
        commits = _store_commits(store)
        if commits:
            info["code commit of the runs"] = ", ".join(commits)
    if sweep is not None:
        info["sweep"] = str(sweep)
    for k, v in (extra or {}).items():
        info[k] = v
    return info


def _store_commits(store: Any) -> list[str]:
    try:
        recs = store.records(status="done")
    except ScalingLabError:  # provenance is best effort; a store that cannot list records has none
        return []
    out: dict[str, None] = {}
    for r in recs:
        prov = r.provenance or {}
        c = prov.get("git_commit")
        if c:
            out[str(c)[:12] + ("+dirty" if prov.get("git_dirty") else "")] = None
    return list(out)[:5]


# ---------------------------------------------------------------------------------------------
# the standard report
# ---------------------------------------------------------------------------------------------

def _runs_table(runs: Any, limit: int = 400) -> tuple[list[str], list[list[str]]]:

    cols = [c for c in ("n_params", "n_tokens", "flops") if getattr(runs, c) is not None]
    groups = [g for g in ("rung", "lr", "seed", "procedure") if g in (runs.groups or {})]
    header = ["run_id", *cols, *groups, runs.target_name]
    rows = []
    for i in range(min(len(runs), limit)):
        rows.append([str(runs.run_id[i]), *(format_quantity(float(getattr(runs, c)[i])) if c != "flops"
                                            else f"{float(runs.flops[i]):.3g}" for c in cols),
                     *(str(runs.groups[g][i]) for g in groups), f"{float(runs.target[i]):.4f}"])
    return header, rows


def report_from_analysis(analysis: Analysis, *, title: str = "Scaling-law report", subtitle: str = "",
                         provenance: Mapping[str, Any] | None = None) -> Report:
    """Assemble the standard report from an :class:`~scalinglab.report.analysis.Analysis`.

    Sections (ids in parentheses): overview (``overview``), runs and frontier (``frontier``),
    L(N, D) fit (``fit-nd``), L(C) fit (``fit-c``), compute-optimal allocation (``allocation``),
    comparison (``comparison``, when two procedures exist), backtest (``backtest``), notes
    (``notes``) and provenance (``provenance``). A section whose step was skipped says why.
    """

    a = analysis
    lvl = a.options.get("level", 0.95)
    pct = f"{100 * lvl:g}%"
    nb = a.options.get("n_boot", 0)
    rep = Report(title, subtitle=subtitle)
    skipped = {n.split(":", 1)[0]: n.split(":", 1)[1].strip() for n in a.notes if ":" in n}

    def why(prefix: str) -> str:
        for k, v in skipped.items():
            if k.startswith(prefix):
                return v
        return "not enough data for this step"

    sec = rep.section("Overview", intro=(
        "Headline numbers of this ladder. Intervals are "
        f"{pct} percentile intervals of a nonparametric bootstrap over runs ({nb} refits); backtest "
        "intervals are prediction intervals for a new run (parameter uncertainty plus residual scatter)."))
    facts, caveats = a.overview()
    rows = []
    for f in facts:     # a number that a caveat qualifies is greyed, with the caveats' numbers beside it
        refs = "".join(f'<a href="#caveat-{i + 1}">[{i + 1}]</a>' for i in f.caveats)
        cls = ' class="caveat"' if f.qualified else ""
        rows.append(f"<tr{cls}><th>{_esc(f.label)}</th><td>{_esc(f.value)}"
                    + (f' <span class="caveat-ref">(!) see {refs}</span>' if refs else "") + "</td></tr>")
    sec.add_html('<table class="kv overview">' + "".join(rows) + "</table>")
    if caveats:
        sec.add_html('<p class="caveats-head">Caveats: each qualifies the numbers marked with its number.</p>'
                     '<ol class="caveats">' + "".join(f'<li id="caveat-{i}">{_esc(c.text)}</li>'
                                                       for i, c in enumerate(caveats, 1)) + "</ol>")
    if a.backtest is not None:
        ok = a.backtest_ok
        tol = 100 * a.options.get("max_rel_error", 0.03)
        verdict = a.verdict()
        extra = verdict[verdict.index("(with"):] if "(with" in verdict else ""
        sec.add_html(f'<p class="verdict">Backtest: <span class="{"ok" if ok else "bad"}">'
                     f'{"passed" if ok else "failed"}</span>{" " + _esc(extra) if extra else ""} &mdash; every '
                     f"held-out run inside its {pct} prediction interval and within {tol:g}% relative error is the "
                     "criterion.</p>")

    sec = rep.section("Runs and compute frontier", id="frontier", intro=(
        "Every run (faded) and the compute envelope of the tuned points: the runs that no run with "
        "less or equal compute beats (Kaplan et al. 2020, Fig. 1; Hoffmann et al. 2022, Approach 1). "
        "Tuned points are the best learning rate for each (N, D)."))
    edges = [e for e in (a.tuned.tuning_edge if a.tuned is not None else ()) if e.side != "only"]
    if a.frontier is not None and a.runs.flops is not None:
        ringed = len({e.run_id for e in edges} & set(map(str, a.frontier.run_ids)))
        rings = ""
        if ringed:
            rings = (f" A red ring marks {'the frontier point' if ringed == 1 else f'the {ringed} frontier points'} "
                     f"whose best learning rate is at the edge of the searched grid ({len(edges)} tuned "
                     f"point{'s' if len(edges) > 1 else ''} in all, listed below).")
        sec.add_figure(plots.plot_frontier(a.runs, a.frontier, tuning_edge=edges),
                       f"<b>Compute frontier.</b> {len(a.runs)} runs (grey); the {len(a.frontier)} runs defining "
                       f"the envelope are highlighted (blue) and joined.{rings}")
        sec.add_html(f"<details><summary>Frontier points ({len(a.frontier)})</summary>")
        sec.add_summary(a.frontier)
        sec.add_html("</details>")
    else:
        sec.add_text(f"No frontier: {why('compute frontier')}.")
    only = [e for e in (a.tuned.tuning_edge if a.tuned is not None else ()) if e.side == "only"]
    if only and len(only) == len(a.tuned):
        sec.add_text("One learning rate was tried per (N, D): the analysis cannot tell whether it was the best "
                     "one. A grid per size (and a best value inside it) makes the tuned points trustworthy "
                     "(Porian et al. 2024).")
    elif edges:
        sec.add_html(f"<details><summary>{len(edges)} tuned points have their best learning rate at the edge of "
                     "the searched grid: their loss is an upper bound on the tuned loss (Porian et al. 2024)"
                     "</summary><ul class='notes'>" + "".join(f"<li>{_esc(e)}</li>" for e in edges)
                     + "</ul></details>")
    header, rows = _runs_table(a.runs)
    sec.add_html("<details><summary>Table of all runs</summary>")
    sec.add_table(header, rows)
    sec.add_html("</details>")

    law_nd = a.options.get("law", "chinchilla")
    sec = rep.section("Fit of L(N, D)", id="fit-nd", intro=(
        f"The {_esc(law_nd)} law fitted to the tuned points with the Huber loss on log residuals "
        "(Hoffmann et al. 2022, Sec. 3.3; Besiroglu et al. 2024). Parameter intervals are bootstrap "
        "percentile intervals; the band is the prediction interval of a new run."))
    if a.fit_nd is not None:
        sec.add_summary(a.fit_nd)
        fig_runs = a.tuned if a.tuned is not None else None
        fig = plots.plot_fit(a.fit_nd, fig_runs, level=lvl)
        n_curves = sum(str(ln.get_label()).startswith("N=") for ln in fig.axes[0].get_lines())
        what = (f"one curve per model size ({n_curves} sizes, one colour each), each with its {pct} "
                "prediction band" if n_curves else
                f"the compute-optimal frontier L*(C) (black) with its {pct} prediction band; points coloured by N")
        sec.add_figure(fig, f"<b>L(N, D) fit.</b> Tuned points against compute C = 6ND and the fitted law: {what}.")
        sec.add_figure(plots.plot_residuals(a.fit_nd),
                       "<b>Residuals</b> (log fitted − log observed) against compute; shaded: ±1 and ±2 residual "
                       "scales. A trend means the law's form misses structure, which no interval accounts for.")
    else:
        sec.add_text(f"Not fitted: {why('fit ' + law_nd)}.")

    law_c = a.options.get("compute_law", "saturating_power_law")
    sec = rep.section("Fit of L(C) on the frontier", id="fit-c", intro=(
        f"The {_esc(law_c)} law fitted to the compute frontier: the loss the best run reaches at each "
        "compute."))
    if a.fit_c is not None:
        sec.add_summary(a.fit_c)
        top = float(a.fit_c.input_range["flops"][1])
        sec.add_figure(plots.plot_fit(a.fit_c, a.frontier, extend_to=EXTRAPOLATE * top, level=lvl),
                       f"<b>L(C) fit.</b> Frontier points and the fitted law with its {pct} prediction interval, "
                       f"extrapolated {EXTRAPOLATE:g}x beyond the largest run (dotted line: end of the data).")
    else:
        sec.add_text(f"Not fitted: {why('fit ' + law_c)}.")

    sec = rep.section("Compute-optimal allocation", id="allocation", intro=(
        "N*(C) and D*(C), the model size and token count that minimise the loss at compute C = 6ND "
        "(Hoffmann et al. 2022, Eq. 4 for approach 3; Sec. 3.2 for approach 2)."))
    allocs = {}
    if a.allocation is not None:
        allocs["approach 3 (from L(N, D))"] = a.allocation
    if a.allocation_isoflop is not None:
        allocs["approach 2 (iso-FLOP)"] = a.allocation_isoflop
    if allocs:
        first = next(iter(allocs.values()))
        lo, hi = (float(a.runs.flops.min()), float(a.runs.flops.max())) if a.runs.flops is not None \
            else first.flops_range
        ahead = max(AHEAD)            # the figure and the tables reach the same budget
        grid = np.logspace(math.log10(lo), math.log10(ahead * hi), 120)
        sec.add_figure(plots.plot_allocation(allocs, flops=grid),
                       f"<b>Compute-optimal allocation</b> with {pct} bootstrap intervals, from the smallest run's "
                       f"compute to {ahead:g}x the largest run's, as in the tables below (the intervals omit the "
                       "error of extrapolating the power law).")
        budgets = sorted({float(f"{c:.3g}") for c in (lo, (lo * hi) ** 0.5, *(f * hi for f in AHEAD))})
        for al in allocs.values():
            sec.add_summary(al.summary(flops=budgets))
        if a.slices is not None and a.allocation_isoflop is not None:
            sec.add_figure(plots.plot_isoflop(a.slices, a.allocation_isoflop),
                           "<b>Iso-FLOP profiles.</b> Loss against N per budget, parabolas in log N and their minima.")
    else:
        sec.add_text(f"No allocation: {why('allocation')}.")

    if a.comparison is not None:
        co = a.comparison
        sec = rep.section("Comparison of procedures", id="comparison", intro=(
            "The two procedures' laws compared along their compute-optimal frontiers: difference, "
            "effective-compute multiplier, equal-exponent test and crossover, from paired bootstrap draws. "
            f"Intervals: {co.describe_interval()}."))
        sec.add_html(f'<p class="verdict">{_esc(co.verdict())}</p>')
        fa, fb = a.comparison_fits
        ra, rb = a.comparison_runs or (None, None)
        crossing = co.crossover.state == "crossover" and math.isfinite(co.crossover.flops)
        sec.add_figure(plots.plot_comparison(co, fa, fb, runs_a=ra, runs_b=rb),
                       f"<b>Comparison.</b> Each arm's curve with its {pct} band; "
                       + ("dashed: crossover (shaded: its interval); " if crossing else
                          "no crossover in the searched range; ")
                       + "dotted: the compute values tabulated below.")
        sec.add_summary(co)

    sec = rep.section("Backtest: predicting the largest runs", id="backtest", intro=(
        f"The {_esc(law_nd)} law refitted without the largest-compute runs "
        f"({_esc(a.options.get('holdout', ''))}"
        + (f"; {_esc(a.options['holdout_origin'])}" if a.options.get("holdout_origin") else "")
        + f"), which it then predicts with {pct} prediction intervals. "
        "The check that a law extrapolates rather than only interpolates (Hoffmann et al. 2022, App. D.4)."))
    if a.backtest is not None:
        one_fold = len(a.backtest.folds) == 1
        sec.add_figure(plots.plot_backtest(a.backtest, a.tuned if a.tuned is not None else a.runs),
                       "<b>Backtest.</b> Top: runs fitted on (grey), held-out runs (black) and their predictions "
                       f"with {pct} prediction intervals (orange)"
                       + ("; blue: the law fitted on the rest, along each held-out run's model size, so each "
                          "prediction sits on its size's curve" if one_fold else "")
                       + ". Bottom: relative error of each prediction (green: inside its interval; red cross: "
                         "outside).")
        sec.add_summary(a.backtest)
    else:
        sec.add_text(f"No backtest: {why('backtest')}.")

    if a.notes or a.warnings:
        sec = rep.section("Notes", intro="Steps skipped and warnings raised during the analysis.")
        if a.notes:
            sec.add_html("<ul class='notes'>" + "".join(f"<li>{_esc(n)}</li>" for n in a.notes) + "</ul>")
        if a.warnings:
            sec.add_html("<details><summary>Warnings of the fits ("
                         f"{len(a.warnings)})</summary><ul class='notes'>"
                         + "".join(f"<li>{_esc(w)}</li>" for w in a.warnings) + "</ul></details>")
    prov = dict(provenance or collect_provenance(runs=a.runs))
    prov.setdefault("analysis options", ", ".join(f"{k}={v}" for k, v in a.options.items() if v not in ({}, None)))
    rep.add_provenance(prov)
    return rep


def open_runs(source: ResultsStore | str | Path | Runs, target: str | None,
              flops_convention: str) -> tuple[Runs, ResultsStore | None]:
    """(runs, store or None) from a ResultsStore, a store directory, or Runs."""
    if isinstance(source, Runs):
        return source, None
    if isinstance(source, ResultsStore):
        store = source
    else:
        p = Path(source)
        if not ((p / DB_NAME).is_file() or (p.name == DB_NAME and p.is_file())):
            raise DataError(f"{str(p)!r} is not a results store (no {DB_NAME} in it); pass the folder a "
                            "sweep wrote to (e.g. demo-out/store), or load a table with load_runs")
        store = ResultsStore(p, readonly=True)
    return store.to_runs(target, flops_convention=flops_convention), store


def build_report(source: Any, out_path: str | Path, *, title: str = "Scaling-law report", subtitle: str = "",
                 target: str = "val_loss", flops_convention: str = "6ND", sweep: Any = None,
                 analysis: Any = None, provenance: Mapping[str, Any] | None = None, **analyze_kwargs: Any) -> Path:
    """Analyse a results store (or runs) and write the self-contained HTML report.

    Parameters
    ----------
    source : ResultsStore, path of a store, or Runs
    out_path : path
        The ``.html`` file to write (a directory gets ``report.html``).
    title, subtitle : str
    target : str
        Store target: ``"val_loss"`` (default) or ``"train_loss"``.
    flops_convention : str
        Compute of store runs (default ``"6ND"`` with non-embedding N, Kaplan et al. 2020, so
        that the compute axis agrees with the C = 6ND of the allocation); ``"exact"`` counts
        attention and the output layer.
    sweep : str or Path, optional
        The sweep file, named in the provenance block.
    analysis : Analysis, optional
        A ready analysis (then ``source`` only supplies provenance).
    provenance : dict, optional
        Extra provenance entries.
    **analyze_kwargs
        Passed to :func:`~scalinglab.report.analysis.analyze` (``n_boot``, ``holdout`` ...).
        Without ``holdout``, a store's backtest holds out what ``scalinglab demo`` recorded in
        it (``analysis.json``), else ``"largest 20%"``.

    Returns
    -------
    Path
        The written report.
    """

    runs, store = open_runs(source, target, flops_convention)
    if analysis is None:
        kw = dict(analyze_kwargs)
        hold, origin = holdout_for(getattr(store, "root", None), kw.pop("holdout", None))
        analysis = analyze(runs, holdout=hold, holdout_origin=kw.pop("holdout_origin", origin), **kw)
    prov = collect_provenance(runs=runs, store=store, sweep=sweep, extra=provenance,
                              flops_convention=flops_convention if store is not None else None)
    rep = report_from_analysis(analysis, title=title, subtitle=subtitle, provenance=prov)
    return rep.write(out_path)
