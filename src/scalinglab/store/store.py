"""The results store: one SQLite database plus one record file per run.

Layout of a store directory::

    <store>/results.sqlite          the index (SQLite, WAL mode), written by the coordinator only
    <store>/runs/<run_id>/          the run's own directory: trainer checkpoints, record.json,
                                    attempts.jsonl, progress.json (see ``_rundir``)

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

from ..errors import (
    ConfigError,
    DataError,
    DataWarning,
    ScalingLabWarning,
    StoreError,
    suggest,
)
from . import _rundir
from .schema import RunRecord

__all__ = ["DEFAULT_GROUPS", "FINAL_STATUSES", "ResultsStore", "rebuild_store"]

DB_NAME = "results.sqlite"
RUNS_DIR = "runs"
LOCK_NAME = ".writer.lock"
LAYOUT_VERSION = 1  # version of the database layout below (the record schema has its own)

#: Statuses a run never leaves: a re-run sweep skips these, and the store refuses to replace
#: them with a different record. ``failed`` is not final: a re-run retries it.
FINAL_STATUSES = ("done", "diverged")

#: Group keys :meth:`ResultsStore.to_runs` attaches to every row by default.
DEFAULT_GROUPS = ("ladder", "rung", "procedure", "schedule", "lr", "seed")

# Flat, queryable columns of the ``runs`` table (the full record is in ``record``).
_SPEC_COLUMNS = {"ladder": "TEXT", "rung": "TEXT", "procedure": "TEXT", "schedule": "TEXT",
                 "lr": "REAL", "seed": "INTEGER", "n_tokens": "INTEGER", "batch_size": "INTEGER",
                 "corpus": "TEXT", "branch_of": "TEXT", "branch_at_tokens": "INTEGER"}
_RESULT_COLUMNS = {"tokens_seen": "INTEGER", "val_loss": "REAL", "val_loss_se": "REAL",
                   "train_loss": "REAL", "wall_s": "REAL", "error": "TEXT"}
FILTER_COLUMNS = ("run_id", "status", *_SPEC_COLUMNS, "tokens_seen")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    {", ".join(f"{k} {t}" for k, t in {**_SPEC_COLUMNS, **_RESULT_COLUMNS}.items())},
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
                on_disk = _rundir.read_record(run_dir)
            except StoreError:
                on_disk = None  # an unreadable file is replaced by the good record
            if on_disk is None or not _same(on_disk.to_dict(), new):
                _rundir.write_record(run_dir, record)
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
        them. Returns the number of records indexed.
        """
        if self.readonly:
            raise StoreError("this store was opened read-only; open it without readonly=True")
        records, bad = [], []
        for path in _rundir.iter_record_files(self.runs_dir):
            try:
                rec = _rundir.read_record(path.parent)
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
        """Flat rows (one dict per run) with every parameter and FLOP convention as a column.

        Columns: ``run_id, status, ladder, rung, procedure, schedule, lr, seed, batch_size,
        n_tokens`` (the planned horizon), ``tokens_seen``, ``n_params`` (non-embedding),
        ``n_params_<convention>``, ``flops_<convention>``, ``val_loss, val_loss_se, train_loss,
        wall_s, branch_of, branch_at_tokens, corpus, error``.
        """
        return [_flat(r) for r in self.records(status, **equals)]

    def to_frame(self, status: str | Sequence[str] | None = None, **equals: Any):
        """The flat rows as a pandas DataFrame (needs pandas)."""
        from .._optional import require

        pd = require("pandas", extra="pandas", purpose="ResultsStore.to_frame()")
        rows = self.rows(status, **equals)
        return pd.DataFrame(rows, columns=_columns(rows))

    def export(self, path: str | Path, status: str | Sequence[str] | None = None, **equals: Any) -> int:
        """Write the flat rows to ``.csv``, ``.parquet`` or ``.jsonl`` (by suffix); return the row count.

        The file is written atomically (temp file + rename), so an interrupted export never
        leaves a truncated table.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq", ".jsonl"):
            raise ConfigError(f"cannot export to {str(path)!r}: use a .csv, .parquet or .jsonl file name")
        rows = self.rows(status, **equals)
        cols = _columns(rows)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if suffix == ".csv":
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    w = csv.DictWriter(fh, fieldnames=cols)
                    w.writeheader()
                    for r in rows:
                        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
            elif suffix == ".jsonl":
                with open(tmp, "w", encoding="utf-8") as fh:
                    for r in rows:
                        fh.write(json.dumps({k: r.get(k) for k in cols}) + "\n")
            else:
                from .._optional import require

                pa = require("pyarrow", extra="pandas", purpose="Parquet export")
                pq = require("pyarrow.parquet", extra="pandas", purpose="Parquet export")
                table = pa.Table.from_pylist([{k: r.get(k) for k in cols} for r in rows]) if rows \
                    else pa.table({k: pa.array([], pa.string()) for k in cols})
                pq.write_table(table, tmp)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
        return len(rows)

    def to_runs(self, target: str = "val_loss", *, n_params_convention: str = "non_embedding",
                flops_convention: str = "exact", group_by: Sequence[str] = DEFAULT_GROUPS,
                **equals: Any):
        """The finished runs as :class:`scalinglab.laws.data.Runs`, ready for ``fit``/``compare``.

        Parameters
        ----------
        target : str
            The modelled quantity: ``"val_loss"`` (held-out loss, nats/token) or ``"train_loss"``.
        n_params_convention : str
            N per run: ``"non_embedding"`` (Kaplan et al. 2020), ``"with_last_layer"`` or
            ``"total"`` (see :func:`scalinglab.units.gpt_n_params`).
        flops_convention : str
            C per run: ``"exact"`` (per-token count incl. attention and logits, Hoffmann et al.
            2022 App. F), ``"6N"`` or ``"6N_with_last_layer"`` (6 x N x D), or ``"6ND"``
            (6 x N x D with the N of ``n_params_convention``). The chosen conventions are named
            in ``Runs.source``; ``Runs.flops_convention`` is ``"explicit"`` (C is given per row).
        group_by : sequence of str
            Group columns attached to every row (default: ladder, rung, procedure, schedule,
            lr, seed), so that ``runs.filter(procedure=...)`` and ``runs.split("lr")`` work.
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
            No finished run matches, or a record lacks the requested quantity.
        """
        from ..laws.data import load_runs  # fit is numpy + scipy only

        if target not in ("val_loss", "train_loss"):
            raise ConfigError(f"target must be 'val_loss' or 'train_loss'; got {target!r}"
                              f"{suggest(target, ['val_loss', 'train_loss'])}")
        equals = dict(equals)
        equals.pop("status", None)
        recs = self.records(status=("done", "diverged"), **equals)
        diverged = [r.run_id for r in recs if r.status == "diverged"]
        recs = [r for r in recs if r.status == "done"]
        lost = [r.run_id for r in recs if not _finite(getattr(r, target))]
        recs = [r for r in recs if _finite(getattr(r, target))]
        if not recs:
            what = ", ".join(f"{k}={v!r}" for k, v in equals.items()) or "any filter"
            raise DataError(f"the store {str(self.root)!r} has no finished run with a finite "
                            f"{target} ({what}); {len(diverged)} diverged. Run a sweep first.")
        cols: dict[str, list] = {"run_id": [], "n_params": [], "n_tokens": [], "flops": [],
                                 "target": []}
        for g in group_by:
            if g not in _SPEC_COLUMNS and g not in ("status",):
                raise ConfigError(f"cannot group runs by {g!r}.{suggest(g, _SPEC_COLUMNS)} "
                                  f"Group columns: {', '.join(_SPEC_COLUMNS)}")
            cols[g] = []
        for r in recs:
            n_params, n_tokens, flops = _quantities(r, n_params_convention, flops_convention)
            cols["run_id"].append(r.run_id)
            cols["n_params"].append(n_params)
            cols["n_tokens"].append(n_tokens)
            cols["flops"].append(flops)
            cols["target"].append(getattr(r, target))
            for g in group_by:
                cols[g].append(r.spec.get(g) if g != "status" else r.status)
        excluded_ids = diverged + lost
        if excluded_ids:
            parts = []
            if diverged:
                parts.append(f"{len(diverged)} diverged run(s)")
            if lost:
                parts.append(f"{len(lost)} run(s) without a finite {target}")
            warnings.warn(f"store {str(self.root)!r}: excluded {' and '.join(parts)} of "
                          f"{len(recs) + len(excluded_ids)} from the runs table: "
                          + ", ".join(excluded_ids[:5]) + (" ..." if len(excluded_ids) > 5 else ""),
                          DataWarning, stacklevel=2)
        runs = load_runs(cols, n_params="n_params", n_tokens="n_tokens", flops="flops",
                         target="target", run_id="run_id", group_by=tuple(group_by),
                         flops_convention="explicit", target_name=target,
                         source_name=f"store {self.root} (N={n_params_convention}, "
                                     f"C={flops_convention})")
        excluded = {"run_id": list(runs.excluded.get("run_id", [])) + excluded_ids,
                    "reason": list(runs.excluded.get("reason", []))
                    + ["diverged"] * len(diverged) + [f"no finite {target}"] * len(lost)}
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
    return json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # NaN != NaN, so compare canonical JSON text (json writes NaN as NaN consistently)
    return _canonical(a) == _canonical(b)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _row(r: RunRecord) -> dict[str, Any]:
    spec = r.spec or {}
    row: dict[str, Any] = {"run_id": r.run_id, "status": r.status}
    for k in _SPEC_COLUMNS:
        row[k] = spec.get(k)
    for k in _RESULT_COLUMNS:
        row[k] = getattr(r, k)
    row["record"] = json.dumps(r.to_dict(), sort_keys=True, default=str)
    row["updated_at"] = time.time()
    return row


def _flat(r: RunRecord) -> dict[str, Any]:
    spec = r.spec or {}
    out: dict[str, Any] = {"run_id": r.run_id, "status": r.status}
    for k in ("ladder", "rung", "procedure", "schedule", "lr", "seed", "batch_size", "n_tokens"):
        out[k] = spec.get(k)
    out["tokens_seen"] = r.tokens_seen
    out["n_params"] = r.n_params.get("non_embedding")
    for conv, v in sorted(r.n_params.items()):
        out[f"n_params_{conv}"] = v
    for conv, v in sorted(r.flops.items()):
        out[f"flops_{conv}"] = v
    for k in ("val_loss", "val_loss_se", "train_loss", "wall_s"):
        out[k] = getattr(r, k)
    for k in ("branch_of", "branch_at_tokens", "corpus"):
        out[k] = spec.get(k)
    out["error"] = r.error
    return out


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    if not cols:
        cols = dict.fromkeys(("run_id", "status", "rung", "n_params", "n_tokens", "val_loss"))
    return list(cols)


def _quantities(r: RunRecord, n_conv: str, c_conv: str) -> tuple[float, float, float]:
    """(N, D, C) of one record under the named conventions (computed from the spec if absent)."""
    from ..units import gpt_flops_per_token, gpt_n_params

    spec = r.spec or {}
    n_tokens = float(r.tokens_seen or spec.get("n_tokens") or 0)
    model = spec.get("model") or {}
    arch = {k: model[k] for k in ("n_layer", "d_model", "vocab_size", "seq_len", "d_ff") if k in model}
    is_gpt = {"n_layer", "d_model", "vocab_size", "seq_len"} <= set(arch)

    def n_params(conv: str) -> float:
        if conv in r.n_params:
            return float(r.n_params[conv])
        if is_gpt:
            return float(gpt_n_params(**arch, convention=conv))
        raise DataError(f"run {r.run_id!r} records no n_params[{conv!r}] (it has "
                        f"{', '.join(r.n_params) or 'none'}) and its model is not a GPT whose "
                        "count scalinglab can compute; choose another n_params_convention")

    N = n_params(n_conv)
    if c_conv == "6ND":
        return N, n_tokens, 6.0 * N * n_tokens
    if c_conv in r.flops:
        return N, n_tokens, float(r.flops[c_conv])
    if is_gpt:
        return N, n_tokens, gpt_flops_per_token(**arch, convention=c_conv) * n_tokens
    raise DataError(f"run {r.run_id!r} records no flops[{c_conv!r}] (it has "
                    f"{', '.join(r.flops) or 'none'}); choose another flops_convention, e.g. '6ND'")

