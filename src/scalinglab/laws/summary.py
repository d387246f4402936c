"""Summary tables of a fit: header, parameters with errors and intervals, diagnostics, notes.

``FitResult.summary()`` returns a :class:`Summary`; ``as_text()``, ``as_html()`` and
``to_dict()`` / ``to_json()`` render the same content (statsmodels ``iolib/summary.py`` style).
Results with several tables (frontiers, allocations, comparisons, backtests) use
:class:`TablesSummary`, which has the same renderers.
Every problem the diagnostics find becomes a numbered note: a suspicious fit says so.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, UnreliableErrorsWarning

if TYPE_CHECKING:
    from .result import FitResult

__all__ = ["Summary", "TablesSummary", "summarize"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) if v else "none"
    return str(v)


class _Rendered:
    """``str``/``repr`` as text and ``_repr_html_`` for notebooks, for any summary with renderers."""

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


@dataclass(frozen=True, repr=False)
class Summary(_Rendered):
    """A rendered-on-demand report of one fit.

    Attributes
    ----------
    title : str
    header : list of (label, value)
    columns : list of str
        Parameter table columns.
    rows : list of list
        One row per parameter: name, estimate, stderr, low, high.
    diagnostics : list of (label, value)
    notes : list of str
        Numbered in rendering; empty when nothing is suspicious.
    """

    title: str
    header: list[tuple[str, Any]]
    columns: list[str]
    rows: list[list[Any]]
    diagnostics: list[tuple[str, Any]]
    notes: list[str] = field(default_factory=list)

    # -- renderers -------------------------------------------------------------------------
    def as_text(self) -> str:
        width = 78
        out = [self.title.center(width).rstrip(), "=" * width]
        lw = max(len(k) for k, _ in self.header) + 2
        for k, v in self.header:
            out.append(f"{k + ':':<{lw}}{_fmt(v)}")
        out.append("-" * width)
        w0 = max([len(str(r[0])) for r in self.rows] + [len(self.columns[0]), 6])
        out.append(f"{self.columns[0]:<{w0}}" + "".join(f" {c:>16}" for c in self.columns[1:]))
        out.append("-" * width)
        for r in self.rows:
            out.append(f"{str(r[0]):<{w0}}" + "".join(f" {_fmt(v):>16}" for v in r[1:]))
        out.append("-" * width)
        for i in range(0, len(self.diagnostics), 2):
            pair = self.diagnostics[i:i + 2]
            cells = [f"{k + ':':<18}{_fmt(v):>19}" for k, v in pair]
            out.append("  ".join(cells).rstrip())
        out.append("=" * width)
        if self.notes:
            out.append("Notes:")
            for i, n in enumerate(self.notes, 1):
                out.append(f"[{i}] {n}")
        return "\n".join(out)

    def as_html(self) -> str:
        h = [f'<div class="scalinglab-summary"><h4>{escape(self.title)}</h4>', "<table>"]
        for k, v in self.header:
            h.append(f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v))}</td></tr>")
        h.append("</table><table>")
        h.append("<tr>" + "".join(f"<th>{escape(c)}</th>" for c in self.columns) + "</tr>")
        for r in self.rows:
            h.append("<tr>" + "".join(f"<td>{escape(_fmt(v))}</td>" for v in r) + "</tr>")
        h.append("</table><table>")
        for k, v in self.diagnostics:
            h.append(f"<tr><th>{escape(k)}</th><td>{escape(_fmt(v))}</td></tr>")
        h.append("</table>")
        if self.notes:
            h.append("<p>Notes:</p><ol>" + "".join(f"<li>{escape(n)}</li>" for n in self.notes) + "</ol>")
        h.append("</div>")
        return "\n".join(h)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return repr(v)
            if isinstance(v, tuple):
                return list(v)
            return v

        return {"title": self.title,
                "header": {k: clean(v) for k, v in self.header},
                "params": [{c: clean(v) for c, v in zip(self.columns, r)} for r in self.rows],
                "diagnostics": {k: clean(v) for k, v in self.diagnostics},
                "notes": list(self.notes)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)



def summarize(res: FitResult, level: float = 0.95) -> Summary:
    """Build the :class:`Summary` of a :class:`~scalinglab.laws.result.FitResult`.

    The interval columns are at ``level`` (0 < level < 1), the same level as the fit's ``ci``.
    """
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ConfigError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}")
    o = res.options
    d = res.diagnostics
    loss = o["loss"]
    if loss == "huber":
        loss = f"huber(delta={o['delta']:g})"
    elif loss == "asymmetric":
        loss = f"asymmetric(tau={o['tau']:g})"
    header: list[tuple[str, Any]] = [
        ("Law", res.law.name),
        ("Formula", res.law.formula),
        ("Estimator", loss),
        ("Space / reduce", f"{o['space']} / {o['reduce']}"),
        ("Points", res.n_points),
        ("Objective", float(res.objective)),
        ("Residual scale", float(res.sigma)),
        ("Starts", f"{d.n_starts} ({_fmt(o['starts']) if isinstance(o['starts'], str) else 'random'})"),
    ]
    if res.likelihood_scale is not None:
        header.append(("Likelihood scale", float(res.likelihood_scale)))
    if (res.meta or {}).get("n_tokens_derived"):
        header.append(("Tokens D", "derived as C / (6N): the table has no token column"))
    header.append(("Prediction intervals", interval_line(res)))
    if getattr(res, "calibration", None) is not None:
        header.append(("Calibration", res.calibration.describe(level)))
    notes = [msg for _, msg in d.problems()]
    noise = getattr(res, "noise", None)
    if noise is not None and noise.uses_seeds:
        header.append(("New-run noise", f"{100 * noise.sigma:.3g}% ({noise.source})"))
        notes.append(f"prediction intervals carry {noise.describe()}.")
    method = res.stderr_method
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnreliableErrorsWarning)
        se = res.stderr
        try:
            ci = res.ci(level, method=method)
        except Exception:  # a failed interval must never hide the estimates
            ci = None
    if method == "wald" and res.objective_spec.robust:
        notes.append(f"standard errors and intervals are Wald (covariance) estimates under the robust loss "
                     f"{o['loss']!r}: approximate. Run .with_bootstrap() for intervals that hold.")
    if res.bootstrap is not None:
        b = res.bootstrap
        bad = int(b.n_boot - b.converged.sum())
        if bad:
            notes.append(f"{bad} of {b.n_boot} bootstrap refits did not meet the stopping rule.")
    fixed = o.get("fixed") or {}
    rows = []
    for k, v in res.params.items():
        lo, hi = ci[k] if ci is not None else (float("nan"), float("nan"))
        rows.append([k + (" (fixed)" if k in fixed else ""), float(v), float(se[k]), float(lo), float(hi)])
    boot = f", bootstrap n={res.bootstrap.n_boot}" + (f" by {res.bootstrap.by}" if res.bootstrap.by else "") \
        if res.bootstrap is not None else ""
    columns = ["param", "estimate", f"stderr ({method})", f"[{(1 - level) / 2:.3g}", f"{1 - (1 - level) / 2:.4g}]"]
    diagnostics: list[tuple[str, Any]] = [
        ("converged", d.converged),
        ("starts agreeing", f"{d.n_starts_agreeing}/{d.n_starts_run}"),
        ("optimum spread", float(d.optimum_spread)),
        ("at bound", list(d.at_bound)),
        ("never moved", d.never_moved),
        ("condition number", float(d.cond_number)),
        ("iterations", d.n_iter),
        ("ok", res.ok),
    ]
    title = f"Scaling-law fit: {res.law.name}{boot}"
    return Summary(title=title, header=header, columns=columns, rows=rows, diagnostics=diagnostics, notes=notes)


def interval_line(res: FitResult) -> str:
    """Which prediction interval ``res.predict`` gives inside and beyond the fitted data, in one line."""
    inside = "bootstrap" if res.bootstrap is not None else "wald"
    cal = getattr(res, "calibration", None)
    if cal is not None:
        beyond = "calibrated" if cal.usable else f"{inside} (too few runs to calibrate)"
    elif res.data is not None:
        beyond = "calibrated (computed on first use)"
    else:
        beyond = f"{inside} (not calibrated: saved without data)"
    return f"{inside} inside the data, {beyond} beyond it"


# ---------------------------------------------------------------------------------------------
# summaries shared by frontier, allocate, compare and backtest results
# ---------------------------------------------------------------------------------------------

def fmt_compact(x: Any, digits: int = 3) -> str:
    """Compact number formatting for summary tables."""
    if x is None:
        return "-"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):
            return str(x)
        return f"{x:.{digits}g}" if (x == 0 or 1e-3 <= abs(x) < 1e5) else f"{x:.{digits}e}"
    return str(x)


@dataclass(frozen=True, repr=False)
class TablesSummary(_Rendered):
    """Text / HTML / dict rendering of a result: a title, key facts, tables and numbered notes.

    The same renderers as :class:`Summary` (``as_text``, ``as_html``,
    ``to_dict``, ``to_json``), for results with several tables (frontiers, allocations,
    comparisons, backtests).
    """

    title: str
    info: Mapping[str, Any]
    tables: Mapping[str, tuple[list[str], list[list[str]]]]
    notes: tuple[str, ...] = ()

    def as_text(self) -> str:
        out = [self.title, "=" * len(self.title)]
        width = max((len(k) for k in self.info), default=0)
        for k, v in self.info.items():
            if not isinstance(v, (dict, list)):
                out.append(f"{k:<{width}}  {fmt_compact(v, 4)}")
        for name, (header, rows) in self.tables.items():
            cells = [header, *rows]
            w = [max(len(str(r[j])) for r in cells) for j in range(len(header))]
            out += ["", name, "  ".join(str(h).rjust(w[j]) for j, h in enumerate(header))]
            out += ["  ".join(str(c).rjust(w[j]) for j, c in enumerate(r)) for r in rows]
        if self.notes:
            out += ["", "Notes:"] + [f"[{i}] {n}" for i, n in enumerate(self.notes, 1)]
        return "\n".join(out)

    def as_html(self) -> str:
        import html

        e = html.escape
        parts = [f"<div class='scalinglab-summary'><h4>{e(self.title)}</h4><table>"]
        parts += [f"<tr><th>{e(str(k))}</th><td>{e(fmt_compact(v, 4))}</td></tr>" for k, v in self.info.items()
                  if not isinstance(v, (dict, list))]
        parts.append("</table>")
        for name, (header, rows) in self.tables.items():
            parts.append(f"<p>{e(name)}</p><table><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in header) + "</tr>")
            parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows]
            parts.append("</table>")
        if self.notes:
            parts.append("<ol>" + "".join(f"<li>{e(n)}</li>" for n in self.notes) + "</ol>")
        return "".join(parts) + "</div>"

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "info": dict(self.info),
                "tables": {k: {"header": list(h), "rows": [list(r) for r in rows]}
                           for k, (h, rows) in self.tables.items()},
                "notes": list(self.notes)}

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict(), indent=1, default=str)



def tables_summary(title: str, info: Mapping[str, Any], tables: Mapping[str, tuple[list[str], list[list[str]]]],
             notes: Sequence[str] = ()) -> TablesSummary:
    return TablesSummary(title=title, info=dict(info), tables=dict(tables), notes=tuple(notes))
