"""benchmarks/comparison_overtraining.py: dataset comparisons on the released runs of Gadre et al.
2024, where the three datasets share one grid of models: the arms pair run by run, and the paired
difference holds the held-out runs both datasets have."""

from __future__ import annotations

import json


def test_the_datasets_pair_and_the_paired_difference_holds_the_held_out_runs(tmp_path, bench_script):
    bench = bench_script("comparison_overtraining")
    bench.main(["--n-boot", "60", "--json", str(tmp_path / "r.json")])
    r = json.loads((tmp_path / "r.json").read_text())
    pairs = {(p["a"], p["b"]): p for p in r["pairs"]}
    assert set(pairs) == {("c4_original", "rpj"), ("c4_original", "rw_original"), ("rpj", "rw_original")}
    # RedPajama and RefinedWeb share all 32 small runs, hence all six cutoffs; C4's grid lacks one run,
    # which moves three of its rank-placed cutoffs, and the pairing keeps the three it shares
    assert "6 folds, 75 held-out runs" in pairs[("rpj", "rw_original")]["paired"]
    assert "3 folds, 48 held-out runs" in pairs[("c4_original", "rpj")]["paired"]
    for p in pairs.values():
        assert [round(x["n_params"] / 1e9, 1) for x in p["runs"]] == [1.4, 6.9]     # shared held-out runs
        for x in p["runs"]:
            assert x["paired"]["covers"] and x["bootstrap"]["low"] < x["predicted"] < x["bootstrap"]["high"]
            # the paired calibration never makes the difference narrower than its bootstrap part
            assert x["paired"]["width"] >= 0.98 * x["bootstrap"]["width"]
    assert r["paired"]["of"] == 6 == r["paired"]["covers"]
