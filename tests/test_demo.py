"""``scalinglab demo`` end to end on a scaled-down sweep: train, analyse, report, and reuse on re-run."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.requires("torch", "typer", "matplotlib")

# Three sizes x three budgets of the smallest rungs, branched cooldowns: seconds per run on CPU.
TINY_SWEEP = """\
name: demo-test
description: three tiny rungs x three short budgets (test of the demo pipeline).
ladder: gpt-tiny
rungs: [gpt-tiny-1, gpt-tiny-2, gpt-tiny-3]
n_tokens: [16384, 32768, 65536]
lr: [1.0e-2]
seeds: [0]
schedule: {kind: branched, cooldown_frac: 0.25}
eval: {eval_tokens: 8192}
variant: demo-test
"""


@pytest.mark.slow
def test_demo_runs_end_to_end_and_reuses_finished_runs(tmp_path, capsys):
    from scalinglab.cli.main import main
    from scalinglab.demo import run_demo
    from scalinglab.laws import FitResult
    from scalinglab.store.store import ResultsStore

    sweep = tmp_path / "demo-test.yaml"
    sweep.write_text(TINY_SWEEP)
    out = tmp_path / "demo-out"
    code = main(["demo", "--sweep", str(sweep), "--out", str(out), "--workers", "2", "--n-boot", "40",
                 "--holdout", "largest 2"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr[-3000:]
    # progress on stderr, the summary on stdout: the sweep's closing line once in all
    assert (stdout + stderr).count("sweep 'demo-test' on local: 9 runs") == 1
    # the verdict counts the caveats listed above it, each marked next to its numbers
    m = re.search(r"-> (PASS|FAIL)(?: \(with (\d+) caveats?: .+\))?: the criterion", stdout)
    assert m, stdout
    listed = re.findall(r"^\[(\d+)\] ", stdout.split("Caveats (")[1], flags=re.M) if "Caveats (" in stdout else []
    assert len(listed) == int(m.group(2) or 0)
    for k in listed:
        assert re.search(rf"\(!\) see (\[\d+\])*\[{k}\]", stdout), k
    # the options of the analysis are recorded in the store, for `scalinglab report`
    import json

    rec = json.loads((out / "store" / "analysis.json").read_text())
    assert rec["by"] == "scalinglab demo" and rec["options"]["holdout"] == "largest 2" and rec["options"]["n_boot"] == 40

    # the store holds the nine finished runs
    store = ResultsStore(out / "store", readonly=True)
    assert store.counts().get("done") == 9
    store.close()

    # the summary names the report, the fits and the backtest of the two largest-compute runs
    assert "9 trained, 0 already in the store" in stdout
    assert f"report:  {out / 'report.html'}" in stdout
    assert re.search(r"backtest: chinchilla fitted without the 2 largest-compute runs", stdout)
    assert (out / "summary.txt").read_text().startswith("sweep 'demo-test'")
    fit = FitResult.load(out / "fits" / "chinchilla.json")
    assert fit.law.name == "chinchilla" and fit.bootstrap is not None and fit.bootstrap.n_boot == 40

    # the report is self-contained and has the fits with intervals and the backtest
    html = (out / "report.html").read_text()
    for sid in ("overview", "frontier", "fit-nd", "allocation", "backtest", "provenance"):
        assert f'<section id="{sid}">' in html, sid
    assert "Scaling-law fit: chinchilla, bootstrap n=40" in html
    assert "Backtest of chinchilla (cutoff)" in html and "largest 2 by compute" in html
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) >= 5
    assert "demo-test.yaml" in html                               # the sweep file, in the provenance

    # a second run with the same folder trains nothing and redoes only the analysis
    res = run_demo(out, sweep=sweep, progress=False, n_boot=40, holdout="largest 2")
    assert res.sweep.done == () and len(res.sweep.skipped) == 9
    assert res.report_path == out / "report.html" and res.report_path.exists()
    assert res.analysis.fit_nd is not None and res.analysis.backtest.n_points == 2
    assert res.timings["sweep"] < res.wall_s
    assert "0 trained, 9 already in the store" in res.summary()
