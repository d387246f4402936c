"""The executor protocol every backend implements: ``submit``, ``status``, ``cancel``.

A backend runs :func:`scalinglab.sweep.worker.execute` for a :class:`RunSpec` somewhere (this
process, a local process pool, a Slurm job array, a Ray cluster) and reports back the record
the worker returned. Backends never write the results store: the coordinator
(:func:`scalinglab.sweep.run_sweep`) inserts the records they return. (Pattern: httpx's
``BaseTransport.handle_request`` with ``MockTransport`` as the in-process test double.)
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from ...store.schema import RunSpec

__all__ = ["Backend", "BaseBackend", "Handle", "JobState", "JobStatus"]

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class Handle:
    """A submitted run: its id, the backend that holds it and the backend's own reference."""

    run_id: str
    backend: str
    ref: Any = field(compare=False)   # job id, future index, ObjectRef ...


@dataclass(frozen=True)
class JobStatus:
    """Where a submitted run stands.

    ``state`` is ``"done"`` whenever the worker returned a record (whose own ``status`` may be
    ``done``, ``diverged`` or ``failed``); ``"failed"`` means the *executor* lost the job (a
    worker process died, a Slurm job vanished) and ``error`` says how.
    """

    state: JobState
    record: dict[str, Any] | None = None   # RunRecord.to_dict() from the worker, when done
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")


@runtime_checkable
class Backend(Protocol):
    """What ``run_sweep`` needs from an executor (and nothing more)."""

    name: str

    def submit(self, spec: RunSpec) -> Handle: ...

    def status(self, handle: Handle) -> JobStatus: ...

    def cancel(self, handle: Handle) -> None: ...


class BaseBackend(abc.ABC):
    """Shared constructor and helpers; subclasses implement the three protocol methods.

    Parameters
    ----------
    trainer : str, optional
        ``"module:attr"`` of the training function, imported only inside the worker (default:
        each run's procedure's trainer).
    runs_dir : path
        The store's ``runs/`` directory; run ``x`` trains in ``runs_dir / x``.
    workers : int, optional
        Runs at once. Default: the CPU cores available to this process.
    threads_per_worker : int
        Torch intra-op threads per run (1: many small runs in parallel beat one fast run).
    trainer_options : dict, optional
        Keyword arguments passed to the trainer that do not change results (for
        ``scalinglab.train.loop:run``: ``checkpoint_every_s``, ``checkpoint_every_steps``).
    """

    name = "base"

    def __init__(self, *, trainer: str | None = None, runs_dir: str | Path, workers: int | None = None,
                 threads_per_worker: int = 1, trainer_options: dict[str, Any] | None = None) -> None:
        self.trainer = trainer
        self.trainer_options = dict(trainer_options or {})
        self.runs_dir = Path(runs_dir)
        self.workers = int(workers) if workers else default_workers()
        self.threads_per_worker = int(threads_per_worker)

    def run_dir(self, spec: RunSpec) -> Path:
        return self.runs_dir / spec.run_id

    @abc.abstractmethod
    def submit(self, spec: RunSpec) -> Handle:
        """Start (or queue) one run and return its handle."""

    @abc.abstractmethod
    def status(self, handle: Handle) -> JobStatus:
        """Where the run stands; carries the worker's record once it is done."""

    @abc.abstractmethod
    def cancel(self, handle: Handle) -> None:
        """Stop the run (best effort for a running one); its checkpoint stays for a resume."""

    def submit_many(self, specs: Sequence[RunSpec]) -> list[Handle]:
        """Submit several runs at once (Slurm turns them into one job array)."""
        return [self.submit(s) for s in specs]

    def close(self) -> None:
        """Release workers / connections. Running jobs of remote backends keep running."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers}, trainer={self.trainer!r})"


def default_workers() -> int:
    """CPU cores this process may use (``sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS
        return max(1, os.cpu_count() or 1)
