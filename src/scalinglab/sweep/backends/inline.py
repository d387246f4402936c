"""``inline``: run each submitted spec right away, in this process (tests, debugging).

``submit`` trains synchronously and returns once the run is finished, so ``status`` is always
final. Nothing is parallel and nothing is isolated: a trainer that crashes the interpreter
crashes the sweep. Use ``local`` for real work.
"""

from __future__ import annotations

from ...store.schema import RunSpec
from ..worker import execute
from .base import BaseBackend, Handle, JobStatus

__all__ = ["InlineBackend"]


class InlineBackend(BaseBackend):
    """Train in-process, one run at a time (the executor test double)."""

    name = "inline"

    def __init__(self, *, trainer: str | None = None, runs_dir, workers: int | None = None,
                 threads_per_worker: int | None = None, trainer_options=None) -> None:
        # threads: None keeps the caller's torch settings (we are in the caller's process)
        super().__init__(trainer=trainer, runs_dir=runs_dir, workers=1,
                         threads_per_worker=threads_per_worker or 0, trainer_options=trainer_options)
        self._results: dict[str, JobStatus] = {}

    def submit(self, spec: RunSpec) -> Handle:
        record = execute(spec, self.run_dir(spec), self.trainer,
                         threads=self.threads_per_worker or None,
                         trainer_options=self.trainer_options)
        self._results[spec.run_id] = JobStatus("done", record=record)
        return Handle(spec.run_id, self.name, spec.run_id)

    def status(self, handle: Handle) -> JobStatus:
        return self._results.get(handle.ref, JobStatus("failed", error="unknown handle"))

    def cancel(self, handle: Handle) -> None:
        """Nothing to cancel: an inline run is finished when ``submit`` returns."""
