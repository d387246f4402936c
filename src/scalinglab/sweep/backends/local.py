"""``local`` (the default): a pool of long-lived worker processes on this machine.

Each worker is a ``spawn``-ed process (safe with torch and threads on every platform) that
imports the trainer once and then trains one run after another with one intra-op thread, so
``workers = cores`` small runs use the machine fully without oversubscription. The coordinator
sends a worker one run at a time, so it always knows which run each worker holds: a worker that
dies (out of memory, segfault) fails only its own run and is replaced, and ``cancel`` of a
running run terminates just that worker. A worker exits on its own when the coordinator dies,
so a killed sweep leaves no orphan training behind to race with the re-run.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...store.schema import RunSpec
from ..worker import execute
from .base import BaseBackend, Handle, JobStatus

__all__ = ["LocalBackend"]


def _watch_parent(ppid: int) -> None:
    while True:
        if os.getppid() != ppid:
            os._exit(3)          # the coordinator is gone: stop training at once
        time.sleep(0.5)


def _worker_main(conn, threads: int, ppid: int) -> None:
    """Body of one worker process: receive ``(task_id, spec, run_dir, trainer, options)``, send records."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the coordinator's to handle
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    threading.Thread(target=_watch_parent, args=(ppid,), daemon=True).start()

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        task_id, spec, run_dir, trainer, options = msg
        record = execute(spec, run_dir, trainer, threads=threads, trainer_options=options)
        try:
            conn.send((task_id, record))
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Worker:
    proc: Any
    conn: Any
    task: str | None = None


class LocalBackend(BaseBackend):
    """A process pool on this machine.

    Parameters
    ----------
    trainer, runs_dir, workers, threads_per_worker
        See :class:`~scalinglab.sweep.backends.base.BaseBackend`. ``workers`` defaults to
        the cores available.
    start_method : str
        ``"spawn"`` (default; fork is unsafe once torch has started threads) or ``"forkserver"``.
    """

    name = "local"

    def __init__(self, *, trainer: str | None = None, runs_dir, workers: int | None = None,
                 threads_per_worker: int = 1, trainer_options=None,
                 start_method: str = "spawn") -> None:
        super().__init__(trainer=trainer, runs_dir=runs_dir, workers=workers,
                         threads_per_worker=threads_per_worker, trainer_options=trainer_options)
        self._ctx = multiprocessing.get_context(start_method)
        self._pool: list[_Worker] = []
        self._queue: collections.deque[tuple[str, RunSpec]] = collections.deque()
        self._state: dict[str, JobStatus] = {}
        self._n = 0

    # -- protocol ---------------------------------------------------------------------------
    def submit(self, spec: RunSpec) -> Handle:
        self._n += 1
        task_id = f"{self._n}:{spec.run_id}"
        self._queue.append((task_id, spec))
        self._state[task_id] = JobStatus("queued")
        self._pump()
        return Handle(spec.run_id, self.name, task_id)

    def status(self, handle: Handle) -> JobStatus:
        self._pump()
        return self._state.get(handle.ref, JobStatus("failed", error="unknown handle"))

    def cancel(self, handle: Handle) -> None:
        task_id = handle.ref
        for i, (tid, _) in enumerate(self._queue):
            if tid == task_id:
                del self._queue[i]
                self._state[task_id] = JobStatus("cancelled")
                return
        for w in list(self._pool):
            if w.task == task_id:
                self._stop(w)
                self._state[task_id] = JobStatus("cancelled")
                return

    def close(self) -> None:
        """Stop every worker: idle ones are asked to exit, busy ones are terminated."""
        self._queue.clear()
        for w in list(self._pool):
            if w.task is None and w.proc.is_alive():
                try:
                    w.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
        deadline = time.monotonic() + 5
        for w in list(self._pool):
            if w.task is None:
                w.proc.join(max(0.0, deadline - time.monotonic()))
            self._stop(w)

    # -- internals ----------------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, self.threads_per_worker, os.getpid()),
                                 name=f"scalinglab-worker-{len(self._pool)}", daemon=True)
        proc.start()
        child.close()
        w = _Worker(proc, parent)
        self._pool.append(w)
        return w

    def _stop(self, w: _Worker) -> None:
        if w.proc.is_alive():
            w.proc.terminate()
            w.proc.join(3)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(3)
        w.conn.close()
        if w in self._pool:
            self._pool.remove(w)

    def _pump(self) -> None:
        """Collect finished runs, replace dead workers, hand queued runs to idle workers."""
        for w in list(self._pool):
            if w.task is None:
                if not w.proc.is_alive():
                    self._stop(w)
                continue
            try:
                ready = w.conn.poll()
            except (EOFError, OSError):
                ready = False
            if ready:
                try:
                    task_id, record = w.conn.recv()
                except (EOFError, OSError):
                    task_id, record = w.task, None
                if record is not None:
                    self._state[task_id] = JobStatus("done", record=record)
                    w.task = None
                    continue
            if not w.proc.is_alive():
                run_id = w.task.split(":", 1)[1]
                self._state[w.task] = JobStatus(
                    "failed", error=f"worker process died (exit code {w.proc.exitcode}) while "
                                    f"training {run_id}; its checkpoint is kept for a resume")
                w.task = None
                self._stop(w)
        while self._queue:
            idle = next((w for w in self._pool if w.task is None and w.proc.is_alive()), None)
            if idle is None:
                if len(self._pool) >= self.workers:
                    break
                idle = self._spawn()
            task_id, spec = self._queue.popleft()
            try:
                idle.conn.send((task_id, spec.to_dict(), str(Path(self.runs_dir) / spec.run_id),
                                self.trainer, self.trainer_options))
            except (BrokenPipeError, OSError):
                self._queue.appendleft((task_id, spec))
                self._stop(idle)
                continue
            idle.task = task_id
            self._state[task_id] = JobStatus("running")
