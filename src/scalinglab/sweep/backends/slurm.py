"""``slurm``: runs as Slurm jobs through submitit; the runs submitted together form one job array.

Each array task runs :func:`scalinglab.sweep.worker.execute` for one spec with
``cpus_per_task`` CPUs. The task is *checkpointable* in submitit's sense: when Slurm preempts it
or its time limit nears (``SIGUSR2``, ``signal_delay_s`` before the end) submitit requeues the
same call, and the trainer resumes from the checkpoint in the run directory. A job that is
requeued by an administrator (``scontrol requeue``) restarts the same way.

The submitit folder (job pickles and logs) and the store must be on a file system that the
compute nodes see; the default folder is ``<store>/.submitit``. Job state comes from
``squeue``, so the cluster needs no accounting database (``sacct``).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..._optional import require
from ...errors import BackendError
from ...store.schema import RunSpec
from ..worker import execute
from .base import BaseBackend, Handle, JobStatus

__all__ = ["SlurmBackend"]

_RUNNING = {"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SUSPENDED", "RESIZING", "SIGNALING"}
_QUEUED = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
LOST_AFTER_S = 15.0   # a job neither in squeue nor with a result for this long is lost


class _SlurmTask:
    """The callable submitit pickles: train one run; on preemption, requeue the same call."""

    def __call__(self, spec: dict[str, Any], run_dir: str, trainer: str | None, threads: int,
                 trainer_options: dict[str, Any]) -> dict[str, Any]:
        return execute(spec, run_dir, trainer, threads=threads, trainer_options=trainer_options)

    def checkpoint(self, *args: Any, **kwargs: Any):
        # the trainer checkpoints by itself into run_dir; resubmitting the same call resumes it
        helpers = require("submitit.helpers", extra="slurm")
        return helpers.DelayedSubmission(self, *args, **kwargs)


class SlurmBackend(BaseBackend):
    """Submit runs to Slurm with submitit.

    Parameters
    ----------
    trainer, runs_dir, workers, threads_per_worker, trainer_options
        See :class:`~scalinglab.sweep.backends.base.BaseBackend`. ``workers`` caps how many
        tasks of an array run at once (``--array=0-N%workers``; default 256).
    folder : path, optional
        submitit's folder for job pickles and logs (default ``<runs_dir>/../.submitit``). It
        must be visible from the compute nodes.
    partition : str, optional
        Slurm partition (default: the cluster's default partition).
    cpus_per_task : int
        CPUs per run (also the trainer's thread count unless ``threads_per_worker`` is set).
    timeout_min : int
        Time limit per job in minutes; a run still going then is requeued and resumes.
    mem_gb : float, optional
        Memory per job.
    signal_delay_s : int
        Seconds before the time limit at which submitit checkpoints and requeues.
    max_requeues : int
        How many times one run may be requeued after a timeout.
    slurm_options : dict, optional
        Any other ``sbatch`` options, e.g. ``{"account": "proj", "qos": "low"}``.
    """

    name = "slurm"

    def __init__(self, *, trainer: str | None = None, runs_dir, workers: int | None = None,
                 threads_per_worker: int | None = None, trainer_options=None,
                 folder: str | Path | None = None, partition: str | None = None,
                 cpus_per_task: int = 1, timeout_min: int = 60, mem_gb: float | None = None,
                 signal_delay_s: int = 60, max_requeues: int = 3,
                 slurm_options: dict[str, Any] | None = None) -> None:
        submitit = require("submitit", extra="slurm", purpose="the slurm backend")
        super().__init__(trainer=trainer, runs_dir=runs_dir, workers=workers or 256,
                         threads_per_worker=threads_per_worker or cpus_per_task,
                         trainer_options=trainer_options)
        self.folder = Path(folder) if folder else Path(runs_dir).parent / ".submitit"
        self.folder.mkdir(parents=True, exist_ok=True)
        # submitit logs a warning on every failed `sacct` call; clusters without accounting
        # (like the CI's) are fine for us because state comes from squeue.
        logging.getLogger("submitit").setLevel(logging.ERROR)
        params: dict[str, Any] = {"timeout_min": int(timeout_min), "cpus_per_task": int(cpus_per_task),
                                  "slurm_array_parallelism": self.workers,
                                  "slurm_signal_delay_s": int(signal_delay_s),
                                  "name": "scalinglab",
                                  "slurm_setup": [f"export OMP_NUM_THREADS={self.threads_per_worker}"]}
        if partition:
            params["slurm_partition"] = partition
        if mem_gb is not None:
            params["mem_gb"] = mem_gb
        for k, v in (slurm_options or {}).items():
            params[k if k.startswith("slurm_") else f"slurm_{k}"] = v
        try:
            self.executor = submitit.AutoExecutor(folder=self.folder, cluster="slurm",
                                                  slurm_max_num_timeout=int(max_requeues))
            self.executor.update_parameters(**params)
        except Exception as exc:   # no sbatch on PATH, a bad option name ...
            raise BackendError(f"cannot set up the slurm backend: {exc}") from None
        self._jobs: dict[str, Any] = {}
        self._missing_since: dict[str, float] = {}
        self._squeue: dict[str, str] = {}
        self._squeue_at = 0.0

    # -- protocol ---------------------------------------------------------------------------
    def _args(self, spec: RunSpec) -> tuple:
        return (spec.to_dict(), str(self.run_dir(spec)), self.trainer, self.threads_per_worker,
                self.trainer_options)

    def submit(self, spec: RunSpec) -> Handle:
        return self.submit_many([spec])[0]

    def submit_many(self, specs: Sequence[RunSpec]) -> list[Handle]:
        """Submit the specs as one job array (a single run is a plain job)."""
        specs = list(specs)
        if not specs:
            return []
        task = _SlurmTask()
        try:
            if len(specs) == 1:
                jobs = [self.executor.submit(task, *self._args(specs[0]))]
            else:
                with self.executor.batch():
                    jobs = [self.executor.submit(task, *self._args(s)) for s in specs]
        except Exception as exc:   # sbatch refused (bad partition, no controller ...)
            raise BackendError(f"sbatch failed: {exc}") from None
        handles = []
        for spec, job in zip(specs, jobs):
            self._jobs[job.job_id] = job
            handles.append(Handle(spec.run_id, self.name, job.job_id))
        self._squeue_at = 0.0
        return handles

    def status(self, handle: Handle) -> JobStatus:
        job = self._jobs.get(handle.ref)
        if job is None:
            return JobStatus("failed", error=f"unknown slurm job {handle.ref}")
        if job.paths.result_pickle.exists():
            return self._outcome(job)
        state = self._queue_state().get(str(job.job_id))
        if state is not None:
            self._missing_since.pop(job.job_id, None)
            if state in _QUEUED:
                return JobStatus("queued")
            if state in _RUNNING:
                return JobStatus("running")
        # gone from the queue (or in a final state) without a result yet: give the file system
        # a moment (the result pickle is written before the job ends), then call it lost
        first = self._missing_since.setdefault(job.job_id, time.monotonic())
        if time.monotonic() - first < LOST_AFTER_S:
            return JobStatus("running")
        if job.paths.result_pickle.exists():
            return self._outcome(job)
        return JobStatus("failed", error=f"slurm job {job.job_id} ended without a result "
                                         f"(state {state or 'gone'}); log: {job.paths.stderr}"
                                         + _tail(job.paths.stderr))

    def cancel(self, handle: Handle) -> None:
        job = self._jobs.get(handle.ref)
        if job is not None:
            try:
                job.cancel(check=False)
            except Exception:   # already finished
                pass

    # -- internals -----------------------------------------------------------------------------
    def _outcome(self, job: Any) -> JobStatus:
        try:
            record = job.result()
        except Exception as exc:   # the job raised outside execute (unpickling, environment)
            return JobStatus("failed", error=f"slurm job {job.job_id} failed: "
                                             f"{str(exc).strip()[-2000:]}")
        return JobStatus("done", record=record)

    def _queue_state(self) -> dict[str, str]:
        """``{job_id: state}`` from one ``squeue`` call, cached for a second."""
        now = time.monotonic()
        if now - self._squeue_at < 1.0:
            return self._squeue
        try:
            out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-n", "scalinglab"],
                                 check=False, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"cannot query slurm (squeue): {exc}") from None
        if out.returncode != 0:
            # a controller hiccup: keep the last answer rather than declare every job lost
            return self._squeue
        states = {}
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2:
                states[parts[0]] = parts[1]
        self._squeue, self._squeue_at = states, now
        return states


def _tail(path: Path, n: int = 20) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return ""
    return ("\n" + "\n".join(lines)) if lines else ""
