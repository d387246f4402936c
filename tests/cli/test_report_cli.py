"""``scalinglab report STORE`` on a real results store, and ``scalinglab demo``'s bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from _cli import assert_one_line_error, run_cli

pytestmark = pytest.mark.requires("typer", "matplotlib")


def _report_data():
    """The store builder shared with tests/report (tests are not a package)."""
    path = Path(__file__).resolve().parents[1] / "report" / "_report_data.py"
    spec = importlib.util.spec_from_file_location("_report_data_for_cli", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_report_from_a_store(capsys, tmp_path):
    store = _report_data().store_with_runs(tmp_path / "store")
    out_html = tmp_path / "appendix" / "report.html"
    code, out, err = run_cli(capsys, "report", store.root, "--out", out_html, "--n-boot", "30",
                             "--holdout", "largest 3", "--title", "Toy appendix")
    assert code == 0, err
    assert f"wrote {out_html.resolve()}" in out
    assert "Scaling-law analysis" in out and "backtest: held-out runs inside 95% interval" in out
    assert "analysis: fit chinchilla L(N, D)" in err                   # progress lines
    text = out_html.read_text()
    for sid in ("overview", "frontier", "fit-nd", "fit-c", "allocation", "backtest", "provenance"):
        assert f'<section id="{sid}">' in text
    assert "<title>Toy appendix</title>" in text
    assert '<section id="comparison">' not in text                     # one procedure only


def test_report_quiet_prints_only_the_path(capsys, tmp_path):
    store = _report_data().store_with_runs(tmp_path / "store")
    code, out, err = run_cli(capsys, "report", store.root, "-o", tmp_path / "r.html", "--n-boot", "20", "-q")
    assert code == 0, err
    assert out.strip() == f"wrote {(tmp_path / 'r.html').resolve()}"


def test_report_is_written_beside_the_store_by_default_and_says_where(capsys, tmp_path, monkeypatch):
    store = _report_data().store_with_runs(tmp_path / "study" / "store")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = run_cli(capsys, "report", store.root, "--n-boot", "20", "-q")
    assert code == 0, err
    where = (tmp_path / "study" / "report.html").resolve()
    assert out.strip() == f"wrote {where}" and where.exists()
    assert list(elsewhere.iterdir()) == []                                # nothing in the working directory


@pytest.mark.slow
def test_report_repeats_the_holdout_recorded_in_the_store_and_says_why(capsys, tmp_path):
    import json

    store = _report_data().store_with_runs(tmp_path / "store")
    code, out, err = run_cli(capsys, "report", store.root, "--n-boot", "20", "-o", tmp_path / "a.html")
    assert code == 0, err
    assert "backtest holds out 'largest 20%' (the default; --holdout chooses another)" in err
    assert "largest 5 by compute" in out                               # 20% of 25 tuned points
    # what `scalinglab demo` leaves in its store: the options of its analysis
    (store.root / "analysis.json").write_text(json.dumps(
        {"by": "scalinglab demo", "options": {"holdout": "largest 3", "n_boot": 20, "seed": 1}}))
    code, out, err = run_cli(capsys, "report", store.root, "-o", tmp_path / "b.html")
    assert code == 0, err
    assert "backtest holds out 'largest 3' (the holdout scalinglab demo used, recorded in" in err
    assert "20 bootstrap refits, seed 1" in err
    assert "largest 3 by compute" in out and "largest 20%" not in out
    html = (tmp_path / "b.html").read_text()
    assert "largest 3; the holdout scalinglab demo used, recorded in" in html
    code, out, err = run_cli(capsys, "report", store.root, "-o", tmp_path / "c.html", "--holdout", "2")
    assert code == 0, err
    assert "backtest holds out 2 (as asked)" in err
    (store.root / "analysis.json").write_text("{")
    code, _, err = run_cli(capsys, "report", store.root, "-o", tmp_path / "d.html")
    assert_one_line_error(code, err, "analysis.json", "is not an analysis record", "delete it")


@pytest.mark.slow
def test_report_provenance_names_the_compute_convention_of_its_runs(capsys, tmp_path):
    store = _report_data().store_with_runs(tmp_path / "store")
    code, _, err = run_cli(capsys, "report", store.root, "--n-boot", "20", "-o", tmp_path / "r.html", "-q")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert "<th>compute convention</th><td>6ND: C = 6ND" in html and "explicit" not in html
    code, _, err = run_cli(capsys, "report", store.root, "--n-boot", "20", "-o", tmp_path / "x.html", "-q",
                           "--flops-convention", "exact")
    assert code == 0, err
    assert "<th>compute convention</th><td>exact: C counted per token" in (tmp_path / "x.html").read_text()


def test_report_on_a_folder_that_is_not_a_store(capsys, tmp_path):
    code, _, err = run_cli(capsys, "report", tmp_path, "--out", tmp_path / "r.html")
    assert_one_line_error(code, err, "not a results store")
    assert not (tmp_path / "r.html").exists()


def test_report_with_a_bad_target(capsys, tmp_path):
    store = _report_data().store_with_runs(tmp_path / "store")
    code, _, err = run_cli(capsys, "report", store.root, "--target", "val_los")
    assert_one_line_error(code, err, "val_loss")


def test_demo_with_an_unknown_sweep(capsys, tmp_path):
    code, _, err = run_cli(capsys, "demo", "--sweep", "dmeo", "--out", tmp_path / "d")
    assert_one_line_error(code, err, "'dmeo'", "Did you mean: demo")
    assert not (tmp_path / "d" / "store").exists()


def test_demo_with_zero_workers(capsys, tmp_path):
    code, _, err = run_cli(capsys, "demo", "--workers", "0", "--out", tmp_path / "d")
    assert_one_line_error(code, err, "--workers")


def test_demo_rejects_an_unknown_preset():
    from scalinglab.demo import run_demo
    from scalinglab.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown demo preset 'quik'. Did you mean: quick"):
        run_demo("unused", preset="quik")


def test_demo_whose_every_run_fails_says_why_in_one_line(capsys, tmp_path):
    sweep = tmp_path / "broken.yaml"
    sweep.write_text("name: broken\nladder: gpt-tiny\nrungs: [gpt-tiny-1]\nn_tokens: [16384]\nlr: [1.0e-2]\n"
                     "trainer: scalinglab.no_such_module:run\n")
    code, _, err = run_cli(capsys, "demo", "--sweep", sweep, "--out", tmp_path / "d", "--backend", "inline",
                           "--quiet")
    assert_one_line_error(code, err, "no run of sweep 'broken' finished (1 failed", "no_such_module",
                          "finished runs are kept")
    assert (tmp_path / "d" / "store" / "results.sqlite").exists()      # the failure is recorded
