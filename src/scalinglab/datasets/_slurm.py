"""A recipe's datatrove stages on Slurm: submitted as dependent job arrays, waited for, checked.

Imported only when a recipe with ``executor: {kind: slurm}`` runs (it imports datatrove). Each
stage becomes one datatrove ``SlurmPipelineExecutor`` (a job array of the stage's tasks, at most
``workers`` at once) that starts after the stage before it succeeded (``--dependency=afterok``);
the stages are the same objects the local executor runs, so the same recipe gives the same
shards, manifest hash and audit on a laptop and on a cluster (tested on a real single-node Slurm).

The build folder (``<data dir>/.building-*``) must be on a file system the compute nodes share
with the submitting machine, as for any datatrove Slurm pipeline.

Waiting is done here, by polling: a stage is done when datatrove has written a completion marker
for each of its tasks; a job array element that ends FAILED/CANCELLED/TIMEOUT/..., a job whose
dependency can never be satisfied, or a stage whose jobs left the queue without completing all its
tasks, cancels every job of the recipe and raises :class:`~scalinglab.errors.DataError` naming the
stage and quoting its log. An interrupt (Ctrl-C) cancels the jobs too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from datatrove.executor import SlurmPipelineExecutor

from ..errors import DataError

FAILED_STATES = ("FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE",
                 "PREEMPTED", "SPECIAL_EXIT")
LOG_LINES = 8                      # lines of a failed task's log quoted in the error


class _Stage(SlurmPipelineExecutor):
    """datatrove's Slurm executor without its stats-merging follow-up job (scalinglab's audit reads
    its own counts, and the build folder is gone by the time such a job would run)."""

    def launch_merge_stats(self) -> None:
        return None


def _squeue(job_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Job id -> [(state, reason)] of its array elements still known to slurmctld."""
    out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(job_ids), "-o", "%F|%T|%r"],
                         capture_output=True, text=True)
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        raise DataError(f"squeue failed while waiting for the recipe's Slurm jobs: {out.stderr.strip()}; "
                        "check that the Slurm controller answers (sinfo)")
    states: dict[str, list[tuple[str, str]]] = {}
    for line in out.stdout.splitlines():
        job, state, reason = (line.split("|") + ["", ""])[:3]
        states.setdefault(job.strip(), []).append((state.strip(), reason.strip()))
    return states


def _cancel(job_ids: Sequence[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True, text=True)


def _log_tail(folder: Path) -> str:
    logs = sorted(folder.glob("slurm_logs/*.out")) + sorted(folder.glob("logs/task_*.log"))
    for p in reversed(logs):
        lines = [ln for ln in p.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return f"{p.name}: " + " | ".join(lines[-LOG_LINES:])
    return "no log written"


class SlurmRun:
    """The submitted stages of one recipe: :meth:`wait` for them, :meth:`cancel` them."""

    def __init__(self, stages: Sequence[Any], jobs: Sequence[str], *, name: str, logs: Path, poll_s: float) -> None:
        self.stages, self.jobs, self.name, self.logs, self.poll_s = list(stages), list(jobs), name, logs, poll_s

    def cancel(self) -> None:
        _cancel(self.jobs)

    def wait(self, progress: Callable[[str], None] | None = None) -> None:
        """Return when every stage completed; on a failure (or an interrupt) cancel every job and raise."""
        try:
            _wait(self.stages, self.jobs, logs=self.logs, name=self.name, poll=self.poll_s, progress=progress)
        except BaseException:
            self.cancel()
            raise


def submit(stages: Sequence[Any], *, name: str, logs: Path, options: Mapping[str, Any], workers: int) -> SlurmRun:
    """Submit ``stages`` (``recipe.Stage``) as Slurm job arrays, each after the one before it.

    ``options`` are the recipe's ``executor`` keys for Slurm (``partition``, ``time``,
    ``cpus_per_task``, ``mem_per_cpu_gb``, ``qos``, ``sbatch_args``, ``env_command``, ``poll_s``).
    """
    venv = Path(sys.prefix) / "bin" / "activate"
    env_command = options.get("env_command") or (f"source {venv}" if venv.exists() else None)
    partition = options.get("partition") or _default_partition()
    prev: _Stage | None = None
    executors: list[_Stage] = []
    for st in stages:
        prev = _Stage(st.pipeline, tasks=st.tasks, workers=min(workers, st.tasks), time=options.get("time", "01:00:00"),
                      partition=partition, cpus_per_task=int(options.get("cpus_per_task", 1)),
                      mem_per_cpu_gb=int(options.get("mem_per_cpu_gb", 2)), qos=options.get("qos") or None,
                      job_name=f"{name}-{st.name}", logging_dir=str(logs / st.name), skip_completed=False,
                      env_command=env_command, sbatch_args=dict(options.get("sbatch_args") or {}), depends=prev,
                      requeue=False)
        executors.append(prev)
    try:
        executors[-1].run()           # launches the chain: every stage after the one it depends on
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        _cancel([str(ex.job_id) for ex in executors if ex.job_id not in (None, -1)])
        raise DataError(f"recipe {name!r}: sbatch refused a stage ({e}); check that Slurm answers (sinfo) and the "
                        "recipe's executor options (partition, time, qos, sbatch_args)") from e
    return SlurmRun(stages, [str(ex.job_id) for ex in executors], name=name, logs=logs,
                    poll_s=float(options.get("poll_s", 2.0)))


def _default_partition() -> str:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True)
    parts = [p.strip() for p in out.stdout.split()]
    default = [p.rstrip("*") for p in parts if p.endswith("*")]
    if out.returncode != 0 or not (default or parts):
        raise DataError("the recipe runs on Slurm but `sinfo` names no partition; set executor.partition "
                        f"in the recipe ({out.stderr.strip() or 'no partitions'})")
    return (default or parts)[0].rstrip("*")


def _completed(folder: Path) -> int:
    return len(list((folder / "completions").glob("*"))) if (folder / "completions").exists() else 0


def _wait(stages, jobs, *, logs: Path, name: str, poll: float, progress) -> None:
    done = [False] * len(stages)
    gone = [0] * len(stages)
    while not all(done):
        queue = _squeue(jobs)
        for k, (st, job) in enumerate(zip(stages, jobs)):
            if done[k]:
                continue
            folder = logs / st.name
            n = _completed(folder)
            if n >= st.tasks:
                done[k] = True
                if progress:
                    progress(f"{name}: {st.name} done ({st.tasks} task(s), job {job})")
                continue
            elements = queue.get(job, [])
            bad = [s for s, _ in elements if s in FAILED_STATES]
            never = [r for s, r in elements if s == "PENDING" and "DependencyNeverSatisfied" in r]
            ended = all(s == "COMPLETED" or s in FAILED_STATES for s, _ in elements)   # True when none listed
            gone[k] = gone[k] + 1 if ended else 0
            if bad or never or gone[k] >= 3:
                why = (f"a task ended {bad[0]}" if bad else
                       "its dependency failed" if never else "its jobs ended without completing every task")
                failed = next((i for i in range(k, -1, -1) if _completed(logs / stages[i].name) < stages[i].tasks
                               and (logs / stages[i].name / "slurm_logs").exists()), k)
                raise DataError(f"recipe {name!r}: Slurm stage {st.name!r} (job {job}) did not finish: {why}, "
                                f"{n} of {st.tasks} task(s) completed. Log of stage {stages[failed].name!r}: "
                                f"{_log_tail(logs / stages[failed].name)}. Nothing was written; fix the cause "
                                "and build again (or run the recipe with executor kind: local)")
        if not all(done):
            time.sleep(poll)
