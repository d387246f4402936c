"""benchmarks/comparison_coverage.py, small and seeded: the truths are exact, the calibrated
comparison holds the multiplier where the bootstrap alone misses it (a law without its floor), and
the paired calibration of the difference sees the error the arms share cancel."""

from __future__ import annotations

import json

import pytest


def test_the_cases_truths_are_computed_from_the_curves(bench_script):
    bench = bench_script("comparison_coverage")
    for name in ("shift", "floor", "floor-test"):
        case = bench.CASES[name]
        for f in bench.FACTORS:
            assert bench.true_multiplier(case, f * case.flops[-1]) == pytest.approx(4.0, rel=1e-9)
    cross = bench.CASES["crossing"]
    la, lb = bench.curve(cross, "A"), bench.curve(cross, "B")
    c10, c100 = 10 * cross.flops[-1], 100 * cross.flops[-1]
    assert la(c10) < lb(c10) and la(c100) > lb(c100)             # A better at 10x, B at 100x
    assert bench.true_multiplier(cross, c10) < 1 < bench.true_multiplier(cross, c100)


def test_small_seeded_run_of_the_floorless_pair(tmp_path, bench_script):
    bench = bench_script("comparison_coverage")
    bench.main(["--reps", "6", "--n-boot", "40", "--cases", "floor-test", "--json", str(tmp_path / "r.json")])
    s = json.loads((tmp_path / "r.json").read_text())["cases"]["floor-test"]
    assert s["calibrated_both"] == 1.0
    assert s["paired_used"] == 1.0
    boot, cal, pair = s["bootstrap"]["10"], s["independent"]["10"], s["paired"]["10"]
    assert boot["multiplier_coverage"] <= 1 / 6 and cal["multiplier_coverage"] == 1.0
    assert cal["difference_width"] > 2 * boot["difference_width"]
    # both arms miss the floor alike: paired, the difference stays near the bootstrap's width and
    # holds the truth; the multiplier keeps each arm's widening
    assert pair["difference_width"] < 0.5 * cal["difference_width"] and pair["difference_coverage"] == 1.0
    assert pair["multiplier_coverage"] == cal["multiplier_coverage"] and pair["wrong"] == 0.0
    assert s["bootstrap"]["1"] == s["independent"]["1"] == s["paired"]["1"]   # at the data's edge: the same


def test_the_opposite_pair_bends_away_from_its_line_as_much_as_a_flattens_and_the_errors_add(tmp_path, bench_script):
    import numpy as np

    bench = bench_script("comparison_coverage")
    case = bench.CASES["opposite"]
    la, lb = bench.curve(case, "A"), bench.curve(case, "B")
    c = np.asarray(case.flops)
    shifted = la(4 * c)                                     # A moved 4x in compute
    slope, icpt = np.polyfit(np.log(c), np.log(shifted), 1)
    line = icpt + slope * np.log(c)
    # B's deviation from the straight line is A's (moved) mirrored: one flattens, the other steepens
    assert np.log(lb(c)) - line == pytest.approx(-(np.log(shifted) - line), abs=1e-12)
    assert np.max(np.abs(np.log(shifted) - line)) > 0.01      # a misfit well above the 0.2% noise
    ks = [bench.true_multiplier(case, f * c[-1]) for f in bench.FACTORS]
    assert ks[0] == pytest.approx(4.0, rel=0.05) and ks[0] < ks[1] < ks[2]   # B pulls away beyond the data
    bench.main(["--reps", "6", "--n-boot", "40", "--cases", "opposite", "--json", str(tmp_path / "r.json")])
    s = json.loads((tmp_path / "r.json").read_text())["cases"]["opposite"]
    # the errors add in the difference: neither interval holds it at the data's edge ...
    assert s["bootstrap"]["1"]["difference_coverage"] == 0.0 == s["paired"]["1"]["difference_coverage"]
    # ... and beyond it only the calibrated one holds the multiplier
    assert s["bootstrap"]["100"]["multiplier_coverage"] <= 1 / 6 <= 4 / 6 <= s["independent"]["100"]["multiplier_coverage"]
    assert s["independent"]["10"]["wrong"] == 0.0 == s["bootstrap"]["10"]["wrong"] == s["paired"]["10"]["wrong"]
    # each arm's own prediction errs its own way beyond the data: A (flattening) too low, B too high
    for f in ("10", "100"):
        assert s["arms"][f]["median_log_error_A"] < 0 < s["arms"][f]["median_log_error_B"]
