"""The results store: one SQLite database plus one record file per run.

Layout of a store directory::

    <store>/results.sqlite          the index (SQLite, WAL mode), written by the coordinator only
    <store>/runs/<run_id>/          the run's own directory: trainer checkpoints, record.json,
                                    attempts.jsonl, progress.json (see ``rundir``)

The record files are the ground truth; the database is an index over them that
:meth:`ResultsStore.rebuild` restores (``scalinglab store rebuild``). Every finished run is
written to its record file (atomically) *before* its row, so a crash between the two loses
nothing: a re-run sweep or a rebuild picks the file up.

Only one process writes a store at a time (the sweep coordinator, or ``scalinglab train``): it
holds :meth:`ResultsStore.writer_lock`. Workers never touch the database; they return records.
Readers (``scalinglab runs``, ``sweep status``, notebooks) may open the store at any time; WAL
mode lets them read while the coordinator writes.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._io import atomic_write, canonical_json
from .._optional import require
from ..errors import ConfigError, ScalingLabWarning, StoreError, suggest
from ..laws.runs import Runs
from . import rundir
from .migrate import migrate_v1
from .schema import RunRecord
from .table import (
    DEFAULT_GROUPS,
    FILTER_COLUMNS,
    RESULT_COLUMNS,
    SPEC_COLUMNS,
    flat_row,
    row_columns,
    spec_row,
    to_runs,
)

__all__ = ["DB_NAME", "FINAL_STATUSES", "LOCK_NAME", "ResultsStore", "rebuild_store"]

DB_NAME = "results.sqlite"
RUNS_DIR = "runs"
LOCK_NAME = ".writer.lock"
LAYOUT_VERSION = 2  # version of the database layout below (the record schema has its own)
MIGRATIONS_DIR = "migrations"   # what `rebuild` migrated: old run id -> new run id

#: Statuses a run never leaves: a re-run sweep skips these, and the store refuses to replace
#: them with a different record. ``failed`` is not final: a re-run retries it.
FINAL_STATUSES = ("done", "diverged")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    {", ".join(f"{k} {t}" for k, t in {**SPEC_COLUMNS, **RESULT_COLUMNS}.items())},
    record TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_rung ON runs(rung);
"""


