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
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._io import atomic_write, canonical_json
from .._optional import require
from ..errors import (
    ConfigError,
    DataError,
    DataWarning,
    MigrationWarning,
    ScalingLabWarning,
    StoreError,
    suggest,
)
from ..laws.data import Runs, load_runs
from ..procedures import get_procedure, list_procedures
from . import rundir
from .schema import SCHEMA_VERSION, RunRecord, migrate_record_v1

__all__ = ["DEFAULT_GROUPS", "FINAL_STATUSES", "RESULT_GROUPS", "SPEC_COLUMNS", "ResultsStore",
           "quantities", "rebuild_store"]

DB_NAME = "results.sqlite"
RUNS_DIR = "runs"
LOCK_NAME = ".writer.lock"
LAYOUT_VERSION = 2  # version of the database layout below (the record schema has its own)
MIGRATIONS_DIR = "migrations"   # what `rebuild` migrated: old run id -> new run id

#: Statuses a run never leaves: a re-run sweep skips these, and the store refuses to replace
#: them with a different record. ``failed`` is not final: a re-run retries it.
FINAL_STATUSES = ("done", "diverged")

#: Group keys :meth:`ResultsStore.to_runs` attaches to every row by default.
DEFAULT_GROUPS = ("ladder", "rung", "procedure", "variant", "dataset", "schedule", "lr", "seed")

# Flat, queryable columns of the ``runs`` table (the full record is in ``record``).
SPEC_COLUMNS = {"procedure": "TEXT", "ladder": "TEXT", "rung": "TEXT", "variant": "TEXT",
                "dataset": "TEXT", "schedule": "TEXT", "lr": "REAL", "seed": "INTEGER",
                "n_data": "INTEGER", "batch_size": "INTEGER", "branch_of": "TEXT",
                "branch_at": "INTEGER"}
_RESULT_COLUMNS = {"n_data_seen": "INTEGER", "n_unique_seen": "INTEGER", "epochs": "REAL",
                   "dataset_hash": "TEXT", "wall_s": "REAL", "error": "TEXT"}
