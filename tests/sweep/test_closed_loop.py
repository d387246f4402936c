"""Closed-loop sweeps (sweep/loop.py) with the toy trainer: the space, the budget, the log, resume."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scalinglab.errors import ConfigError
from scalinglab.store import ResultsStore
from scalinglab.sweep import plan_sweep, run_sweep
from scalinglab.sweep.loop import list_loops, propose, read_log, run_loop

TOY = "scalinglab.sweep._toy:train"
RUNGS = ["gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3", "gpt-tiny-4"]
BUDGETS = [16384, 32768, 65536, 131072]
LRS = [1.5e-3, 3e-3, 6e-3]


def space(**extra):
    return {"name": "toyloop", "ladder": "gpt-tiny", "rungs": RUNGS, "n_tokens": BUDGETS, "lr": LRS,
            "seeds": [0], "schedule": {"kind": "branched", "cooldown_frac": 0.2}, "trainer": TOY,
            "variant": "toy", "eval": {"eval_tokens": 4096},
            "extra": {"toy_steps": 1, "toy_noise": 0.003, **extra}}


C_STAR = 5e12           # ~8x the largest point of the space (gpt-tiny-4 at 131k tokens)
FULL = plan_sweep(space(), check_data=False).cost().flops


def key(spec_or_d):
    return (spec_or_d["rung"], int(spec_or_d["n_data"]), f"{spec_or_d['lr']:.6g}", int(spec_or_d["seed"]))


def decision_runs(d):
    """(run_id -> (rung, D, lr, seed)) of a logged decision, from its own sweep."""
    plan = plan_sweep(d["sweep"], check_data=False)
    out = {}
    for r in plan.runs:
        if r.run_id in d["run_ids"]:
            s = r.spec
            out[r.run_id] = ((s.rung, int(s.n_data), f"{s.lr:.6g}", int(s.seed)), r.flops)
    assert set(out) == set(d["run_ids"])
    return out


def check_invariants(events, budget, pre_existing=frozenset()):
    """Every decision inside the space, no duplicate of a finished run, never over the budget left."""
    finished = set(pre_existing)
    spent = 0.0
    budgets = {b for b in BUDGETS}
    grid = {f"{v:.6g}" for v in LRS}
    decisions = [e for e in events if e["event"] == "decision"]
    assert decisions
    for d in decisions:
        assert d["rung"] in RUNGS                                     # never outside the ladder/sweep
        assert set(d["n_data"]) <= budgets
        assert {f"{v:.6g}" for v in d["lr"]} <= grid and d["seeds"] == [0]
        runs = decision_runs(d)
        keys = {k for k, _ in runs.values()}
        assert not keys & finished, f"{d['key']} repeats a finished run"
        cost = sum(f for _, f in runs.values())
        assert d["cost_flops"] == pytest.approx(cost)                 # costs: the planned FLOPs of its runs
        assert d["cost_flops"] <= budget - spent + 1e-6 * budget      # never over the remaining budget
        assert d["why"]
        if d["kind"] == "plan":
            assert d["expected_width"] is not None and "runners_up" in d
        spent += d["cost_flops"]
        finished |= keys
    return finished, spent


def test_loop_stays_in_space_and_budget_and_logs_every_decision(tmp_path):
    store = tmp_path / "store"
    budget = 0.45 * FULL
    rep = run_loop(space(), until=f"width at {C_STAR:g} < 0%", budget_flops=budget, store=store,
                   backend="inline", n_boot=60, lr_points=2)
    assert not rep.reached and rep.spent_flops <= budget
    assert rep.reason in ("the budget is spent", "no candidate fits in the budget left",
                          "no candidate is expected to narrow the interval")
    events = read_log(store, "toyloop")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "stop" and "trained" in kinds and "state" in kinds
    finished, spent = check_invariants(events, budget)
    assert spent == pytest.approx(rep.spent_flops)
    # nothing was trained that no decision asked for, and everything asked for was trained
    with ResultsStore(store, readonly=True) as st:
        stored = {(r.spec.rung, int(r.spec.n_data), f"{r.spec.lr:.6g}", int(r.spec.seed)) for r in st.records()}
    assert stored == finished
    kinds = {e["kind"] for e in events if e["event"] == "decision"}
    assert {"initial", "plan"} <= kinds
    # the planner found the gpt-tiny-4 points (nearest the target) worth their cost at least once
    assert any(e["rung"] == "gpt-tiny-4" for e in events if e["event"] == "decision" and e["kind"] == "plan")
    assert list_loops(store) == ["toyloop"] and rep.history and rep.history[-1]["spent_flops"] == rep.spent_flops
    assert str(rep).startswith("closed loop 'toyloop'")


def test_loop_reaches_a_width_and_stops(tmp_path):
    c_in = 1056768.0 * 65536                           # gpt-tiny-3 at 65k tokens: inside the space
    rep = run_loop(space(), until=f"width at {c_in:g} on gpt-tiny-3 < 30%", budget_flops=FULL,
                   store=tmp_path / "s", backend="inline", n_boot=60, lr_points=2)
    assert rep.reached and rep.states[""].width < 0.30 and rep.spent_flops < FULL
    st = rep.states[""]
    assert st.inputs["n_params"] == 148352 and st.inputs["n_tokens"] == pytest.approx(65536)
    assert st.interval == "bootstrap" and st.outside_decades == 0
    assert "reached" in str(rep)


def test_propose_skips_finished_runs_and_writes_nothing(tmp_path):
    store = tmp_path / "s"
    pre = plan_sweep({**space(), "rungs": RUNGS[:3], "n_tokens": BUDGETS[:3], "lr": [3e-3, 6e-3]}, check_data=False)
    run_sweep(pre, backend="inline", store=store, progress=False)
    pre_keys = {(s.rung, int(s.n_data), f"{s.lr:.6g}", int(s.seed)) for s in pre.specs}
    n_before = len(ResultsStore(store, readonly=True).records())
    prop = propose(space(), until=f"width at {C_STAR:g} < 1%", budget_flops=FULL, store=store, n_boot=60,
                   lr_points=2)
    assert len(ResultsStore(store, readonly=True).records()) == n_before
    assert not (store / "loops").exists() and read_log(store, "toyloop") == []
    assert prop.states[""] is not None and prop.decisions and prop.considered
    for d in prop.decisions:
        assert d["kind"] in ("plan", "lr-extend")
    # every proposed run is new, and every considered candidate fits the budget
    subs = {d["key"]: d for d in prop.decisions}
    for d in subs.values():
        plan = plan_sweep(space(), check_data=False)        # the space, for the rungs' grids
        assert d["rung"] in {s.rung for s in plan.specs}
    assert all(c["cost_flops"] <= FULL for c in prop.considered)
    assert "next (" in prop.as_text()
    small = propose(space(), until=f"width at {C_STAR:g} < 1%", budget_flops=1e9, store=store, n_boot=60,
                    lr_points=2)
    assert not small.decisions and small.done == "no candidate fits in the budget left"
    assert pre_keys  # the pre-existing runs are what the proposal had to avoid (checked via the log test)


def test_a_stop_is_confirmed_with_more_refits(tmp_path):
    """A width from few bootstrap refits passes the rule; the loop stops only if confirm_boot refits
    agree, and reports the precise prediction either way."""
    from scalinglab.sweep.loop import _setup
    from scalinglab.sweep.planner import Options, assess

    store = tmp_path / "s"
    run_sweep(plan_sweep(space(), check_data=False), backend="inline", store=store, progress=False)
    c_in = 1056768.0 * 65536                           # gpt-tiny-3 at 65k tokens: inside the data
    rule = f"width at {c_in:g} on gpt-tiny-3 < 50%"

    def width(n_boot, seed):
        opts = Options(n_boot=n_boot, seed=seed, confirm_boot=0)
        _, r, sp, _, st, _ = _setup(space(), rule, None, opts, store, readonly=True)
        return assess(sp, st, r, opts).states[""].width

    # 20 refits' percentiles sit inside 1000 refits' (the extreme draws are few): find a seed where
    # the cheap width is the narrower one, and ask for a width between the two
    seed, cheap, precise = next((s, w, p) for s in range(10) if (w := width(20, s)) < (p := width(1000, s)))
    goal = 0.5 * (cheap + precise)
    said = []
    rep = run_loop(space(), until=f"width at {c_in:g} on gpt-tiny-3 < {100 * goal:.6g}%", budget_flops=FULL,
                   store=store, name="between", backend="inline", n_boot=20, confirm_boot=1000, seed=seed,
                   progress=said.append)
    assert not rep.reached and rep.reason == "every run the sweep allows is trained"
    assert rep.states[""].width == pytest.approx(precise, rel=1e-3)       # the final prediction is the precise one
    events = read_log(store, "between")
    conf = [e for e in events if e["event"] == "confirm"]
    assert len(conf) == 1 and conf[0]["confirmed"] is False and conf[0]["confirm_boot"] == 1000
    assert conf[0]["states"][""]["width"] >= goal
    assert [e for e in events if e["event"] == "state"][-1]["states"][""]["width"] < goal
    assert any("passes the stop rule, but 1000 refits give" in m for m in said if isinstance(m, str))
    assert events[-1]["event"] == "stop" and events[-1]["n_boot"] == 1000
    # a goal both pass: reached, on the precise width
    rep = run_loop(space(), until=f"width at {c_in:g} on gpt-tiny-3 < {150 * precise:.6g}%", budget_flops=FULL,
                   store=store, name="wide", backend="inline", n_boot=20, confirm_boot=1000, seed=seed)
    assert rep.reached and "(confirmed with 1000 bootstrap refits; 20 gave width" in rep.reason
    assert rep.states[""].width == pytest.approx(precise, rel=1e-3)
    # the other way round (a seed whose cheap width is the wider): the round's estimate never passes,
    # the final prediction at 1000 refits does, and the report says the rule holds
    seed2, cheap2, precise2 = next((s, w, p) for s in range(20) if (w := width(20, s)) > (p := width(1000, s)))
    rep = run_loop(space(), until=f"width at {c_in:g} on gpt-tiny-3 < {50 * (cheap2 + precise2):.6g}%",
                   budget_flops=FULL, store=store, name="final", backend="inline", n_boot=20, confirm_boot=1000,
                   seed=seed2)
    assert rep.reached and rep.states[""].width == pytest.approx(precise2, rel=1e-3)
    assert rep.reason.endswith("with 1000 bootstrap refits (the loop stopped: every run the sweep allows is trained)")
    assert not [e for e in read_log(store, "final") if e["event"] == "confirm"]
    # without confirmation the cheap width stops the loop
    rep = run_loop(space(), until=f"width at {c_in:g} on gpt-tiny-3 < {100 * goal:.6g}%", budget_flops=FULL,
                   store=store, name="unconfirmed", backend="inline", n_boot=20, confirm_boot=0, seed=seed)
    assert rep.reached and rep.states[""].width == pytest.approx(cheap, rel=1e-3)
    assert not [e for e in read_log(store, "unconfirmed") if e["event"] == "confirm"]
    with pytest.raises(ConfigError, match="confirm_boot must be"):
        run_loop(space(), until=rule, budget_flops=FULL, store=store, name="bad", backend="inline", confirm_boot=-1)


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not cover the initial design"):
        run_loop(space(), until=f"width at {C_STAR:g} < 1%", budget_flops=1e9, store=tmp_path / "a",
                 backend="inline", n_boot=20)
    with pytest.raises(ConfigError, match="compares two arms"):
        run_loop(space(), until=f"winner at {C_STAR:g} at 95%", budget_flops=FULL, store=tmp_path / "b",
                 backend="inline")
    with pytest.raises(ConfigError, match="does not train"):
        propose(space(), until=f"width at {C_STAR:g} on gpt-tiny-9 < 1%", budget_flops=FULL, store=tmp_path / "c")
    with pytest.raises(ConfigError, match="budget"):
        propose(space(), until=f"width at {C_STAR:g} < 1%", budget_flops=-1, store=tmp_path / "c")
    run_loop(space(), until=f"width at {C_STAR:g} < 90%", budget_flops=FULL, store=tmp_path / "d",
             backend="inline", n_boot=30, lr_points=2)
    with pytest.raises(ConfigError, match="another rule"):
        run_loop(space(), until=f"width at {C_STAR:g} < 5%", budget_flops=FULL, store=tmp_path / "d",
                 backend="inline", n_boot=30, lr_points=2)
    with pytest.raises(ConfigError, match=r"another lr_transfer \(True\); resume it with --lr-transfer"):
        run_loop(space(), until=f"width at {C_STAR:g} < 90%", budget_flops=FULL, store=tmp_path / "d",
                 backend="inline", n_boot=30, lr_points=2, lr_transfer=False)
    # a log written before the option existed planned without it: it resumes with it off
    log = tmp_path / "d" / "loops" / "toyloop" / "decisions.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    del lines[0]["lr_transfer"]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(ConfigError, match=r"another lr_transfer \(False\); resume it with --no-lr-transfer"):
        run_loop(space(), until=f"width at {C_STAR:g} < 90%", budget_flops=FULL, store=tmp_path / "d",
                 backend="inline", n_boot=30, lr_points=2)


@pytest.mark.slow
def test_comparison_stops_when_the_winner_is_decided(tmp_path):
    # five budgets: a 4 x 4 grid has only 9 rolling-backtest runs beyond their folds, too few to
    # calibrate the arms' intervals at C*, so no winner could be decided there (the next test)
    sw = {**space(toy_dataset_scale={"python-sci": 1.08}), "dataset": ["stdlib", "python-sci"],
          "n_tokens": [*BUDGETS, 262144]}
    full = plan_sweep(sw, check_data=False).cost().flops
    rep = run_loop(sw, until=f"winner at {C_STAR:g} at 95%", budget_flops=full, store=tmp_path / "s",
                   backend="inline", n_boot=60, lr_points=2)
    assert rep.reached and rep.p_better is not None and rep.p_better >= 0.95      # stdlib has the lower loss
    assert "stdlib is better" in rep.reason
    events = read_log(tmp_path / "s", "toyloop")
    arms = {e["arm"] for e in events if e["event"] == "decision"}
    assert arms == {"stdlib", "python-sci"}
    stop = [e for e in events if e["event"] == "stop"][-1]
    # decided on calibrated uncertainty: both arms' backtests sufficed, the bootstrap's share is logged beside it
    assert stop["uncalibrated_arms"] == [] and stop["p_better_bootstrap"] >= stop["p_better"]


def test_a_winner_beyond_the_data_is_decided_only_on_calibrated_arms():
    """The winner rule reads the same calibration as the width rule: an arm whose rolling backtests
    have too few runs beyond their folds has only the bootstrap's overconfident share."""
    import dataclasses

    from scalinglab.laws.design import parse_until
    from scalinglab.sweep.planner import Assessment, stop_reason

    rule = parse_until(f"winner at {C_STAR:g} at 95%")
    a = Assessment(done={}, done_ids={}, fits={}, tuned={}, runs={}, states={"stdlib": None, "python-sci": None},
                    targets={}, p_better=0.999, diff_sd=0.01, p_better_bootstrap=0.999,
                    uncalibrated_arms=("python-sci",))
    assert stop_reason(rule, a) is None
    assert a.p_note.startswith("NOT calibrated: python-sci has too few held-out runs")
    both = dataclasses.replace(a, uncalibrated_arms=("stdlib", "python-sci"))
    assert both.p_note.startswith("NOT calibrated: stdlib and python-sci have too few")
    calibrated = dataclasses.replace(a, uncalibrated_arms=(), p_better=0.97)
    assert stop_reason(rule, calibrated) == f"stdlib is better at {C_STAR:.3g} FLOPs with probability 0.970"
    assert calibrated.p_note.endswith("the bootstrap alone 0.999")
    assert stop_reason(rule, dataclasses.replace(calibrated, p_better=0.94)) is None


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_closed_loop import space, C_STAR, FULL
    from scalinglab.sweep.loop import run_loop
    run_loop(space(toy_step_s=0.05, toy_steps=3), until=f"width at {{C_STAR:g}} < 0%",
             budget_flops=0.3 * FULL, store={store!r}, backend="inline", n_boot=30, lr_points=2)
