"""benchmarks/closed_loop_noise_floor.py, small and seeded: the grid against a replica of itself."""

from __future__ import annotations

import json
import math

import pytest


def test_the_replica_is_the_same_world_with_a_fresh_draw_and_the_summary_follows_the_rows(tmp_path, bench_script):
    import numpy as np

    bench = bench_script("closed_loop_noise_floor")
    out = bench.main(["--worlds", "2", "--n-boot", "30", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["worlds"] == 2
    rows, s = out["worlds"], out["summary"]
    for r in rows:
        assert r["grid"] > 0 and r["replica"] > 0
        assert r["log_ratio"] == pytest.approx(math.log(r["replica"] / r["grid"]))
        assert r["replica"] != r["grid"]                 # a fresh draw of the runs' noise changes the fit
    # --first skips worlds but draws their laws: world 1 alone is the same world, to the last digit
    again = bench.main(["--first", "1", "--worlds", "2", "--n-boot", "30"])["worlds"]
    assert [r["world"] for r in again] == [1]
    assert again[0]["grid"] == rows[1]["grid"] and again[0]["replica"] == rows[1]["replica"]
    lr = [r["log_ratio"] for r in rows]
    assert s["replica_narrower_fraction"] == sum(v < 0 for v in lr) / 2
    sd = float(np.std(lr, ddof=1))
    assert s["log_ratio_sd"] == pytest.approx(sd)
    assert s["ratio_needed"]["0.90"] == pytest.approx(math.exp(-1.2816 * sd))
    assert s["ratio_needed"]["0.90"] < s["ratio_needed"]["0.75"] < 1

