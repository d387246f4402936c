"""Stored responses: re-score them, or replay them as if they were a model.

Replaying goes through :func:`~scalinglab.evals.evaluate` with the ``responses_file`` client.

Two formats are read:

* scalinglab results files (``*.jsonl``, :mod:`scalinglab.evals.records`);
* upstream AIW raw-response JSON (LAION-AI/AIW ``collected_responses/**.json``): a list of
  records with ``model``, ``prompt``, ``model_response``, ``parsed_answer``, ``correct``,
  ``trial``, ``total_trials``, ``right_answer`` (and ``session``, ``n_sessions``). A directory is
  read recursively, files in sorted order.

Upstream prompts are matched *by text* to scalinglab's rendered prompts (giving family, variation,
prompt type and the template's right answer) and to the upstream ``prompts.json`` shipped with
scalinglab (giving the upstream id). Prompts no template reproduces get ``prompt_id``
``"upstream/<id>"`` (or ``"upstream/unknown-<hash>"``) and keep the file's right answer. Trials
are numbered per (model, prompt) in reading order, because upstream trial numbers restart in
every file; the original ``trial`` and ``session`` are kept as ``upstream_trial`` and
``upstream_session``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from ...datasets import path as dataset_path
from ...errors import BackendError, DataError
from .. import task
from ..records import RECORD_SCHEMA, read_jsonl, rescore
from .base import Generation, GenerationRequest

__all__ = ["ResponsesFileClient", "read_responses"]

_UPSTREAM_KEYS = ("model", "prompt", "model_response")


def _prompt_index() -> dict[str, Any]:

    index = {}
    for fam in task.list_families():
        f = task.get_family(fam)
        for v in f.variations:
            for pt in task.list_prompt_types():
                p = f.render(v, pt)
                index.setdefault(p.text, p)
    return index


def _upstream_ids() -> dict[str, int]:

    out: dict[str, int] = {}
    for r in json.loads(dataset_path("aiw_prompts.json").read_text(encoding="utf-8")):
        if isinstance(r.get("prompt"), str):
            out.setdefault(r["prompt"], int(r["id"]))
    return out


def _number(value: Any) -> int | float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return int(v) if v.is_integer() else v


def _load_upstream(files: list[Path]) -> list[dict[str, Any]]:
    index, ids = _prompt_index(), _upstream_ids()
    counters: dict[tuple[str, str], int] = defaultdict(int)
    out = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{f}: not valid JSON ({exc}). Expected an upstream AIW raw-response "
                            "file: a JSON list of records") from None
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise DataError(f"{f}: expected a JSON list of response records; got {type(data).__name__}")
        for i, rec in enumerate(data):
            if not isinstance(rec, dict) or any(k not in rec for k in _UPSTREAM_KEYS):
                have = ", ".join(map(str, rec)) if isinstance(rec, dict) else type(rec).__name__
                raise DataError(
                    f"{f}, record {i}: an upstream AIW response needs {', '.join(_UPSTREAM_KEYS)} "
                    f"(and right_answer); found {have}")
            text = rec["prompt"] if isinstance(rec["prompt"], str) else "\n\n".join(map(str, rec["prompt"]))
            model = str(rec["model"])
            p = index.get(text)
            uid = ids.get(text)
            if p is not None:
                base = p.to_dict()
                base.pop("text")
                right = p.right_answer
                if uid is not None and base.get("upstream_id") is None:
                    base["upstream_id"] = uid
            else:
                if "right_answer" not in rec:
                    raise DataError(f"{f}, record {i}: no right_answer, and the prompt matches no "
                                    "scalinglab template, so its answer is unknown")
                right = _number(rec["right_answer"])
                pid = f"upstream/{uid}" if uid is not None else \
                    "upstream/unknown-" + hashlib.sha256(text.encode()).hexdigest()[:8]
                base = {"prompt_id": pid, "family": "upstream", "variation": str(uid or pid[-8:]),
                        "prompt_type": "unknown", "task_version": None, "style": "chat",
                        "upstream_id": uid, "kind": "problem", "variables": {},
                        "prompt_sha": hashlib.sha256(text.encode()).hexdigest()[:12]}
            key = (model, base["prompt_id"])
            trial = counters[key]
            counters[key] += 1
            resp = rec.get("model_response")
            out.append({
                "schema": RECORD_SCHEMA, "record": "response", "model": model,
                "client": "upstream_json", **base, "right_answer": right,
                "trial": trial, "seed": None, "temperature": rec.get("temperature"),
                "max_tokens": None, "top_p": None,
                "raw_text": "" if resp is None else str(resp), "reasoning": None,
                "prompt_text": text,
                "finish_reason": None, "usage": {},
                "upstream_right_answer": rec.get("right_answer"),
                "upstream_parsed_answer": rec.get("parsed_answer"),
                "upstream_correct": rec.get("correct"),
                "upstream_trial": rec.get("trial"), "upstream_session": rec.get("session"),
                "source": f"{f.name}#{i}",
            })
    return out


def read_responses(path: str | Path, *, mode: str | None = "auto") -> list[dict[str, Any]]:
    """Read stored responses (scalinglab JSONL, upstream JSON file, or a folder of either).

    Parameters
    ----------
    path : str or Path
        A ``.jsonl`` results file, an upstream ``.json`` file, or a directory.
    mode : str or None
        Re-score with this extraction mode (``"auto"``, ``"strict"``, ``"upstream"``,
        ``"completion"``); ``None`` keeps the stored scoring of scalinglab files.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"responses path {str(path)!r} does not exist")
    files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")
                   and not p.name.endswith(".summary.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no .json or .jsonl files under {str(path)!r}")
    records: list[dict[str, Any]] = []
    upstream = [f for f in files if f.suffix == ".json"]
    for f in files:
        if f.suffix == ".jsonl":
            records.extend(read_jsonl(f))
    if upstream:
        records.extend(_load_upstream(upstream))
    if mode is not None:
        records = rescore(records, mode=mode)
    return records


