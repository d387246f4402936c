"""The datatrove pipeline steps that recipes add to datatrove's own (imported only when a recipe runs).

* :func:`reader` / :func:`writer` -- JSONL readers and writers of the dataset shard format
  ``{"id", "text", "source"}`` (ids prefixed by the input dataset, ``source`` = its name).
* :class:`CountStep` -- counts documents and bytes passing a point of the pipeline, per source,
  into ``<folder>/<rank>.json`` (the audit's in/out numbers, exact even for steps that edit text).
* :class:`QualityTrainStep`, :class:`QualityFilter` -- the hashed-n-gram classifier of
  :mod:`.quality`: trained in its own one-task stage on the pool so far vs a reference dataset,
  then applied as a datatrove filter.
* :class:`MixStep` -- downsample each source to its weight (one task; reads a stage folder twice).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from .manifest import read_shard
from .quality import QualityModel, train_quality_model


class _InputAdapter:
    """Reader adapter: a shard record -> a Document whose id is ``<dataset>/<id>`` and source the dataset."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def __call__(self, _reader, data: dict, path: str, id_in_file) -> dict:
        src = self.source or data.get("source") or ""
        doc_id = str(data.get("id", f"{path}/{id_in_file}"))
        return {"text": data.get("text", ""), "id": f"{src}/{doc_id}" if self.source else doc_id,
                "media": [], "metadata": {"source": src}}


def _record(_writer, doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "source": doc.metadata.get("source", "")}


def _removed_record(_writer, doc: Document) -> dict:
    return {"id": doc.id, "text": doc.text, "source": doc.metadata.get("source", ""),
            "reason": doc.metadata.get("filter_reason")}


def reader(folder: str | Path, *, source: str | None = None) -> JsonlReader:
    """Read JSONL shards; ``source`` names an input dataset (ids get its prefix)."""
    return JsonlReader(str(folder), compression=None, adapter=_InputAdapter(source), glob_pattern="*.jsonl",
                       add_file_path=False)


def writer(folder: str | Path) -> JsonlWriter:
    """Write the shard format, one file per task (``00000.jsonl``, ...), uncompressed."""
    return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None, adapter=_record)


def removed_writer(folder: str | Path) -> JsonlWriter:
    """Write removed documents with the rule that removed them (``reason``)."""
    return JsonlWriter(str(folder), output_filename="${rank}.jsonl", compression=None, adapter=_removed_record)


def doc_text(doc: Document) -> str:
    """Content getter of the exact-dedup stages (datatrove reads its return annotation)."""
    return doc.text


class CountStep(PipelineStep):
    """Pass documents through, counting documents and UTF-8 bytes per source."""

    name = "count"
    type = "audit"

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = str(folder)

    def run(self, data, rank: int = 0, world_size: int = 1):
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for doc in data or ():
            c = counts[doc.metadata.get("source", "")]
            c[0] += 1
            c[1] += len(doc.text.encode("utf-8"))
            yield doc
        Path(self.folder).mkdir(parents=True, exist_ok=True)
        with open(Path(self.folder) / f"{rank:05d}.json", "w") as fh:
            json.dump({k: {"documents": v[0], "tokens": v[1]} for k, v in sorted(counts.items())}, fh)


def _folder_docs(folder: str | Path) -> list[tuple[str, str, str]]:
    """``(id, text, source)`` of every shard file in a stage folder, in file order."""
    out = []
    for p in sorted(Path(folder).glob("*.jsonl")):
        for rec in read_shard(p):
            out.append((str(rec.get("id", "")), rec["text"], str(rec.get("source", ""))))
    return out