""")


def test_killed_loop_resumes_without_repeating_a_decision(tmp_path):
    store = tmp_path / "s"
    script = tmp_path / "loop.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), store=str(store)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, start_new_session=True)
    log = store / "loops" / "toyloop" / "decisions.jsonl"
    killed_round = None
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if log.exists():
                ev = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
                rounds = {e["round"] for e in ev if e["event"] == "decision"}
                trained = {e["round"] for e in ev if e["event"] == "trained"}
                open_rounds = rounds - trained
                done_now = len(list((store / "runs").glob("*/record.json"))) if (store / "runs").exists() else 0
                if open_rounds and done_now >= 2:
                    killed_round = max(open_rounds)
                    os.killpg(proc.pid, signal.SIGKILL)
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert killed_round is not None, "the loop finished before it could be killed mid-round"
    before = [e for e in read_log(store, "toyloop") if e["event"] == "decision"]
    assert not any(e["event"] == "trained" and e["round"] == killed_round for e in read_log(store, "toyloop"))
    said = []
    rep = run_loop(space(toy_step_s=0.05, toy_steps=3), until=f"width at {C_STAR:g} < 0%", budget_flops=0.3 * FULL,
                   store=store, backend="inline", n_boot=30, lr_points=2, progress=said.append)
    events = read_log(store, "toyloop")
    after = [e for e in events if e["event"] == "decision"]
    # the decisions logged before the kill are kept as they were, and none was taken again
    assert [(e["round"], e["key"], e["run_ids"]) for e in after[:len(before)]] == \
        [(e["round"], e["key"], e["run_ids"]) for e in before]
    assert all(e["round"] > killed_round for e in after[len(before):])
    assert any(isinstance(m, str) and f"resuming round {killed_round}" in m for m in said)
    assert [e["round"] for e in events if e["event"] == "trained"].count(killed_round) == 1
    check_invariants(events, 0.3 * FULL)
    with ResultsStore(store, readonly=True) as st:
        statuses = {r.run_id: r.status for r in st.records()}
    killed_ids = {rid for e in before if e["round"] == killed_round for rid in e["run_ids"]}
    assert all(statuses.get(rid) == "done" for rid in killed_ids)
    assert rep.spent_flops <= 0.3 * FULL and math.isfinite(rep.spent_flops)


def test_branches_of_an_earlier_trunk_cost_only_their_cooldown(tmp_path):
    store = tmp_path / "s"
    base = plan_sweep({**space(), "rungs": RUNGS[:3], "lr": [3e-3, 6e-3]}, check_data=False)
    run_sweep(base, backend="inline", store=store, progress=False)
    # a gpt-tiny-4 trunk at the largest budget, planned as the loop plans a family (checkpoints at
    # every shorter budget), trained alone
    fam = plan_sweep({**space(), "rungs": ["gpt-tiny-4"], "lr": [3e-3]}, check_data=False)
    trunk = [r for r in fam.runs if r.spec.branch_of is None]
    assert len(trunk) == 1 and trunk[0].spec.extra.get("checkpoint_at")
    from scalinglab.sweep.plan import SweepPlan

    run_sweep(SweepPlan(config=fam.config, runs=tuple(trunk), source="t"), backend="inline", store=store,
              progress=False)
    prop = propose(space(), until=f"width at {C_STAR:g} < 1%", budget_flops=FULL, store=store, n_boot=60,
                   lr_points=2)
    branch = {r.spec.n_data: r.flops for r in fam.runs if r.spec.branch_of is not None}
    got = [c for c in prop.considered if c["key"].startswith("gpt-tiny-4") and "(branches)" in c["key"]]
    assert got, [c["key"] for c in prop.considered]
    for c in got:
        budgets = [int(p["n_tokens"]) for p in c["points"]]
        assert c["cost_flops"] == pytest.approx(sum(branch[b] for b in budgets))
        # a cooldown branch costs about a fifth of a run of its own budget (whole steps: <= 25% here)
        assert c["cost_flops"] <= 0.25 * sum(b * 2248704.0 for b in budgets) * (1 + 1e-9)


def plan_lrs(store):
    """(learning rates, why) of every new-trunk plan decision of the loop."""
    return [(d["lr"], d["why"]) for d in read_log(store, "toyloop")
            if d["event"] == "decision" and d["kind"] == "plan" and "(branches)" not in d["key"]]


def test_a_pinned_learning_rate_gets_one_probe_else_a_search(tmp_path):
    # noise well below the learning rate's effect: the tuned points pin the toy's optimum (3e-3), and
    # later points probe it alone (the two-stage search off: it changes which points come first)
    # (the budget pays for gpt-tiny-4's search: with less the loop probes it once at the model's
    # optimum, its mis-tuning scored as noise, as
    # test_a_search_that_does_not_fit_the_budget_left_is_offered_with_fewer_learning_rates checks)
    rep = run_loop(space(), until=f"width at {C_STAR:g} < 0%", budget_flops=FULL, store=tmp_path / "a",
                   backend="inline", n_boot=60, lr_points=3, lr_transfer=False)
    pinned = [(lrs, why) for lrs, why in plan_lrs(tmp_path / "a") if "pinned" in why]
    assert pinned and all(lrs == [3e-3] for lrs, _ in pinned)
    check_invariants(read_log(tmp_path / "a", "toyloop"), FULL)
    assert rep.spent_flops <= FULL
    # a grid of two learning rates never shows a curvature (no learning-rate model): without the
    # two-stage search every new point searches both ...
    run_loop({**space(), "lr": LRS[1:]}, until=f"width at {C_STAR:g} < 0%", budget_flops=0.45 * FULL,
             store=tmp_path / "b", backend="inline", n_boot=60, lr_points=3, lr_transfer=False)
    searched = plan_lrs(tmp_path / "b")
    assert searched and all(lrs == LRS[1:] and "pinned" not in why for lrs, why in searched)
    # ... and with it (the default) a rung searched over its whole grid hands its best value on
    run_loop({**space(), "lr": LRS[1:]}, until=f"width at {C_STAR:g} < 0%", budget_flops=0.45 * FULL,
             store=tmp_path / "c", backend="inline", n_boot=60, lr_points=3)
    assert any(len(lrs) == 1 and "from the search at D" in why for lrs, why in plan_lrs(tmp_path / "c"))


def _best_lrs(store, rung):
    """{D: (best lr, number of learning rates tried)} of a rung's finished runs."""
    by: dict = {}
    for r in ResultsStore(store, readonly=True).records(status=("done",)):
        if r.spec.rung == rung:
            by.setdefault(r.spec.n_data, {})[r.spec.lr] = r.metrics[r.spec.procedure_spec.metrics[0]]
    return {d: (min(v, key=v.get), len(v)) for d, v in by.items()}


