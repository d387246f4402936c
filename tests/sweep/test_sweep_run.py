"""run_sweep with the inline and local backends and the toy trainer (no torch needed)."""

from __future__ import annotations

import time

import pytest

from scalinglab.errors import BackendError, DataWarning, StoreError, UnknownNameError
from scalinglab.procedures import GPTConfig
from scalinglab.store import ResultsStore, RunSpec, rundir
from scalinglab.sweep import (
    get_backend,
    list_backends,
    plan_sweep,
    run_sweep,
    sweep_status,
)
from scalinglab.sweep.backends.base import default_workers
from scalinglab.sweep.worker import execute

TOY = "scalinglab.sweep._toy:train"


def toy_sweep(**over):
    cfg = {"name": "toy", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1", "gpt-tiny-2"],
           "n_tokens": [4096, 8192], "lr": [3e-3, 1e-2], "trainer": TOY,
           "extra": {"toy_steps": 2}}
    cfg.update(over)
    return plan_sweep(cfg)


def starts(store: ResultsStore, run_id: str) -> int:
    return sum(1 for a in rundir.read_attempts(store.run_dir(run_id)) if a["event"] == "start")


def test_inline_sweep_fills_the_store_and_rerun_trains_nothing(tmp_path):
    plan = toy_sweep()
    rep = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)
    assert rep.ok and len(rep.done) == len(plan) == 8 and not rep.skipped
    with ResultsStore(tmp_path / "st") as st:
        assert st.counts() == {"done": 8}
        mtimes = {r: (st.run_dir(r) / "record.json").stat().st_mtime_ns for r in plan.run_ids}
        runs = st.to_runs()
        assert len(runs) == 8 and set(runs.groups["rung"]) == {"gpt-tiny-1", "gpt-tiny-2"}
    again = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)
    assert len(again.skipped) == 8 and not again.done
    with ResultsStore(tmp_path / "st") as st:
        assert len(st) == 8
        for r in plan.run_ids:
            assert starts(st, r) == 1
            assert (st.run_dir(r) / "record.json").stat().st_mtime_ns == mtimes[r]


def test_failed_and_diverged_runs_are_recorded_and_never_stop_the_sweep(tmp_path):
    plan = toy_sweep(lr=[3e-3, 1e-2, 2.0], extra={"toy_steps": 2, "toy_fail": [1e-2]})
    rep = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)
    assert len(rep.done) == 4 and len(rep.diverged) == 4 and len(rep.failed) == 4
    assert not rep.ok and "asked to fail" in next(iter(rep.failed.values()))
    assert "4 failed" in str(rep)
    with ResultsStore(tmp_path / "st") as st:
        assert st.counts() == {"done": 4, "diverged": 4, "failed": 4}
        failed = st.records(status="failed")[0]
        assert "TrainingError" in failed.error and "traceback" in failed.provenance
        with pytest.warns(DataWarning, match="excluded 4 diverged"):
            assert len(st.to_runs()) == 4
    # failed runs are retried by default, and left alone with retry_failed=False
    rep2 = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)
    assert len(rep2.failed) == 4 and len(rep2.skipped) == 8
    rep3 = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False,
                     retry_failed=False)
    assert len(rep3.skipped) == 12 and not rep3.failed
    with ResultsStore(tmp_path / "st") as st:
        fid = st.records(status="failed")[0].run_id
        assert starts(st, fid) == 2


def test_a_record_written_by_a_worker_but_never_indexed_is_adopted(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3])
    st = ResultsStore(tmp_path / "st")
    first = plan.specs[0]
    execute(first, st.run_dir(first.run_id), TOY)      # worker finished; coordinator died
    assert first.run_id not in st
    rep = run_sweep(plan, backend="inline", store=st, progress=False)
    assert rep.skipped == (first.run_id,) and len(rep.done) == 1
    assert starts(st, first.run_id) == 1 and st.get(first.run_id).status == "done"
    st.close()


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3], n_tokens=[8192], extra={"toy_steps": 4})
    (spec,) = plan.specs
    st = ResultsStore(tmp_path / "st")
    run_dir = st.run_dir(spec.run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "toy_ckpt.json").write_text('{"step": 3}')     # a killed worker's last checkpoint
    run_sweep(plan, backend="inline", store=st, progress=False)
    rec = st.get(spec.run_id)
    assert rec.status == "done" and rec.provenance["resumed_from"] == 3 * 2048
    end = next(a for a in rundir.read_attempts(run_dir) if a["event"] == "end")
    assert end["resumed_from"] == 3 * 2048
    st.close()


