"""What a worker executes for one run, whatever the backend: :func:`execute`.

``execute`` imports the trainer named by a ``"module:attr"`` string (so the coordinator never
imports torch), trains in the run's own directory with ``resume=True`` (an interrupted run
continues from its last checkpoint), writes the record file atomically and returns the record
as a dict. It never raises for a failed training: the exception becomes a ``failed`` record, so
one bad run never stops a sweep. It never touches the results database.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store import _rundir
from ..store.schema import RunRecord, RunSpec

__all__ = ["ProgressFile", "execute", "resolve_trainer", "resumed_from_tokens", "set_threads"]

DEFAULT_TRAINER = "scalinglab.train.loop:run"


def resolve_trainer(target: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` and return the function."""
    mod, sep, attr = str(target).partition(":")
    if not sep or not mod or not attr:
        raise ConfigError(f"trainer must look like 'package.module:function'; got {target!r}")
    try:
        fn = getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import trainer {target!r}: {exc}") from None
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

    Accepts ``progress(tokens_seen=..., ...)``, ``progress({"tokens_seen": ...})`` or
    ``progress(tokens_seen)``; other keys (``train_loss``, ``step``) are kept as they come.
    """

    def __init__(self, run_dir: Path, n_tokens: int, every_s: float = 1.0) -> None:
        self.run_dir = run_dir
        self.n_tokens = n_tokens
        self.every_s = every_s
        self._last = 0.0
        self._t0 = time.monotonic()
        self._tokens0: int | None = None

    def __call__(self, *args: Any, **info: Any) -> None:
        if args and isinstance(args[0], dict):
            info = {**args[0], **info}
        elif args:
            info.setdefault("tokens_seen", args[0])
        tokens = info.pop("tokens_seen", None)
        if tokens is None:
            tokens = info.pop("tokens", None)
        if tokens is None:
            return
        tokens = int(tokens)
        now = time.monotonic()
        if self._tokens0 is None:
            self._tokens0, self._t0 = tokens, now
        if now - self._last < self.every_s and tokens < self.n_tokens:
            return
        self._last = now
        rate = info.pop("tokens_per_s", None)
        if rate is None and now > self._t0:
            rate = (tokens - self._tokens0) / (now - self._t0)
        info.pop("n_tokens", None)
        info = {k: v for k, v in info.items() if isinstance(v, (int, float, str, bool)) or v is None}
        try:
            _rundir.write_progress(self.run_dir, tokens_seen=tokens, tokens_per_s=rate,
                                   n_tokens=self.n_tokens, **info)
        except Exception:  # progress is cosmetic; never let it kill a run
            pass


def resumed_from_tokens(record: RunRecord) -> int | None:
    """Tokens of the checkpoint a run resumed from (0: from scratch; None: not reported).

    Reads the trainer's provenance: ``resumed_from_tokens``, or ``resumed_from_step`` times
    ``tokens_per_step``.
    """
    prov = record.provenance or {}
    if prov.get("resumed_from_tokens") is not None:
        return int(prov["resumed_from_tokens"])
    step, tps = prov.get("resumed_from_step", "absent"), prov.get("tokens_per_step")
    if step == "absent":
        return None
    return 0 if step is None else int(step) * int(tps or 0)


def _failed(spec: RunSpec, message: str, wall_s: float, tb: str | None = None) -> RunRecord:
    prov: dict[str, Any] = {"host": os.uname().nodename, "pid": os.getpid()}
    if tb:
        prov["traceback"] = tb[-4000:]
    return RunRecord(run_id=spec.run_id, spec=spec.to_dict(), status="failed", error=message,
                     wall_s=wall_s, provenance=prov)


def execute(spec: RunSpec | dict[str, Any], run_dir: str | Path, trainer: str = DEFAULT_TRAINER, *,
            threads: int | None = 1, resume: bool = True,
            trainer_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train one run in ``run_dir`` and return its record as a dict (never raises for a failure).

    Parameters
    ----------
    spec : RunSpec or dict
        The run.
    run_dir : path
        The run's own directory (``<store>/runs/<run_id>``); the trainer checkpoints there.
    trainer : str
        ``"module:attr"`` of ``run(spec, *, run_dir, resume=True, progress=None) -> RunRecord``.
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
    records ``resumed_from_tokens`` (see :func:`resumed_from_tokens`).
    """
    if isinstance(spec, dict):
        spec = RunSpec.from_dict(spec)
    run_dir = Path(run_dir)
    t0 = time.time()
    _rundir.append_attempt(run_dir, "start", run_id=spec.run_id, trainer=trainer)
    progress = ProgressFile(run_dir, spec.n_tokens)
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
    _rundir.write_record(run_dir, record)
    _rundir.append_attempt(run_dir, "end", run_id=spec.run_id, status=record.status,
                           tokens_seen=record.tokens_seen, resumed_from_tokens=resumed_from_tokens(record))
    return record.to_dict()
