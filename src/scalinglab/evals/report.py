"""A self-contained HTML page of AIW results: tables from the summary, figures embedded as PNG."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import DataError
from .stats import Summary, summarize

__all__ = ["write_report"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}
table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #eee;margin:0.5em 0}"""


def _load(source: Summary | str | Path | Iterable[dict[str, Any]]) -> Summary:
    if isinstance(source, Summary):
        return source
    if isinstance(source, (str, Path)):
        p = Path(source)
        if p.suffix == ".json" and p.name.endswith(".summary.json"):
            return Summary.load(p)
        from .backends.responses_file import read_responses

        return summarize(read_responses(p, mode=None))
    return summarize(source)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def write_report(source: Summary | str | Path | Iterable[dict[str, Any]], out_dir: str | Path, *,
                 title: str = "AIW evaluation") -> Path:
    """Write ``out_dir/report.html`` (and one PNG per figure) from results.

    ``source``: a Summary, a results JSONL / upstream JSON path, a ``*.summary.json``, or records.
    Returns the path of the HTML page.
    """
    from .plots import plot_family_vs_control, plot_variations
    from .task import get_family

    s = _load(source)
    if not s.prompts:
        raise DataError("nothing to report: the results hold no prompts")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[tuple[str, str]] = []
    families = sorted({p.family for p in s.prompts if p.family != "upstream"})
    for fam in families:
        for pt in sorted({p.prompt_type for p in s.prompts if p.family == fam}):
            fig = plot_variations(s, fam, prompt_type=pt)
            name = f"variations_{fam}_{pt}.png"
            data = _png(fig)
            (out / name).write_bytes(data)
            figures.append((f"{fam} - {pt}: rate per variation", base64.b64encode(data).decode()))
        try:
            has_controls = bool(get_family(fam).controls)
        except KeyError:
            has_controls = False
        if has_controls:
            try:
                fig = plot_family_vs_control(s, fam)
            except DataError:
                continue  # no control results for this family
            name = f"controls_{fam}.png"
            data = _png(fig)
            (out / name).write_bytes(data)
            figures.append((f"{fam} vs its controls", base64.b64encode(data).decode()))
    imgs = "".join(f"<h3>{html.escape(t)}</h3><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'>"
                   for t, b in figures)
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>scalinglab {html.escape(__version__)}, {when}. Models: "
            f"{html.escape(', '.join(s.meta.get('models', [])))}. AIW: Nezhurina, Cipolina-Kun, Cherti, "
            f"Jitsev 2024, arXiv:2406.02061.</p>"
            f"{s.as_html()}<h2>Figures</h2>{imgs}</body></html>")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
