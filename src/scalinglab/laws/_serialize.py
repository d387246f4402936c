"""Lossless save and load of fit results: versioned JSON, floats as ``float.hex`` strings.

A result saved with :meth:`FitResult.save <scalinglab.laws.result.FitResult.save>` and read back
with ``FitResult.load`` predicts bit-identically: every float (parameters, residuals, the fitted
data, bootstrap draws, calibration errors) is written as its exact hexadecimal form. The file says
which schema wrote it; a newer schema is refused with a message, an older one is read.

Schema versions
---------------
1. The first format.
2. Data columns carry their type (``{"dtype": "float"|"str", "values": [...]}``): in version 1 a
   text column whose values looked like hex floats ("2.2") was read back as numbers. Version 1
   files are still read; a text column there is taken as text unless every value is a
   ``float.hex`` string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, jsonable
from ..errors import DataError, UnknownNameError
from ..provenance import versions
from ._hexfloat import hex_float, hex_floats, unhex_float, unhex_floats
from .bootstrap import BootstrapResult
from .diagnostics import FitDiagnostics
from .intervals import Calibration
from .law import LAWS, Law, get_law
from .seeds import NoiseModel

__all__ = ["SCHEMA", "SCHEMA_VERSION", "decode_result", "encode_result", "law_from_config",
           "read_artifact", "write_artifact"]

SCHEMA = "scalinglab.FitResult"
SCHEMA_VERSION = 2
_HEX = re.compile(r"^-?(0x[0-9a-f.]+p[+-]\d+|inf|nan)$")


def _column(values: Any) -> dict[str, Any]:
    arr = np.asarray(values)
    numeric = arr.dtype.kind in "fiub" or (arr.dtype.kind == "O" and all(
        isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in arr))
    if numeric:
        return {"dtype": "float", "values": hex_floats(arr.astype(float))}
    return {"dtype": "str", "values": [str(x) for x in arr]}


def _uncolumn(entry: Any) -> np.ndarray:
    if isinstance(entry, Mapping):                                     # schema 2
        if entry.get("dtype") == "float":
            return unhex_floats(entry["values"])
        return np.array(entry["values"], dtype=object)
    values = list(entry)                                               # schema 1: no type tag
    if values and all(isinstance(v, str) and _HEX.match(v) for v in values):
        return unhex_floats(values)
    return np.array(values, dtype=object)


def encode_result(res: Any, *, include_data: bool = True) -> dict[str, Any]:
    """The artifact dict of a :class:`~scalinglab.laws.result.FitResult`."""
    data = None
    if include_data and res.data is not None:
        data = {"inputs": {k: hex_floats(v) for k, v in res.data.inputs.items()},
                "target": hex_floats(res.data.target),
                "columns": {k: _column(v) for k, v in res.data.columns.items()}}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "law": {**res.law.config(), "class": f"{type(res.law).__module__}:{type(res.law).__qualname__}"},
        "params": {k: hex_float(v) for k, v in res.params.items()},
        "param_vector": hex_floats(res.param_vector),
        "objective": hex_float(res.objective),
        "residuals": hex_floats(res.residuals),
        "sigma": hex_float(res.sigma),
        "likelihood_scale": None if res.likelihood_scale is None else hex_float(res.likelihood_scale),
        "noise": None if res.noise is None else res.noise.to_dict(),
        "n_points": int(res.n_points),
        "input_range": {k: [hex_float(a), hex_float(b)] for k, (a, b) in res.input_range.items()},
        "runs_fingerprint": res.runs_fingerprint,
        "options": jsonable(res.options),
        "diagnostics": jsonable(res.diagnostics.to_dict()),
        "cov_internal": None if res.cov_internal is None else hex_floats(res.cov_internal),
        "bootstrap": None if res.bootstrap is None else res.bootstrap.to_dict(),
        "calibration": None if res.calibration is None else res.calibration.to_dict(),
        "data": data,
        "meta": jsonable(res.meta),
        "versions": versions(("numpy", "scipy")),
    }


def decode_result(d: Mapping[str, Any]) -> dict[str, Any]:
    """Constructor arguments of a FitResult from an artifact dict (``data`` as a plain dict)."""
    if d.get("schema") != SCHEMA:
        raise DataError(f"not a FitResult artifact (schema {d.get('schema')!r}; expected {SCHEMA!r})")
    if int(d.get("schema_version", -1)) > SCHEMA_VERSION:
        raise DataError(f"artifact schema version {d.get('schema_version')} is newer than this "
                        f"scalinglab understands ({SCHEMA_VERSION}); upgrade scalinglab")
    data = None
    if d.get("data"):
        dd = d["data"]
        data = {"inputs": {k: unhex_floats(v) for k, v in dd["inputs"].items()},
                "target": unhex_floats(dd["target"]),
                "columns": {k: _uncolumn(v) for k, v in dd["columns"].items()}}
    diag = dict(d["diagnostics"])
    diag["at_bound"] = tuple(diag["at_bound"])
    return dict(
        law=law_from_config(d["law"]), param_vector=unhex_floats(d["param_vector"]),
        objective=unhex_float(d["objective"]), residuals=unhex_floats(d["residuals"]),
        sigma=unhex_float(d["sigma"]), n_points=int(d["n_points"]),
        input_range={k: (unhex_float(a), unhex_float(b)) for k, (a, b) in d["input_range"].items()},
        runs_fingerprint=d["runs_fingerprint"], options=dict(d["options"]),
        diagnostics=FitDiagnostics(**diag),
        bootstrap=None if d.get("bootstrap") is None else BootstrapResult.from_dict(d["bootstrap"]),
        calibration=None if d.get("calibration") is None else Calibration.from_dict(d["calibration"]),
        likelihood_scale=None if d.get("likelihood_scale") is None else unhex_float(d["likelihood_scale"]),
        noise=None if d.get("noise") is None else NoiseModel.from_dict(d["noise"]),
        data=data,
        cov_internal=None if d.get("cov_internal") is None else unhex_floats(d["cov_internal"]),
        meta=dict(d.get("meta") or {}))


def law_from_config(cfg: Mapping[str, Any]) -> Law:
    """The registered law an artifact names, with the bounds it was fitted under."""
    name = cfg.get("name", "")
    bounds = {k: tuple(v) for k, v in (cfg.get("bounds") or {}).items()}
    if name in LAWS:
        return get_law(name, bounds=bounds or None)
    raise UnknownNameError(f"the artifact was fitted with law {name!r} ({cfg.get('class')}), which is not "
                           f"registered here; import the module that defines it (register_law) before "
                           f"FitResult.load. Registered: {', '.join(LAWS.names())}")


def write_artifact(path: str | Path, d: Mapping[str, Any]) -> Path:
    """Write an artifact dict as indented JSON, atomically."""
    return atomic_write(path, json.dumps(d, indent=1, sort_keys=True))


def read_artifact(path: str | Path) -> dict[str, Any]:
    """Read an artifact file; :class:`DataError` saying what is wrong otherwise."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise DataError(f"no fit artifact at {str(p)!r}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{str(p)!r} is not a fit artifact (invalid JSON: {exc.msg})") from None
