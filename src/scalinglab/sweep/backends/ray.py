"""``ray``: one Ray task per run (``ray.init()`` locally, or an existing cluster by ``address``).

Each task asks for ``threads_per_worker`` CPUs, so Ray runs as many at once as the cluster has
cores (or ``workers``, which sizes a local ``ray.init``). Tasks are not retried by Ray: a lost
task is reported as failed and the next ``run_sweep`` call resumes it from its checkpoint.
"""

from __future__ import annotations

from typing import Any

from ..._optional import require
from ...errors import BackendError
from ...store.schema import RunSpec
from ..worker import execute
from .base import BaseBackend, Handle, JobStatus

__all__ = ["RayBackend"]


def _ray_execute(spec: dict[str, Any], run_dir: str, trainer: str | None, threads: int,
                 trainer_options: dict[str, Any]) -> dict[str, Any]:
    return execute(spec, run_dir, trainer, threads=threads, trainer_options=trainer_options)


class RayBackend(BaseBackend):
    """Run each spec as a Ray task.

    Parameters
    ----------
    trainer, runs_dir, workers, threads_per_worker, trainer_options
        See :class:`~scalinglab.sweep.backends.base.BaseBackend`. ``workers`` is the
        ``num_cpus`` of a local ``ray.init`` (default: the cores available).
    address : str, optional
        Connect to this Ray cluster (``"auto"``, ``"ray://host:10001"``) instead of starting one.
        The store must then be on a file system every node sees.
    init_options : dict, optional
        More ``ray.init`` arguments.
    """

    name = "ray"

    def __init__(self, *, trainer: str | None = None, runs_dir, workers: int | None = None,
                 threads_per_worker: int = 1, trainer_options=None, address: str | None = None,
                 init_options: dict[str, Any] | None = None) -> None:
        self.ray = require("ray", extra="ray", purpose="the ray backend")
        super().__init__(trainer=trainer, runs_dir=runs_dir, workers=workers,
                         threads_per_worker=threads_per_worker, trainer_options=trainer_options)
        self._owns_ray = False
        if not self.ray.is_initialized():
            opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                    "configure_logging": False}
            if address:
                opts["address"] = address
            else:
                opts["num_cpus"] = self.workers
            opts.update(init_options or {})
            try:
                self.ray.init(**opts)
            except Exception as exc:
                raise BackendError(f"cannot start ray: {exc}") from None
            self._owns_ray = True
        self._remote = self.ray.remote(num_cpus=self.threads_per_worker, max_retries=0)(_ray_execute)
        self._refs: dict[str, Any] = {}
        self._n = 0

    def submit(self, spec: RunSpec) -> Handle:
        self._n += 1
        key = f"{self._n}:{spec.run_id}"
        self._refs[key] = self._remote.remote(spec.to_dict(), str(self.run_dir(spec)), self.trainer,
                                              self.threads_per_worker, self.trainer_options)
        return Handle(spec.run_id, self.name, key)

    def status(self, handle: Handle) -> JobStatus:
        ref = self._refs.get(handle.ref)
        if ref is None:
            return JobStatus("failed", error="unknown handle")
        ready, _ = self.ray.wait([ref], timeout=0)
        if not ready:
            return JobStatus("running")
        try:
            record = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:
            return JobStatus("cancelled")
        except Exception as exc:   # worker died, object lost ...
            return JobStatus("failed", error=f"ray task failed: {type(exc).__name__}: {exc}")
        return JobStatus("done", record=record)

    def cancel(self, handle: Handle) -> None:
        ref = self._refs.get(handle.ref)
        if ref is not None:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:   # already finished
                pass

    def close(self) -> None:
        """Shut Ray down if this backend started it."""
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()
            self._owns_ray = False
