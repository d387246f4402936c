"""Schedules and branch planning are torch-free (the sweep planner imports them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scalinglab.errors import ConfigError
from scalinglab.procedures import GPTConfig
from scalinglab.store.schema import RunSpec
from scalinglab.train.schedule import CHECKPOINT_KEY, lr_at, plan_branches, plan_run

MODEL = GPTConfig(n_layer=2, d_model=64, n_head=2, seq_len=128, vocab_size=256)


def test_schedule_and_data_modules_do_not_import_torch():
    code = ("import sys, scalinglab.train, scalinglab.train.schedule, scalinglab.train.data; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_plan_branches_cost_and_consistency():
    tps = 16 * 128
    specs = plan_branches(RunSpec(rung="r", model=MODEL, n_data=1, lr=1e-3, schedule="wsd"),
                          [100 * tps, 200 * tps, 400 * tps, 800 * tps])
    trunk, *branches = specs
    plans = [plan_run(s) for s in specs]
    assert list(trunk.extra[CHECKPOINT_KEY]) == [b.branch_at for b in branches]
    assert all(p.start_step == p.cooldown_start for p in plans[1:])
    assert len({p.warmup_steps for p in plans}) == 1
    trained = sum(p.units_trained for p in plans)
    assert trained <= 1.2 * trunk.n_tokens + tps                   # 0.8 + 0.2 (1 + 1/2 + 1/4 + 1/8)
    # every branch shares the trunk's LR up to its branch point
    for b, p in zip(branches, plans[1:]):
        for s in range(p.start_step):
            assert lr_at(s, lr=1e-3, plan=p, schedule="wsd") == lr_at(s, lr=1e-3, plan=plans[0],
                                                                       schedule="wsd")


def test_plan_run_rejects_bad_specs():
    ok = dict(rung="r", model=MODEL, n_data=100 * 2048, lr=1e-3)
    with pytest.raises(ConfigError, match="positive"):
        plan_run(RunSpec(**{**ok, "lr": 0.0}))
    with pytest.raises(ConfigError, match="cooldown_frac"):
        plan_run(RunSpec(**{**ok, "cooldown_frac": 0.0}))
    with pytest.raises(ConfigError, match="longer than the stable phase"):
        plan_run(RunSpec(**{**ok, "schedule": "wsd", "warmup": 90 * 2048}))
    with pytest.raises(ConfigError, match="both branch_of"):
        plan_run(RunSpec(**{**ok, "branch_of": "x"}))
    with pytest.raises(ConfigError, match="inside this run's cooldown"):
        plan_run(RunSpec(**{**ok, "schedule": "wsd", "extra": {CHECKPOINT_KEY: [90 * 2048]}}))
    with pytest.raises(ConfigError, match="missing 'n_head', 'seq_len', 'vocab_size'"):
        RunSpec.from_dict({**RunSpec(**ok).to_dict(), "model": {"n_layer": 1, "d_model": 32}})
    with pytest.raises(ConfigError, match="not the config of a registered procedure"):
        RunSpec(**{**ok, "model": {"n_layer": 1, "d_model": 32}})
