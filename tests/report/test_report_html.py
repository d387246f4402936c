"""The HTML report: self-contained, the expected sections, and it renders in a real browser."""

from __future__ import annotations

import base64
import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from _report_data import store_with_runs

from scalinglab.errors import ConfigError, DataError, ScalingLabWarning

pytestmark = pytest.mark.requires("matplotlib")

SECTIONS = ("overview", "frontier", "fit-nd", "fit-c", "allocation", "comparison", "backtest", "provenance")
DATA_PNG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def store_report(tmp_path_factory):
    """A real store of two procedures, analysed and written once for the module."""
    from scalinglab.report import build_report

    root = tmp_path_factory.mktemp("store")
    store = store_with_runs(root / "store", procedures=("baseline", "tuned"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        path = build_report(store, root / "out" / "report.html", title="Toy ladder <appendix>",
                            n_boot=40, holdout="largest 3", sweep="sweeps/toy.yaml")
    return store, path, path.read_text()


def test_report_has_every_section_and_embedded_figures(store_report):
    _, path, text = store_report
    assert path.name == "report.html" and path.stat().st_size > 50_000
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in text, sid
    imgs = DATA_PNG.findall(text)
    assert len(imgs) == 7           # frontier, L(N, D) + residuals, L(C), allocation, comparison, backtest
    for b64 in imgs:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    # the summaries of the fits carry intervals; the title is escaped
    assert "Scaling-law fit: chinchilla, bootstrap n=40" in text
    assert "Toy ladder &lt;appendix&gt;" in text and "<appendix>" not in text


def test_report_is_self_contained(store_report):
    _, _, text = store_report
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', text)
    assert refs
    assert all(r.startswith(("data:", "#")) for r in refs), [r for r in refs if not r.startswith(("data:", "#"))]
    assert "url(" not in text and "@import" not in text and "<script" not in text


def test_report_provenance_names_data_store_sweep_and_versions(store_report):
    store, _, text = store_report
    prov = text[text.index('<section id="provenance">'):]
    assert str(Path(store.root).resolve()) in prov
    assert "sweeps/toy.yaml" in prov
    assert re.search(r"data fingerprint \(SHA-256\)</th><td>[0-9a-f]{64}<", prov)
    assert "numpy" in prov and "scipy" in prov and "matplotlib" in prov
    assert "0123456789ab" in prov                    # the code commit recorded by the runs
    assert "1 (diverged or without a finite target)" in prov


def test_report_backtest_and_comparison_are_reported(store_report):
    _, _, text = store_report
    bt = text[text.index('<section id="backtest">'):text.index('<section id="notes">')]
    assert "held-out runs" in bt and "largest 3 by compute" in bt
    co = text[text.index('<section id="comparison">'):text.index('<section id="backtest">')]
    assert "Comparison of baseline and tuned" in co and "multiplier" in co


def test_report_from_runs_without_tokens_skips_the_nd_steps_with_a_reason(tmp_path):
    from scalinglab.laws import Runs
    from scalinglab.report import build_report

    C = np.logspace(17, 20, 9)
    runs = Runs.from_arrays(flops=C, target=2 + 300 * C ** -0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        text = build_report(runs, tmp_path, n_boot=20).read_text()
    assert (tmp_path / "report.html").exists()
    assert '<section id="fit-c">' in text and "Scaling-law fit: saturating_power_law" in text
    nd = text[text.index('<section id="fit-nd">'):text.index('<section id="fit-c">')]
    assert "Not fitted" in nd


def test_report_assembly_api(tmp_path):
    from scalinglab.report import Report

    rep = Report("T", subtitle="s & t")
    sec = rep.section("Results")
    sec.add_text("a < b").add_table(["x", "y"], [[1, "<2>"]], caption="cap")
    rep.section("Results")                                    # same title: a distinct id
    assert [s.id for s in rep.sections] == ["results", "results-2"]
    html = rep.render()
    assert "<p>a &lt; b</p>" in html and "<td>&lt;2&gt;</td>" in html and "s &amp; t" in html
    with pytest.raises(ConfigError, match="cannot render"):
        sec.add_summary(object())
    written = rep.write(tmp_path / "r.html")
    assert written == tmp_path / "r.html" and "<td>&lt;2&gt;</td>" in written.read_text()


def test_build_report_on_a_folder_that_is_not_a_store(tmp_path):
    from scalinglab.report import build_report

    with pytest.raises(DataError, match="not a results store"):
        build_report(tmp_path, tmp_path / "r.html")


def _chromium(chromium, args, tmp_path, timeout=90):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chrome-profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_report_renders_in_a_headless_browser(store_report, chromium, tmp_path):
    _, path, text = store_report
    # a copy with a probe that records, after load, how many images the browser decoded
    probe = ("<script>window.addEventListener('load', () => { const ok = [...document.images].filter("
             "i => i.complete && i.naturalWidth > 0).length; document.body.setAttribute('data-decoded', ok); "
             "document.body.setAttribute('data-images', document.images.length); });</script>")
    page = tmp_path / "probe.html"
    page.write_text(text.replace("</body>", probe + "</body>"))
    out = _chromium(chromium, ["--virtual-time-budget=10000", "--dump-dom", page.as_uri()], tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = out.stdout
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in dom, sid
    n = int(re.search(r'data-images="(\d+)"', dom).group(1))
    decoded = int(re.search(r'data-decoded="(\d+)"', dom).group(1))
    assert n == 7 and decoded == n

    shot = tmp_path / "shot.png"
    out = _chromium(chromium, ["--window-size=1100,1400", f"--screenshot={shot}", path.as_uri()], tmp_path)
    assert out.returncode == 0 and shot.exists(), out.stderr[-2000:]
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[0] == 1400 and img.shape[1] == 1100
    gray = img[..., :3].mean(axis=2)
    assert gray.std() > 0.05                       # not a blank page
    assert (gray < 0.5).mean() > 0.005             # there is ink: text and figure lines