FILTER_COLUMNS = ("run_id", "status", *SPEC_COLUMNS, "n_data_seen", "dataset_hash")
#: Columns of a run's *result* that :meth:`ResultsStore.to_runs` can attach (``group_by=``): the
#: unique data a run saw (the ``n_unique_tokens`` input of the data-constrained law), its epochs
#: and the hash of its data.
RESULT_GROUPS = {"n_unique_tokens": "n_unique_seen", "epochs": "epochs", "dataset_hash": "dataset_hash"}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    {", ".join(f"{k} {t}" for k, t in {**SPEC_COLUMNS, **_RESULT_COLUMNS}.items())},
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
        """Migrate run directories of run schema 1 to the current schema; return ``{old: new}``.

        Schema 1 predates procedures (GPT runs only): each record is rewritten by
        :func:`~scalinglab.store.schema.migrate_record_v1` (trunks before their branches, so a
        branch points at its trunk's new id), its directory is renamed to the new run id with
        its checkpoints and attempt log inside, and the mapping is written to
        ``migrations/schema1-<unix time>.json``. A :class:`MigrationWarning` says how many runs
        moved. Finished results are copied unchanged; the trainers read schema-1 checkpoints.
        """
        if self.readonly:
            raise StoreError("this store was opened read-only; open it without readonly=True")
        old: dict[str, dict[str, Any]] = {}
        for path in rundir.iter_record_files(self.runs_dir):
            try:
                data = rundir.read_record_dict(path.parent)
            except StoreError:
                continue            # rebuild reports unreadable files
            if data is not None and int(data.get("schema_version", 1)) < 2:
                old[path.parent.name] = data
        if not old:
            return {}
        new_ids: dict[str, str] = {}
        pending = dict(old)
        while pending:
            ready = [k for k, d in pending.items()
                     if (d.get("spec") or {}).get("branch_of") in (None, *new_ids)]
            if not ready:
                raise StoreError(f"cannot migrate {len(pending)} branch run(s) whose trunk is not in "
                                 f"the store, e.g. {next(iter(pending))!r}; remove them and rebuild")
            for key in sorted(ready):
                migrated = migrate_record_v1(pending.pop(key), new_ids)
                new_ids[key] = migrated["run_id"]
        for key, new in new_ids.items():
            src, dst = self.runs_dir / key, self.run_dir(new)
            if dst.exists() and src != dst:
                raise StoreError(f"cannot migrate run {key!r} to {new!r}: {str(dst)!r} already exists")
            os.replace(src, dst)
            record = RunRecord.from_dict(migrate_record_v1(old[key], new_ids))
            rundir.write_record(dst, record)
        stamp = int(time.time())
        rundir.write_json_atomic(self.root / MIGRATIONS_DIR / f"schema1-{stamp}.json",
                                 {"from_schema": 1, "to_schema": SCHEMA_VERSION, "run_ids": new_ids})
        warnings.warn(f"store {str(self.root)!r}: migrated {len(new_ids)} run(s) from run schema 1 to "
                      f"{SCHEMA_VERSION} (run ids changed; old -> new in "
                      f"{MIGRATIONS_DIR}/schema1-{stamp}.json); every result was kept",
                      MigrationWarning, stacklevel=3)
        return new_ids

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
        return [_flat(r) for r in self.records(status, **equals)]

    def to_frame(self, status: str | Sequence[str] | None = None, **equals: Any):
        """The flat rows as a pandas DataFrame (needs pandas)."""
        pd = require("pandas", extra="pandas", purpose="ResultsStore.to_frame()")
        rows = self.rows(status, **equals)
        return pd.DataFrame(rows, columns=_columns(rows))

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
        cols = _columns(rows)
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

        Parameters
        ----------
        target : str, optional
            The modelled metric, one the runs' procedure reports (``"val_loss"``, held-out
            loss in nats/token, or ``"train_loss"`` for a language model). Default: the first
            metric of the procedure.
        n_params_convention : str, optional
            N per run, a parameter convention of the runs' procedure (for ``gpt``:
            ``"non_embedding"`` (default; Kaplan et al. 2020), ``"with_last_layer"``, ``"total"``).
        flops_convention : str, optional
            C per run: a FLOP convention of the procedure (for ``gpt``: ``"exact"`` (default;
            per-token count incl. attention and logits, Hoffmann et al. 2022 App. F), ``"6N"``,
            ``"6N_with_last_layer"``), or ``"6ND"`` (6 x N x D with the N of
            ``n_params_convention``). The chosen conventions are named in ``Runs.source``;
            ``Runs.flops_convention`` is ``"explicit"`` (C is given per row). D (``n_tokens`` of
            the table) is each run's data seen in its procedure's unit.
        group_by : sequence of str
            Group columns attached to every row (default: ladder, rung, procedure, variant,
            dataset, schedule, lr, seed), so that ``runs.filter(procedure=...)`` and
            ``runs.split("lr")`` work.
        **equals
            Store filters, as for :meth:`records` (``rung=``, ``procedure=`` ...).

        Warns
        -----
        DataWarning
            When diverged runs are excluded; the message counts and names them. They are kept
            on ``Runs.excluded`` with reason ``"diverged"``.

        Raises
        ------
        DataError
            No finished run matches, or the runs mix units of D (tokens and samples).
        ConfigError
            The target or a convention is not one of the runs' procedure.
        """
        equals = dict(equals)
        equals.pop("status", None)
        known = sorted({m for name in list_procedures() for m in get_procedure(name).metrics})
        if target is not None and target not in known:
            raise ConfigError(f"no registered procedure reports {target!r}.{suggest(target, known)} "
                              f"Metrics: {', '.join(known)}")
        recs = self.records(status=("done", "diverged"), **equals)
        procs = {r.spec.procedure: r.spec.procedure_spec for r in recs}
        units = {p.unit for p in procs.values()}
        if len(units) > 1:
            raise DataError(f"the selected runs count D in different units ({', '.join(sorted(units))}: "
                            f"procedures {', '.join(sorted(procs))}); select one with procedure=...")
        for p in procs.values():
            if target is not None and target not in p.metrics:
                raise ConfigError(f"procedure {p.name!r} does not report {target!r}."
                                  f"{suggest(target, p.metrics)} Its metrics: {', '.join(p.metrics)}")
            for conv, known in ((n_params_convention, p.param_conventions),
                                (flops_convention, (*p.flops_conventions, "6ND"))):
                if conv is not None and conv not in known:
                    raise ConfigError(f"procedure {p.name!r} has no convention {conv!r}."
                                      f"{suggest(conv, known)} Available: {', '.join(known)}")
        diverged = [r.run_id for r in recs if r.status == "diverged"]
        recs = [r for r in recs if r.status == "done"]

        def value(r: RunRecord) -> Any:
            return r.metrics.get(target or r.spec.procedure_spec.metrics[0])

        lost = [r.run_id for r in recs if not _finite(value(r))]
        recs = [r for r in recs if _finite(value(r))]
        target_name = target or (next(iter(procs.values())).metrics[0] if procs else "val_loss")
        if not recs:
            what = ", ".join(f"{k}={v!r}" for k, v in equals.items()) or "any filter"
            raise DataError(f"the store {str(self.root)!r} has no finished run with a finite "
                            f"{target_name} ({what}); {len(diverged)} diverged. Run a sweep first.")
        cols: dict[str, list] = {"run_id": [], "n_params": [], "n_tokens": [], "flops": [],
                                 "target": []}
        allowed = [*SPEC_COLUMNS, *RESULT_GROUPS, "status"]
        for g in group_by:
            if g not in allowed:
                raise ConfigError(f"cannot group runs by {g!r}.{suggest(g, allowed)} "
                                  f"Group columns: {', '.join(allowed)}")
            missing = [r.run_id for r in recs if g in RESULT_GROUPS and getattr(r, RESULT_GROUPS[g]) is None]
            if missing:
                raise DataError(f"{len(missing)} run(s) record no {RESULT_GROUPS[g]} (e.g. {missing[0]!r}; "
                                f"runs trained before it was recorded); filter them out or retrain them")
            cols[g] = []
        for r in recs:
            n_params, n_data, flops = quantities(r, n_params_convention, flops_convention)
            cols["run_id"].append(r.run_id)
            cols["n_params"].append(n_params)
            cols["n_tokens"].append(n_data)
            cols["flops"].append(flops)
            cols["target"].append(value(r))
            flat = _spec_row(r)
            for g in group_by:
                cols[g].append(r.status if g == "status" else
                               getattr(r, RESULT_GROUPS[g]) if g in RESULT_GROUPS else flat[g])
        excluded_ids = diverged + lost
        if excluded_ids:
            parts = []
            if diverged:
                parts.append(f"{len(diverged)} diverged run(s)")
            if lost:
                parts.append(f"{len(lost)} run(s) without a finite {target_name}")
            warnings.warn(f"store {str(self.root)!r}: excluded {' and '.join(parts)} of "
                          f"{len(recs) + len(excluded_ids)} from the runs table: "
                          + ", ".join(excluded_ids[:5]) + (" ..." if len(excluded_ids) > 5 else ""),
                          DataWarning, stacklevel=2)
        conv_n = n_params_convention or "/".join(sorted({p.param_conventions[0] for p in procs.values()}))
        conv_c = flops_convention or "/".join(sorted({p.flops_conventions[0] for p in procs.values()}))
        runs = load_runs(cols, n_params="n_params", n_tokens="n_tokens", flops="flops",
                         target="target", run_id="run_id", group_by=tuple(group_by),
                         flops_convention="explicit", target_name=target_name,
                         source_name=f"store {self.root} (N={conv_n}, C={conv_c})")
        excluded = {"run_id": list(runs.excluded.get("run_id", [])) + excluded_ids,
                    "reason": list(runs.excluded.get("reason", []))
                    + ["diverged"] * len(diverged) + [f"no finite {target_name}"] * len(lost)}
        return replace(runs, excluded=excluded)


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


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _spec_row(r: RunRecord) -> dict[str, Any]:
    """The flat spec columns of a record (:data:`SPEC_COLUMNS`)."""
    s = r.spec
    return {"procedure": s.procedure, "ladder": s.ladder, "rung": s.rung, "variant": s.variant,
            "dataset": s.dataset, "schedule": s.schedule, "lr": s.lr, "seed": s.seed,
            "n_data": s.n_data, "batch_size": s.batch_size, "branch_of": s.branch_of,
            "branch_at": s.branch_at}


def _row(r: RunRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": r.run_id, "status": r.status, **_spec_row(r)}
    for k in _RESULT_COLUMNS:
        row[k] = getattr(r, k)
    row["record"] = json.dumps(r.to_dict(), sort_keys=True, default=str)
    row["updated_at"] = time.time()
    return row


def _flat(r: RunRecord) -> dict[str, Any]:
    spec = _spec_row(r)
    out: dict[str, Any] = {"run_id": r.run_id, "status": r.status}
    for k in ("procedure", "ladder", "rung", "variant", "dataset", "schedule", "lr", "seed",
              "batch_size"):
        out[k] = spec[k]
    out["unit"] = r.spec.unit
    out["n_data"] = spec["n_data"]
    out["n_data_seen"] = r.n_data_seen
    out["n_unique_seen"] = r.n_unique_seen
    out["epochs"] = r.epochs
    out["dataset_hash"] = r.dataset_hash
    proc = r.spec.procedure_spec
    out["n_params"] = r.n_params.get(proc.param_conventions[0])
    for conv, v in sorted(r.n_params.items()):
        out[f"n_params_{conv}"] = v
    for conv, v in sorted(r.flops.items()):
        out[f"flops_{conv}"] = v
    for name in proc.metrics:
        out[name] = r.metrics.get(name)
        out[f"{name}_se"] = r.metrics_se.get(name)
    for name, v in r.metrics.items():
        if name not in out:
            out[name] = v
            out[f"{name}_se"] = r.metrics_se.get(name)
    out["wall_s"] = r.wall_s
    out["branch_of"] = spec["branch_of"]
    out["branch_at"] = spec["branch_at"]
    out["error"] = r.error
    return out


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    if not cols:
        cols = dict.fromkeys(("run_id", "status", "procedure", "rung", "n_params", "n_data"))
    return list(cols)


def quantities(r: RunRecord, n_convention: str | None = None,
               flops_convention: str | None = None) -> tuple[float, float, float]:
    """(N, D, C) of one record under the named conventions of its procedure.

    Taken from the record when it holds the convention, else computed from the spec's model
    through the procedure registry. ``flops_convention="6ND"`` is 6 x N x D with the N of
    ``n_convention``. D is the data seen (tokens or samples), or the planned horizon when the
    record has none.
    """
    proc = r.spec.procedure_spec
    n_conv = n_convention or proc.param_conventions[0]
    c_conv = flops_convention or proc.flops_conventions[0]
    n_data = float(r.n_data_seen or r.spec.n_data or 0)
    N = float(r.n_params[n_conv]) if n_conv in r.n_params else float(proc.n_params(r.spec.model, n_conv))
    if c_conv == "6ND":
        return N, n_data, 6.0 * N * n_data
    if c_conv in r.flops:
        return N, n_data, float(r.flops[c_conv])
    return N, n_data, proc.flops_per_unit(r.spec.model, c_conv) * n_data
