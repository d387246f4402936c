"""benchmarks/closed_loop_replay.py end to end, on a `full` sweep trained by the toy trainer."""

from __future__ import annotations

import json

from scalinglab.config import load_mapping
from scalinglab.sweep import plan_sweep, run_sweep
from scalinglab.sweep.plan import sweep_path


def test_the_replay_reports_each_target_against_the_stored_truth(tmp_path, bench_script):
    full = dict(load_mapping(sweep_path("full")))
    full.update({"trainer": "scalinglab.sweep._toy:train", "trainer_options": {},
                 "extra": {"toy_steps": 1, "toy_noise": 0.003}})
    store = tmp_path / "full"
    run_sweep(plan_sweep(full, check_data=False), backend="inline", store=store, progress=False)
    out = bench_script("closed_loop_replay").main([str(store), "--width", "30", "--n-boot", "40", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text())["args"]["width"] == [30.0]
    assert [(t["rung"], t["n_tokens"]) for t in out["targets"]] == [("gpt-tiny-5", 4194304), ("gpt-tiny-4", 4194304)]
    for t in out["targets"]:
        g, (lp,) = t["grid"], t["loops"]
        assert g["covers"] == (g["low"] <= t["truth"] <= g["high"])
        assert lp["covers"] == (lp["low"] <= t["truth"] <= lp["high"])
        assert lp["spent"] <= 2.5e13 and lp["rounds"] and lp["rounds"][0]["decisions"]
        assert lp["reached"] == (lp["width"] < 0.30)
        assert all(k in r for r in lp["rounds"][1:] for k in ("spent", "width"))


def test_loop_long_puts_the_targets_budget_on_the_smaller_rungs_only(tmp_path, bench_script):
    bench = bench_script("closed_loop_replay")
    d = bench.sweep_dict("loop", str(tmp_path), long_to=(4194304, "gpt-tiny-4"))
    plain = bench.sweep_dict("loop", str(tmp_path))
    for rung, budgets in d["n_tokens"].items():
        want = [*map(float, plain["n_tokens"]), 4194304.0] if rung in ("gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3") \
            else [float(v) for v in plain["n_tokens"]]
        assert budgets == want, rung
    assert set(d["n_tokens"]) == set(plain["rungs"])
