"""The replay trainer (sweep/_replay.py): a design run against a fully trained store decides as if it trained."""

from __future__ import annotations

from scalinglab.store import ResultsStore
from scalinglab.sweep import plan_sweep, run_sweep
from scalinglab.sweep.loop import read_log, run_loop

RUNGS = ["gpt-tiny-1", "gpt-tiny-2", "gpt-tiny-3", "gpt-tiny-4"]
BUDGETS = [16384, 32768, 65536, 131072]
LRS = [1.5e-3, 3e-3, 6e-3]
C_STAR = 5e12


def space(trainer: str, extra: dict, **kw) -> dict:
    return {"name": "replayed", "ladder": "gpt-tiny", "rungs": RUNGS, "n_tokens": BUDGETS, "lr": LRS,
            "seeds": [0], "schedule": {"kind": "branched", "cooldown_frac": 0.2}, "trainer": trainer,
            "variant": "toy", "eval": {"eval_tokens": 4096}, "extra": extra, **kw}


TOY = {"toy_steps": 1, "toy_noise": 0.003}


def test_a_replayed_loop_decides_exactly_as_the_trained_one(tmp_path):
    full = tmp_path / "full"                       # the whole grid, trained once
    run_sweep(plan_sweep(space("scalinglab.sweep._toy:train", TOY), check_data=False), backend="inline",
              store=full, progress=False)
    until = f"width at {C_STAR:g} on gpt-tiny-4 < 30%"
    kw = dict(until=until, budget_flops=5e11, backend="inline", n_boot=60, lr_points=2)
    trained = run_loop(space("scalinglab.sweep._toy:train", TOY), store=tmp_path / "t", **kw)
    replayed = run_loop(space("scalinglab.sweep._replay:train", {"replay_store": str(full)}),
                        store=tmp_path / "r", **kw)
    keys = [[e["key"] for e in read_log(tmp_path / s, "replayed") if e["event"] == "decision"] for s in "tr"]
    assert keys[0] and keys[0] == keys[1]
    assert replayed.spent_flops == trained.spent_flops and replayed.reached == trained.reached
    assert replayed.states[""].low == trained.states[""].low and replayed.states[""].high == trained.states[""].high
    rec = ResultsStore(tmp_path / "r", readonly=True).records(status=("done",))[0]
    assert rec.provenance["trainer"] == "scalinglab.sweep._replay:train"
    assert rec.provenance["replayed"] in {r.run_id for r in ResultsStore(full, readonly=True).records()}


def test_a_point_the_store_never_trained_fails_with_its_name(tmp_path):
    full = tmp_path / "full"
    run_sweep(plan_sweep(space("scalinglab.sweep._toy:train", TOY, rungs=RUNGS[:1], lr=[3e-3]), check_data=False),
              backend="inline", store=full, progress=False)
    plan = plan_sweep(space("scalinglab.sweep._replay:train", {"replay_store": str(full)},
                            rungs=RUNGS[:1], lr=[3e-3, 6e-3]), check_data=False)
    run_sweep(plan, backend="inline", store=tmp_path / "r", progress=False)
    st = ResultsStore(tmp_path / "r", readonly=True)
    done = {(r.spec.n_data, r.spec.lr) for r in st.records(status=("done",))}
    assert done == {(b, 3e-3) for b in BUDGETS}                 # what the store holds comes back
    failed = st.records(status=("failed",))
    assert failed and {r.spec.lr for r in failed} == {6e-3}
    assert all("holds no finished run of gpt-tiny-1 at" in r.error and "lr 0.006" in r.error for r in failed)
