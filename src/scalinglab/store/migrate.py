"""Migration of a store's run directories from older run schemas (``scalinglab store rebuild``).

Run ids hash the canonical spec, so a schema change that changes the canonical form changes the
ids: migration rewrites each record, renames its directory (checkpoints and attempt log inside)
and writes the old -> new mapping beside the store. Results are copied unchanged.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

from ..errors import MigrationWarning, StoreError
from . import rundir
from .schema import SCHEMA_VERSION, RunRecord, migrate_record_v1

__all__ = ["MIGRATIONS_DIR", "migrate_v1"]

MIGRATIONS_DIR = "migrations"   # what a migration did: old run id -> new run id


def migrate_v1(root: Path, runs_dir: Path) -> dict[str, str]:
    """Migrate the run directories of run schema 1 in ``runs_dir``; return ``{old id: new id}``.

    Schema 1 predates procedures (GPT runs only): each record is rewritten by
    :func:`~scalinglab.store.schema.migrate_record_v1` (trunks before their branches, so a
    branch points at its trunk's new id), its directory is renamed to the new run id with
    its checkpoints and attempt log inside, and the mapping is written to
    ``migrations/schema1-<unix time>.json``. A :class:`MigrationWarning` says how many runs
    moved. Finished results are copied unchanged; the trainers read schema-1 checkpoints.
    """
    old: dict[str, dict[str, Any]] = {}
    for path in rundir.iter_record_files(runs_dir):
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
        src, dst = runs_dir / key, runs_dir / new
        if dst.exists() and src != dst:
            raise StoreError(f"cannot migrate run {key!r} to {new!r}: {str(dst)!r} already exists")
        os.replace(src, dst)
        record = RunRecord.from_dict(migrate_record_v1(old[key], new_ids))
        rundir.write_record(dst, record)
    stamp = int(time.time())
    rundir.write_json_atomic(root / MIGRATIONS_DIR / f"schema1-{stamp}.json",
                             {"from_schema": 1, "to_schema": SCHEMA_VERSION, "run_ids": new_ids})
    warnings.warn(f"store {str(root)!r}: migrated {len(new_ids)} run(s) from run schema 1 to "
                  f"{SCHEMA_VERSION} (run ids changed; old -> new in "
                  f"{MIGRATIONS_DIR}/schema1-{stamp}.json); every result was kept",
                  MigrationWarning, stacklevel=4)
    return new_ids