def test_local_pool_runs_in_parallel_and_branches_wait_for_their_trunk(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3], n_tokens=[20480, 40960, 81920],
                     schedule={"kind": "branched"}, extra={"toy_steps": 3, "toy_step_s": 0.3})
    assert len(plan) == 3
    rep = run_sweep(plan, backend="local", store=tmp_path / "st", workers=2, progress=False)
    assert rep.ok and len(rep.done) == 3
    with ResultsStore(tmp_path / "st") as st:
        trunk = next(s for s in plan.specs if s.branch_of is None)
        t_end = next(a for a in rundir.read_attempts(st.run_dir(trunk.run_id))
                     if a["event"] == "end")
        for s in plan.specs:
            if s.branch_of:
                t_start = rundir.read_attempts(st.run_dir(s.run_id))[0]
                assert t_start["time"] >= t_end["time"]     # no trunk checkpoint file: waits for the end
        pids = {a["pid"] for r in plan.run_ids for a in rundir.read_attempts(st.run_dir(r))}
        assert len(pids) <= 2                                # long-lived workers, reused


def test_local_pool_survives_a_worker_crash(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3, 5e-3], n_tokens=[4096],
                     extra={"toy_steps": 1, "toy_crash": [5e-3]})
    rep = run_sweep(plan, backend="local", store=tmp_path / "st", workers=1, progress=False)
    assert len(rep.done) == 1 and len(rep.failed) == 1
    assert "worker process died (exit code 7)" in next(iter(rep.failed.values()))


def test_local_cancel_stops_a_running_and_a_queued_run(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3, 5e-3], n_tokens=[4096],
                     extra={"toy_steps": 50, "toy_step_s": 0.2})
    be = get_backend("local", trainer=TOY, runs_dir=tmp_path / "runs", workers=1)
    try:
        h1, h2 = be.submit_many(list(plan.specs))
        deadline = time.monotonic() + 60
        while not (tmp_path / "runs" / h1.run_id / "toy_ckpt.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert be.status(h1).state == "running" and be.status(h2).state == "queued"
        be.cancel(h2)
        be.cancel(h1)
        assert be.status(h1).state == "cancelled" and be.status(h2).state == "cancelled"
        assert not be._pool                       # the busy worker was terminated
    finally:
        be.close()


def test_a_second_coordinator_is_refused(tmp_path):
    plan = toy_sweep()
    with ResultsStore(tmp_path / "st") as st, st.writer_lock(), \
            pytest.raises(StoreError, match="another process"):
        run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)


def test_sweep_status_reports_pending_done_failed_and_interrupted(tmp_path):
    plan = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3, 1e-2], n_tokens=[4096],
                     extra={"toy_steps": 1, "toy_fail": [1e-2]})
    with pytest.raises(StoreError, match="no results store"):
        sweep_status(plan, tmp_path / "st")
    run_sweep(plan, backend="inline", store=tmp_path / "st", progress=False)
    bigger = toy_sweep(rungs=["gpt-tiny-1"], lr=[3e-3, 1e-2, 2e-2, 4e-2], n_tokens=[4096],
                       extra={"toy_steps": 1, "toy_fail": [1e-2]})
    from scalinglab.store import RunRecord

    with ResultsStore(tmp_path / "st") as st:     # runs a killed coordinator had submitted
        started, queued = bigger.specs[-2:]
        for s in (started, queued):
            st.put(RunRecord(run_id=s.run_id, spec=s, status="running"))
        rundir.append_attempt(st.run_dir(started.run_id), "start")   # only this one began
    status = sweep_status(bigger, tmp_path / "st")
    assert status["counts"] == {"done": 1, "failed": 1, "interrupted": 1, "pending": 1}
    assert not status["coordinator_running"]
    by_id = {r["run_id"]: r["status"] for r in status["runs"]}
    assert by_id[started.run_id] == "interrupted" and by_id[queued.run_id] == "pending"
    with ResultsStore(tmp_path / "st") as st, st.writer_lock():   # a live coordinator
        live = sweep_status(bigger, tmp_path / "st")
        assert live["coordinator_running"]
        by_id = {r["run_id"]: r["status"] for r in live["runs"]}
        assert by_id[started.run_id] == "running" and by_id[queued.run_id] == "queued"


