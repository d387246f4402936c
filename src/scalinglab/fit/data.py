"""Runs in: a validated, immutable table of evaluated training runs.

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
import hashlib
import io
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, DataWarning, MissingColumnError, suggest
from ..units import FLOPS_CONVENTIONS, get_flops_convention, parse_quantity

__all__ = ["Runs", "load_runs"]

# Column names tried, in order, when the caller does not name a column.
ALIASES: dict[str, tuple[str, ...]] = {
    "n_params": ("n_params", "N", "params", "num_params", "model_size", "Model Size", "parameters"),
    "n_tokens": ("n_tokens", "D", "tokens", "num_tokens", "Tokens", "train_tokens", "samples_seen"),
    "flops": ("flops", "C", "FLOPs", "compute", "Training FLOP", "train_flops"),
    "target": ("target", "loss", "val_loss", "eval_loss", "Loss", "error", "err"),
    "run_id": ("run_id", "id", "run", "name"),
}
NUMERIC = ("n_params", "n_tokens", "flops", "target")


@dataclass(frozen=True, eq=False)
class Runs:
    """An immutable table of evaluated runs (one row per run and evaluation point).

    Attributes
    ----------
    n_params, n_tokens, flops : ndarray of float or None
        N, D and C per row (None when the table has no such quantity).
    target : ndarray of float
        The modelled quantity (loss, error), all finite.
    run_id : ndarray of str
        Unique per row.
    groups : dict of str -> ndarray
        Group keys and hyper-parameters (``procedure``, ``lr``, ``seed`` ...), as objects.
    target_name : str
        Name of the target column in the source.
    flops_convention : str
        How ``flops`` was obtained: ``"explicit"`` (a FLOP column), ``"6ND"``, ... and
        ``n_tokens_derived`` records D = C / (6N) when tokens were not given.
    excluded : dict
        ``{"run_id": [...], "reason": [...]}`` for rows dropped on load (diverged runs).
    """

    target: np.ndarray
    run_id: np.ndarray
    n_params: np.ndarray | None = None
    n_tokens: np.ndarray | None = None
    flops: np.ndarray | None = None
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)
    target_name: str = "loss"
    flops_convention: str | None = None
    n_tokens_derived: bool = False
    source: str = ""
    excluded: Mapping[str, list] = field(default_factory=lambda: {"run_id": [], "reason": []})

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, *, target, n_params=None, n_tokens=None, flops=None, run_id=None,
                    groups: Mapping[str, Sequence] | None = None, flops_convention: str | None = "6ND",
                    target_name: str = "loss", source: str = "arrays") -> Runs:
        """Build from arrays (synthetic data, tests). C is 6ND unless ``flops`` is given."""
        cols: dict[str, Any] = {"target": target}
        if n_params is not None:
            cols["n_params"] = n_params
        if n_tokens is not None:
            cols["n_tokens"] = n_tokens
        if flops is not None:
            cols["flops"] = flops
        if run_id is not None:
            cols["run_id"] = run_id
        for k, v in (groups or {}).items():
            cols[k] = v
        mapping = {k: k for k in cols if k in ALIASES}
        return load_runs(cols, columns=mapping, group_by=tuple(groups or ()),
                         flops_convention=None if flops is not None else flops_convention,
                         target_name=target_name, source=source)

    # -- basic protocol -----------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.target.shape[0])

    def __repr__(self) -> str:
        span = ""
        if self.flops is not None and len(self):
            span = f", C in [{self.flops.min():.3g}, {self.flops.max():.3g}]"
        g = f", groups={list(self.groups)}" if self.groups else ""
        return f"Runs(n={len(self)}, target={self.target_name!r}{span}{g}, source={self.source!r})"

    @property
    def columns(self) -> list[str]:
        """Logical columns present."""
        out = [c for c in ("n_params", "n_tokens", "flops") if getattr(self, c) is not None]
        return out + ["target", "run_id", *self.groups]

    def column(self, name: str) -> np.ndarray:
        """A logical or group column by name (with suggestions when absent)."""
        if name in ("n_params", "n_tokens", "flops", "target", "run_id"):
            v = getattr(self, name)
            if v is None:
                raise MissingColumnError(
                    f"these runs have no {name!r} column; load them with {name}=<column name>"
                    + (" or set flops_convention" if name == "flops" else ""))
            return v
        if name in self.groups:
            return self.groups[name]
        raise MissingColumnError(f"no column {name!r} in runs.{suggest(name, self.columns)} "
                                 f"Available: {', '.join(self.columns)}")

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the numeric content, ids and group keys (stable across platforms)."""
        h = hashlib.sha256()
        for name in ("n_params", "n_tokens", "flops", "target"):
            v = getattr(self, name)
            h.update(name.encode())
            if v is not None:
                h.update(np.ascontiguousarray(v, dtype="<f8").tobytes())
        h.update("\x1f".join(map(str, self.run_id)).encode())
        for k in sorted(self.groups):
            h.update(k.encode())
            h.update("\x1f".join(map(str, self.groups[k])).encode())
        return h.hexdigest()

    # -- selection ------------------------------------------------------------------------
    def subset(self, index) -> Runs:
        """Rows selected by a boolean mask or an integer index array (may repeat rows)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise DataError(f"mask has shape {idx.shape}; expected ({len(self)},)")
            idx = np.flatnonzero(idx)

        def take(v):
            return None if v is None else v[idx]

        return replace(self, target=self.target[idx], run_id=self.run_id[idx],
                       n_params=take(self.n_params), n_tokens=take(self.n_tokens),
                       flops=take(self.flops), groups={k: v[idx] for k, v in self.groups.items()})

    def filter(self, *, min_flops: float | None = None, max_flops: float | None = None,
               min_params: float | None = None, max_params: float | None = None,
               **equals: Any) -> Runs:
        """Rows within compute / size limits whose group columns equal the given values.

        >>> runs.filter(max_flops=1e21, procedure="adamw")      # doctest: +SKIP
        """
        mask = np.ones(len(self), dtype=bool)
        for lo, hi, col in ((min_flops, max_flops, "flops"), (min_params, max_params, "n_params")):
            if lo is not None or hi is not None:
                v = self.column(col)
                if lo is not None:
                    mask &= v >= lo
                if hi is not None:
                    mask &= v <= hi
        for k, want in equals.items():
            v = self.column(k)
            mask &= np.array([str(x) == str(want) for x in v], dtype=bool)
        return self.subset(mask)

    def split(self, by: str | Sequence[str]) -> dict[Any, Runs]:
        """Split into ``{key: Runs}`` by one or more group columns (key is a tuple for several)."""
        keys = [by] if isinstance(by, str) else list(by)
        cols = [self.column(k) for k in keys]
        labels = [tuple(c[i] for c in cols) for i in range(len(self))]
        out: dict[Any, Runs] = {}
        for lab in dict.fromkeys(labels):
            mask = np.array([l_ == lab for l_ in labels], dtype=bool)
            out[lab[0] if len(keys) == 1 else lab] = self.subset(mask)
        return out

    def inputs(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """The input arrays a law needs (e.g. ``("n_params", "n_tokens")``)."""
        return {n: self.column(n) for n in names}

    # -- export -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, list]:
        out: dict[str, list] = {"run_id": [str(x) for x in self.run_id]}
        for c in ("n_params", "n_tokens", "flops"):
            v = getattr(self, c)
            if v is not None:
                out[c] = v.tolist()
        out[self.target_name if self.target_name not in out else "target"] = self.target.tolist()
        for k, v in self.groups.items():
            out[k] = list(v)
        return out

    def to_frame(self):
        """A pandas DataFrame (needs pandas)."""
        from .._optional import require

        pd = require("pandas", extra="pandas", purpose="Runs.to_frame()")
        return pd.DataFrame(self.to_dict())


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------

def _read_table(source: Any) -> tuple[dict[str, list], str]:
    """Return ``(columns, description)`` for a path, DataFrame, dict of columns or list of records."""
    if isinstance(source, Mapping):
        cols = {str(k): list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in source.items()}
        return cols, "dict"
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # pandas DataFrame
        return {str(k): list(v) for k, v in source.to_dict("list").items()}, "DataFrame"
    if isinstance(source, (list, tuple)):
        return _records_to_columns(source, "records"), "records"
    path = Path(source)
    if not path.exists():
        raise DataError(f"runs file {str(path)!r} does not exist")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a directory; pass a CSV, JSONL, JSON or Parquet file")
    suffix = "".join(path.suffixes[-1:]).lower()
    if suffix == ".parquet" or suffix == ".pq":
        from .._optional import require

        pq = require("pyarrow.parquet", extra="parquet", purpose="reading Parquet")
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
        if isinstance(data, dict):
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
        raise DataError(f"{str(path)!r} has duplicated column names: {', '.join(dup)}")
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
    return {str(k): [r.get(k) for r in records] for k in keys}


def _numeric(values: list, name: str, column: str) -> np.ndarray:
    out = np.empty(len(values), dtype=float)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            out[i] = np.nan
            continue
        try:
            out[i] = parse_quantity(v, name=f"column {column!r} ({name}) row {i + 1}")
        except DataError as exc:
            raise DataError(f"{exc}. Fix the value or map {name} to another column.") from None
    return out


def _resolve(logical: str, given: str | None, available: list[str], required: bool) -> str | None:
    if given is not None:
        if given not in available:
            raise MissingColumnError(
                f"column {given!r} (for {logical}) is not in the table.{suggest(given, available)} "
                f"Columns: {', '.join(available)}")
        return given
    for alias in ALIASES[logical]:
        if alias in available:
            return alias
    if required:
        raise MissingColumnError(
            f"no {logical} column found (tried {', '.join(ALIASES[logical])}); name it with "
            f"{logical}=<column>. Columns: {', '.join(available)}")
    return None


def load_runs(source: Any, *, n_params: str | None = None, n_tokens: str | None = None,
              flops: str | None = None, target: str | None = None, run_id: str | None = None,
              group_by: Sequence[str] = (), columns: Mapping[str, str] | None = None,
              flops_convention: str | None = None, target_name: str | None = None,
              source_name: str | None = None, **extra_columns: str) -> Runs:
    """Load a table of evaluated runs.

    Parameters
    ----------
    source : path, DataFrame, dict of columns or list of records
        CSV/TSV, JSONL, JSON or Parquet by file suffix.
    n_params, n_tokens, flops, target, run_id : str, optional
        Source column for each logical column. When omitted, common names are tried
        (e.g. ``N``/``params``/``Model Size`` for ``n_params``; ``loss``/``val_loss`` for target).
    group_by : sequence of str
        Columns kept as group keys (procedure, dataset, hyper-parameters, seed...).
    columns : mapping, optional
        Alternative way to pass the mapping: ``{"n_params": "Model Size", ...}``.
    flops_convention : str, optional
        ``"6ND"``, ``"explicit"``, ``"gflops_per_sample"``, ``"gmacs_per_sample"``. Default: an
        explicit FLOP column wins; otherwise 6ND from N and D. When only N and C are present,
        D is derived as C / (6N) and ``Runs.n_tokens_derived`` is set.
    **extra_columns : str
        Source columns for the inputs of per-sample conventions, e.g.
        ``gflops_per_sample="GFLOPs"``, ``samples_seen="samples"``.

    Raises
    ------
    DataError, MissingColumnError
        Empty table, unknown or misspelled column (with suggestions), non-numeric values,
        non-positive N/D/C, duplicated run ids, or no finite target at all.

    Warns
    -----
    DataWarning
        When rows with NaN/inf targets (diverged runs) are excluded; the count is in the message.
    """
    mapping = dict(columns or {})
    for key, val in (("n_params", n_params), ("n_tokens", n_tokens), ("flops", flops),
                     ("target", target), ("run_id", run_id)):
        if val is not None:
            mapping[key] = val
    unknown = [k for k in mapping if k not in ALIASES]
    if unknown:
        raise DataError(f"unknown logical column {unknown[0]!r} in columns=.{suggest(unknown[0], ALIASES)} "
                        f"Logical columns: {', '.join(ALIASES)}")
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

    conv_name = flops_convention
    if conv_name is not None:
        conv = get_flops_convention(conv_name)
    resolved: dict[str, str | None] = {}
    resolved["target"] = _resolve("target", mapping.get("target"), available, True)
    resolved["run_id"] = _resolve("run_id", mapping.get("run_id"), available, False)
    for key in ("n_params", "n_tokens", "flops"):
        resolved[key] = _resolve(key, mapping.get(key), available, False)
    extras = {k: _resolve_extra(k, v, available) for k, v in extra_columns.items()}
    for g in group_by:
        if g not in available:
            raise MissingColumnError(f"group column {g!r} is not in the table.{suggest(g, available)} "
                                     f"Columns: {', '.join(available)}")

    arrays: dict[str, np.ndarray | None] = {}
    for key in NUMERIC:
        col = resolved[key]
        arrays[key] = None if col is None else _numeric(cols[col], key, col)
    extra_arrays = {k: _numeric(cols[c], k, c) for k, c in extras.items()}

    # compute C by the convention
    derived_tokens = False
    if conv_name is None:
        if arrays["flops"] is not None:
            conv_name = "explicit"
        elif arrays["n_params"] is not None and arrays["n_tokens"] is not None:
            conv_name = "6ND"
        elif {"gflops_per_sample", "samples_seen"} <= set(extra_arrays):
            conv_name = "gflops_per_sample"
        elif {"gmacs_per_sample", "samples_seen"} <= set(extra_arrays):
            conv_name = "gmacs_per_sample"
        conv = get_flops_convention(conv_name) if conv_name else None
    if conv_name is not None:
        have = {k for k, v in arrays.items() if v is not None} | set(extra_arrays)
        missing = [r for r in conv.requires if r not in have]
        if missing:
            raise MissingColumnError(
                f"flops_convention {conv_name!r} ({conv.formula}) needs column(s) "
                f"{', '.join(missing)}; name them, e.g. {missing[0]}=<column>")
        if conv_name != "explicit":
            kw = {k: (arrays.get(k) if k in arrays else extra_arrays.get(k)) for k in conv.requires}
            arrays["flops"] = np.asarray(conv.compute(**kw), dtype=float)
    if arrays["n_tokens"] is None and arrays["flops"] is not None and arrays["n_params"] is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            arrays["n_tokens"] = arrays["flops"] / (6.0 * arrays["n_params"])
        derived_tokens = True

    # run ids
    if resolved["run_id"] is not None:
        ids = np.array([str(x) for x in cols[resolved["run_id"]]], dtype=object)
        seen: dict[str, int] = {}
        for i, r in enumerate(ids):
            if r in seen:
                raise DataError(f"{desc}: run id {r!r} appears twice (rows {seen[r] + 1} and {i + 1}); "
                                "run ids must be unique: drop duplicates or pass run_id=<unique column>")
            seen[r] = i
    else:
        ids = np.array([f"row{i}" for i in range(nrow)], dtype=object)

    # validation
    for key in ("n_params", "n_tokens", "flops"):
        v = arrays[key]
        if v is None:
            continue
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            col = resolved[key] or f"derived {key}"
            raise DataError(
                f"{desc}: {int(bad.sum())} row(s) have non-positive or missing {key} (column {col!r}); "
                f"first is run {ids[i]!r} with {key}={v[i]!r}. N, D and C must be > 0: fix or drop those rows.")
    tgt = arrays["target"]
    assert tgt is not None
    finite = np.isfinite(tgt)
    excluded = {"run_id": [str(x) for x in ids[~finite]],
                "reason": ["non-finite target (diverged run)"] * int((~finite).sum())}
    if not finite.any():
        raise DataError(f"{desc}: every target value in column {resolved['target']!r} is NaN or inf "
                        "(all runs diverged?); there is nothing to fit")
    if (~finite).any():
        warnings.warn(
            f"{desc}: excluded {int((~finite).sum())} of {nrow} runs with a NaN/inf "
            f"{resolved['target']!r} (diverged runs): {', '.join(excluded['run_id'][:5])}"
            + (" ..." if (~finite).sum() > 5 else ""), DataWarning, stacklevel=2)

    keep = np.flatnonzero(finite)
    groups = {g: np.array(cols[g], dtype=object)[keep] for g in group_by}

    def k(v):
        return None if v is None else np.ascontiguousarray(v[keep])

    return Runs(target=k(tgt), run_id=ids[keep], n_params=k(arrays["n_params"]),
                n_tokens=k(arrays["n_tokens"]), flops=k(arrays["flops"]), groups=groups,
                target_name=target_name or resolved["target"] or "target",
                flops_convention=conv_name, n_tokens_derived=derived_tokens,
                source=source_name or desc, excluded=excluded)


def _resolve_extra(key: str, col: str, available: list[str]) -> str:
    if key not in {r for c in FLOPS_CONVENTIONS.values() for r in c.requires}:
        raise DataError(f"unknown keyword {key!r} for load_runs.{suggest(key, ['gflops_per_sample', 'gmacs_per_sample', 'samples_seen'])}")
    if col not in available:
        raise MissingColumnError(f"column {col!r} (for {key}) is not in the table.{suggest(col, available)} "
                                 f"Columns: {', '.join(available)}")
    return col


_ = math