def test_a_long_trunk_takes_the_best_learning_rate_of_a_shorter_search(tmp_path):
    # a sharp learning-rate response with its optimum (1.7e-3) off the grid: no single grid value
    # leaves a mis-tuning the learning-rate model would accept (it cannot pin), so a new trunk
    # searches its window unless its rung was searched at another budget; the best there is 1.5e-3,
    # the grid's lowest value, not the middle of a window
    sp = space(toy_lr={"curvature": 0.2, "coef": [math.log2(1.7e-3), 0.0, 0.0], "n0": 1e5, "d0": 1e5})
    store = tmp_path / "s"
    run_sweep(plan_sweep({**sp, "rungs": RUNGS[:3], "n_tokens": BUDGETS[:3]}, check_data=False),
              backend="inline", store=store, progress=False)
    prop = propose(sp, until=f"width at {C_STAR:g} < 1%", budget_flops=FULL, store=store, n_boot=60)
    keys = {c["key"]: c for c in prop.considered}
    handed = 0
    for rung in RUNGS[:3]:
        (lr, _), = [v for d, v in _best_lrs(store, rung).items() if d == BUDGETS[2]]
        (alone,) = [c for k, c in keys.items() if k.startswith(f"{rung} D=131k lr=")]
        why = alone["meta"].get("lr_why", "")
        if "pinned" in why or "moved" in why:   # the learning-rate model's value comes first
            continue
        assert why.startswith("learning rate from the search at D = 65.5k"), why
        assert lr == 1.5e-3 and alone["key"] == f"{rung} D=131k lr={lr:g}"     # one probe, at the searched best
        handed += 1
    assert handed
    # a rung never searched: a two-stage candidate, the search on a short trunk now (3 learning
    # rates at 16k-33k), its best on the long trunk (65k-131k) later; it costs and scores both
    staged = sorted(k for k in keys if k.startswith("gpt-tiny-4 ") and k.endswith("at its best lr"))
    assert staged == ["gpt-tiny-4 D=16.4k lr=0.0015/0.003/0.006 then D=32.8k,65.5k at its best lr",   # D_max 65k
                      "gpt-tiny-4 D=16.4k,32.8k lr=0.0015/0.003/0.006 then D=65.5k,131k at its best lr"]
    c = keys[staged[1]]
    fam = plan_sweep({**sp, "rungs": ["gpt-tiny-4"]}, check_data=False)
    short = plan_sweep({**sp, "rungs": ["gpt-tiny-4"], "n_tokens": BUDGETS[:2]}, check_data=False)
    one_lr = [r for r in fam.runs if r.spec.lr == 3e-3 and r.spec.n_data in BUDGETS[2:]]
    assert c["cost_flops"] == pytest.approx(sum(r.flops for r in short.runs) + sum(r.flops for r in one_lr))
    assert sorted(int(p["n_tokens"]) for p in c["points"]) == BUDGETS
    # run as a loop, every trunk probed once takes the best value of a search of its rung: the
    # learning rate with the lowest loss at another budget, searched at 3 learning rates
    run_loop(sp, until=f"width at {C_STAR:g} < 0%", budget_flops=0.6 * FULL, store=tmp_path / "l",
             backend="inline", n_boot=60)
    events = read_log(tmp_path / "l", "toyloop")
    check_invariants(events, 0.6 * FULL)
    handed = [e for e in events if e["event"] == "decision" and "from the search at D" in e["why"]]
    assert handed
    for e in handed:
        searched = {lr for d, (lr, k) in _best_lrs(tmp_path / "l", e["rung"]).items()
                    if k >= 3 and d not in e["n_data"]}
        assert len(e["lr"]) == 1
        if "moved" not in e["why"]:        # else shifted by the learning-rate model's drift with D
            assert e["lr"][0] in searched, (e["why"], searched)


