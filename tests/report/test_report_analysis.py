"""``report.analyze``: warnings raised on the way reach the printed digest, not only the HTML."""

from __future__ import annotations

import itertools
import re

import numpy as np

from scalinglab.laws import Runs
from scalinglab.report import analyze


def test_a_tuning_edge_warning_is_printed_in_the_text_digest():
    rows = []
    for n, d, lr in itertools.product([1e6, 3e6, 1e7, 3e7], [2e7, 6e7, 2e8], [1e-3, 2e-3]):
        loss = 1.8 + 400 / n ** 0.34 + 400 / d ** 0.28 + (0.0 if lr == 2e-3 else 0.05)  # best lr: the top one
        rows.append({"n_params": n, "n_tokens": d, "lr": lr, "loss": loss})
    cols = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    runs = Runs.from_arrays(n_params=cols["n_params"], n_tokens=cols["n_tokens"], target=cols["loss"],
                            groups={"lr": cols["lr"]})
    analysis = analyze(runs, n_boot=20, holdout="largest 2")
    edge = [w for w in analysis.warnings if "TuningEdgeWarning" in w]
    assert len(edge) == 1 and "12 of 12 tuned points" in edge[0]
    text = analysis.as_text()
    assert "Warnings:" in text and edge[0] in text


def _runs(truth, *, lrs=(1e-3, 3e-3, 1e-2), seed=3):
    """Sizes x budgets x three learning rates (the middle one best), loss from ``truth``."""
    from _report_data import chinchilla_loss

    rng = np.random.default_rng(seed)
    cols = {"n_params": [], "n_tokens": [], "lr": [], "loss": []}
    for n, d, (j, lr) in itertools.product((2e4, 5e4, 1.2e5, 3e5, 7e5), (1.3e5, 2.6e5, 5.2e5, 1e6, 2e6),
                                           enumerate(lrs)):
        loss = chinchilla_loss(n, d, truth) * (1 + 0.03 * abs(j - 1)) * np.exp(0.004 * rng.standard_normal())
        for k, v in (("n_params", n), ("n_tokens", d), ("lr", lr), ("loss", loss)):
            cols[k].append(v)
    return Runs.from_arrays(n_params=cols["n_params"], n_tokens=cols["n_tokens"], target=cols["loss"],
                            groups={"lr": cols["lr"]})


def test_caveats_stand_next_to_the_numbers_they_qualify_and_in_the_verdict():
    import warnings

    from scalinglab.errors import ScalingLabWarning
    from scalinglab.report import report_from_analysis

    # no loss floor: the fitted E sits at its lower bound, so the L(N, D) fit is not ok
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScalingLabWarning)
        a = analyze(_runs({"E": 1e-9, "A": 25.0, "B": 400.0, "alpha": 0.3, "beta": 0.45}), n_boot=30,
                    holdout="largest 4")
    assert a.fit_nd is not None and not a.fit_nd.ok and "E" in a.fit_nd.diagnostics.at_bound
    facts, caveats = a.overview()
    (k,) = [i for i, c in enumerate(caveats) if c.text.startswith("L(N, D) fit not ok: E is at its bound")]
    by_label = {f.label: f for f in facts}
    for label in ("L(N, D) alpha (95%)", "L(N, D) beta (95%)", "N*(C) exponent a (95%)"):
        assert k in by_label[label].caveats and by_label[label].qualified, label
    assert not by_label["runs analysed"].qualified and not by_label["compute range"].qualified
    text = a.as_text().splitlines()
    row = next(ln for ln in text if ln.startswith("L(N, D) alpha (95%)"))
    assert re.search(rf"\(!\) see (\[\d\])*\[{k + 1}\]", row), row
    assert any(ln.startswith(f"[{k + 1}] L(N, D) fit not ok: E is at its bound.") for ln in text)
    assert "(!)" not in next(ln for ln in text if ln.startswith("runs analysed"))
    verdict = a.verdict()
    assert re.fullmatch(rf"(PASS|FAIL) \(with {len(caveats)} caveats?: .+\)", verdict), verdict
    assert "L(N, D) fit not ok: E is at its bound" in verdict
    html = report_from_analysis(a).render()
    assert '<tr class="caveat"><th>L(N, D) alpha (95%)</th>' in html          # greyed, with its note
    assert f'<li id="caveat-{k + 1}">L(N, D) fit not ok: E is at its bound.' in html
    assert '<tr><th>runs analysed</th>' in html
    assert re.search(r'<p class="verdict">Backtest: <span class="(ok|bad)">(passed|failed)</span> \(with', html)


def test_a_clean_analysis_has_no_caveat_and_a_plain_verdict():
    a = analyze(_runs({"E": 1.2, "A": 25.0, "B": 400.0, "alpha": 0.3, "beta": 0.45}), n_boot=30,
                holdout="largest 4", compute_law="power_law")
    facts, caveats = a.overview()
    assert a.fit_nd.ok and caveats == [] and not any(f.qualified for f in facts)
    assert a.verdict() in ("PASS", "FAIL") and "(!)" not in a.as_text()


def test_the_iso_flop_allocation_step_says_why_it_is_missing(monkeypatch):
    """Approach 2 is a recorded step like the others: skipped with a note, never silently None."""
    from _report_data import TRUE_ND

    import scalinglab.report.analysis as A
    from scalinglab.errors import DataError

    runs = _runs(TRUE_ND)
    analysis = analyze(runs, n_boot=10, holdout="largest 2")
    assert analysis.allocation_isoflop is None
    assert any(n.startswith("allocation (approach 2") and "iso-FLOP slice" in n for n in analysis.notes)

    def broken(runs, **kw):
        raise DataError("the slices do not bracket a minimum")

    monkeypatch.setattr(A, "isoflop_slices", broken)
    analysis = analyze(runs, n_boot=10, holdout="largest 2")
    assert analysis.allocation_isoflop is None
    assert "allocation (approach 2, iso-FLOP slices): the slices do not bracket a minimum" in analysis.notes


def test_a_grid_design_gets_a_note_on_approach_2_not_the_slicer_s_error():
    """The demo's sizes x tokens grid has no compute with 3 sizes: the note says so and what to sweep."""
    from _report_data import TRUE_ND

    analysis = analyze(_runs(TRUE_ND), n_boot=10, holdout="largest 2")
    assert analysis.allocation_isoflop is None
    (note,) = [x for x in analysis.notes if x.startswith("allocation (approach 2")]
    assert "0 iso-FLOP slice(s)" in note and "a grid of sizes x tokens has none" in note
    assert not any("pass the designed budgets=" in x for x in analysis.notes)
