"""The results store as a table: its columns, flat rows, and the :class:`~scalinglab.laws.Runs`
table that fits read (:meth:`ResultsStore.to_runs <scalinglab.store.ResultsStore.to_runs>`).

N, D and C of a run come from its record, or from its procedure's counts
(:mod:`scalinglab.procedures`) under the conventions a fit asks for: the store applies no
model-specific convention of its own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError, DataWarning, suggest
from ..laws.runs import Runs
from ..laws.tables import load_runs
from ..procedures import get_procedure, list_procedures
from .schema import RunRecord

if TYPE_CHECKING:
    from .store import ResultsStore

__all__ = ["DEFAULT_GROUPS", "FILTER_COLUMNS", "RESULT_COLUMNS", "RESULT_GROUPS", "SPEC_COLUMNS",
           "finite", "flat_row", "quantities", "row_columns", "spec_row", "to_runs"]

#: Group keys :meth:`ResultsStore.to_runs` attaches to every row by default.
DEFAULT_GROUPS = ("ladder", "rung", "procedure", "variant", "dataset", "schedule", "lr", "seed")

#: Flat, queryable columns of the database's ``runs`` table (the full record is in ``record``).
SPEC_COLUMNS = {"procedure": "TEXT", "ladder": "TEXT", "rung": "TEXT", "variant": "TEXT",
                "dataset": "TEXT", "schedule": "TEXT", "lr": "REAL", "seed": "INTEGER",
                "n_data": "INTEGER", "batch_size": "INTEGER", "branch_of": "TEXT",
                "branch_at": "INTEGER"}
#: Result columns of the database's ``runs`` table.
RESULT_COLUMNS = {"n_data_seen": "INTEGER", "n_unique_seen": "INTEGER", "epochs": "REAL",
                   "dataset_hash": "TEXT", "wall_s": "REAL", "error": "TEXT"}
FILTER_COLUMNS = ("run_id", "status", *SPEC_COLUMNS, "n_data_seen", "dataset_hash")
#: Columns of a run's *result* that :meth:`ResultsStore.to_runs` can attach (``group_by=``): the
#: unique data a run saw (the ``n_unique_tokens`` input of the data-constrained law), its epochs
#: and the hash of its data.
RESULT_GROUPS = {"n_unique_tokens": "n_unique_seen", "epochs": "epochs", "dataset_hash": "dataset_hash"}


def to_runs(store: ResultsStore, target: str | None = None, *, n_params_convention: str | None = None,
            flops_convention: str | None = None, group_by: Sequence[str] = DEFAULT_GROUPS,
            **equals: Any) -> Runs:
    """The finished runs of ``store`` as :class:`scalinglab.laws.Runs` (:meth:`ResultsStore.to_runs`).

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
        Store filters, as for :meth:`ResultsStore.records` (``rung=``, ``procedure=`` ...).

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
    recs = store.records(status=("done", "diverged"), **equals)
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

    lost = [r.run_id for r in recs if not finite(value(r))]
    recs = [r for r in recs if finite(value(r))]
    target_name = target or (next(iter(procs.values())).metrics[0] if procs else "val_loss")
    if not recs:
        what = ", ".join(f"{k}={v!r}" for k, v in equals.items()) or "any filter"
        raise DataError(f"the store {str(store.root)!r} has no finished run with a finite "
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
        flat = spec_row(r)
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
        warnings.warn(f"store {str(store.root)!r}: excluded {' and '.join(parts)} of "
                      f"{len(recs) + len(excluded_ids)} from the runs table: "
                      + ", ".join(excluded_ids[:5]) + (" ..." if len(excluded_ids) > 5 else ""),
                      DataWarning, stacklevel=2)
    conv_n = n_params_convention or "/".join(sorted({p.param_conventions[0] for p in procs.values()}))
    conv_c = flops_convention or "/".join(sorted({p.flops_conventions[0] for p in procs.values()}))
    runs = load_runs(cols, n_params="n_params", n_tokens="n_tokens", flops="flops",
                     target="target", run_id="run_id", group_by=tuple(group_by),
                     flops_convention="explicit", target_name=target_name,
                     source_name=f"store {store.root} (N={conv_n}, C={conv_c})")
    excluded = {"run_id": list(runs.excluded.get("run_id", [])) + excluded_ids,
                "reason": list(runs.excluded.get("reason", []))
                + ["diverged"] * len(diverged) + [f"no finite {target_name}"] * len(lost)}
    return replace(runs, excluded=excluded)


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def spec_row(r: RunRecord) -> dict[str, Any]:
    """The flat spec columns of a record (:data:`SPEC_COLUMNS`)."""
    s = r.spec
    return {"procedure": s.procedure, "ladder": s.ladder, "rung": s.rung, "variant": s.variant,
            "dataset": s.dataset, "schedule": s.schedule, "lr": s.lr, "seed": s.seed,
            "n_data": s.n_data, "batch_size": s.batch_size, "branch_of": s.branch_of,
            "branch_at": s.branch_at}





def flat_row(r: RunRecord) -> dict[str, Any]:
    spec = spec_row(r)
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


def row_columns(rows: list[dict[str, Any]]) -> list[str]:
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