def test_the_learning_rate_drift_is_not_extrapolated_past_the_searched_budgets(tmp_path):
    # the optimum halves with every doubling of D up to 65k tokens, then stops moving (a drift that
    # ends, as the gpt-tiny ladder's did once warm-up was a small part of the run): the model fitted
    # on the 16k-65k searches finds the drift, and a 131k trunk handed the 65k search's best must not
    # be moved on by it (that would probe 7.5e-4, two thirds of a doubling below the optimum)
    lrs = [7.5e-4, 1.5e-3, 3e-3, 6e-3, 1.2e-2]
    sp = {**space(toy_lr={"curvature": 0.2, "coef": [math.log2(1.7e-3), 0.0, -1.0], "n0": 1e5,
                          "d0": 65536, "d_stop": 65536}), "lr": lrs}
    store = tmp_path / "s"
    run_sweep(plan_sweep({**sp, "rungs": RUNGS[:3], "n_tokens": BUDGETS[:3]}, check_data=False),
              backend="inline", store=store, progress=False)
    from scalinglab.laws.design import fit_lr_optimum

    recs = ResultsStore(store, readonly=True).records(status=("done",))
    m = fit_lr_optimum([r.n_params["non_embedding"] for r in recs], [r.spec.n_data for r in recs],
                       [r.spec.lr for r in recs], [r.metrics["val_loss"] for r in recs], [0.003] * len(recs))
    assert m.coef[2] < -0.5 and m.n_tokens_range == (16384.0, 65536.0)     # the drift, where it was seen
    prop = propose(sp, until=f"width at {C_STAR:g} < 1%", budget_flops=FULL, store=store, n_boot=60)
    keys = {c["key"]: c for c in prop.considered}
    handed = 0
    for rung in RUNGS[:3]:
        assert _best_lrs(store, rung)[BUDGETS[2]] == (1.5e-3, 5)
        (alone,) = [c for k, c in keys.items() if k.startswith(f"{rung} D=131k lr=")]
        why = alone["meta"].get("lr_why", "")
        if "pinned" in why:
            continue
        assert why.startswith("learning rate from the search at D = 65.5k") and "moved" not in why, why
        assert alone["key"] == f"{rung} D=131k lr=0.0015"
        handed += 1
    assert handed


