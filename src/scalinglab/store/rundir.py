"""Each run's own directory: the record file, the attempt log and the live progress file.

A run directory ``<store>/runs/<run_id>/`` belongs to one run. The trainer keeps its checkpoints
there; this module owns three small files next to them:

``record.json``
    The finished run's :class:`~scalinglab.store.schema.RunRecord`, written atomically (a temp
    file in the same directory, flushed and fsync-ed, then ``os.replace``), so a reader sees either
    the old file or the new one, never half of one. The SQLite database is a cache of these files:
    :meth:`ResultsStore.rebuild` restores it from them.
``attempts.jsonl``
    One line appended each time a worker starts (and finishes) the run: how many times a run was
    trained, and where it resumed from. Used to prove that a re-run sweep retrains nothing.
``progress.json``
    The latest D units seen (tokens or samples) and units/s of a running run, for the
    coordinator's live display.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._io import write_json
from ..errors import StoreError
from .schema import RunRecord

__all__ = [
    "ATTEMPTS_NAME",
    "PROGRESS_NAME",
    "RECORD_NAME",
    "append_attempt",
    "iter_record_files",
    "read_attempts",
    "read_progress",
    "read_record",
    "read_record_dict",
    "write_json_atomic",
    "write_progress",
    "write_record",
]

RECORD_NAME = "record.json"
ATTEMPTS_NAME = "attempts.jsonl"
PROGRESS_NAME = "progress.json"


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`scalinglab._io.write_json`).

    Raises :class:`StoreError` naming the path when it cannot be written.
    """
    try:
        write_json(path, data)
    except OSError as exc:
        raise StoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}. "
                         "Choose a writable store directory.") from None


def write_record(run_dir: str | Path, record: RunRecord) -> Path:
    """Write ``run_dir/record.json`` atomically and return its path."""
    path = Path(run_dir) / RECORD_NAME
    write_json_atomic(path, record.to_dict())
    return path


def read_record_dict(run_dir: str | Path) -> dict[str, Any] | None:
    """The record file of ``run_dir`` as a plain dict, whatever its schema (None when absent)."""
    path = Path(run_dir) / RECORD_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"{str(path)!r} is not a valid run record: {exc}. Delete it to retrain "
                         "the run, or restore it from a backup.") from None
    if not isinstance(data, dict):
        raise StoreError(f"{str(path)!r} is not a valid run record (not a JSON object)")
    return data


def read_record(run_dir: str | Path) -> RunRecord | None:
    """The record in ``run_dir`` (None when there is none; StoreError when it is unreadable)."""
    data = read_record_dict(run_dir)
    if data is None:
        return None
    try:
        return RunRecord.from_dict(data)
    except (ValueError, TypeError) as exc:  # ConfigError is a ValueError
        path = Path(run_dir) / RECORD_NAME
        raise StoreError(f"{str(path)!r} is not a valid run record: {exc}") from None


def iter_record_files(runs_dir: str | Path) -> Iterator[Path]:
    """``runs_dir/*/record.json`` in sorted order."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return
    for child in sorted(runs_dir.iterdir()):
        p = child / RECORD_NAME
        if p.is_file():
            yield p


def append_attempt(run_dir: str | Path, event: str, **info: Any) -> None:
    """Append one JSON line ``{"event": ..., "time": ..., "pid": ..., **info}`` to the attempt log.

    ``O_APPEND`` writes of one short line are atomic on POSIX file systems, so concurrent writers
    (a requeued Slurm job and its predecessor) cannot interleave within a line.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"event": event, "time": time.time(), "pid": os.getpid(),
                       "host": os.uname().nodename, **info}, sort_keys=True, default=str)
    fd = os.open(run_dir / ATTEMPTS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def read_attempts(run_dir: str | Path) -> list[dict[str, Any]]:
    """The attempt log of a run (skipping a torn last line, should a writer have been killed)."""
    path = Path(run_dir) / ATTEMPTS_NAME
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def write_progress(run_dir: str | Path, *, seen: int, per_s: float | None,
                   n_data: int | None = None, **info: Any) -> None:
    """Record a running run's progress (atomic; a reader never sees a partial file)."""
    write_json_atomic(Path(run_dir) / PROGRESS_NAME,
                      {"seen": int(seen), "per_s": per_s, "n_data": n_data,
                       "time": time.time(), **info})


def read_progress(run_dir: str | Path) -> dict[str, Any] | None:
    """The latest progress of a run, or None."""
    try:
        return json.loads((Path(run_dir) / PROGRESS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
