"""Run a sweep: ``run_sweep(plan, backend=..., store=...)``, idempotent and resumable.

The calling process is the *coordinator*: it holds the store's writer lock, decides what runs
next, hands specs to a backend and inserts the records the workers return. Workers train in
``<store>/runs/<run_id>/`` and write ``record.json`` there themselves, so a coordinator killed at
any moment loses nothing:

* a run whose record is in the store (``done`` or ``diverged``) is skipped on the next call;
* a run whose worker wrote ``record.json`` but whose row was never inserted is picked up from
  that file, not retrained;
* an interrupted run is submitted again and the trainer resumes from its last checkpoint;
* a ``failed`` run is retried (``retry_failed=False`` to leave it).

A cooldown branch is submitted once its trunk has written the checkpoint the branch starts from
(``runs/<trunk>/ckpt/<unit>_<n>.pt``, :func:`scalinglab.train.checkpoint.checkpoint_path`) or has finished. A failed or diverged run never stops the
sweep: its error is recorded and the others go on.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..store import rundir
from ..store.schema import RunRecord, RunSpec
from ..store.store import FINAL_STATUSES, LOCK_NAME, ResultsStore
from ..train.checkpoint import checkpoint_path
from .backends import BACKENDS, get_backend
from .backends.base import Handle, JobStatus, default_workers
from .plan import SweepPlan, format_seconds, plan_sweep

__all__ = ["RunProgress", "SweepProgress", "SweepReport", "run_sweep", "sweep_status"]



@dataclass(frozen=True)
class SweepReport:
    """What one ``run_sweep`` call did."""

    name: str
    store: str
    backend: str
    n_runs: int                                   # runs in the plan
    skipped: tuple[str, ...] = ()                 # already finished before this call
    done: tuple[str, ...] = ()                    # finished now
    diverged: tuple[str, ...] = ()                # diverged now (recorded, excluded from fits)
    failed: Mapping[str, str] = field(default_factory=dict)   # run_id -> error
    wall_s: float = 0.0
    estimated_s: float | None = None              # what the estimate said before training (calibrated)

    @property
    def ok(self) -> bool:
        """True when no run failed (diverged runs are results, not failures)."""
        return not self.failed

    def __str__(self) -> str:
        parts = [f"{len(self.done)} trained", f"{len(self.skipped)} already in the store"]
        if self.diverged:
            parts.append(f"{len(self.diverged)} diverged")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        est = f" (estimated {format_seconds(self.estimated_s)})" if self.estimated_s is not None else ""
        text = (f"sweep {self.name!r} on {self.backend}: {self.n_runs} runs: {', '.join(parts)} "
                f"in {format_seconds(self.wall_s)}{est}; store {self.store}")
        for rid, err in list(self.failed.items())[:10]:
            text += f"\n  failed {rid}: {err.splitlines()[0] if err else '?'}"
        return text


@dataclass(frozen=True)
class RunProgress:
    """Where one running run stands (read from its ``progress.json``)."""

    run_id: str
    fraction: float               # of its planned D units, 0..1
    per_s: float                  # D units per second, as the trainer last measured


@dataclass(frozen=True)
class SweepProgress:
    """One event of :func:`run_sweep`, handed to its ``progress`` callable.

    ``kind`` is ``"start"`` (``cost`` says what is left to train, ``n_skipped`` what is already
    in the store), ``"finished"`` (``record`` is the run that just finished, failed or
    diverged), ``"tick"`` (the state, about twice a second) or ``"end"`` (``report``). The
    library only reports; :mod:`scalinglab.cli` draws these events with rich.
    """

    kind: str
    plan: SweepPlan
    cost: Any = None                                  # PlanCost of what is left ("start")
    n_skipped: int = 0
    record: RunRecord | None = None                   # "finished"
    running: tuple[RunProgress, ...] = ()             # "tick"
    n_queued: int = 0
    n_waiting: int = 0
    n_done: int = 0
    n_failed: int = 0
    eta_s: float | None = None                        # "tick": remaining wall seconds, calibrated
    report: SweepReport | None = None                 # "end"

    @property
    def unit(self) -> str:
        return self.plan.unit


def _as_plan(plan: SweepPlan | str | Path | Mapping[str, Any]) -> SweepPlan:
    return plan if isinstance(plan, SweepPlan) else plan_sweep(plan)


def _as_store(store: ResultsStore | str | Path) -> tuple[ResultsStore, bool]:
    return (store, False) if isinstance(store, ResultsStore) else (ResultsStore(store), True)


def run_sweep(plan: SweepPlan | str | Path | Mapping[str, Any], *, backend: str = "local",
              store: ResultsStore | str | Path, workers: int | None = None,
              progress: Callable[[SweepProgress], Any] | None = None, retry_failed: bool = True,
              poll_s: float = 0.25,
              backend_options: Mapping[str, Any] | None = None) -> SweepReport:
    """Train every run of ``plan`` not yet in ``store``; return a :class:`SweepReport`.

    Parameters
    ----------
    plan : SweepPlan, path, preset name or dict
        The sweep (see :func:`~scalinglab.sweep.plan.plan_sweep`).
    backend : str
        ``"local"`` (process pool, default), ``"slurm"``, ``"ray"`` or ``"inline"``.
    store : ResultsStore or path
        Where results go. Re-running with the same store continues the sweep.
    workers : int, optional
        Runs at once (default: the machine's cores for ``local``; array parallelism for
        ``slurm``; CPUs for ``ray``).
    progress : callable, optional
        Called with a :class:`SweepProgress` event: at the start (the estimated cost of what is
        left to train), for every finished run, about twice a second (runs running, queued,
        done, failed; units/s; a calibrated ETA) and at the end. The library never prints;
        ``scalinglab sweep run`` draws these events with rich.
    retry_failed : bool
        Train ``failed`` runs again (default). ``done`` and ``diverged`` runs are never retrained.
    poll_s : float
        Seconds between status polls.
    backend_options : mapping, optional
        Extra backend arguments (Slurm: ``partition``, ``timeout_min``, ``folder`` ...).

    Raises
    ------
    StoreError
        Another coordinator is writing the store, or the store is not writable.
    ConfigError, UnknownNameError
        The plan or backend is invalid, or a script calls ``run_sweep`` outside an
        ``if __name__ == "__main__":`` guard (its spawned workers would run it again). Nothing
        has been trained then.
    """
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        # a spawned worker is importing the user's script, which calls run_sweep at top level
        raise ConfigError("run_sweep was called while a worker process was starting: the script "
                          "that calls it re-runs in every spawned worker. Put the call under "
                          "`if __name__ == \"__main__\":`")
    t0 = time.time()
    plan = _as_plan(plan)
    if backend not in BACKENDS:
        BACKENDS.get(backend)        # UnknownNameError with suggestions, before touching the store
    store, own_store = _as_store(store)
    try:
        with store.writer_lock():
            return _run(plan, backend, store, workers, progress, retry_failed, poll_s,
                        dict(backend_options or {}), t0)
    finally:
        if own_store:
            store.close()


def _run(plan: SweepPlan, backend_name: str, store: ResultsStore, workers: int | None,
         progress: Callable[[SweepProgress], Any] | None, retry_failed: bool, poll_s: float,
         backend_options: dict[str, Any], t0: float) -> SweepReport:
    emit = progress or (lambda event: None)
    skipped, done, diverged, failed = [], [], [], {}
    todo: dict[str, RunSpec] = {}
    for spec in plan.specs:
        rid = spec.run_id
        rec = store.get(rid)
        if rec is not None and (rec.status in FINAL_STATUSES or (rec.status == "failed" and not retry_failed)):
            skipped.append(rid)
            continue
        on_disk = rundir.read_record(store.run_dir(rid))
        if on_disk is not None and on_disk.status in FINAL_STATUSES and on_disk.run_id == rid:
            store.put(on_disk)          # the worker finished; the coordinator died before indexing
            skipped.append(rid)
            continue
        todo[rid] = spec
    report = {"name": plan.name, "store": str(store.root), "backend": backend_name,
              "n_runs": len(plan)}
    if not todo:
        rep = SweepReport(**report, skipped=tuple(skipped), wall_s=time.time() - t0)
        emit(SweepProgress("end", plan, n_skipped=len(skipped), report=rep))
        return rep

    # the estimate from the throughput measured by the store's finished runs, where there are any
    plan = plan.calibrated(store.records(status="done"))
    est = {r.run_id: r.est_s for r in plan.runs}
    left = SweepPlan(config=plan.config, source=plan.source, calibration=plan.calibration,
                     runs=tuple(r for r in plan.runs if r.run_id in todo))
    cost = left.cost(workers or default_workers())
    emit(SweepProgress("start", plan, cost=cost, n_skipped=len(skipped)))
    be = get_backend(backend_name, trainer=plan.trainer, runs_dir=store.runs_dir, workers=workers,
                     trainer_options=dict(plan.config.trainer_options), **backend_options)
    clock = _Progress(plan, store, workers=be.workers, est=est)
    active: dict[str, Handle] = {}
    job_state: dict[str, str] = {}             # queued / running, as the backend last said
    started: dict[str, float] = {}
    try:
        while todo or active:
            changed = False
            ready = []
            for rid, spec in list(todo.items()):
                state, why = _branch_state(spec, store, todo, active)
                if state == "ready":
                    ready.append(spec)
                elif state == "failed":
                    del todo[rid]
                    rec = RunRecord(run_id=rid, spec=spec, status="failed", error=why)
                    store.put(rec)
                    failed[rid] = why
                    emit(SweepProgress("finished", plan, record=rec))
                    changed = True
            if ready:
                for spec in ready:
                    store.put(RunRecord(run_id=spec.run_id, spec=spec, status="running"))
                for h in be.submit_many(ready):
                    active[h.run_id] = h
                    started[h.run_id] = time.time()
                    del todo[h.run_id]
                changed = True
            for rid, h in list(active.items()):
                st = be.status(h)
                if not st.finished:
                    job_state[rid] = st.state
                    continue
                del active[rid]
                rec = _record_of(st, plan, rid)
                store.put(rec)
                clock.calibrate(rid, time.time() - started[rid])
                if rec.status == "done":
                    done.append(rid)
                elif rec.status == "diverged":
                    diverged.append(rid)
                else:
                    failed[rid] = rec.error or "failed"
                emit(SweepProgress("finished", plan, record=rec))
                changed = True
            if progress is not None and clock.due():
                running = [r for r in active if job_state.get(r) == "running"]
                queued = [r for r in active if job_state.get(r) != "running"]
                emit(clock.tick(todo=todo, running=running, queued=queued, n_skipped=len(skipped),
                                n_done=len(done) + len(diverged), n_failed=len(failed)))
            if not changed:
                time.sleep(poll_s)
    except BaseException:
        for h in active.values():
            try:
                be.cancel(h)
            except Exception:  # best effort while unwinding
                pass
        raise
    finally:
        be.close()
    rep = SweepReport(**report, skipped=tuple(skipped), done=tuple(done),
                      diverged=tuple(diverged), failed=failed, wall_s=time.time() - t0,
                      estimated_s=cost.wall_s)
    emit(SweepProgress("end", plan, n_skipped=len(skipped), report=rep))
    return rep


def _record_of(st: JobStatus, plan: SweepPlan, rid: str) -> RunRecord:
    spec = next(s for s in plan.specs if s.run_id == rid)
    if st.state == "done" and st.record is not None:
        try:
            rec = RunRecord.from_dict(st.record)
        except ConfigError as exc:
            return RunRecord(run_id=rid, spec=spec, status="failed",
                             error=f"the worker returned an invalid record: {exc}")
        if rec.run_id == rid:
            return rec
        return RunRecord(run_id=rid, spec=spec, status="failed",
                         error=f"the worker returned the record of {rec.run_id!r}")
    why = st.error or ("cancelled" if st.state == "cancelled" else "the executor lost the job")
    return RunRecord(run_id=rid, spec=spec, status="failed", error=why)


def _branch_state(spec: RunSpec, store: ResultsStore, todo: Mapping[str, Any],
                  active: Mapping[str, Any]) -> tuple[str, str | None]:
    """``("ready"|"wait"|"failed", why)`` for a run; only cooldown branches ever wait."""
    trunk_id = spec.branch_of
    if trunk_id is None:
        return "ready", None
    ckpt = checkpoint_path(store.run_dir(trunk_id), spec.branch_at, unit=spec.unit)
    if ckpt.exists():
        return "ready", None
    if trunk_id in todo or trunk_id in active:
        return "wait", None
    trunk = store.get(trunk_id)
    if trunk is None or trunk.status == "done":
        return "ready", None          # the trainer finds (or reports) the checkpoint
    if trunk.status in ("diverged", "failed"):
        return "failed", (f"its trunk {trunk_id} {trunk.status} before the branch point "
                          f"({spec.branch_at} {spec.unit}): {trunk.error or ''}".rstrip(": "))
    return "wait", None


# -- status without running -------------------------------------------------------------------

def sweep_status(plan: SweepPlan | str | Path | Mapping[str, Any],
                 store: ResultsStore | str | Path) -> dict[str, Any]:
    """Where each run of a sweep stands, read from the store (never writes, never trains).

    Returns ``{"counts": {status: n}, "runs": [{"run_id", "status", "metric", "value", "seen",
    "n_data", "unit", "error"}], "coordinator_running": bool}`` (``value`` is the run's first
    metric, e.g. ``val_loss``; ``seen``/``n_data`` count D units). Statuses: ``done``, ``diverged``, ``failed``,
    ``running`` (a worker of the coordinator that holds the store now is training it),
    ``queued`` (that coordinator submitted it; no worker has started it yet), ``interrupted``
    (started by a coordinator that is gone; the next ``run_sweep`` resumes it from its
    checkpoint) and ``pending`` (never started).
    """
    plan = _as_plan(plan)
    if isinstance(store, ResultsStore):
        st, own = store, False
    else:
        st, own = ResultsStore(store, readonly=True), True
    try:
        live = _lock_held(st)
        runs, counts = [], {}
        for spec in plan.specs:
            rec = st.get(spec.run_id)
            status = rec.status if rec is not None else "pending"
            if rec is None:
                on_disk = rundir.read_record(st.run_dir(spec.run_id))
                if on_disk is not None:
                    rec, status = on_disk, on_disk.status
            if status == "running":
                attempts = rundir.read_attempts(st.run_dir(spec.run_id))
                if not live:
                    status = "interrupted" if attempts else "pending"
                elif not attempts or attempts[-1].get("event") != "start":
                    status = "queued"      # submitted, but no worker has started it (again) yet
            prog = rundir.read_progress(st.run_dir(spec.run_id)) if status in ("running", "interrupted") else None
            metric = spec.procedure_spec.metrics[0]
            runs.append({"run_id": spec.run_id, "status": status, "metric": metric,
                         "value": rec.metrics.get(metric) if rec else None,
                         "seen": (rec.n_data_seen if rec and rec.n_data_seen else
                                  (prog or {}).get("seen", 0)),
                         "n_data": spec.n_data, "unit": spec.unit,
                         "error": rec.error if rec else None})
            counts[status] = counts.get(status, 0) + 1
        return {"counts": counts, "runs": runs, "coordinator_running": live}
    finally:
        if own:
            st.close()


def _lock_held(store: ResultsStore) -> bool:
    import fcntl
    import os

    path = store.root / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# -- progress --------------------------------------------------------------------------------------

class _Progress:
    """The numbers of a ``tick`` event: each running run's progress, a calibrated ETA."""

    def __init__(self, plan: SweepPlan, store: ResultsStore, *, workers: int, est: dict[str, float]) -> None:
        self.plan, self.store, self.workers, self.est = plan, store, workers, est
        self.actual, self.estimated = 0.0, 0.0     # calibration of the plan's estimates
        self._last = 0.0

    def calibrate(self, rid: str, wall_s: float) -> None:
        self.actual += wall_s
        self.estimated += self.est.get(rid, 0.0)

    def due(self, every_s: float = 0.5) -> bool:
        now = time.monotonic()
        if now - self._last < every_s:
            return False
        self._last = now
        return True

    def tick(self, *, todo, running, queued, n_skipped: int, n_done: int, n_failed: int) -> SweepProgress:
        remaining = sum(self.est.get(r, 0.0) for r in [*todo, *queued])
        runs = []
        for rid in running:
            p = rundir.read_progress(self.store.run_dir(rid)) or {}
            frac = min(1.0, (p.get("seen") or 0) / max(1, p.get("n_data") or 1))
            remaining += self.est.get(rid, 0.0) * (1.0 - frac)
            runs.append(RunProgress(rid, frac, float(p.get("per_s") or 0.0)))
        factor = self.actual / self.estimated if self.estimated > 0 else 1.0
        return SweepProgress("tick", self.plan, n_skipped=n_skipped, running=tuple(runs),
                             n_queued=len(queued), n_waiting=len(todo), n_done=n_done,
                             n_failed=n_failed, eta_s=remaining * factor / max(1, self.workers))
