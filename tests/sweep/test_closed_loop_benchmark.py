"""benchmarks/closed_loop.py, small and seeded: the simulation runs end to end and scores honestly."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "closed_loop.py"


def load():
    spec = importlib.util.spec_from_file_location("closed_loop_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_worlds_pass_through_the_anchors():
    import numpy as np

    bench = load()
    rng = np.random.default_rng(1)
    for _ in range(5):
        law = bench.world(rng)
        (n1, d1, l1), (n2, d2, l2) = bench.ANCHORS
        assert abs(bench.true_loss(law, n1, d1) / l1 - 1) < 0.15 and abs(bench.true_loss(law, n2, d2) / l2 - 1) < 0.15
        assert 0.2 <= law[3] <= 0.5 and 0.2 <= law[4] <= 0.5 and law[1] > 0 and law[2] > 0


def test_small_seeded_run_scores_each_world_consistently(tmp_path):
    bench = load()
    out = bench.main(["--worlds", "1", "--quick", "--n-boot", "40", "--seed", "3", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["worlds"] == 1
    (w,) = out["worlds"]
    g, lp = w["grid"], w["loop"]
    assert lp["flops"] <= g["flops"] * (1 + 1e-9)            # the loop never spends more than the grid
    assert g["low"] < g["mean"] < g["high"] and lp["low"] < lp["mean"] < lp["high"]
    assert g["covers"] == (g["low"] <= w["truth"] <= g["high"])
    reach = w["reach_ratio"]
    assert w["passes"] == ((reach is not None and reach <= 0.5)
                           or (not lp["uncalibrated"] and lp["width"] < g["width"]))
    # the history is the loop's own log: spent FLOPs grow, and the first calibrated width at or
    # below the grid's is where "reach" was read
    spent = [s for s, _, _ in lp["history"]]
    assert spent == sorted(spent)
    first = next((s for s, width, ok in lp["history"] if width <= g["width"] and ok), None)
    assert reach == (None if first is None else pytest.approx(first / g["flops"]))
    assert lp["reached"] == (first is not None and lp["width"] <= g["width"] and not lp["uncalibrated"])
