"""benchmarks/closed_loop_noise_floor.py, small and seeded: the grid against a replica of itself."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "closed_loop_noise_floor.py"


def load():
    spec = importlib.util.spec_from_file_location("closed_loop_noise_floor_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_replica_is_the_same_world_with_a_fresh_draw_and_the_summary_follows_the_rows(tmp_path):
    bench = load()
    out = bench.main(["--worlds", "2", "--n-boot", "30", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["worlds"] == 2
    rows, s = out["worlds"], out["summary"]
    for r in rows:
        assert r["grid"] > 0 and r["replica"] > 0
        assert r["log_ratio"] == pytest.approx(math.log(r["replica"] / r["grid"]))
        assert r["replica"] != r["grid"]                 # a fresh draw of the runs' noise changes the fit
    # the grid's width is closed_loop.py's for the same world (same law, noise key and bootstrap seed)
    cl = bench.cl
    import numpy as np

    law = cl.world(np.random.default_rng(0))
    w, _ = bench.grid_width(law, _noise(), 0, tmp_path, n_boot=30)
    assert w == pytest.approx(rows[0]["grid"], rel=1e-12)
    lr = [r["log_ratio"] for r in rows]
    assert s["replica_narrower_fraction"] == sum(v < 0 for v in lr) / 2
    sd = float(np.std(lr, ddof=1))
    assert s["log_ratio_sd"] == pytest.approx(sd)
    assert s["ratio_needed"]["0.90"] == pytest.approx(math.exp(-1.2816 * sd))
    assert s["ratio_needed"]["0.90"] < s["ratio_needed"]["0.75"] < 1


def _noise():
    from scalinglab.laws.seeds import seed_study

    study = seed_study("gpt-tiny")
    return {"trend": list(study.trend), "n_range": [float(study.n_params.min()), float(study.n_params.max())],
            "d_range": [float(study.n_tokens.min()), float(study.n_tokens.max())]}
