"""What a worker executes for one run, whatever the backend: :func:`execute`.

``execute`` imports the trainer named by a ``"module:attr"`` string (so the coordinator never
imports torch), trains in the run's own directory with ``resume=True`` (an interrupted run
continues from its last checkpoint), writes the record file atomically and returns the record
as a dict. It never raises for a failed training: the exception becomes a ``failed`` record, so
one bad run never stops a sweep. It never touches the results database.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._registry import import_target
from ..errors import ConfigError
from ..store import rundir
from ..store.schema import RunRecord, RunSpec

__all__ = ["ProgressFile", "execute", "resolve_trainer", "resumed_from", "set_threads"]


def resolve_trainer(target: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function."""
    fn = import_target(target, what="trainer")
    if not callable(fn):
        raise ConfigError(f"trainer {target!r} is not callable")
    return fn


def set_threads(threads: int | None) -> None:
    """Pin BLAS/OpenMP and torch intra-op threads (torch only if the trainer loaded it)."""
    if not threads:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "SCALINGLAB_TORCH_THREADS"):   # the last one is read by scalinglab.train.loop.run
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class ProgressFile:
    """Progress callback handed to the trainer: writes ``progress.json`` at most every ``every_s``.

    Accepts ``progress(seen=..., ...)``, ``progress({"seen": ...})`` or ``progress(seen)``, with
    ``seen`` the D units (tokens or samples) trained so far; other keys (``train_loss``,
    ``step``) are kept as they come.
    """

    def __init__(self, run_dir: Path, n_data: int, every_s: float = 1.0) -> None:
        self.run_dir = run_dir
        self.n_data = n_data
        self.every_s = every_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._seen0: int | None = None

    def __call__(self, *args: Any, **info: Any) -> None:
        if args and isinstance(args[0], dict):
            info = {**args[0], **info}
        elif args:
            info.setdefault("seen", args[0])
        seen = info.pop("seen", None)
        if seen is None:
            return
        seen = int(seen)
        now = time.monotonic()
        if self._seen0 is None:
            self._seen0, self._t0 = seen, now
        if now - self._last < self.every_s and seen < self.n_data:
            return
        self._last = now
        rate = info.pop("per_s", None)
        if rate is None and now > self._t0:
            rate = (seen - self._seen0) / (now - self._t0)
        info.pop("n_data", None)
        info = {k: v for k, v in info.items() if isinstance(v, (int, float, str, bool)) or v is None}
        try:
            rundir.write_progress(self.run_dir, seen=seen, per_s=rate, n_data=self.n_data, **info)
        except Exception:  # progress is cosmetic; never let it kill a run
            pass


def resumed_from(record: RunRecord) -> int | None:
    """D units of the checkpoint a run resumed from (0: from scratch; None: not reported).

    Reads the trainer's provenance: ``resumed_from``, or ``resumed_from_step`` times
    ``units_per_step``.
    """
    prov = record.provenance or {}
    if prov.get("resumed_from") is not None:
        return int(prov["resumed_from"])
    step, ups = prov.get("resumed_from_step", "absent"), prov.get("units_per_step")
    if step == "absent":
        return None
    return 0 if step is None else int(step) * int(ups or 0)


def _failed(spec: RunSpec, message: str, wall_s: float, tb: str | None = None) -> RunRecord:
    prov: dict[str, Any] = {"host": os.uname().nodename, "pid": os.getpid()}
    if tb:
        prov["traceback"] = tb[-4000:]
    return RunRecord(run_id=spec.run_id, spec=spec, status="failed", error=message,
                     wall_s=wall_s, provenance=prov)


def execute(spec: RunSpec | dict[str, Any], run_dir: str | Path, trainer: str | None = None, *,
            threads: int | None = 1, resume: bool = True,
            trainer_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one run in ``run_dir`` and return its record as a dict (never raises for a failure).

    Parameters
    ----------
    spec : RunSpec or dict
        The run.
    run_dir : path
        The run's own directory (``<store>/runs/<run_id>``); the trainer checkpoints there.
    trainer : str, optional
        ``"module:attr"`` of ``run(spec, *, run_dir, resume=True, progress=None) -> RunRecord``
        (default: the trainer of the spec's procedure).
    threads : int or None
        Intra-op threads for this run (None: leave as is).
    resume : bool
        Continue from the run directory's last checkpoint when there is one.
    trainer_options : dict, optional
        Extra keyword arguments for the trainer that do not change its result (e.g.
        ``checkpoint_every_s`` of ``scalinglab.train.loop.run``); not part of the run id.

    Notes
    -----
    Each call appends a ``start`` and an ``end`` line to ``run_dir/attempts.jsonl``: the number
    of ``start`` lines is the number of times the run was (re)started, and the ``end`` line
    records ``resumed_from`` (see :func:`resumed_from`).
    """
    if isinstance(spec, dict):
        spec = RunSpec.from_dict(spec)
    run_dir = Path(run_dir)
    trainer = trainer or spec.procedure_spec.trainer
    t0 = time.time()
    rundir.append_attempt(run_dir, "start", run_id=spec.run_id, trainer=trainer)
    progress = ProgressFile(run_dir, spec.n_data)
    try:
        fn = resolve_trainer(trainer)
        set_threads(threads)
        out = fn(spec, run_dir=run_dir, resume=resume, progress=progress, **(trainer_options or {}))
        record = out if isinstance(out, RunRecord) else RunRecord.from_dict(dict(out))
        if record.run_id != spec.run_id:
            record = _failed(spec, f"trainer {trainer!r} returned a record for run "
                                   f"{record.run_id!r}, not {spec.run_id!r}", time.time() - t0)
    except Exception as exc:  # a failed run is recorded, never raised
        record = _failed(spec, f"{type(exc).__name__}: {exc}", time.time() - t0,
                         traceback.format_exc())
    rundir.write_record(run_dir, record)
    rundir.append_attempt(run_dir, "end", run_id=spec.run_id, status=record.status,
                           seen=record.n_data_seen, resumed_from=resumed_from(record))
    return record.to_dict()
