"""The :class:`Runs` type: a validated, immutable table of evaluated training runs.

Logical columns: ``n_params`` (N), ``n_tokens`` (D), ``flops`` (C), ``target`` (the loss or
error being modelled), ``run_id``, and any number of group keys (procedure, dataset, learning
rate, seed...). Rows whose target is NaN or infinite are diverged runs: they are set aside with a
:class:`~scalinglab.errors.DataWarning` that counts them, and kept on ``Runs.excluded``. Every
array is read-only and every mapping immutable: a table that was fitted cannot change under
the fit.

:func:`build_runs` is the one path that validates columns into a ``Runs``; it is used by
:meth:`Runs.from_arrays` and by the file reader :func:`scalinglab.laws.tables.load_runs`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._optional import require
from ..config import freeze_fields
from ..errors import DataError, DataWarning, MissingColumnError, suggest
from ..units import get_flops_convention, parse_quantity

__all__ = ["PER_SAMPLE_COLUMNS", "Runs", "build_runs"]

#: Inputs of the per-sample FLOP conventions (CLIP-style runs): GFLOP or GMAC per sample and
#: samples seen (:data:`scalinglab.units.FLOPS_CONVENTIONS`).
PER_SAMPLE_COLUMNS = ("gflops_per_sample", "gmacs_per_sample", "samples_seen")


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
    def __post_init__(self) -> None:
        freeze_fields(self)

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
        if flops is not None or n_params is None or n_tokens is None:
            flops_convention = None  # explicit C, or nothing to compute it from
        cols = {k: list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in cols.items()}
        resolved = {k: (k if k in cols else None) for k in ("target", "run_id", "n_params", "n_tokens", "flops")}
        return build_runs(cols, resolved=resolved, extras=dict.fromkeys(PER_SAMPLE_COLUMNS),
                          group_by=tuple(groups or ()), flops_convention=flops_convention,
                          target_name=target_name, source_name=source, desc=source)

    @classmethod
    def concat(cls, tables: Sequence[Runs], *, keys: Sequence[str] | None = None) -> Runs:
        """Stack tables of runs into one (e.g. a paper's fit set and its test set).

        The tables must describe the same quantities: the same target name, the same FLOP
        convention, each of ``n_params`` / ``n_tokens`` / ``flops`` present in all or in none,
        and the same group columns. Run ids must stay unique; with ``keys`` (one per table) every
        id becomes ``"<key>/<id>"``, which makes ids from different sources unique.

        >>> both = Runs.concat([paper_fit_set, paper_test_set], keys=["fit", "test"])   # doctest: +SKIP
        """
        tables = list(tables)
        if not tables or not all(isinstance(t, Runs) for t in tables):
            raise DataError("Runs.concat needs a non-empty list of Runs; got "
                            f"{[type(t).__name__ for t in tables] or 'nothing'}")
        if keys is not None and len(keys) != len(tables):
            raise DataError(f"Runs.concat got {len(keys)} keys for {len(tables)} tables; pass one key per table")
        first = tables[0]
        for i, t in enumerate(tables[1:], 1):
            for what, a, b in (("target", first.target_name, t.target_name),
                               ("FLOP convention", first.flops_convention, t.flops_convention),
                               ("group columns", sorted(first.groups), sorted(t.groups))):
                if a != b:
                    raise DataError(f"cannot concatenate runs: table {i} has {what} {b!r}, table 0 has {a!r}; "
                                    "load them the same way (same columns, group_by= and flops_convention=)")
            for c in ("n_params", "n_tokens", "flops"):
                if (getattr(first, c) is None) != (getattr(t, c) is None):
                    have, lack = (0, i) if getattr(first, c) is not None else (i, 0)
                    raise DataError(f"cannot concatenate runs: table {have} has {c!r} and table {lack} does not; "
                                    f"load both with {c}=<column> (or derive it the same way)")
        ids = [np.array([f"{keys[i]}/{r}" for r in t.run_id], dtype=object) if keys is not None else t.run_id
               for i, t in enumerate(tables)]
        run_id = np.concatenate(ids)
        uniq, counts = np.unique(run_id.astype(str), return_counts=True)
        if np.any(counts > 1):
            dup = ", ".join(map(str, uniq[counts > 1][:3]))
            raise DataError(f"cannot concatenate runs: run ids {dup} occur in more than one table; pass "
                            "keys=['fit', 'test'] (ids become '<key>/<id>') or give the runs unique ids")

        def cat(name: str) -> np.ndarray | None:
            v = getattr(first, name)
            return None if v is None else np.concatenate([getattr(t, name) for t in tables])

        excluded = {"run_id": [x for t in tables for x in t.excluded.get("run_id", [])],
                    "reason": [x for t in tables for x in t.excluded.get("reason", [])]}
        return Runs(target=np.concatenate([t.target for t in tables]), run_id=run_id,
                    n_params=cat("n_params"), n_tokens=cat("n_tokens"), flops=cat("flops"),
                    groups={k: np.concatenate([t.groups[k] for t in tables]) for k in first.groups},
                    target_name=first.target_name, flops_convention=first.flops_convention,
                    n_tokens_derived=any(t.n_tokens_derived for t in tables),
                    source=" + ".join(t.source for t in tables), excluded=excluded)

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
        pd = require("pandas", extra="pandas", purpose="Runs.to_frame()")
        return pd.DataFrame(self.to_dict())


def build_runs(cols: Mapping[str, Sequence], *, resolved: Mapping[str, str | None],
               extras: Mapping[str, str | None], group_by: Sequence[str], flops_convention: str | None,
               target_name: str | None, source_name: str | None, desc: str) -> Runs:
    """Validate the named columns of a table and build :class:`Runs` (every constructor ends here).

    ``resolved`` maps ``target``, ``run_id``, ``n_params``, ``n_tokens`` and ``flops`` to a column of
    ``cols`` (or None); ``extras`` does the same for :data:`PER_SAMPLE_COLUMNS`. Decides how C is
    obtained (``flops_convention``, or from the columns present), parses values (human units
    allowed), sets rows with a NaN/inf target aside as diverged runs (with a
    :class:`~scalinglab.errors.DataWarning`) and checks that N, D and C are positive; every error
    names ``desc`` and says how to fix the input.
    """
    available = list(cols)
    nrow = len(next(iter(cols.values()))) if cols else 0
    group_by = tuple(group_by)
    # which convention gives C (decided from the columns present, before parsing values)
    conv_name = flops_convention
    if conv_name is None:
        if resolved["flops"] is not None:
            conv_name = "explicit"
        elif extras["gflops_per_sample"] and extras["samples_seen"]:
            conv_name = "gflops_per_sample"
        elif extras["gmacs_per_sample"] and extras["samples_seen"]:
            conv_name = "gmacs_per_sample"
        elif resolved["n_params"] is not None and resolved["n_tokens"] is not None:
            conv_name = "6ND"
    conv = get_flops_convention(conv_name) if conv_name else None
    if conv is not None:
        present = {k for k, c in {**resolved, **extras}.items() if c is not None}
        missing = [r for r in conv.requires if r not in present]
        if missing:
            raise MissingColumnError(
                f"flops_convention {conv_name!r} ({conv.formula}) needs column(s) "
                f"{', '.join(missing)}; name them, e.g. {missing[0]}=<column>. Columns: {', '.join(available)}")

    # run ids (unique over all rows, excluded ones included)
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

    # the target first: rows with a NaN/inf target are diverged runs and are set aside before
    # the other columns are validated (a diverged run often has no final token count)
    tgt = parse_numbers(cols[resolved["target"]], "target", resolved["target"])
    finite = np.isfinite(tgt)
    if not finite.any():
        raise DataError(f"{desc}: every target value in column {resolved['target']!r} is NaN, inf or empty "
                        "(all runs diverged?); there is nothing to fit")
    keep = np.flatnonzero(finite)
    excluded = {"run_id": [str(x) for x in ids[~finite]],
                "reason": ["non-finite target (diverged run)"] * int((~finite).sum())}

    def parse(key: str, col: str | None) -> np.ndarray | None:
        if col is None:
            return None
        return parse_numbers([cols[col][i] for i in keep], key, col, rows=keep)

    arrays = {k: parse(k, resolved[k]) for k in ("n_params", "n_tokens", "flops")}
    arrays["target"] = tgt[keep]
    extra_arrays = {}
    if conv is not None:
        extra_arrays = {k: parse(k, extras[k]) for k in conv.requires if k in PER_SAMPLE_COLUMNS}
    if arrays["n_tokens"] is None and "samples_seen" in extra_arrays:
        arrays["n_tokens"] = extra_arrays["samples_seen"]  # D = samples seen for CLIP-style runs
        resolved["n_tokens"] = extras["samples_seen"]
    for key, v in [*((k, arrays[k]) for k in ("n_params", "n_tokens", "flops")), *extra_arrays.items()]:
        if conv is not None and key == "flops" and conv_name != "explicit":
            continue  # an unused FLOP column is not validated
        check_positive(v, key, resolved.get(key) or extras.get(key), ids[keep], desc)

    if conv is not None and conv_name != "explicit":
        kw = {k: (arrays[k] if k in arrays else extra_arrays[k]) for k in conv.requires}
        with np.errstate(over="ignore"):
            arrays["flops"] = np.asarray(conv.compute(**kw), dtype=float)
        check_positive(arrays["flops"], "flops", f"C = {conv.formula}", ids[keep], desc)
    derived_tokens = False
    if arrays["n_tokens"] is None and arrays["flops"] is not None and arrays["n_params"] is not None:
        arrays["n_tokens"] = arrays["flops"] / (6.0 * arrays["n_params"])
        check_positive(arrays["n_tokens"], "n_tokens", "derived D = C / (6N)", ids[keep], desc)
        derived_tokens = True

    if (~finite).any():
        warnings.warn(
            f"{desc}: excluded {int((~finite).sum())} of {nrow} runs with a NaN/inf "
            f"{resolved['target']!r} (diverged runs): {', '.join(excluded['run_id'][:5])}"
            + (" ..." if (~finite).sum() > 5 else ""), DataWarning, stacklevel=2)

    groups = {g: np.array(cols[g], dtype=object)[keep] for g in group_by}
    return Runs(target=np.ascontiguousarray(arrays["target"]), run_id=ids[keep],
                n_params=arrays["n_params"], n_tokens=arrays["n_tokens"], flops=arrays["flops"],
                groups=groups, target_name=target_name or resolved["target"] or "target",
                flops_convention=conv_name, n_tokens_derived=derived_tokens,
                source=source_name or desc, excluded=excluded)


def parse_numbers(values: list, name: str, column: str, rows: Sequence[int] | None = None) -> np.ndarray:
    """Parse a column of numbers or human units ("70M"); None and empty cells become NaN."""
    out = np.empty(len(values), dtype=float)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, str) and not v.strip()):
            out[i] = np.nan
            continue
        try:
            row = i + 1 if rows is None else int(rows[i]) + 1
            out[i] = parse_quantity(v, name=f"column {column!r} ({name}) row {row}")
        except DataError as exc:
            raise DataError(f"{str(exc).rstrip('.')}. Fix the value or map {name} to another column.") from None
    return out

def check_positive(v: np.ndarray | None, key: str, col: str | None, ids: np.ndarray, desc: str) -> None:
    """N, D, C and per-sample FLOPs must be finite and > 0 (they enter logarithms and powers)."""
    if v is None:
        return
    bad = ~np.isfinite(v) | (v <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{desc}: {int(bad.sum())} row(s) have a non-positive or missing {key} (column {col!r}); "
            f"first is run {ids[i]!r} with {key}={float(v[i]):g}. N, D and C must be finite and > 0: "
            "fix or drop those rows (a run with a NaN loss is dropped automatically).")
