"""The response record: one JSON line per trial, enough to re-score and re-summarise without the model.

Every line of a results file (``*.jsonl``) is a JSON object. ``record: "response"`` lines are
trials; ``record: "error"`` lines document a trial that failed after its retries (it is retried
on resume and never counted). Keys of a response record:

=================  ==========================================================================
schema             record schema version (:data:`RECORD_SCHEMA`)
model, client      model identifier and model-client name (``openai_http``, ``transformers_local`` ...)
prompt_id          ``<family>/<variation>/<prompt type>``; ``upstream/<id>`` for imported prompts
                   scalinglab has no template for
family, variation, prompt_type, kind, task_version, prompt_sha, upstream_id, style
                   where the prompt comes from; ``prompt_sha`` pins the exact text
right_answer       the answer computed from the template (a number)
trial, seed        trial index (0-based) and the seed sent for it (different for every trial)
temperature, max_tokens, top_p
                   sampling parameters
raw_text           the model's response, unmodified; ``reasoning`` holds separate reasoning text;
                   ``prompt_text`` (imported records only) the prompt, to read past an echo of it
finish_reason, usage, latency_s, time
parsed_answer, parse_status, correct, scorer, extract_method
                   the scoring (re-computable with :func:`rescore`)
=================  ==========================================================================

A ``record: "run"`` line opens every call of :func:`~scalinglab.evals.evaluate` that had trials
to make: the model, the client's :meth:`~scalinglab.evals.ModelClient.info` under ``client``,
the sampling options and the scalinglab version. API keys are never part of a record.

Schema versions: 2 names the model client ``client``; 1 (scalinglab before the rename) called it
``backend``. :func:`read_jsonl` reads both and returns every record in the current schema, so old
files still summarise, re-score and resume.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError, DataWarning
from .extraction import score

__all__ = ["RECORD_SCHEMA", "append_records", "read_jsonl", "rescore", "rescore_record", "upgrade_record"]

#: The schema of the records this version writes (see the module docstring for the history).
RECORD_SCHEMA = 2
_REQUIRED = ("model", "prompt_id", "trial", "raw_text", "right_answer")


def rescore_record(rec: dict[str, Any], *, mode: str = "auto") -> dict[str, Any]:
    """A copy of ``rec`` scored again from ``raw_text`` with extraction ``mode``.

    In ``"upstream"`` mode an imported upstream record is compared with its original right-answer
    string (``upstream_right_answer``), as the paper's code did.
    """
    out = dict(rec)
    right = rec["right_answer"]
    if mode == "upstream" and "upstream_right_answer" in rec:
        right = rec["upstream_right_answer"]
    s = score(rec.get("raw_text"), right, mode=mode, style=rec.get("style", "chat"),
              prompt=rec.get("prompt_text"))
    out.update(parsed_answer=s.parsed_answer, parse_status=s.parse_status, correct=s.correct,
               scorer=s.scorer, extract_method=s.extraction.method)
    return out


def rescore(records: Iterable[dict[str, Any]], *, mode: str = "auto") -> list[dict[str, Any]]:
    """Re-score response records without calling any model (error lines are passed through)."""
    return [rescore_record(r, mode=mode) if r.get("record", "response") == "response" else dict(r)
            for r in records]


def upgrade_record(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` in the current schema (a copy when anything changes; the input is never modified).

    Schema 1 -> 2: the model client's name (and, in a ``run`` record, its ``info()`` dict) moves
    from the key ``backend`` to ``client``. A record without ``schema`` is taken as current.

    Raises
    ------
    DataError
        For a schema newer than this version of scalinglab knows.
    """
    schema = rec.get("schema", RECORD_SCHEMA)
    if not isinstance(schema, int) or schema > RECORD_SCHEMA:
        raise DataError(f"record schema {schema!r} is newer than this scalinglab reads (up to "
                        f"{RECORD_SCHEMA}); upgrade scalinglab to read this file")
    if schema >= RECORD_SCHEMA:
        return rec
    out = dict(rec)
    if "backend" in out and "client" not in out:
        client = out.pop("backend")
        if isinstance(client, dict) and "backend" in client and "client" not in client:
            client = {("client" if k == "backend" else k): v for k, v in client.items()}
        out["client"] = client
    out["schema"] = RECORD_SCHEMA
    return out


def read_jsonl(path: str | Path, *, repair_tail: bool = False) -> list[dict[str, Any]]:
    """Read a results file; every record comes back in the current schema (:func:`upgrade_record`).

    Malformed lines raise DataError naming the file and line. An incomplete *last* line (a run
    killed while writing) is dropped with a DataWarning; with ``repair_tail=True`` it is also cut
    from the file so that appending can continue.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"results file {str(path)!r} does not exist")
    raw = path.read_bytes()
    out = []
    lines = raw.split(b"\n")
    complete = raw.endswith(b"\n") or raw == b""
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        last = i == len(lines) and not complete
        try:
            rec = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            if last:
                warnings.warn(f"{path}: the last line is incomplete (a run stopped while writing); "
                              "it is ignored and that trial will be run again", DataWarning, stacklevel=2)
                if repair_tail:
                    with open(path, "r+b") as f:
                        f.truncate(len(raw) - len(line))
                break
            raise DataError(f"{path}, line {i}: not valid JSON ({exc.msg}). Each line of a results "
                            "file must be one JSON object; fix or remove that line") from None
        if not isinstance(rec, dict):
            raise DataError(f"{path}, line {i}: expected a JSON object; got {type(rec).__name__}")
        try:
            rec = upgrade_record(rec)
        except DataError as exc:
            raise DataError(f"{path}, line {i}: {exc}") from None
        if rec.get("record", "response") == "response":
            missing = [k for k in _REQUIRED if k not in rec]
            if missing:
                raise DataError(f"{path}, line {i}: response record lacks {', '.join(missing)}. "
                                f"Is this a scalinglab AIW results file? For upstream AIW JSON use "
                                f"read_responses()")
        out.append(rec)
    else:
        if not complete and repair_tail and lines and lines[-1].strip():
            with open(path, "ab") as f:  # a valid JSON object without its newline
                f.write(b"\n")
    return out


def append_records(path: str | Path, records: Iterable[dict[str, Any]], *, sync: bool = False) -> int:
    """Append records as JSON lines (flushed; ``sync=True`` also fsyncs). Returns the count."""
    n = 0
    with open(path, "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
            n += 1
        f.flush()
        if sync:
            os.fsync(f.fileno())
    return n


def iter_responses(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Only the trial records (``record == "response"``)."""
    return (r for r in records if r.get("record", "response") == "response")
