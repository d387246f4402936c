"""The slurm backend on a real Slurm cluster (``.ci/slurm-up.sh`` starts one on loopback).

Skipped only when ``sinfo`` does not answer. Uses the real trainer on the ``ci`` preset.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from scalinglab.store import ResultsStore, rundir
from scalinglab.sweep import get_backend, plan_sweep, run_sweep

pytestmark = [pytest.mark.slurm, pytest.mark.requires("slurm", "submitit", "torch")]


def test_ci_sweep_runs_as_a_job_array_and_lands_in_the_store(tmp_path):
    plan = plan_sweep("ci")
    store = tmp_path / "store"
    rep = run_sweep(plan, backend="slurm", store=store, workers=2, progress=False,
                    backend_options={"timeout_min": 10})
    assert rep.ok and len(rep.done) == len(plan) == 4
    # all four ready runs went out in one sbatch --array: submitit names array tasks <job>_<index>
    submitted = sorted(p.name for p in (store / ".submitit").glob("*_submitted.pkl"))
    job_ids = {n.split("_")[0] for n in submitted}
    assert len(submitted) == 4 and len(job_ids) == 1
    assert sorted(int(n.split("_")[1]) for n in submitted) == [0, 1, 2, 3]
    with ResultsStore(store) as st:
        assert st.counts() == {"done": 4}
        assert all(r.val_loss > 0 for r in st.records())
        assert len(st.to_runs()) == 4
    again = run_sweep(plan, backend="slurm", store=store, progress=False)
    assert len(again.skipped) == 4 and not again.done


def test_a_requeued_job_resumes_from_its_checkpoint(tmp_path):
    plan = plan_sweep({"name": "requeue", "ladder": "gpt-tiny", "rungs": ["gpt-tiny-1"],
                       "n_tokens": [1228800], "lr": [3e-3], "eval": {"eval_tokens": 4096},
                       "trainer_options": {"checkpoint_every_steps": 10}})
    (spec,) = plan.specs
    st = ResultsStore(tmp_path / "store")
    be = get_backend("slurm", trainer=plan.trainer, runs_dir=st.runs_dir, workers=1,
                     trainer_options=dict(plan.config.trainer_options), timeout_min=10)
    (h,) = be.submit_many([spec])
    ckpt = st.run_dir(spec.run_id) / "ckpt" / "last.pt"
    deadline = time.monotonic() + 120
    while not ckpt.exists():
        assert time.monotonic() < deadline and not be.status(h).finished
        time.sleep(0.2)
    assert not (st.run_dir(spec.run_id) / "record.json").exists()   # still training
    # what a preemption or an administrator does: kill the job and put it back in the queue
    # (SIGTERM: the trainer checkpoints at its next step and ends; it writes no record)
    subprocess.run(["scontrol", "requeue", str(h.ref)], check=True, timeout=30)
    # Slurm holds a requeued job for ~2 minutes (BeginTime) so that it cannot start while the
    # node still refuses the credential of its killed allocation: slurmd revokes that credential
    # at the requeue, and a launch whose credential was created in the same second is killed as
    # "Job credential revoked" (slurmctld.log: "Killing non-startable batch JobId=N"; the job then
    # leaves the queue with no second attempt). So release the hold once, two seconds ahead,
    # instead of "now" the moment the job pends.
    record, states, released = st.run_dir(spec.run_id) / "record.json", [], False
    deadline = time.monotonic() + 240
    while not record.exists() or not be.status(h).finished:
        state = subprocess.run(["squeue", "-h", "-j", str(h.ref), "-o", "%T %r"], check=False,
                               capture_output=True, text=True, timeout=30).stdout.strip()
        if not states or states[-1] != state:
            states.append(state)
        if state.startswith("PENDING") and not released:
            subprocess.run(["scontrol", "update", f"jobid={h.ref}", "StartTime=now+2"],
                           check=True, capture_output=True, timeout=30)
            released = True
        assert time.monotonic() < deadline, (
            f"the requeued job never finished; squeue states {states}, attempts "
            f"{rundir.read_attempts(st.run_dir(spec.run_id))}, job: " + subprocess.run(
                ["scontrol", "show", "job", str(h.ref)], capture_output=True, text=True, timeout=30).stdout[:1500])
        time.sleep(0.5)
    status = be.status(h)
    assert status.state == "done", status.error
    rec = status.record
    assert rec["status"] == "done"
    assert rec["provenance"]["resumed_from_step"] > 0
    events = [a["event"] for a in rundir.read_attempts(st.run_dir(spec.run_id))]
    assert events == ["start", "start", "end"]       # the first attempt never finished
    be.close()
    st.close()


def test_a_clip_sweep_runs_as_slurm_jobs(tmp_path):
    """A CLIP trunk and its cooldown branch (which waits for the trunk's checkpoint) as Slurm jobs."""
    from _lv import CLIP_SWEEP

    from scalinglab.datasets import get_world

    plan = plan_sweep(CLIP_SWEEP)
    store = tmp_path / "store"
    rep = run_sweep(plan, backend="slurm", store=store, workers=2, progress=False,
                    backend_options={"timeout_min": 10})
    assert rep.ok and len(rep.done) == len(plan) == 2, str(rep)
    assert list((store / ".submitit").glob("*_submitted.pkl"))
    with ResultsStore(store) as st:
        recs = st.records()
        assert {r.spec.procedure for r in recs} == {"clip"} and {r.status for r in recs} == {"done"}
        assert {r.dataset_hash for r in recs} == {get_world("shapeworld").hash}
        assert all(0 <= r.metrics["zeroshot_error"] <= 1 and r.metrics_se["zeroshot_error"] >= 0 for r in recs)
        assert sorted(r.provenance["role"] for r in recs) == ["branch", "trunk"]
        runs = st.to_runs("zeroshot_error", flops_convention="forward")
        assert len(runs) == 2 and set(runs.groups["procedure"]) == {"clip"}