def test_a_search_that_does_not_fit_the_budget_left_is_offered_with_fewer_learning_rates(tmp_path):
    # every point is trained but gpt-tiny-4 at 131k, whose rung was trained at one learning rate
    # only (nothing to hand on) under a sharp response with its optimum off the grid (nothing to
    # pin): the point needs a 3-rate search. With budget left for one and a half of its trunks the
    # search does not fit, and nothing else is left, so it is offered at one learning rate rather
    # than the loop stopping with the budget unspent
    sp = space(toy_lr={"curvature": 0.2, "coef": [math.log2(1.7e-3), 0.0, 0.0], "n0": 1e5, "d0": 1e5})
    store = tmp_path / "s"
    run_sweep(plan_sweep({**sp, "rungs": RUNGS[:3]}, check_data=False), backend="inline", store=store,
              progress=False)
    run_sweep(plan_sweep({**sp, "rungs": RUNGS[3:], "n_tokens": BUDGETS[:3], "lr": [3e-3]}, check_data=False),
              backend="inline", store=store, progress=False)
    (trunk,) = [r.flops for r in plan_sweep({**sp, "rungs": RUNGS[3:], "n_tokens": BUDGETS[3:], "lr": [3e-3]},
                                            check_data=False).runs]   # gpt-tiny-4 at 131k, one learning rate
    prop = propose(sp, until=f"width at {C_STAR:g} < 1%", budget_flops=1.5 * trunk, store=store, n_boot=60)
    (c,) = prop.considered
    assert c["key"] == "gpt-tiny-4 D=131k lr=0.0015" and c["cost_flops"] == pytest.approx(trunk)
    assert prop.decisions and prop.decisions[0]["key"] == c["key"]
    why = c["meta"]["lr_why"]
    assert why.startswith(f"the search over 3 learning rates ({3 * trunk:.3g} FLOPs) does not fit the budget "
                          f"left ({1.5 * trunk:.3g}); 1 at the learning-rate model's optimum"), why
    # with the budget for the whole search, the point is searched, and nothing is cut
    prop = propose(sp, until=f"width at {C_STAR:g} < 1%", budget_flops=3.5 * trunk, store=store, n_boot=60)
    assert [c["key"] for c in prop.considered] == ["gpt-tiny-4 D=131k lr=0.0015/0.003/0.006"]


