"""``scalinglab fit | compare | allocate | backtest | laws`` through the real entry point."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli import assert_one_line_error, run_cli

pytestmark = pytest.mark.requires("typer")

# Besiroglu et al. (2024) replication of Hoffmann et al. (2022), Approach 3
REFERENCE = {"E": 1.817236, "A": 477.84, "B": 2143.86, "alpha": 0.347313, "beta": 0.367183}


def write_csv(path: Path, header, rows) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def chinchilla_csv_path():
    from scalinglab.datasets import path

    return path("chinchilla_epoch_points.csv")


@pytest.fixture
def nd_csv(tmp_path):
    """Sizes x budgets x two procedures; 'lion' reaches each loss with less compute."""
    rng = np.random.default_rng(0)
    rows = []
    for proc, scale in (("adamw", 1.0), ("lion", 0.96)):
        for n in (2e4, 5e4, 1.2e5, 3e5, 7e5):
            for d in (1.3e5, 2.6e5, 5.2e5, 1e6, 2e6):
                loss = scale * (1.2 + 25 / n ** 0.3 + 400 / d ** 0.45) * np.exp(0.003 * rng.standard_normal())
                rows.append([f"{proc}-{n:g}-{d:g}", proc, f"{n:g}", f"{d:g}", f"{loss:.6f}"])
    return write_csv(tmp_path / "runs.csv", ["name", "optimizer", "params", "tokens", "val_loss"], rows)


def test_chinchilla_replication_from_the_shipped_csv(capsys, tmp_path, chinchilla_csv_path):
    out_json = tmp_path / "fit.json"
    code, out, err = run_cli(capsys, "fit", chinchilla_csv_path, "--law", "chinchilla", "--n-params", "Model Size",
                             "--flops", "Training FLOP", "--target", "loss", "--drop-highest", "5",
                             "--loss", "huber", "--delta", "1e-3", "--space", "log", "--reduce", "sum",
                             "--json", out_json)
    assert code == 0, err
    d = json.loads(out_json.read_text())
    p = d["params"]
    assert d["n_points"] == 240 and d["law"] == "chinchilla"
    assert d["options"]["starts"] == "grid" and d["options"]["n_starts"] == 4500   # Hoffmann et al. grid
    for k in ("E", "alpha", "beta"):
        assert p[k] == pytest.approx(REFERENCE[k], rel=1e-3), k
    for k in ("A", "B"):
        assert p[k] == pytest.approx(REFERENCE[k], rel=1e-2), k
    assert "Scaling-law fit: chinchilla" in out and "alpha" in out


def test_fit_bootstrap_plot_save_then_allocate_from_the_artifact(capsys, tmp_path, nd_csv):
    fit_art, png = tmp_path / "fit-art.json", tmp_path / "fit.png"
    code, out, err = run_cli(capsys, "fit", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                             "--target", "val_loss", "--n-boot", "40", "--plot", png, "--save", fit_art,
                             "--json", "-", "--group-by", "optimizer")
    assert code == 0, err
    doc = json.loads(out[out.index("{\n"):])
    groups = {g["group"]["optimizer"]: g for g in doc["groups"]}
    assert set(groups) == {"adamw", "lion"}
    for g in groups.values():
        assert g["stderr_method"] == "bootstrap" and g["n_boot"] == 40 and g["n_points"] == 25
        assert g["params"]["alpha"] == pytest.approx(0.3, abs=0.08)
    for arm in ("adamw", "lion"):
        assert (tmp_path / f"fit-{arm}.png").stat().st_size > 5000
        assert (tmp_path / f"fit-art-{arm}.json").exists()
    alloc_json = tmp_path / "alloc.json"
    code, out, err = run_cli(capsys, "allocate", "--fit", tmp_path / "fit-art-adamw.json", "--at", "1e15",
                             "--json", alloc_json, "--plot", tmp_path / "alloc.png")
    assert code == 0, err
    a = json.loads(alloc_json.read_text())
    assert a["approach"] == 3
    assert a["exponent_n"] == pytest.approx(0.45 / 0.75, abs=0.1)               # beta / (alpha + beta)
    lo, hi = a["exponent_n_interval"]
    assert lo < a["exponent_n"] < hi
    assert a["predictions"]["flops"] == [1e15]
    assert (tmp_path / "alloc.png").stat().st_size > 5000
    assert "Compute-optimal allocation, approach 3" in out


def test_compare_two_values_of_a_column(capsys, tmp_path, nd_csv):
    js = tmp_path / "cmp.json"
    code, out, err = run_cli(capsys, "compare", nd_csv, "adamw", "lion", "--by", "optimizer", "--n-params", "params",
                             "--n-tokens", "tokens", "--target", "val_loss", "--n-boot", "40", "--at", "1e13",
                             "--json", js, "--plot", tmp_path / "cmp.png")
    assert code == 0, err
    d = json.loads(js.read_text())["comparison"]
    assert d["names"] == ["adamw", "lion"] and d["flops"] == [1e13]
    assert d["difference"][0] > 0                 # lion's loss is lower
    assert d["multiplier"][0] > 1                 # lion needs less compute for adamw's loss
    assert d["interval"] == "calibrated, paired" and len(d["outside_decades"]) == 2   # the CLI's default: one design
    assert "Comparison of adamw and lion" in out
    assert (tmp_path / "cmp.png").stat().st_size > 5000


def test_compare_two_tables(capsys, tmp_path):
    C = np.logspace(18, 21, 9)
    a = write_csv(tmp_path / "base.csv", ["flops", "loss"], [[c, 2 + 300 * c ** -0.15] for c in C])
    b = write_csv(tmp_path / "new.csv", ["flops", "loss"], [[c, 1.9 + 300 * c ** -0.15] for c in C])
    code, out, err = run_cli(capsys, "compare", a, b, "--law", "saturating_power_law", "--n-boot", "30",
                             "--loss", "ls")
    assert code == 0, err
    assert "Comparison of base and new" in out
    # 9 runs per arm: too few rolling-backtest runs to calibrate 10x and 100x beyond them, and it says so
    assert "too few runs beyond their folds to calibrate" in out and "NOT calibrated for extrapolation" in out
    assert "neither arm's rolling backtests had enough runs beyond their folds to calibrate" in out
    code, out, err = run_cli(capsys, "compare", a, b, "--law", "saturating_power_law", "--n-boot", "30",
                             "--loss", "ls", "--interval", "bootstrap")
    assert code == 0, err
    assert "NOT calibrated for extrapolation" in out and "Caveat: " in out


def test_backtest_holds_out_the_largest_runs(capsys, tmp_path, nd_csv):
    js = tmp_path / "bt.json"
    code, out, err = run_cli(capsys, "backtest", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                             "--target", "val_loss", "--holdout", "largest 4", "--n-boot", "30", "--json", js,
                             "--plot", tmp_path / "bt.png")
    assert code == 0, err
    d = json.loads(js.read_text())
    assert len(d["points"]["run_id"]) == 4
    flops = np.array(d["points"]["flops"])
    # the four held out are the largest by compute (C = 6ND) of the 50 rows
    rows = list(csv.DictReader(nd_csv.open()))
    all_c = sorted(6 * float(r["params"]) * float(r["tokens"]) for r in rows)
    assert flops.min() >= all_c[-4] * (1 - 1e-9)
    assert max(abs(e) for e in d["points"]["rel_error"]) < 0.1
    assert "Backtest of chinchilla" in out
    assert (tmp_path / "bt.png").stat().st_size > 5000


def test_laws_lists_every_law_with_formula_and_citation(capsys, tmp_path):
    from scalinglab.laws import list_laws

    code, out, err = run_cli(capsys, "laws")
    assert code == 0, err
    for name in list_laws():
        assert name in out
    assert "L(N, D) = E + A / N^alpha + B / D^beta" in out and "Hoffmann" in out
    code, out, _ = run_cli(capsys, "laws", "--json", "-")
    assert {r["name"] for r in json.loads(out)} == set(list_laws())


# -- bad input: one line on stderr, exit 2, no traceback -------------------------------------------

def test_missing_column_suggests_the_close_name(capsys, chinchilla_csv_path):
    code, _, err = run_cli(capsys, "fit", chinchilla_csv_path, "--n-params", "Model Sise",
                           "--flops", "Training FLOP", "--target", "loss")
    assert_one_line_error(code, err, "'Model Sise'", "Did you mean: Model Size")


def test_empty_file(capsys, tmp_path):
    p = tmp_path / "empty.csv"
    p.write_text("")
    code, _, err = run_cli(capsys, "fit", p)
    assert_one_line_error(code, err, "empty")


def test_missing_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "fit", tmp_path / "nope.csv")
    assert_one_line_error(code, err, "does not exist")


def test_strings_in_a_numeric_column(capsys, tmp_path):
    p = write_csv(tmp_path / "t.csv", ["N", "D", "loss"], [[1e6, 1e8, 3.0], ["big", 2e8, 2.9], [1e7, 1e9, 2.5]])
    code, _, err = run_cli(capsys, "fit", p)
    assert_one_line_error(code, err, "'big'", "row 2")


def test_negative_parameter_count(capsys, tmp_path):
    p = write_csv(tmp_path / "t.csv", ["N", "D", "loss"], [[1e6, 1e8, 3.0], [-1e7, 2e8, 2.9], [1e7, 1e9, 2.5]])
    code, _, err = run_cli(capsys, "fit", p)
    assert_one_line_error(code, err, "non-positive", "n_params")


def test_all_nan_target(capsys, tmp_path):
    p = write_csv(tmp_path / "t.csv", ["N", "D", "loss"], [[1e6, 1e8, "nan"], [1e7, 2e8, ""], [1e8, 1e9, "nan"]])
    code, _, err = run_cli(capsys, "fit", p)
    assert_one_line_error(code, err, "NaN", "nothing to fit")


def test_unknown_law_suggests_the_close_name(capsys, chinchilla_csv_path):
    code, _, err = run_cli(capsys, "fit", chinchilla_csv_path, "--law", "chinchila")
    assert_one_line_error(code, err, "unknown law 'chinchila'", "Did you mean: chinchilla")


def test_bad_estimator_option(capsys, nd_csv):
    code, _, err = run_cli(capsys, "fit", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                           "--target", "val_loss", "--loss", "hubber")
    assert_one_line_error(code, err, "hubber")


def test_drop_highest_out_of_range(capsys, nd_csv):
    code, _, err = run_cli(capsys, "fit", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                           "--target", "val_loss", "--drop-highest", "500")
    assert_one_line_error(code, err, "--drop-highest")


def test_compare_with_an_unknown_arm(capsys, nd_csv):
    code, _, err = run_cli(capsys, "compare", nd_csv, "adamw", "lino", "--by", "optimizer",
                           "--n-params", "params", "--n-tokens", "tokens", "--target", "val_loss")
    assert_one_line_error(code, err, "'lino'", "Did you mean: lion")


def test_compare_needs_two_arms(capsys, nd_csv):
    code, _, err = run_cli(capsys, "compare", nd_csv, "adamw", "--by", "optimizer")
    assert_one_line_error(code, err, "TABLE A B")


def test_allocate_needs_a_table_or_a_fit(capsys):
    code, _, err = run_cli(capsys, "allocate")
    assert_one_line_error(code, err, "--fit")


def test_allocate_from_a_file_that_is_not_a_fit(capsys, tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{}")
    code, _, err = run_cli(capsys, "allocate", "--fit", p)
    assert_one_line_error(code, err, "not a FitResult artifact")


def test_backtest_holding_out_everything(capsys, nd_csv):
    code, _, err = run_cli(capsys, "backtest", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                           "--target", "val_loss", "--holdout", "largest 50")
    assert_one_line_error(code, err, "holdout")


def test_the_installed_entry_point_reports_bad_input_in_one_line(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("N,D,loss\n")
    out = subprocess.run([sys.executable, "-m", "scalinglab", "fit", str(p)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [f"error: {p}: the table has a header but no rows"]


@pytest.mark.parametrize("level", ["1.5", "0", "-0.2", "nan"])
@pytest.mark.parametrize("command", ["fit", "compare", "allocate", "backtest"])
def test_level_outside_zero_one_is_refused(capsys, nd_csv, command, level):
    args = {"fit": [nd_csv], "compare": [nd_csv, "adamw", "lion", "--by", "optimizer"],
            "allocate": [nd_csv], "backtest": [nd_csv]}[command]
    code, _, err = run_cli(capsys, command, *args, "--n-params", "params", "--n-tokens", "tokens",
                           "--target", "val_loss", "--level", level)
    assert_one_line_error(code, err, "--level must be between 0 and 1")


def test_the_printed_summary_uses_the_level_the_json_uses(capsys, tmp_path, nd_csv):
    out_json = tmp_path / "fit.json"
    code, out, err = run_cli(capsys, "fit", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                             "--target", "val_loss", "--group-by", "optimizer", "--n-boot", "20",
                             "--level", "0.9", "--json", out_json)
    assert code == 0, err
    assert out.count("[0.05") == 2 and out.count("0.95]") == 2 and "[0.025" not in out
    d = json.loads(out_json.read_text())["groups"][0]
    assert d["ci"]["level"] == 0.9
    lo, hi = d["ci"]["rows"]["alpha"]["low"], d["ci"]["rows"]["alpha"]["high"]
    row = next(ln for ln in out.splitlines() if ln.startswith("alpha"))      # the first group's row
    assert [float(x) for x in row.split()[-2:]] == [pytest.approx(lo, rel=1e-5), pytest.approx(hi, rel=1e-5)]


def test_the_fit_summary_says_when_d_was_derived_from_c(capsys, chinchilla_csv_path, nd_csv):
    code, out, err = run_cli(capsys, "fit", chinchilla_csv_path, "--n-params", "Model Size", "--flops",
                             "Training FLOP", "--target", "loss", "--n-starts", "8")
    assert code == 0, err
    assert "Tokens D:" in out and "derived as C / (6N): the table has no token column" in out
    code, out, err = run_cli(capsys, "fit", nd_csv, "--n-params", "params", "--n-tokens", "tokens",
                             "--target", "val_loss", "--group-by", "optimizer", "--n-starts", "8")
    assert code == 0, err
    assert "derived as C / (6N)" not in out


@pytest.mark.parametrize("command, argument", [("fit", "TABLE"), ("report", "STORE"), ("compare", "ARGS..."),
                                               ("sweep run", "FILE")])
def test_help_names_arguments_in_upper_case_and_shows_no_type_after_flags(capsys, command, argument):
    code, out, _ = run_cli(capsys, *command.split(), "--help")
    assert code == 0
    usage = next(ln for ln in out.splitlines() if "Usage:" in ln)
    assert usage.split()[-1] == argument, usage
    assert "{" not in usage and "<bool>" not in out
    assert "--help" in out