def test_backend_registry_is_lazy_and_strict(tmp_path):
    assert list_backends() == ["inline", "local", "ray", "slurm"]
    with pytest.raises(UnknownNameError, match="Did you mean: local"):
        get_backend("locl", trainer=TOY, runs_dir=tmp_path)
    with pytest.raises(BackendError, match="does not accept"):
        get_backend("local", trainer=TOY, runs_dir=tmp_path, partition="x")


def test_a_trainer_returning_a_wrong_record_is_a_failed_run(tmp_path):
    spec = RunSpec(rung="gpt-tiny-1", model=GPTConfig(n_layer=1, d_model=8, n_head=1, seq_len=8,
                                                      vocab_size=256), n_data=64, lr=1e-3)
    rec = execute(spec, tmp_path / "r", "scalinglab.sweep._toy:toy_loss")
    assert rec["status"] == "failed" and "TypeError" in rec["error"]
    rec = execute(spec, tmp_path / "r", "scalinglab.sweep._toy:nope")
    assert rec["status"] == "failed" and "cannot import trainer" in rec["error"]


def test_a_script_without_a_main_guard_gets_told_how_to_fix_it(tmp_path):
    # spawned workers import the user's script again; its top-level run_sweep must not re-run
    import subprocess
    import sys

    script = tmp_path / "sweep_script.py"
    script.write_text(
        "from scalinglab.sweep import plan_sweep, run_sweep\n"
        f"plan = plan_sweep({{'name': 'toy', 'ladder': 'gpt-tiny', 'rungs': ['gpt-tiny-1'], "
        f"'n_tokens': [4096], 'lr': [3e-3], 'trainer': {TOY!r}, 'extra': {{'toy_steps': 1}}}})\n"
        f"print(run_sweep(plan, store={str(tmp_path / 'st')!r}, workers=1, progress=False))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert 'Put the call under `if __name__ == "__main__":`' in out.stderr
    assert "1 failed" in out.stdout and out.returncode == 0     # the coordinator reports, loses nothing


def test_a_continued_sweep_is_estimated_from_the_runs_in_the_store_and_reports_both(tmp_path, capsys):
    store = tmp_path / "st"
    half = toy_sweep(lr=[3e-3], extra={"toy_steps": 2, "toy_step_s": 0.1})
    first = run_sweep(half, backend="inline", store=store, progress=False)
    assert first.estimated_s == pytest.approx(half.cost(default_workers()).wall_s)     # nothing measured yet
    full = toy_sweep(lr=[3e-3, 1e-2], extra={"toy_steps": 2, "toy_step_s": 0.1})
    events = []
    rep = run_sweep(full, backend="inline", store=store, progress=events.append)
    start = next(e for e in events if e.kind == "start")
    assert start.n_skipped == 4 and start.cost.n_runs == 4
    assert "throughput measured on 4 finished run(s)" in str(start.cost)
    # the estimate printed is the measured one, not the file's (2 s overhead per run alone is 8 s)
    left = [r for r in full.runs if r.run_id not in half.run_ids]
    assert rep.estimated_s < sum(r.est_s for r in left) / 2
    assert f"(estimated {rep.estimated_s:.0f}s)" in str(rep) and len(rep.done) == 4


def test_the_library_reports_events_and_prints_nothing(tmp_path, capsys):
    """run_sweep reports through its progress callable; only the CLI draws (issue 10, item 6)."""
    from scalinglab.cli.progress import ProgressDisplay

    plan = toy_sweep(lr=[3e-3, 2.0], extra={"toy_steps": 2})
    events = []
    rep = run_sweep(plan, backend="inline", store=tmp_path / "st", progress=events.append)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and events[-1].report == rep
    finished = [e.record for e in events if e.kind == "finished"]
    assert sorted(r.run_id for r in finished) == sorted(plan.run_ids)
    assert {r.status for r in finished} == {"done", "diverged"}
    # the CLI's drawer turns the same events into lines (no live panel off a terminal)
    display = ProgressDisplay(live=False)
    for e in events:
        display(e)
    display("analysis: fit")
    err = capsys.readouterr().err
    assert "to train: 8 runs" in err and "diverged  loss became NaN" in err and "analysis: fit" in err
    assert sum(" done      val_loss " in line for line in err.splitlines()) == 4