def test_a_width_beyond_the_data_counts_only_once_calibrated(tmp_path):
    """C* ~8x beyond the toy space: the rolling backtests never get the 10 held-out runs a calibration
    needs, so the intervals are the bootstrap's, unwidened; narrow as they get, the loop never
    calls the width reached, and its report says why."""
    rep = run_loop(space(), until=f"width at {C_STAR:g} on gpt-tiny-4 < 30%", budget_flops=FULL,
                   store=tmp_path / "s", backend="inline", n_boot=60, lr_points=2)
    st = rep.states[""]
    assert st.inputs["n_params"] == 333120 and st.inputs["n_tokens"] == pytest.approx(C_STAR / 2248704.0)
    assert not rep.reached and st.width < 0.30 and st.uncalibrated and st.outside_decades > 0.5
    states = [e["states"][""] for e in read_log(tmp_path / "s", rep.name) if e["event"] == "state" and e["states"][""]]
    assert states and all(s["calibration_usable"] is False and s["interval"] == "calibrated" for s in states)
    assert any(s["width"] < 0.30 for s in states)       # narrow enough many times, never claimed
    text = str(rep)
    assert f"{st.outside_decades:.2f} decades beyond the data" in text
    assert (f"NOT calibrated: only {st.calibration_points} held-out runs of the rolling backtests lie beyond "
            "their fold's data (10 needed)") in text
    assert states[-1]["outside_decades"] == st.outside_decades


