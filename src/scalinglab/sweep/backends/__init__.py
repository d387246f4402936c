"""Executors for sweeps, registered by name with lazy ``"module:attr"`` targets.

What to use when
----------------
* ``local`` (default): a process pool on this machine, one worker per core.
* ``slurm``: a Slurm cluster through submitit; the runs of a sweep go out as job arrays and a
  preempted or timed-out job is requeued and resumes from its checkpoint. Needs
  ``scalinglab[slurm]``.
* ``ray``: a Ray cluster (``ray.init()`` locally, or ``address=``). Needs ``scalinglab[ray]``.
* ``inline``: in this process, one run at a time (tests and debugging).

Getting ``slurm`` imports submitit only then; listing backends imports nothing.
"""

from __future__ import annotations

from typing import Any

from ..._registry import Registry
from ...errors import BackendError
from .base import Backend, BaseBackend, Handle, JobState, JobStatus

__all__ = ["BACKENDS", "Backend", "BaseBackend", "Handle", "JobState", "JobStatus", "get_backend",
           "list_backends"]

BACKENDS: Registry = Registry("backend")
BACKENDS.register("inline", target="scalinglab.sweep.backends.inline:InlineBackend")
BACKENDS.register("local", target="scalinglab.sweep.backends.local:LocalBackend")
BACKENDS.register("slurm", target="scalinglab.sweep.backends.slurm:SlurmBackend")
BACKENDS.register("ray", target="scalinglab.sweep.backends.ray:RayBackend")


def list_backends() -> list[str]:
    """Names of the registered backends."""
    return BACKENDS.names()


def get_backend(name: str, **options: Any) -> BaseBackend:
    """Instantiate the backend ``name`` with ``options`` (``trainer``, ``runs_dir``, ``workers`` ...).

    Raises
    ------
    UnknownNameError
        Unknown backend name (with suggestions).
    BackendError
        The backend's package (submitit, ray) is missing or it cannot start.
    """
    try:
        cls = BACKENDS.get(name)
    except ImportError as exc:
        raise BackendError(f"backend {name!r} is not available: {exc}") from None
    try:
        return cls(**options)
    except ImportError as exc:
        raise BackendError(f"backend {name!r} is not available: {exc}") from None
    except TypeError as exc:
        raise BackendError(f"backend {name!r} does not accept these options: {exc}") from None
