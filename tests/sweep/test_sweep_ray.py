"""The ray backend with a local ``ray.init(num_cpus=2)``, real trainer, the ``ci`` preset."""

from __future__ import annotations

import os

import pytest

from scalinglab.store import ResultsStore, rundir
from scalinglab.sweep import plan_sweep, run_sweep

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.requires("ray", "torch")]


def test_ci_sweep_on_a_local_ray_cluster(tmp_path):
    plan = plan_sweep("ci")
    rep = run_sweep(plan, backend="ray", store=tmp_path / "store", workers=2, progress=False)
    assert rep.ok and len(rep.done) == len(plan) == 4
    with ResultsStore(tmp_path / "store") as st:
        assert st.counts() == {"done": 4}
        for r in st.records():        # trained in Ray worker processes, not in this one
            pids = {a["pid"] for a in rundir.read_attempts(st.run_dir(r.run_id))}
            assert pids and os.getpid() not in pids
        assert len(st.to_runs()) == 4
    import ray

    assert not ray.is_initialized()     # the backend shut down the cluster it started


def test_a_clip_sweep_on_a_local_ray_cluster(tmp_path):
    from _lv import CLIP_SWEEP

    from scalinglab.datasets import get_world

    plan = plan_sweep(CLIP_SWEEP)
    rep = run_sweep(plan, backend="ray", store=tmp_path / "store", workers=2, progress=False)
    assert rep.ok and len(rep.done) == len(plan) == 2, str(rep)
    with ResultsStore(tmp_path / "store") as st:
        recs = st.records()
        assert {r.spec.procedure for r in recs} == {"clip"} and {r.status for r in recs} == {"done"}
        assert {r.dataset_hash for r in recs} == {get_world("shapeworld").hash}
        for r in recs:                 # trained in Ray worker processes, not in this one
            pids = {a["pid"] for a in rundir.read_attempts(st.run_dir(r.run_id))}
            assert pids and os.getpid() not in pids
            assert "zeroshot_error" in r.metrics_se
        assert len(st.to_runs("zeroshot_error")) == 2