def test_the_comparison_planner_scores_the_calibrated_difference_and_seeks_both_calibrations():
    """Two arms fitted on a 4 x 4 grid each (9 backtest runs, too few to calibrate): the planner's
    widening of the difference is the sum of the arms' provisional ones, and a width counts as
    reached only once candidates would complete both arms' calibrations."""
    import warnings

    import numpy as np

    from scalinglab.errors import ScalingLabWarning
    from scalinglab.laws import Runs, fit
    from scalinglab.laws.design import Candidate, difference_draws, difference_state, parse_until, target_state
    from scalinglab.sweep.planner import Assessment, _arm_term, _extrapolation, _goal_width, _width_now

    def arm_fit(scale, seed):
        rng = np.random.default_rng(seed)
        n, d = (v.ravel() for v in np.meshgrid([1e5, 2e5, 4e5, 1.2e6], [2e6, 4e6, 8e6, 2e7]))
        # a bend the law lacks, so that the backtests there are see a discrepancy
        y = scale * (1.2 + 80 / n ** 0.32 + 150 / d ** 0.3) * np.exp(0.02 * np.log(n * d / 2e11) ** 2
                                                                      + rng.normal(0, 0.004, n.size))
        runs = Runs.from_arrays(n_params=n, n_tokens=d, target=y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingLabWarning)
            return runs, fit("chinchilla", runs, loss="ls", n_boot=100).with_calibration(n_boot=60)

    target = {"n_params": 3e7, "n_tokens": 6e8}
    (ra, fa), (rb, fb) = arm_fit(1.0, 1), arm_fit(1.05, 2)
    assert not fa.calibration.usable and not fb.calibration.usable
    rule = parse_until("winner at 1e17 at 95%")
    p, sd = difference_state(fa, target, fb, target)
    mean = float(np.mean(difference_draws(fa, target, fb, target)))
    a = Assessment(done={}, done_ids={}, fits={"x": fa, "y": fb}, tuned={"x": ra, "y": rb}, runs={},
                    states={k: target_state(f, target) for k, f in (("x", fa), ("y", fb))},
                    targets={"x": target, "y": target}, p_better=p, diff_sd=sd, p_better_bootstrap=p,
                    uncalibrated_arms=("x", "y"), diff_mean=mean)
    ex = _extrapolation(rule, a)
    terms = [_arm_term(rule, a, k, from_state=False) for k in ("x", "y")]
    assert ex is not None and ex.base_width == pytest.approx(_width_now(rule, a))
    assert ex.extra == pytest.approx(sum(t.extra for t in terms)) and ex.extra > 0
    assert ex.width(1.0, []) > ex.base_width                  # the calibrated difference is the wider
    # the winner is decided when the mean is z_0.95 SDs from 0: that width, in the planner's units
    assert _goal_width(rule, a) == pytest.approx(2 * 1.959964 * abs(mean) / 1.644854, rel=1e-5)

    def many(arm):      # a ladder of larger points beyond each arm's data: what completes a calibration
        return [Candidate(key=f"{arm}{i}", points=({"n_params": n, "n_tokens": 20 * n},), cost_flops=1.0, arm=arm)
                for i, n in enumerate(np.geomspace(2e6, 2e7, 8))]

    assert not ex.usable([])
    assert terms[0].usable(many("x")) and not terms[0].usable(many("y"))   # each arm counts its own points
    assert not ex.usable(many("x")) and not ex.usable(many("y"))            # the winner rule needs both
    assert ex.usable(many("x") + many("y"))
    # points nearer the target shrink that arm's share of the widening, not the other's
    assert 0 < ex.growth(many("x")) < 1 and ex.growth(many("x")) > ex.growth(many("x") + many("y"))