class ResultsStore:
    """A directory of training results: a SQLite index plus one record file per run.

    Parameters
    ----------
    path : str or Path
        The store directory (created when missing unless ``readonly``). The path of its
        ``results.sqlite`` is accepted too.
    readonly : bool
        Open for reading only: never creates anything; a missing store is a ``StoreError``.

    Raises
    ------
    StoreError
        The path cannot be created or written (or, read-only, does not hold a store), or the
        database is unreadable (then ``scalinglab store rebuild`` restores it from the record
        files), or it was written by a newer scalinglab.

    Notes
    -----
    Writes follow one rule: a record of a finished run (``done`` or ``diverged``) is never
    replaced by a different one. A run id is a hash of the full spec (:attr:`RunSpec.run_id`),
    so a different result under the same id means two trainings disagreed; ``put`` refuses it
    with a ``StoreError`` instead of silently keeping either. Pass ``replace=True`` to
    overwrite deliberately.

    Examples
    --------
    >>> store = ResultsStore(tmp_path / "store")                     # doctest: +SKIP
    >>> store.put(record); store.records(status="done")              # doctest: +SKIP
    >>> runs = store.to_runs(target="val_loss", flops_convention="6N")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        root = Path(path).expanduser()
        if root.name == DB_NAME and root.is_file():
            root = root.parent
        self.root = root
        self.readonly = readonly
        self.db_path = root / DB_NAME
        self.runs_dir = root / RUNS_DIR
        if root.exists() and not root.is_dir():
            raise StoreError(f"store path {str(root)!r} is a file; a store is a directory "
                             f"(holding {DB_NAME} and {RUNS_DIR}/). Pass a directory path.")
        if readonly:
            if not self.db_path.is_file():
                raise StoreError(f"no results store at {str(root)!r} (no {DB_NAME}); run a sweep "
                                 "with --store pointing there first, or pass the right --store")
        else:
            self._make_writable_dir(root)
            self._make_writable_dir(self.runs_dir)
        self._conn = self._connect()

    # -- opening -----------------------------------------------------------------------------
    @staticmethod
    def _make_writable_dir(path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(f"store path {str(path)!r} is not writable ({exc.strerror or exc}). "
                             "Pass --store with a directory you can write to.") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                conn = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            else:
                conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_SCHEMA)
                self._check_layout(conn, write=True)
            if self.readonly:
                self._check_layout(conn, write=False)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the results database {str(self.db_path)!r}: {exc}. The run records "
                f"in {str(self.runs_dir)!r} are unaffected; restore the database from them with "
                f"`scalinglab store rebuild {self.root}`.") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _check_layout(self, conn: sqlite3.Connection, *, write: bool) -> None:
        row = conn.execute("SELECT value FROM meta WHERE key='layout_version'").fetchone()
        if row is None:
            if write:
                conn.execute("INSERT OR IGNORE INTO meta VALUES ('layout_version', ?)",
                             (str(LAYOUT_VERSION),))
            return
        if int(row[0]) > LAYOUT_VERSION:
            raise StoreError(f"the store {str(self.root)!r} was written by a newer scalinglab "
                             f"(layout {row[0]} > {LAYOUT_VERSION}); upgrade scalinglab to read it")
        if int(row[0]) < LAYOUT_VERSION:
            n = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            raise StoreError(f"the store {str(self.root)!r} was written by an earlier scalinglab "
                             f"(layout {row[0]}, run schema 1; {n} runs). Migrate it with "
                             f"`scalinglab store rebuild {self.root}`: run ids change, every finished "
                             "result and checkpoint is kept")

    def close(self) -> None:
        """Close the database connection (the store object is unusable afterwards)."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in sorted(self.counts().items()))
        return f"ResultsStore({str(self.root)!r}, {counts or 'empty'})"

    # -- paths and locking ----------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        """The run's own directory (checkpoints, record.json); not created here."""
        if not run_id or "/" in run_id or run_id in (".", ".."):
            raise StoreError(f"invalid run id {run_id!r}")
        return self.runs_dir / run_id

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the store's single-writer lock (``flock``; released even on SIGKILL).

        Raises
        ------
        StoreError
            When another process (another sweep coordinator) holds it.
        """
        if self.readonly:
            raise StoreError("a read-only store cannot be written")
        path = self.root / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise StoreError(f"another process (pid {holder}) is writing the store "
                                 f"{str(self.root)!r}; wait for it to finish or use another "
                                 "--store") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    # -- writing ------------------------------------------------------------------------------------
    def put(self, record: RunRecord, *, replace: bool = False) -> bool:
        """Insert or update one run's record; return True when anything changed.

        A finished record (``done``/``diverged``/``failed``) is first written to
        ``runs/<run_id>/record.json`` (atomically, and only when its content changed), then
        indexed. ``pending``/``running`` rows exist only in the database.

        Raises
        ------
        StoreError
            When a *different* record exists under the same id and either its spec differs or
            it is final (``done``/``diverged``), unless ``replace=True``; or on a write failure.
        """
        if self.readonly:
            raise StoreError("this store was opened read-only; open it without readonly=True")
        if not isinstance(record, RunRecord):
            raise StoreError(f"put() takes a RunRecord; got {type(record).__name__}")
        # normalise through the schema (ints in float fields, tuples) so that equal records
        # compare equal however they were built
        record = RunRecord.from_dict(record.to_dict())
        new = record.to_dict()
        old = self.get(record.run_id)
        if old is not None and not replace:
            old_d = old.to_dict()
            if _same(old_d, new):
                return False
            if _canonical(old_d["spec"]) != _canonical(new["spec"]):
                raise StoreError(
                    f"a record with a different spec is already stored under run id "
                    f"{record.run_id!r}; run ids hash the spec, so one of them was edited by hand. "
                    "Remove the stale run directory and `scalinglab store rebuild`, or pass "
                    "replace=True.")
            if old.status in FINAL_STATUSES:
                raise StoreError(
                    f"run {record.run_id!r} is already stored as {old.status!r} with a different "
                    f"result than the new {record.status!r} record; refusing to replace it. "
                    "Pass replace=True to overwrite it deliberately.")
        if record.status in ("done", "diverged", "failed"):
            run_dir = self.run_dir(record.run_id)
            try:
                on_disk = rundir.read_record(run_dir)
            except StoreError:
                on_disk = None  # an unreadable file is replaced by the good record
            if on_disk is None or not _same(on_disk.to_dict(), new):
                rundir.write_record(run_dir, record)
        self._upsert([record])
        return True

    def _upsert(self, records: Iterable[RunRecord], *, clear: bool = False) -> int:
        rows = [_row(r) for r in records]
        cols = list(rows[0]) if rows else []
        n = 0
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if clear:
                    self._conn.execute("DELETE FROM runs")
                for row in rows:
                    self._conn.execute(
                        f"INSERT OR REPLACE INTO runs ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])
                    n += 1
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the results database {str(self.db_path)!r}: {exc}. "
                             "Finished runs are kept in their record.json files.") from None
        return n

    def rebuild(self) -> int:
        """Restore the database from the run directories' ``record.json`` files.

        Replaces every row in one transaction (rows of ``pending``/``running`` runs, which
        have no file, disappear). Unreadable record files are skipped with a warning naming
        them. Records of run schema 1 (written before procedures existed) are migrated first
        (:meth:`migrate`). Returns the number of records indexed.
        """
        if self.readonly:
            raise StoreError("this store was opened read-only; open it without readonly=True")
        self.migrate()
        records, bad = [], []
        for path in rundir.iter_record_files(self.runs_dir):
            try:
                rec = rundir.read_record(path.parent)
            except StoreError as exc:
                bad.append(str(exc))
                continue
            if rec is not None and rec.run_id != path.parent.name:
                bad.append(f"{str(path)!r} holds run {rec.run_id!r}, not {path.parent.name!r}")
                continue
            if rec is not None:
                records.append(rec)
        n = self._upsert(records, clear=True)
        if bad:
            warnings.warn(f"store rebuild skipped {len(bad)} unreadable record file(s): "
                          + "; ".join(bad[:3]) + (" ..." if len(bad) > 3 else ""),
                          ScalingLabWarning, stacklevel=2)
        return n

    def migrate(self) -> dict[str, str]:
        """Migrate run directories of run schema 1 to the current schema; return ``{old: new}``
        (:func:`scalinglab.store.migrate.migrate_v1`)."""
        if self.readonly:
            raise StoreError("this store was opened read-only; open it without readonly=True")
        return migrate_v1(self.root, self.runs_dir)

    # -- reading ----------------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord | None:
        """The record stored under ``run_id`` (None when absent)."""
        row = self._conn.execute("SELECT record FROM runs WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else RunRecord.from_dict(json.loads(row["record"]))

    def __contains__(self, run_id: object) -> bool:
        return self._conn.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def counts(self) -> dict[str, int]:
        """Number of runs per status."""
        return {r[0]: int(r[1]) for r in
                self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")}

    def _where(self, status: str | Sequence[str] | None, equals: dict[str, Any]) -> tuple[str, list]:
        clauses, args = [], []
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            allowed = ("pending", "running", "done", "diverged", "failed")
            for s in statuses:
                if s not in allowed:
                    raise ConfigError(f"unknown run status {s!r}.{suggest(s, allowed)} "
                                      f"Statuses: {', '.join(allowed)}")
            clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
            args += statuses
        for key, value in equals.items():
            if key not in FILTER_COLUMNS:
                raise ConfigError(f"cannot filter runs by {key!r}.{suggest(key, FILTER_COLUMNS)} "
                                  f"Filter columns: {', '.join(FILTER_COLUMNS)}")
            values = list(value) if isinstance(value, (list, tuple, set)) else [value]
            clauses.append(f"{key} IN ({', '.join('?' * len(values))})")
            args += values
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def records(self, status: str | Sequence[str] | None = None, **equals: Any) -> list[RunRecord]:
        """Stored records, sorted by run id, optionally filtered.

        Parameters
        ----------
        status : str or sequence of str, optional
            Keep only these statuses (``"done"``, ``"diverged"``, ``"failed"``, ...).
        **equals
            Column filters: ``rung="gpt-tiny-1"``, ``procedure=["a", "b"]``, ``lr=3e-3``, any of
            ``FILTER_COLUMNS``.
        """
        where, args = self._where(status, equals)
        rows = self._conn.execute(f"SELECT record FROM runs{where} ORDER BY run_id", args)
        return [RunRecord.from_dict(json.loads(r["record"])) for r in rows]

    def rows(self, status: str | Sequence[str] | None = None, **equals: Any) -> list[dict[str, Any]]:
        """Flat rows (one dict per run) with every metric, parameter and FLOP convention as a column.

        Columns: ``run_id, status, procedure, ladder, rung, variant, dataset, schedule, lr, seed,
        batch_size, unit, n_data`` (the planned horizon, in ``unit``), ``n_data_seen``,
        ``n_unique_seen``, ``epochs``, ``dataset_hash``, ``n_params`` (the procedure's default convention), ``n_params_<convention>``,
        ``flops_<convention>``, one column per metric (``val_loss`` ...) and ``<metric>_se`` for
        its standard error, ``wall_s, branch_of, branch_at, error``.
        """
        return [flat_row(r) for r in self.records(status, **equals)]

    def to_frame(self, status: str | Sequence[str] | None = None, **equals: Any):
        """The flat rows as a pandas DataFrame (needs pandas)."""
        pd = require("pandas", extra="pandas", purpose="ResultsStore.to_frame()")
        rows = self.rows(status, **equals)
        return pd.DataFrame(rows, columns=row_columns(rows))

    def export(self, path: str | Path, status: str | Sequence[str] | None = None, **equals: Any) -> int:
        """Write the flat rows to ``.csv``, ``.parquet`` or ``.jsonl`` (by suffix); return the row count.

        The file is written atomically (:func:`scalinglab._io.atomic_write`), so an interrupted
        export never leaves a truncated table.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq", ".jsonl"):
            raise ConfigError(f"cannot export to {str(path)!r}: use a .csv, .parquet or .jsonl file name")
        rows = self.rows(status, **equals)
        cols = row_columns(rows)
        if suffix == ".csv":
            buf = io.StringIO(newline="")
            w = csv.DictWriter(buf, fieldnames=cols)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
            data: bytes | str = buf.getvalue()
        elif suffix == ".jsonl":
            data = "".join(json.dumps({k: r.get(k) for k in cols}) + "\n" for r in rows)
        else:
            pa = require("pyarrow", extra="pandas", purpose="Parquet export")
            pq = require("pyarrow.parquet", extra="pandas", purpose="Parquet export")
            table = pa.Table.from_pylist([{k: r.get(k) for k in cols} for r in rows]) if rows \
                else pa.table({k: pa.array([], pa.string()) for k in cols})
            out = io.BytesIO()
            pq.write_table(table, out)
            data = out.getvalue()
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise StoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        return len(rows)

    def to_runs(self, target: str | None = None, *, n_params_convention: str | None = None,
                flops_convention: str | None = None, group_by: Sequence[str] = DEFAULT_GROUPS,
                **equals: Any) -> Runs:
        """The finished runs as :class:`scalinglab.laws.Runs`, ready for ``fit``/``compare``.

        See :func:`scalinglab.store.table.to_runs` for the parameters: the target metric (default:
        the procedure's first), the parameter and FLOP conventions of the runs' procedure (or
        ``"6ND"``), the group columns and store filters. Diverged runs are excluded with a
        :class:`~scalinglab.errors.DataWarning` and kept on ``Runs.excluded``.
        """
        return to_runs(self, target, n_params_convention=n_params_convention,
                       flops_convention=flops_convention, group_by=group_by, **equals)


def rebuild_store(path: str | Path) -> tuple[ResultsStore, int]:
    """Rebuild the store at ``path`` from its record files, even when its database is unreadable.

    An unreadable ``results.sqlite`` is moved aside to ``results.sqlite.broken-<unix time>``
    (never deleted) before a fresh one is built. Returns ``(store, n_records)``.
    """
    root = Path(path)
    try:
        store = ResultsStore(root)
    except StoreError:
        db = (root.parent if root.name == DB_NAME else root) / DB_NAME
        if not db.is_file():
            raise
        stamp = int(time.time())
        for suffix in ("", "-wal", "-shm"):
            src = db.with_name(db.name + suffix)
            if src.exists():
                os.replace(src, db.with_name(f"{db.name}.broken-{stamp}{suffix}"))
        store = ResultsStore(root)
    return store, store.rebuild()


# -- helpers -----------------------------------------------------------------------------------

def _canonical(d: Any) -> str:
    return canonical_json(d)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # NaN != NaN, so compare canonical JSON text
    return _canonical(a) == _canonical(b)


def _row(r: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": r.run_id, "status": r.status, **spec_row(r)}
    for k in RESULT_COLUMNS:
        row[k] = getattr(r, k)
    row["record"] = json.dumps(r.to_dict(), sort_keys=True, default=str)
    row["updated_at"] = time.time()
    return row
