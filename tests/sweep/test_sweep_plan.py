"""Sweep planning: strict YAML -> ordered RunSpecs with content-hashed ids and a cost estimate."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from scalinglab.errors import ConfigError, UnknownNameError
from scalinglab.ladders import get_ladder
from scalinglab.store import RunSpec
from scalinglab.sweep import SweepPlan, list_sweeps, plan_sweep, sweep_path

BASE = {"ladder": "gpt-tiny", "rungs": ["gpt-tiny-1", "gpt-tiny-2"], "n_tokens": [16384, 65536],
        "lr": [3e-3, 1e-2], "seeds": [0, 1]}


def test_expands_the_full_cross_product_with_unique_hashed_ids():
    plan = plan_sweep(BASE)
    assert isinstance(plan, SweepPlan) and len(plan) == 2 * 2 * 2 * 2
    ids = plan.run_ids
    assert len(set(ids)) == len(ids)
    for s in plan.specs:
        assert s.run_id == RunSpec.from_dict(s.to_dict()).run_id     # id is a function of the spec
        assert s.batch_size == 64 and s.dataset == "stdlib" and s.ladder == "gpt-tiny"   # the ladder's
    # the same file plans the same ids (content hash, not a counter)
    assert plan_sweep(BASE).run_ids == ids


def test_orders_longest_first():
    plan = plan_sweep(BASE)
    costs = [r.est_s for r in plan.runs]
    assert costs == sorted(costs, reverse=True)
    assert plan.specs[0].rung == "gpt-tiny-2" and plan.specs[0].n_tokens == 65536


def test_tokens_per_param_uses_the_chosen_convention_and_whole_steps():
    plan = plan_sweep({**{k: v for k, v in BASE.items() if k != "n_tokens"},
                       "tokens_per_param": [10], "rungs": ["gpt-tiny-1"], "lr": [3e-3], "seeds": [0]})
    (s,) = plan.specs
    n = s.model.n_params()
    tps = s.batch_size * s.model.seq_len                # the ladder's 64 x 32
    assert tps == 2048
    assert s.n_tokens % tps == 0 and abs(s.n_tokens - 10 * n) <= tps / 2
    total = plan_sweep({**{k: v for k, v in BASE.items() if k != "n_tokens"},
                        "tokens_per_param": [10], "rungs": ["gpt-tiny-1"], "lr": [3e-3],
                        "seeds": [0], "n_params_convention": "total"}).specs[0]
    assert total.n_tokens > s.n_tokens


def test_per_rung_learning_rates():
    plan = plan_sweep({**BASE, "lr": {"gpt-tiny-1": [1e-2, 2e-2], "default": [3e-3]}, "seeds": [0]})
    lrs = {(s.rung, s.lr) for s in plan.specs}
    assert lrs == {("gpt-tiny-1", 1e-2), ("gpt-tiny-1", 2e-2), ("gpt-tiny-2", 3e-3)}
    with pytest.raises(UnknownNameError, match="Did you mean: gpt-tiny-2"):
        plan_sweep({**BASE, "lr": {"gpt-tiny-1": [1e-2], "gpt-tiny-22": [1e-3]}})
    with pytest.raises(ConfigError, match="no values for rung 'gpt-tiny-2'"):
        plan_sweep({**BASE, "lr": {"gpt-tiny-1": [1e-2]}})


def test_typo_key_is_a_config_error_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown key 'sedes'.*Did you mean: seeds"):
        plan_sweep({**BASE, "sedes": [0]})
    with pytest.raises(ConfigError, match="cooldown_frac"):
        plan_sweep({**BASE, "schedule": {"kind": "wsd", "cooldown_fraction": 0.2}})
    with pytest.raises(ConfigError, match="Did you mean: branched"):
        plan_sweep({**BASE, "schedule": {"kind": "branchd"}})


def test_unknown_rung_and_ladder_suggest_names():
    with pytest.raises(UnknownNameError, match="unknown rung 'gpt-tiny-9'.*Available: gpt-tiny-1"):
        plan_sweep({**BASE, "rungs": ["gpt-tiny-9"]})
    with pytest.raises(UnknownNameError, match="Did you mean: gpt-tiny"):
        plan_sweep({**BASE, "ladder": "gpt-tiy"})


@pytest.mark.parametrize("bad, match", [
    ({"n_tokens": None}, "exactly one of n_tokens"),
    ({"tokens_per_param": [20]}, "exactly one of n_tokens"),
    ({"lr": []}, "empty list"),
    ({"lr": [-1e-3]}, "positive"),
    ({"seeds": []}, "at least one seed"),
    ({"trainer": "scalinglab.train.loop.run"}, "module:function"),
    ({"schedule": {"kind": "wsd", "cooldown_frac": 1.5}}, "cooldown_frac"),
])
def test_bad_values_are_config_errors(bad, match):
    with pytest.raises(ConfigError, match=match):
        plan_sweep({**BASE, **bad})


def test_missing_or_empty_corpus_fails_at_planning(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        plan_sweep({**BASE, "dataset": str(tmp_path / "nope")})
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        plan_sweep({**BASE, "dataset": str(tmp_path / "empty.txt")})
    (tmp_path / "d").mkdir()
    with pytest.raises(ConfigError, match="no non-empty file"):
        plan_sweep({**BASE, "dataset": str(tmp_path / "d")})
    (tmp_path / "d" / "a.txt").write_text("hello")
    assert plan_sweep({**BASE, "dataset": str(tmp_path / "d")}).specs[0].dataset == str(tmp_path / "d")


def test_branched_schedule_plans_trunks_before_their_branches():
    plan = plan_sweep({**BASE, "rungs": ["gpt-tiny-1"], "lr": [3e-3], "seeds": [0],
                       "n_tokens": [20480, 40960, 81920], "schedule": {"kind": "branched"}})
    trunks = [s for s in plan.specs if s.branch_of is None]
    branches = [s for s in plan.specs if s.branch_of is not None]
    assert len(trunks) == 1 and len(branches) == 2
    (trunk,) = trunks
    assert trunk.schedule == "wsd" and trunk.n_tokens == 81920
    assert sorted(trunk.extra["checkpoint_at"]) == sorted(b.branch_at for b in branches)
    pos = {s.run_id: i for i, s in enumerate(plan.specs)}
    assert all(pos[b.branch_of] < pos[b.run_id] for b in branches)
    # a branch costs only its cooldown
    for r in plan.runs:
        if r.spec.branch_of:
            assert r.units_trained == r.spec.n_tokens - r.spec.branch_at
    cost = plan.cost(workers=1)
    assert cost.n_data < 81920 + 20480 + 40960


def test_cost_uses_exact_flops_and_the_throughput_table():
    cfg = {**BASE, "rungs": ["gpt-tiny-1"], "lr": [3e-3], "seeds": [0], "n_tokens": [20480],
           "estimate": {"units_per_s": {"gpt-tiny-1": 10240}, "overhead_s": 1.0},
           "eval": {"eval_tokens": 10240}}
    plan = plan_sweep(cfg)
    fpt = plan.specs[0].model.flops_per_unit("exact")
    cost = plan.cost()
    assert cost.flops == pytest.approx(fpt * 20480)
    assert cost.serial_s == pytest.approx(1.0 + (20480 + 10240) / 10240)
    two = plan_sweep({**cfg, "lr": [1e-3, 3e-3]})
    assert two.cost(workers=2).wall_s == pytest.approx(two.cost(workers=1).wall_s / 2)
    text = two.as_text(workers=2)
    assert "gpt-tiny-1" in text and "FLOPs" in text and "2 worker(s)" in text


def test_presets_plan_and_load_by_name():
    names = list_sweeps()
    assert {"ci", "demo", "full", "large"} <= set(names)
    for name in names:
        plan = plan_sweep(name, check_data=False)
        raw = yaml.safe_load(sweep_path(name).read_text())
        ladders = [raw["ladder"]] if isinstance(raw["ladder"], str) else raw["ladder"]
        ladder_of = {r: lad for lad in ladders for r in get_ladder(lad).names}
        rungs = list(ladder_of) if raw.get("rungs", "all") == "all" else raw["rungs"]
        lrs = raw["lr"] if isinstance(raw["lr"], dict) else {"default": raw["lr"]}
        budgets = raw.get("n_tokens") or raw.get("n_samples") or raw["tokens_per_param"]
        seeds = raw.get("seeds", [0])
        datasets = raw.get("dataset")
        datasets = [None] if datasets is None else [datasets] if isinstance(datasets, str) else datasets
        # exactly the cross product the file asks for: every rung x its lr grid x budget x seed
        # (x dataset), once
        expected = {(r, float(lr), s, d) for r in rungs
                    for lr in lrs.get(r, lrs.get(ladder_of[r], lrs.get("default"))) for s in seeds
                    for d in datasets}
        got = [(s.rung, s.lr, s.seed, s.dataset if datasets != [None] else None, s.n_data) for s in plan.specs]
        assert len(got) == len(set(got)) == len(expected) * len(budgets), name
        assert {g[:4] for g in got} == expected, name
        for key in expected:
            assert len({g[4] for g in got if g[:4] == key}) == len(budgets), (name, key)
        seen = set()
        for s in plan.specs:                          # a branch never precedes its trunk
            assert s.branch_of is None or s.branch_of in seen, (name, s.run_id)
            seen.add(s.run_id)
    assert len(plan_sweep("demo", check_data=False)) == (4 + 3 + 3 + 3) * 5     # 65 runs: lr grids x budgets
    assert sweep_path("ci").name == "ci.yaml"
    with pytest.raises(ConfigError, match="Did you mean: demo"):
        sweep_path("dmo")


def test_yaml_file_roundtrip(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump({**BASE, "name": "mine", "n_tokens": ["16k", "64k"]}))
    plan = plan_sweep(p)
    # "64k" = 64000 tokens, rounded to whole optimizer steps of 64 x 32 tokens
    assert plan.name == "mine" and {s.n_tokens for s in plan.specs} == {16384, 31 * 2048}
    assert plan.to_dict()["runs"][0]["run_id"] == plan.run_ids[0]


def test_planning_never_imports_torch():
    code = ("import sys\nfrom scalinglab.sweep import plan_sweep\n"
            "p = plan_sweep('ci'); p.as_text()\n"
            "plan_sweep({'ladder': 'gpt-tiny', 'n_tokens': [20480, 40960], 'lr': [3e-3],"
            " 'schedule': {'kind': 'branched'}})\n"
            "print('torch' in sys.modules, 'submitit' in sys.modules, 'ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


def test_estimates_are_calibrated_on_the_wall_times_of_finished_runs():
    from scalinglab.store import RunRecord

    plan = plan_sweep({**BASE, "seeds": [0], "eval": {"eval_tokens": 1024},
                       "estimate": {"units_per_s": {"default": 1000}, "overhead_s": 2.0}})
    first = [r for r in plan.runs if r.spec.rung == "gpt-tiny-1"]
    # gpt-tiny-1 measured: 0.5 s per run plus 4096 tokens/s, at both lengths
    recs = [RunRecord(run_id=r.run_id, spec=r.spec, status="done",
                      wall_s=0.5 + (r.units_trained + 1024) / 4096) for r in first]
    # a record of another model under the same rung name measures nothing about this one
    alien = RunSpec.from_dict({**first[0].spec.to_dict(), "model": {**first[0].spec.to_dict()["model"], "d_model": 96}})
    recs.append(RunRecord(run_id=alien.run_id, spec=alien, status="done", wall_s=1e4))
    cal = plan.calibrated(recs)
    assert cal.calibration == {"gpt-tiny-1": (pytest.approx(4096.0), pytest.approx(0.5), len(first))}
    for before, after in zip(plan.runs, cal.runs):
        assert before.run_id == after.run_id                 # same runs, same order
        if before.spec.rung == "gpt-tiny-1":
            assert after.est_s == pytest.approx(0.5 + (before.units_trained + 1024) / 4096)
        else:
            assert after.est_s == before.est_s == pytest.approx(2.0 + (before.units_trained + 1024) / 1000)
    cost = cal.cost(workers=1)
    assert cost.calibrated_on == len(first) and f"throughput measured on {len(first)} finished run(s)" in str(cost)
    assert plan.calibrated([]) is plan and "measured" not in str(plan.cost())
    # runs of one length: the overhead is the smaller of the file's and half the shortest run
    one = plan.calibrated(recs[:1])
    rate, overhead, n = one.calibration["gpt-tiny-1"]
    assert n == 1 and overhead == pytest.approx(min(2.0, 0.5 * recs[0].wall_s))
    assert rate == pytest.approx((first[0].units_trained + 1024) / (recs[0].wall_s - overhead))
