"""The results store: what a run is, what it gave, and where results live.

What to use when
----------------
* :class:`RunSpec` describes one training run completely; its ``run_id`` hashes the spec.
* :class:`RunRecord` is what a run produced (losses, N and C under every convention, provenance).
* :class:`ResultsStore` keeps records: a SQLite index plus one ``record.json`` per run directory.
  Read it with ``records()``, ``to_frame()``, ``export("runs.csv")`` or, for fitting,
  ``to_runs(target="val_loss", flops_convention="6N")``. ``rebuild()`` (``scalinglab store
  rebuild``) restores the index from the record files.

Importing this package needs only the standard library, numpy and pyyaml.
"""

from .schema import SCHEMA_VERSION, RunRecord, RunSpec, RunStatus
from .store import FINAL_STATUSES, ResultsStore, rebuild_store
from .table import DEFAULT_GROUPS

__all__ = [
    "DEFAULT_GROUPS",
    "FINAL_STATUSES",
    "ResultsStore",
    "RunRecord",
    "RunSpec",
    "RunStatus",
    "SCHEMA_VERSION",
    "rebuild_store",
]