class QualityTrainStep(PipelineStep):
    """Train the quality classifier on a stage folder (the pool) against a reference dataset.

    Writes the model to ``model_path`` with the score threshold that keeps ``keep_fraction`` of the
    pool (or the given ``threshold``).
    """

    name = "quality classifier: train"
    type = "audit"

    def __init__(self, pool_folder: str, reference_folder: str, model_path: str, *, keep_fraction: float | None,
                 threshold: float | None, n_features: int, ngrams: int, l2: float, max_docs: int, seed: int) -> None:
        super().__init__()
        self.pool_folder, self.reference_folder, self.model_path = pool_folder, reference_folder, model_path
        self.keep_fraction, self.threshold = keep_fraction, threshold
        self.kw = {"n_features": n_features, "ngrams": ngrams, "l2": l2, "max_docs": max_docs, "seed": seed}

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        import dataclasses

        import numpy as np


        pool = [(i, t) for i, t, _ in _folder_docs(self.pool_folder)]
        ref = [(i, t) for i, t, _ in _folder_docs(self.reference_folder)]
        model = train_quality_model(ref, pool, **self.kw)
        if self.threshold is not None:
            thr = float(self.threshold)
        else:
            scores = np.sort(model.score(t for _, t in pool))[::-1]
            n_keep = max(1, int(np.ceil(self.keep_fraction * len(scores))))
            thr = float(scores[n_keep - 1]) if len(scores) else 0.5
        dataclasses.replace(model, threshold=thr).save(self.model_path)
        return
        yield  # a generator with nothing to pass on


class QualityFilter(BaseFilter):
    """Remove documents the quality classifier scores below its threshold."""

    name = "quality classifier"

    def __init__(self, model_path: str, exclusion_writer=None) -> None:
        super().__init__(exclusion_writer)
        self.model_path = model_path
        self._model = None

    def filter(self, doc: Document):
        if self._model is None:

            self._model = QualityModel.load(self.model_path)
        score = float(self._model.score([doc.text])[0])
        doc.metadata["quality_score"] = score
        return True if score >= self._model.threshold else (False, "quality_below_threshold")


class MixStep(PipelineStep):
    """Keep, per source, a byte quota of documents so that sources make up ``weights`` of the output.

    With byte counts b_i per source and weights w_i, the output holds T w_i bytes of source i where
    T = min_i b_i / w_i (the largest mix that repeats nothing), or less if ``total_tokens`` is set.
    Within a source documents are taken in the order of SHA-256(seed, id) until the quota is reached,
    so the choice is the same on every machine. Removed documents go to ``exclusion_writer``.
    """

    name = "mix"
    type = "audit"

    def __init__(self, folder: str, weights: dict[str, float], *, total_tokens: int | None, seed: int,
                 exclusion_writer=None) -> None:
        super().__init__()
        self.folder, self.weights, self.total_tokens, self.seed = folder, dict(weights), total_tokens, seed
        self.exclusion_writer = exclusion_writer

    def keep_ids(self) -> set[str]:
        docs = _folder_docs(self.folder)
        by_src: dict[str, list[tuple[bytes, str, int]]] = defaultdict(list)
        for i, t, s in docs:
            by_src[s].append((hashlib.sha256(f"{self.seed}\0{i}".encode()).digest(), i, len(t.encode("utf-8"))))
        avail = {s: sum(b for _, _, b in v) for s, v in by_src.items()}
        live = {s: w for s, w in self.weights.items() if w > 0}
        total = min((avail.get(s, 0) / w for s, w in live.items()), default=0.0)
        if self.total_tokens is not None:
            total = min(total, float(self.total_tokens))
        keep: set[str] = set()
        for s, w in live.items():
            quota, got = total * w, 0
            for _, i, b in sorted(by_src.get(s, ())):
                if got >= quota:
                    break
                keep.add(i)
                got += b
        return keep

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        import contextlib

        keep = self.keep_ids()
        with self.exclusion_writer if self.exclusion_writer else contextlib.nullcontext() as exc:
            for p in sorted(Path(self.folder).glob("*.jsonl")):
                for rec in read_shard(p):
                    doc = Document(text=rec["text"], id=str(rec.get("id", "")),
                                   metadata={"source": str(rec.get("source", ""))})
                    if doc.id in keep:
                        yield doc
                    elif exc is not None:
                        doc.metadata["filter_reason"] = "mix_downsampled"
                        exc.write(doc, rank)
