"""The AIW page and its figures: built by report.html's one builder from evals results.

Figures: one bar per (model, variation) with the per-prompt interval as error bar; the family
beside its controls. Page: a :class:`~scalinglab.report.html.Report` (same template, sections,
embedded figures and provenance as every scalinglab report), PNGs beside it, readable in a real
browser.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from scalinglab.errors import DataError
from scalinglab.evals import RateSummary, summarize_rates, wilson_interval

pytestmark = pytest.mark.requires("matplotlib")

def _records():
    out = []
    spec = {("m1", "aiw"): [8, 2, 5, 1], ("m2", "aiw"): [10, 9, 10, 7],
            ("m1", "aiw_light_family"): [9, 10, 10, 9], ("m2", "aiw_light_family"): [10, 10, 10, 10]}
    for (model, fam), ks in spec.items():
        for i, k in enumerate(ks, start=1):
            for t in range(10):
                out.append({"model": model, "prompt_id": f"{fam}/{i}/thinking_v2", "family": fam,
                            "variation": str(i), "prompt_type": "thinking_v2", "trial": t,
                            "correct": t < k, "parse_status": "parsed", "right_answer": 7,
                            "prompt_sha": f"{fam}{i}", "kind": "control" if "light" in fam else "problem"})
    return out


@pytest.fixture(scope="module")
def rates() -> RateSummary:
    return summarize_rates(_records())


def test_plot_aiw_variations_draws_bars_with_intervals(rates):
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.figure import Figure

    from scalinglab.report import plot_aiw_variations

    fig = plot_aiw_variations(rates, "aiw")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted([0.8, 0.2, 0.5, 0.1, 1.0, 0.9, 1.0, 0.7])
    assert sum(isinstance(c, BarContainer) for c in ax.containers) == 2  # one per model
    err = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(err) == 2
    seg = err[0].lines[2][0].get_segments()[0]  # m1, variation 1: 8/10
    assert (seg[0][1], seg[1][1]) == pytest.approx(wilson_interval(8, 10))
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["m1", "m2"]
    with pytest.raises(DataError, match="no results for family 'aiw_plus'"):
        plot_aiw_variations(rates, "aiw_plus")


def test_plot_aiw_controls(rates):
    from scalinglab.report import plot_aiw_controls

    fig = plot_aiw_controls(rates, "aiw")
    (ax,) = fig.axes
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted([0.4, 0.9, 0.95, 1.0])  # 16/40, 36/40, 38/40, 40/40
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["aiw", "aiw_light_family"]
    with pytest.raises(DataError, match="declares no controls"):
        plot_aiw_controls(rates, "aiw_friends")


def test_the_page_is_a_report_of_the_one_builder(rates):
    from scalinglab.report import Report, report_from_aiw

    rep = report_from_aiw(rates, title="AIW <two models>")
    assert isinstance(rep, Report)
    assert [s.id for s in rep.sections] == ["families", "controls", "figures", "prompts", "provenance"]
    labels = [fig.get_label() for _, fig, _ in rep.figures()]
    assert labels == ["variations_aiw_thinking_v2", "controls_aiw",
                      "variations_aiw_light_family_thinking_v2"]
    page = rep.render()
    assert '<meta name="generator" content="scalinglab' in page          # the report template
    assert "AIW &lt;two models&gt;" in page and "<two models>" not in page
    assert page.count("<img src=\"data:image/png;base64,") == 3
    # the tables are the summary's own cells (RateSummary.table), escaped by the builder
    for name in ("families", "gaps", "prompts"):
        header, rows = rates.table(name)
        for row in rows:
            assert "".join(f"<td>{c}</td>" for c in row) in page, (name, row)
    assert "16/40" in page and "arXiv:2406.02061" in page


def test_build_aiw_report_writes_the_page_and_one_png_per_figure(tmp_path, rates):
    from scalinglab.report import build_aiw_report

    path = build_aiw_report(rates, tmp_path / "out", title="AIW")
    assert path == tmp_path / "out" / "report.html"
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["controls_aiw.png", "variations_aiw_light_family_thinking_v2.png",
                    "variations_aiw_thinking_v2.png"]
    assert all((tmp_path / "out" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    # the same page from a saved summary, and from a results file (its path in the provenance)
    s_path = rates.save(tmp_path / "r.summary.json")
    text = build_aiw_report(s_path, tmp_path / "again").read_text()
    assert '<section id="families">' in text and "r.summary.json" in text
    with pytest.raises(DataError, match="nothing to report"):
        build_aiw_report(RateSummary([], [], []), tmp_path / "empty")


def test_upstream_prompts_without_a_family_get_tables_but_no_figures():
    from scalinglab.report import report_from_aiw

    # what read_responses makes of an upstream prompt that no scalinglab template reproduces
    recs = [{"model": "m", "prompt_id": "upstream/901", "family": "upstream", "variation": "901",
             "prompt_type": "unknown", "upstream_id": 901, "trial": t, "correct": t < 2,
             "parse_status": "parsed", "right_answer": 4, "prompt_sha": "abc"} for t in range(5)]
    rep = report_from_aiw(recs)
    assert rep.figures() == []
    page = rep.render()
    assert "No figure" in page and "No family has results" in page
    assert "<td>upstream/901</td><td>901</td><td>4</td><td>2/5</td>" in page


def test_the_page_renders_in_a_headless_browser(chromium, rates, tmp_path):
    from scalinglab.report import build_aiw_report

    path = build_aiw_report(rates, tmp_path / "out")
    probe = ("<script>window.addEventListener('load', () => { const ok = [...document.images].filter("
             "i => i.complete && i.naturalWidth > 0).length; document.body.setAttribute('data-decoded', ok); "
             "document.body.setAttribute('data-images', document.images.length); });</script>")
    page = tmp_path / "probe.html"
    page.write_text(path.read_text().replace("</body>", probe + "</body>"))
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           f"--user-data-dir={tmp_path / 'chrome-profile'}", "--virtual-time-budget=10000", "--dump-dom",
           page.as_uri()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr[-2000:]
    for sid in ("families", "controls", "figures", "prompts", "provenance"):
        assert f'<section id="{sid}">' in out.stdout, sid
    n = int(re.search(r'data-images="(\d+)"', out.stdout).group(1))
    assert n == 3 and int(re.search(r'data-decoded="(\d+)"', out.stdout).group(1)) == n
