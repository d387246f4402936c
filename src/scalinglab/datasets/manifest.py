"""The manifest of a built dataset: its shards with content hashes, sizes, licence and provenance.

A built dataset is a folder::

    <name>/manifest.json        this file's Manifest
    <name>/shards/00000.jsonl   documents, one JSON object per line: {"id", "text", "source"}
    <name>/audit.json           what a recipe removed and why (recipe-built datasets only)

:attr:`Manifest.hash` identifies the *documents*: it is the SHA-256 of the canonical JSON list of
``(shard path, shard SHA-256)``, so the same documents in the same order give the same hash
whatever machine, recipe or scalinglab version wrote them, and a changed byte gives a new one.
Sizes, sources, licence and provenance are recorded beside it but are not part of it (adding a
token count for a new tokenizer does not change the hash).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .._io import canonical_json, write_json
from .._optional import require
from ..errors import ConfigError, DataError

__all__ = ["MANIFEST_VERSION", "Manifest", "Shard", "count_tokens", "read_shard", "scan_shard"]

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Shard:
    """One shard file and what it holds."""

    path: str                       # relative to the dataset folder ("shards/00000.jsonl")
    sha256: str                     # SHA-256 of the file's bytes
    n_documents: int                # JSON lines
    n_bytes: int                    # UTF-8 bytes of the documents' text (not of the JSON)
    n_tokens: Mapping[str, int] = field(default_factory=dict)   # tokenizer name -> tokens of the text

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "n_documents": self.n_documents,
                "n_bytes": self.n_bytes, "n_tokens": dict(sorted(self.n_tokens.items()))}


def read_shard(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSONL shard, in file order."""
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{i}: not valid JSON ({exc.msg}); the shard is damaged: "
                                "rebuild the dataset") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                raise DataError(f"{path}:{i}: a shard line must be an object with a string 'text'; "
                                "rebuild the dataset")
            yield rec


def scan_shard(path: Path, rel: str) -> Shard:
    """Hash a shard and count its documents and bytes (byte-level tokens = bytes)."""
    data = Path(path).read_bytes()
    n_docs = n_bytes = 0
    for rec in read_shard(Path(path)):
        n_docs += 1
        n_bytes += len(rec["text"].encode("utf-8"))
    return Shard(path=rel, sha256=hashlib.sha256(data).hexdigest(), n_documents=n_docs,
                 n_bytes=n_bytes, n_tokens={"byte": n_bytes})


@dataclass(frozen=True)
class Manifest:
    """What a built dataset is: shards and hashes, sizes, sources, recipe, licence, provenance.

    Attributes
    ----------
    name : str
        The dataset's registry name.
    shards : tuple of Shard
    sources : tuple of dict
        Each source's description (kind, paths, package versions, file digests).
    licence : str
    recipe : dict or None
        The canonical recipe that built it (recipe-built datasets).
    provenance : dict
        Versions of the tools that wrote it (python, scalinglab, datatrove) and the sources'
        stat key (used to notice that a built-in's files changed).
    description : str
    """

    name: str
    shards: tuple[Shard, ...]
    sources: tuple[Mapping[str, Any], ...] = ()
    licence: str = "unknown"
    recipe: Mapping[str, Any] | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON list of (shard path, shard SHA-256)."""
        items = [[s.path, s.sha256] for s in self.shards]
        return hashlib.sha256(canonical_json(items).encode("utf-8")).hexdigest()

    @property
    def n_documents(self) -> int:
        return sum(s.n_documents for s in self.shards)

    @property
    def n_bytes(self) -> int:
        return sum(s.n_bytes for s in self.shards)

    @property
    def n_tokens(self) -> dict[str, int]:
        """Tokens per tokenizer counted so far (``"byte"`` always; ``"bpe:<sha>"`` once counted)."""
        names = set.intersection(*(set(s.n_tokens) for s in self.shards)) if self.shards else set()
        return {k: sum(int(s.n_tokens[k]) for s in self.shards) for k in sorted(names)}

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": MANIFEST_VERSION, "name": self.name, "hash": self.hash,
                "description": self.description, "licence": self.licence,
                "n_documents": self.n_documents, "n_bytes": self.n_bytes, "n_tokens": self.n_tokens,
                "shards": [s.to_dict() for s in self.shards], "sources": [dict(s) for s in self.sources],
                "recipe": None if self.recipe is None else dict(self.recipe),
                "provenance": dict(self.provenance)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "manifest") -> Manifest:
        if d.get("schema_version") != MANIFEST_VERSION:
            raise DataError(f"{where}: manifest schema_version {d.get('schema_version')!r} is not "
                            f"{MANIFEST_VERSION}; rebuild the dataset with this scalinglab")
        try:
            m = cls(name=d["name"], shards=tuple(Shard(**s) for s in d["shards"]),
                    sources=tuple(d.get("sources", ())), licence=d.get("licence", "unknown"),
                    recipe=d.get("recipe"), provenance=d.get("provenance", {}),
                    description=d.get("description", ""))
        except (KeyError, TypeError) as exc:
            raise DataError(f"{where}: damaged manifest ({exc}); rebuild the dataset") from None
        if d.get("hash") != m.hash:
            raise DataError(f"{where}: the recorded hash does not match its shards; rebuild the dataset")
        return m

    def save(self, path: Path) -> Path:
        write_json(Path(path), self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read the manifest {str(path)!r} ({exc}); rebuild the dataset") from None
        return cls.from_dict(d, where=str(path))

    def with_shards(self, shards: tuple[Shard, ...]) -> Manifest:
        return replace(self, shards=shards)

    def summary(self) -> str:
        tok = ", ".join(f"{k}: {v:,}" for k, v in self.n_tokens.items())
        return (f"{self.name}  {self.hash[:16]}  {self.n_documents:,} documents, {self.n_bytes / 1e6:.1f} MB, "
                f"{len(self.shards)} shard(s); tokens: {tok}; licence: {self.licence}")


def count_tokens(manifest: Manifest, root: Path, tokenizer: str | Path) -> Manifest:
    """Count tokens under a ``tokenizers`` BPE JSON for every shard; return the extended manifest.

    The key is ``"bpe:<first 16 hex of the tokenizer file's SHA-256>"``, the name
    :mod:`scalinglab.train.data` gives the same tokenizer. Needs ``tokenizers``.
    """

    tk = require("tokenizers", extra="tokenizers", purpose="counting BPE tokens")
    path = Path(tokenizer).expanduser()
    if not path.is_file():

        raise ConfigError(f"tokenizer {str(path)!r} does not exist; give the JSON written by "
                          "scalinglab.train.data.train_bpe")
    tok = tk.Tokenizer.from_file(str(path))
    key = "bpe:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    shards = []
    for s in manifest.shards:
        n = 0
        batch: list[str] = []
        for rec in read_shard(Path(root) / s.path):
            batch.append(rec["text"])
            if len(batch) == 256:
                n += sum(len(e.ids) for e in tok.encode_batch(batch))
                batch = []
        if batch:
            n += sum(len(e.ids) for e in tok.encode_batch(batch))
        shards.append(replace(s, n_tokens={**s.n_tokens, key: n}))
    return manifest.with_shards(tuple(shards))
