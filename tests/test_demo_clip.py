"""``scalinglab demo clip``: sweep, store, analysis, report and summary, end to end.

Two runs of the pipeline: the real image-text trainer on a scaled-down sweep (the glue from a
store of trained CLIP/CoCa/MaMMUT runs to the files and the summary), and the ``clip-demo``
preset itself with its trainer replaced by runs whose errors follow known laws of compute, so
that the verdict, the held-out table and the crossover can be checked against the truth.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml

from scalinglab.store import RunRecord

pytestmark = pytest.mark.requires("typer", "matplotlib")

TINY = """\
name: clip-demo-test
description: rung 1 of each image-text ladder, two tiny budgets (test of the pipeline).
ladder: [clip-tiny, coca-tiny, mammut-tiny]
rungs: [clip-tiny-1, coca-tiny-1, mammut-tiny-1]
n_samples: [128, 256]
lr: [3.0e-3]
batch_size: 32
dataset: shapeworld
schedule: {kind: branched, cooldown_frac: 0.25, warmup: 32}
eval: {eval_samples: 128}
extra: {eval_pairs: 64, eval_per_class: 1, eval_loglik_per_class: 0}
"""


@pytest.mark.requires("torch")
def test_the_clip_demo_trains_analyses_and_reports(tmp_path, capsys):
    from scalinglab.cli.main import main
    from scalinglab.demo import run_clip_demo
    from scalinglab.store.store import ResultsStore

    sweep = tmp_path / "tiny.yaml"
    sweep.write_text(TINY)
    out = tmp_path / "out"
    code = main(["demo", "clip", "--sweep", str(sweep), "--out", str(out), "--workers", "2", "--n-boot", "20"])
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr[-3000:]
    assert "sweep 'clip-demo-test' on local: 6 runs: 6 trained" in stdout
    assert "zeroshot_error against compute (forward FLOPs)" in stdout
    # two points per procedure: no law, and the summary says why instead of printing numbers
    assert "note: clip: the frontier has" in stdout and "no ranking: 0 of 3 procedures have a law" in stdout
    assert f"report:  {out / 'report.html'}" in stdout
    with ResultsStore(out / "store", readonly=True) as st:
        assert st.counts() == {"done": 6}
        assert {r.spec.procedure for r in st.records()} == {"clip", "coca", "mammut"}
    html = (out / "report.html").read_text()
    for sid in ("verdict", "crossing-lines", "held-out-predictions", "evaluation", "notes", "provenance"):
        assert f'<section id="{sid}">' in html, sid
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 4   # laws + 3 evaluation figures
    assert json.loads((out / "analysis.json").read_text())["metric"] == "zeroshot_error"
    # a second run trains nothing and redoes only the analysis
    res = run_clip_demo(out, sweep=sweep, progress=False, n_boot=20)
    assert res.sweep.done == () and len(res.sweep.skipped) == 6 and res.report_path.exists()


# -- the preset with runs from known laws ----------------------------------------------------------

# zero-shot error against forward compute: MaMMUT starts worse but is steeper; the lines cross at
# C = (2.5 a / a)^(1 / 0.04) = 2.5^25 = 8.9e9; CoCa is CLIP shifted up (worse throughout)
LAWS = {"clip": (1.0, -0.05), "coca": (1.1, -0.05), "mammut": (2.5, -0.09)}
CROSS = 2.5 ** 25


def law_trainer(spec, *, run_dir, resume=True, progress=None, **options):
    """A stand-in trainer: the preset's runs with errors from LAWS, compute-optimal near D = 40 N."""
    proc = spec.procedure_spec
    n_params, flops = proc.counts(spec.model, spec.n_data)
    C = flops["forward"]
    a, c = LAWS[spec.procedure]
    off = abs(math.log10(spec.n_data / (40.0 * n_params["non_embedding"])))     # off the optimal size
    lr_pen = 0.02 * abs(math.log2(spec.lr / 3e-3))
    err = (a * C ** c + 0.05) * (1 + 0.03 * off ** 2 + lr_pen)
    metrics = {m: err for m in proc.metrics}
    return RunRecord(run_id=spec.run_id, spec=spec, status="done", metrics=metrics,
                     metrics_se={m: 0.01 for m in metrics}, n_data_seen=spec.n_data, n_params=n_params,
                     flops=flops)


def test_the_preset_pipeline_finds_the_known_crossing_and_winner(tmp_path):
    from scalinglab.demo import run_clip_demo
    from scalinglab.laws import FitResult
    from scalinglab.sweep import sweep_path

    preset = yaml.safe_load(sweep_path("clip-demo").read_text())
    preset["trainer"] = f"{__name__}:law_trainer"
    sweep = tmp_path / "clip-demo-laws.yaml"
    sweep.write_text(yaml.safe_dump(preset))
    res = run_clip_demo(tmp_path / "out", sweep=sweep, backend="inline", n_boot=100)
    a = res.analysis
    assert len(res.sweep.done) == 75 and a.names == ("clip", "coca", "mammut")
    assert all(p.fit is not None and len(p.frontier) >= 5 for p in a.laws)
    cmp = {c.names: c for c in a.comparisons}
    co = cmp[("clip", "mammut")].crossover
    assert co.state == "crossover" and (co.before, co.after) == ("clip", "mammut")
    assert abs(math.log10(co.flops / CROSS)) < 0.5
    assert cmp[("clip", "coca")].crossover.state == "none in range"
    top, far = a.standings
    assert far.flops == pytest.approx(100 * top.flops) and far.best == "mammut"
    text = res.summary()
    assert "held-out top-compute frontier points (Nezhurina et al.'s Table C):" in text
    assert re.search(r"at [0-9.e+]+ FLOPs \(100x the largest run\): mammut has the lowest zeroshot_error", text)
    assert "clip vs mammut: the lines cross at" in text
    for name in ("clip", "coca", "mammut"):
        fit = FitResult.load(tmp_path / "out" / "fits" / f"{name}.json")
        assert fit.law.name == "saturating_error" and fit.bootstrap.n_boot == 100
    assert (tmp_path / "out" / "summary.txt").read_text().startswith(str(res.sweep).splitlines()[0])
    assert np.isfinite([h.predicted for h in a.heldout]).all() and a.heldout
