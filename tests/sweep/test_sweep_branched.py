"""Branched cooldowns end to end with the real trainer: a trunk and its branches on the local pool."""

from __future__ import annotations

import pytest

from scalinglab.store import ResultsStore, rundir
from scalinglab.sweep import plan_sweep, run_sweep
from scalinglab.train.checkpoint import checkpoint_path

pytestmark = pytest.mark.requires("torch")


def test_branches_start_from_the_trunk_checkpoint_and_land_in_the_store(tmp_path):
    plan = plan_sweep({"name": "branched", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1"],
                       "n_tokens": [40960, 81920, 163840], "lr": [3e-3],
                       "schedule": {"kind": "branched", "cooldown_frac": 0.2},
                       "eval": {"eval_tokens": 4096}})
    trunk = plan.specs[0]
    branches = plan.specs[1:]
    assert trunk.branch_of is None and all(b.branch_of == trunk.run_id for b in branches)
    rep = run_sweep(plan, backend="local", store=tmp_path / "st", workers=2, progress=False)
    assert rep.ok and len(rep.done) == 3
    with ResultsStore(tmp_path / "st") as st:
        for b in branches:
            # the checkpoint the coordinator waits for is the one the trainer writes
            ckpt = checkpoint_path(st.run_dir(trunk.run_id), b.branch_at)
            assert ckpt.exists()
            rec = st.get(b.run_id)
            assert rec.status == "done" and rec.n_data_seen == b.n_tokens
            assert rec.provenance["role"] == "branch"
            assert rec.provenance["units_trained"] == b.n_tokens - b.branch_at
        trunk_end = next(a["time"] for a in rundir.read_attempts(st.run_dir(trunk.run_id))
                         if a["event"] == "end")
        first_branch_start = min(rundir.read_attempts(st.run_dir(b.run_id))[0]["time"]
                                 for b in branches)
        # with two workers the shortest branch starts while its trunk is still training
        assert first_branch_start < trunk_end
        runs = st.to_runs()
        assert sorted(runs.n_tokens) == [40960, 81920, 163840]
