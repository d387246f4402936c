"""The one copy of each file mechanism: atomic writes, canonical JSON, JSON cleaning.

* :func:`atomic_write` writes bytes or text so that a reader sees either the old file or the
  whole new one, never a prefix: a temporary file in the same directory, flushed and
  ``fsync``-ed, then ``os.replace``; on any failure the temporary file is removed and the old
  file is untouched. (POSIX ``rename`` is atomic within one file system; the fsync before it
  makes the new content durable before it becomes visible.)
* :func:`write_json` is :func:`atomic_write` of :func:`jsonable` data.
* :func:`canonical_json` is the text that is *hashed* (run ids, manifests, fingerprints): sorted
  keys, no whitespace, so equal content always gives equal bytes.
* :func:`jsonable` turns numpy scalars and arrays, tuples, read-only mappings and non-finite
  floats into plain JSON values.

Bottom layer: imports nothing from scalinglab but :mod:`scalinglab.errors`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "canonical_json", "jsonable", "write_json"]


def atomic_write(path: str | Path, data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + ``os.replace``); return the path.

    Creates the parent directory. Raises ``OSError`` (with the temporary file removed) when the
    directory cannot be created or written; callers turn it into their own error type.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: mappings -> dict, tuples/arrays -> list, numpy -> Python.

    Non-finite floats are kept (``json`` writes them as ``NaN``/``Infinity``, which Python reads
    back); use :func:`canonical_json` or ``allow_nan=False`` where strict JSON is needed.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (str, bool)) or obj is None:
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):   # numpy arrays and scalars
        return jsonable(obj.tolist())
    if hasattr(obj, "__fspath__"):
        return os.fspath(obj)
    if hasattr(obj, "to_dict"):
        return jsonable(obj.to_dict())
    return str(obj)


def write_json(path: str | Path, data: Any, *, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON (sorted keys, trailing newline) with :func:`atomic_write`."""
    text = json.dumps(jsonable(data), indent=indent, sort_keys=True, allow_nan=True)
    return atomic_write(path, text + "\n")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in chunks."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def canonical_json(data: Any) -> str:
    """The hashed form of ``data``: sorted keys, compact separators, non-finite floats as strings.

    >>> canonical_json({"b": 1, "a": (1.5, float("nan"))})
    '{"a":[1.5,"nan"],"b":1}'
    """
    return json.dumps(_finite(jsonable(data)), sort_keys=True, separators=(",", ":"))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
