"""SIGKILL a running sweep (coordinator and workers), re-run it: nothing lost, nothing retrained.

Uses the real trainer (``scalinglab.train.loop:run``) on the smallest rung with tiny budgets.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from scalinglab.store import ResultsStore, rundir
from scalinglab.sweep import plan_sweep, run_sweep

pytestmark = pytest.mark.requires("torch")

SHORT = [16384, 32768]          # 8 and 16 optimizer steps of 64 x 32 tokens
LONG = 409600 * 2               # 400 steps: still running when the short ones are done


def _starts(store, run_id):
    return sum(1 for a in rundir.read_attempts(store.run_dir(run_id)) if a["event"] == "start")


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_loses_and_retrains_nothing(tmp_path):
    sweep = tmp_path / "kill.yaml"
    sweep.write_text(yaml.safe_dump({
        "name": "kill", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1"], "n_tokens": SHORT + [LONG],
        "lr": [3e-3], "eval": {"eval_tokens": 4096}, "trainer_options": {"checkpoint_every_steps": 10}}))
    plan = plan_sweep(sweep)
    long_id, *short_ids = plan.run_ids        # longest first
    assert plan.specs[0].n_tokens == LONG
    store_path = tmp_path / "store"
    code = ("from scalinglab.sweep import run_sweep\n"
            f"run_sweep({str(sweep)!r}, backend='local', store={str(store_path)!r}, workers=2, "
            "progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    runs = store_path / "runs"
    last_ckpt = runs / long_id / "ckpt" / "last.pt"
    deadline = time.monotonic() + 150
    try:
        while True:
            finished = [r for r in short_ids if (runs / r / "record.json").exists()]
            if len(finished) == 2 and last_ckpt.exists():
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.05)
        assert not (runs / long_id / "record.json").exists(), "the long run finished too soon"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)       # the coordinator and every worker
        proc.wait(30)
    # the workers are gone: the interrupted run's checkpoint no longer moves
    mtime = last_ckpt.stat().st_mtime_ns
    time.sleep(1.0)
    assert last_ckpt.stat().st_mtime_ns == mtime

    with ResultsStore(store_path, readonly=True) as st:
        for r in short_ids:                        # finished before the kill: kept
            assert st.get(r) is not None and st.get(r).status in ("done", "running")
        assert st.get(long_id).status == "running"
    record_mtimes = {r: (runs / r / "record.json").stat().st_mtime_ns for r in short_ids}

    rep = run_sweep(plan, backend="local", store=store_path, workers=2, progress=False)
    assert rep.ok and rep.done == (long_id,) and set(rep.skipped) == set(short_ids)

    with ResultsStore(store_path) as st:
        assert st.counts() == {"done": 3}
        for r in short_ids:
            assert _starts(st, r) == 1                                    # never retrained
            assert (runs / r / "record.json").stat().st_mtime_ns == record_mtimes[r]
        assert _starts(st, long_id) == 2
        rec = st.get(long_id)
        resumed = rec.provenance["resumed_from_step"] * rec.provenance["units_per_step"]
        assert 0 < resumed < LONG                                         # from a checkpoint
        end = [a for a in rundir.read_attempts(runs / long_id) if a["event"] == "end"][-1]
        assert end["resumed_from"] == resumed
        assert rec.n_data_seen == LONG
    conn = sqlite3.connect(store_path / "results.sqlite")
    rows = conn.execute("SELECT run_id, COUNT(*) FROM runs GROUP BY run_id").fetchall()
    conn.close()
    assert sorted(rows) == sorted((r, 1) for r in plan.run_ids)          # no duplicated row