class ResponsesFileClient:
    """Replays stored responses: trial ``t`` of a prompt returns the ``t``-th stored response.

    Lets :func:`~scalinglab.evals.evaluate` turn a folder of upstream JSON into a scalinglab
    results file and summary with the same code path as a live model. Asking for more trials than
    are stored is an error.
    """

    name = "responses_file"

    def __init__(self, path: str | Path, *, model: str | None = None) -> None:
        records = read_responses(path, mode=None)
        models = sorted({r["model"] for r in records if r.get("record", "response") == "response"})
        if model is None:
            if len(models) != 1:
                raise DataError(f"{path} holds responses of {len(models)} models "
                                f"({', '.join(models[:5])}); choose one with model=")
            model = models[0]
        elif model not in models:
            raise DataError(f"{path} has no responses of model {model!r}; it has: {', '.join(models)}")
        self.model = model
        self.path = str(path)
        self._by_sha: dict[str, list[str]] = defaultdict(list)
        for r in sorted((r for r in records if r.get("model") == model
                         and r.get("record", "response") == "response"),
                        key=lambda r: (r.get("prompt_sha", ""), r["trial"])):
            self._by_sha[r.get("prompt_sha", "")].append(r.get("raw_text") or "")
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        return {"client": self.name, "model": self.model, "path": self.path}

    def close(self) -> None:
        pass

    def generate(self, request: GenerationRequest) -> Generation:
        sha = hashlib.sha256(request.prompt.encode("utf-8")).hexdigest()[:12]
        stored = self._by_sha.get(sha, [])
        if request.trial >= len(stored):
            raise BackendError(f"{self.path} holds {len(stored)} responses of {self.model!r} for "
                               f"this prompt; trial {request.trial} was asked for. Ask for at most "
                               f"{len(stored)} trials")
        return Generation(text=stored[request.trial], finish_reason=None, served_model=self.model)
