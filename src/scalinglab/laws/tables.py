"""Tables in: CSV, JSONL, JSON, Parquet, DataFrames and lm-eval result files, read into :class:`Runs`.

:func:`load_runs` reads CSV, JSONL, JSON (list of records), Parquet, a pandas DataFrame or a
dict of columns; maps the source's column names onto scalinglab's logical names; parses human
units ("70M", "1.4e12"); derives training compute C by a named convention
(:data:`scalinglab.units.FLOPS_CONVENTIONS`) and records which one was used; and validates,
raising :class:`~scalinglab.errors.DataError` with a message that says how to fix the input.

Logical columns: ``n_params`` (N), ``n_tokens`` (D), ``flops`` (C), ``target`` (the loss or
error being modelled), ``run_id``, and any number of ``group_by`` keys (procedure, dataset,
learning rate, seed...). Rows whose target is NaN or infinite are diverged runs: they are
excluded with a :class:`~scalinglab.errors.DataWarning` that counts them, and kept on
``Runs.excluded``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._optional import require
from ..errors import DataError, MissingColumnError, suggest
from ..units import get_flops_convention, parse_quantity
from .runs import Runs, build_runs

__all__ = ["ALIASES", "EXTRA_ALIASES", "load_lm_eval", "load_runs"]

# Column names tried, in order, when the caller does not name a column.
ALIASES: dict[str, tuple[str, ...]] = {
    "n_params": ("n_params", "N", "params", "num_params", "model_size", "Model Size", "parameters"),
    "n_tokens": ("n_tokens", "D", "tokens", "num_tokens", "Tokens", "train_tokens", "samples_seen"),
    "flops": ("flops", "C", "FLOPs", "compute", "Training FLOP", "train_flops"),
    "target": ("target", "loss", "val_loss", "eval_loss", "Loss", "error", "err"),
    "run_id": ("run_id", "id", "run", "name"),
}
# Inputs of the per-sample FLOP conventions (CLIP-style runs), tried when not named.
EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "gflops_per_sample": ("gflops_per_sample", "gflops", "GFLOPs", "GFLOPS", "gflops_per_image"),
    "gmacs_per_sample": ("gmacs_per_sample", "gmacs", "GMACs", "GMACS"),
    "samples_seen": ("samples_seen", "samples", "Samples seen", "seen_samples"),
}


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------

def _read_table(source: Any) -> tuple[dict[str, list], str]:
    """Return ``(columns, description)`` for a path, DataFrame, dict of columns or list of records."""
    if isinstance(source, Mapping):
        cols = {}
        for k, v in source.items():
            try:
                arr = np.asarray(v, dtype=object)
            except ValueError:  # ragged nested sequences
                raise DataError(f"dict: column {k!r} is not a flat sequence of values") from None
            if arr.ndim > 1:
                raise DataError(f"dict: column {k!r} has shape {arr.shape}; each column must be 1-D")
            cols[str(k)] = list(np.atleast_1d(arr))
        return cols, "dict"
    if hasattr(source, "to_pydict") and hasattr(source, "column_names"):  # pyarrow Table
        return {str(k): list(v) for k, v in source.to_pydict().items()}, "Table"
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # pandas DataFrame
        names = [str(c) for c in source.columns]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"DataFrame has duplicated column names: {', '.join(map(repr, dup))}; rename them")
        return {str(k): list(v) for k, v in source.to_dict("list").items()}, "DataFrame"
    if isinstance(source, (list, tuple)):
        return _records_to_columns(source, "records"), "records"
    if not isinstance(source, (str, Path)) and not hasattr(source, "__fspath__"):
        raise DataError(
            f"cannot load runs from a {type(source).__name__}; pass a path (CSV, JSONL, JSON, Parquet), "
            "a pandas DataFrame, a dict of columns or a list of records")
    path = Path(source)
    if not path.exists():
        raise DataError(f"runs file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory; pass a CSV, JSONL, JSON or Parquet file")
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix == ".parquet" or suffix == ".pq":
        pq = require("pyarrow.parquet", extra="pandas", purpose="reading Parquet")
        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise DataError(f"cannot read Parquet file {str(path)!r}: {exc}") from None
        return {k: list(v) for k, v in table.to_pydict().items()}, str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{str(path)!r} is not UTF-8 text; pass CSV, JSONL, JSON or Parquet") from None
    if not text.strip():
        raise DataError(f"runs file {str(path)!r} is empty")
    if suffix in (".jsonl", ".ndjson"):
        records = []
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{str(path)!r} line {i} is not valid JSON: {exc.msg}") from None
        return _records_to_columns(records, str(path)), str(path)
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{str(path)!r} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
        if isinstance(data, dict):
            data = data.get("runs", data.get("results", data))
        if isinstance(data, dict):  # a dict of columns
            return {str(k): list(v) if isinstance(v, list) else [v] for k, v in data.items()}, str(path)
        return _records_to_columns(data, str(path)), str(path)
    # CSV (or TSV by sniffing)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = [r for r in reader if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"runs file {str(path)!r} is empty")
    header, body = rows[0], rows[1:]
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise DataError(f"{str(path)!r} has duplicated column names: {', '.join(map(repr, dup))}; rename them")
    cols = {h: [] for h in header}
    for i, r in enumerate(body, 2):
        if len(r) != len(header):
            raise DataError(f"{str(path)!r} line {i} has {len(r)} fields; the header has {len(header)}")
        for h, cell in zip(header, r):
            cols[h].append(cell)
    return cols, str(path)


def _records_to_columns(records: Any, where: str) -> dict[str, list]:
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, Mapping) for r in records):
        raise DataError(f"{where}: expected a list of records (objects with one key per column)")
    keys = list(dict.fromkeys(k for r in records for k in r))
    names = [str(k) for k in keys]
    if len(set(names)) != len(names):
        raise DataError(f"{where}: keys {[k for k in keys if names.count(str(k)) > 1]!r} "
                        "name the same column; use one spelling per column")
    return {str(k): [r.get(k) for r in records] for k in keys}


def _resolve(logical: str, given: Any, available: list[str], required: bool,
             aliases: Mapping[str, tuple[str, ...]] = ALIASES) -> str | None:
    if given is not None:
        if not isinstance(given, str):
            raise DataError(f"the column for {logical} must be named by a string; got {given!r}")
        if given not in available:
            raise MissingColumnError(
                f"column {given!r} (for {logical}) is not in the table.{suggest(given, available)} "
                f"Columns: {', '.join(available)}")
        return given
    for alias in aliases[logical]:
        if alias in available:
            return alias
    if required:
        raise MissingColumnError(
            f"no {logical} column found (tried {', '.join(aliases[logical])}); name it with "
            f"{logical}=<column>. Columns: {', '.join(available)}")
    return None


def load_runs(source: Any, *, n_params: str | None = None, n_tokens: str | None = None,
              flops: str | None = None, target: str | None = None, run_id: str | None = None,
              group_by: str | Sequence[str] = (), columns: Mapping[str, str] | None = None,
              flops_convention: str | None = None, target_name: str | None = None,
              source_name: str | None = None, **extra_columns: str) -> Runs:
    """Load a table of evaluated runs.

    Parameters
    ----------
    source : path, DataFrame, pyarrow Table, dict of columns or list of records
        CSV/TSV, JSONL, JSON or Parquet by file suffix.
    n_params, n_tokens, flops, target, run_id : str, optional
        Source column for each logical column. When omitted, common names are tried
        (e.g. ``N``/``params``/``Model Size`` for ``n_params``; ``loss``/``val_loss`` for target;
        ``samples_seen`` for ``n_tokens``). Values may be numbers or human units ("70M", "3B").
    group_by : str or sequence of str
        Columns kept as group keys (procedure, dataset, hyper-parameters, seed...).
    columns : mapping, optional
        Alternative way to pass the mapping: ``{"n_params": "Model Size", ...}`` (also accepts
        the per-sample keys below).
    flops_convention : str, optional
        How training compute C is obtained (:data:`scalinglab.units.FLOPS_CONVENTIONS`):
        ``"explicit"`` (a FLOP column), ``"6ND"`` (C = 6 N D, Kaplan et al. 2020 Eq. 2.1),
        ``"gflops_per_sample"`` (C = 1e9 GFLOP/sample x samples seen, the OpenCLIP convention of
        Cherti et al. 2023), ``"gmacs_per_sample"`` (C = 2e9 GMAC/sample x samples seen).
        Default: an explicit FLOP column wins; then per-sample GFLOP or GMAC columns with a
        samples-seen column; then 6ND from N and D. The convention used is recorded on
        ``Runs.flops_convention``. When only N and an explicit C are present, D is derived as
        C / (6N) and ``Runs.n_tokens_derived`` is set.
    target_name, source_name : str, optional
        Names recorded on the result (default: the target column and the source description).
    **extra_columns : str
        Source columns for the inputs of per-sample conventions: ``gflops_per_sample=``,
        ``gmacs_per_sample=``, ``samples_seen=``. When omitted, ``gflops``/``GFLOPs``,
        ``gmacs``/``GMACs`` and ``samples_seen``/``samples`` are tried.

    Returns
    -------
    Runs
        Finite targets only; diverged rows are listed on ``Runs.excluded``.

    Raises
    ------
    DataError, MissingColumnError
        Empty table, unknown or misspelled column (with suggestions), non-numeric values,
        non-positive N/D/C, duplicated run ids, or no finite target at all.

    Warns
    -----
    DataWarning
        When rows with NaN/inf targets (diverged runs) are excluded; the count is in the message.

    Notes
    -----
    Column mappings for common sources:

    * OpenCLIP scaling tables (Cherti et al. 2023): ``load_runs(path, n_params="params",
      samples_seen="samples_seen", gflops_per_sample="gflops", target="imagenet1k_error")``
      gives C = 1e9 x GFLOP/sample x samples seen and D = samples seen.
    * lm-eval-harness results flattened to one row per model (``model``, ``n_params``,
      ``n_tokens``, ``acc``): ``load_runs(rows, run_id="model", target="acc")`` with C = 6ND.
    * The Chinchilla points (Hoffmann et al. 2022, Fig. 4): ``n_params="Model Size",
      flops="Training FLOP", target="loss"``; D is derived as C / (6N).

    Examples
    --------
    >>> runs = load_runs({"N": ["70M", "1B"], "D": ["1.4B", "20B"], "loss": [3.1, 2.6]})
    >>> runs.flops_convention, runs.flops.tolist()
    ('6ND', [5.88e+17, 1.2e+20])
    """
    try:
        mapping = dict(columns or {})
    except (TypeError, ValueError):
        raise DataError(f"columns= must map logical names to source columns, e.g. "
                        f"{{'n_params': 'Model Size'}}; got {columns!r}") from None
    for key, val in (("n_params", n_params), ("n_tokens", n_tokens), ("flops", flops),
                     ("target", target), ("run_id", run_id)):
        if val is not None:
            mapping[key] = val
    for key in list(mapping):
        if key in EXTRA_ALIASES:
            extra_columns.setdefault(key, mapping.pop(key))
    unknown = [k for k in mapping if k not in ALIASES]
    if unknown:
        raise DataError(f"unknown logical column {unknown[0]!r} in columns=.{suggest(unknown[0], ALIASES)} "
                        f"Logical columns: {', '.join([*ALIASES, *EXTRA_ALIASES])}")
    bad_extra = [k for k in extra_columns if k not in EXTRA_ALIASES]
    if bad_extra:
        raise DataError(f"unknown keyword {bad_extra[0]!r} for load_runs.{suggest(bad_extra[0], EXTRA_ALIASES)} "
                        f"Per-sample FLOP columns are named with: {', '.join(EXTRA_ALIASES)}")
    group_by = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    if flops_convention is not None:
        get_flops_convention(flops_convention)  # fail fast on a misspelled name

    cols, desc = _read_table(source)
    available = list(cols)
    if not available:
        raise DataError(f"{desc}: the table has no columns")
    nrows = {len(v) for v in cols.values()}
    if len(nrows) != 1:
        raise DataError(f"{desc}: columns have different lengths {sorted(nrows)}")
    nrow = nrows.pop()
    if nrow == 0:
        raise DataError(f"{desc}: the table has a header but no rows")

    resolved: dict[str, str | None] = {"target": _resolve("target", mapping.get("target"), available, True)}
    for key in ("run_id", "n_params", "n_tokens", "flops"):
        resolved[key] = _resolve(key, mapping.get(key), available, False)
    extras = {k: _resolve(k, extra_columns.get(k), available, False, EXTRA_ALIASES) for k in EXTRA_ALIASES}
    for g in group_by:
        if not isinstance(g, str) or g not in available:
            raise MissingColumnError(f"group column {g!r} is not in the table.{suggest(str(g), available)} "
                                     f"Columns: {', '.join(available)}")
    return build_runs(cols, resolved=resolved, extras=extras, group_by=group_by,
                      flops_convention=flops_convention, target_name=target_name,
                      source_name=source_name, desc=desc)


# ---------------------------------------------------------------------------------------------
# lm-evaluation-harness result files
# ---------------------------------------------------------------------------------------------

def _lm_eval_model_name(d: Mapping[str, Any]) -> str | None:
    if d.get("model_name"):
        return str(d["model_name"])
    args = (d.get("config") or {}).get("model_args")
    if isinstance(args, str):
        for part in args.split(","):
            key, _, value = part.partition("=")
            if key.strip() in ("pretrained", "model", "path") and value.strip():
                return value.strip()
    if isinstance(args, Mapping):
        for key in ("pretrained", "model", "path"):
            if args.get(key):
                return str(args[key])
    return None


def load_lm_eval(results: Any, *, task: str, models: Mapping[str, Mapping[str, Any]],
                 metric: str = "acc,none", target: str = "error",
                 source_name: str | None = None) -> Runs:
    """Runs from lm-evaluation-harness result files, one file per model.

    lm-eval writes ``{"results": {task: {"acc,none": ..., "acc_stderr,none": ...}}, "config":
    {"model_args": "pretrained=..."}, "model_name": ...}`` (older versions: ``"acc"`` without the
    filter suffix). The files do not record N or D, so they are given per model.

    Parameters
    ----------
    results : path, sequence of paths, dict or sequence of dicts
        Result JSON files, directories (searched recursively for ``results*.json``) or the
        parsed dictionaries.
    task : str
        The task to read (e.g. ``"hellaswag"``).
    models : mapping
        ``{model name: {"n_params": "70M", "n_tokens": "300B"}}`` (human units accepted; any
        other keys become group columns). The model name is the file's ``model_name`` or the
        ``pretrained=`` entry of its ``model_args``.
    metric : str
        Metric key (``"acc,none"``, ``"acc_norm,none"``, ``"exact_match,strict-match"`` ...); the
        key without its filter suffix is tried too.
    target : {"error", "metric"}
        Model ``1 - metric`` (an error rate that falls with scale, the usual choice for fitting
        saturating laws) or the metric itself.

    Returns
    -------
    Runs
        ``run_id`` = model name, C = 6ND, group columns ``task``, ``metric_stderr`` and the extra
        keys of ``models``.

    Raises
    ------
    DataError
        Unreadable files, a task or metric absent from a file (with the available names), a model
        missing from ``models``, or a model evaluated twice.
    """
    if target not in ("error", "metric"):
        raise DataError(f"target must be 'error' (1 - metric) or 'metric'; got {target!r}")
    if not isinstance(models, Mapping) or not all(isinstance(v, Mapping) for v in models.values()):
        raise DataError("models= must map each model name to {'n_params': ..., 'n_tokens': ...}")
    items = [results] if isinstance(results, (str, Path, Mapping)) else list(results)
    docs: list[tuple[str, Mapping[str, Any]]] = []
    for item in items:
        if isinstance(item, Mapping):
            docs.append(("dict", item))
            continue
        p = Path(item)
        files = sorted(p.rglob("results*.json")) if p.is_dir() else [p]
        if not files:
            raise DataError(f"no results*.json file under {str(p)!r}")
        for f in files:
            if not f.exists():
                raise DataError(f"lm-eval result file {str(f)!r} does not exist")
            try:
                docs.append((str(f), json.loads(f.read_text(encoding="utf-8"))))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(f"{str(f)!r} is not a JSON lm-eval result file: {exc}") from None
    if not docs:
        raise DataError("no lm-eval results given")
    records = []
    for where, d in docs:
        if not isinstance(d, Mapping) or not isinstance(d.get("results"), Mapping):
            raise DataError(f"{where}: not an lm-eval result file (no 'results' mapping)")
        if task not in d["results"]:
            raise DataError(f"{where}: no task {task!r}.{suggest(task, d['results'])} "
                            f"Tasks: {', '.join(map(str, d['results']))}")
        scores = d["results"][task]
        key = metric if metric in scores else metric.split(",")[0]
        if key not in scores:
            names = [k for k in scores if "stderr" not in k and k != "alias"]
            raise DataError(f"{where}: task {task!r} has no metric {metric!r}.{suggest(metric, names)} "
                            f"Metrics: {', '.join(names)}")
        name = _lm_eval_model_name(d)
        if name is None:
            raise DataError(f"{where}: cannot tell which model this is (no model_name, no pretrained= in "
                            "config.model_args)")
        if name not in models:
            raise DataError(f"{where}: model {name!r} is not in models=.{suggest(name, models)} "
                            "Give its n_params and n_tokens: models={name: {'n_params': ..., 'n_tokens': ...}}")
        value = parse_quantity(scores[key], name=f"{where} {task}/{key}")
        stderr_key = key.replace(",", "_stderr,", 1) if "," in key else f"{key}_stderr"
        records.append({"model": name, "target": 1.0 - value if target == "error" else value,
                        "task": task, "metric_stderr": scores.get(stderr_key),
                        **{k: v for k, v in models[name].items()}})
    known = ("model", "target", "task", "metric_stderr", "n_params", "n_tokens", "flops")
    extra = [k for k in records[0] if k not in known]
    return load_runs(records, run_id="model", target="target", group_by=("task", "metric_stderr", *extra),
                     target_name=f"{task}/{key}" + (" error" if target == "error" else ""),
                     source_name=source_name or f"lm-eval ({len(records)} files)")
